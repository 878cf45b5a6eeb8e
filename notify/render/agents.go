package render

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
)

// AgentDecision is what the agents' channel is told about an incident's
// compensation: the decision in force and what changed since the message
// agents saw last.
type AgentDecision struct {
	Page     *incident.Page
	Incident *incident.Incident
	Decision *compensation.Decision
	Changes  []compensation.Change
	// Lang is the agents' language (the page's first language).
	Lang string
	// Names are the page's component names by ID, for the rules.
	Names map[string]string
	// CheckURL is the API address that answers for one customer, with
	// {customer} where the customer's ID goes.
	CheckURL string
}

// maxAgentLines bounds the offers and rules listed, so a large policy
// stays one readable message (Slack allows 50 blocks).
const maxAgentLines = 20

// AgentCompensation renders the agents' Slack message: a header naming the
// incident, the state in words agents can say, what changed, the offers and
// who gets them, and how to check a customer. All text from managers and
// incidents is escaped for mrkdwn.
func AgentCompensation(a AgentDecision) (*channel.Message, error) {
	d := a.Decision
	if d == nil || a.Incident == nil || a.Page == nil {
		return nil, incident.Invalid("decision", "an agents' message needs a page, an incident and a decision")
	}
	esc := mrkdwnEscape
	state := map[compensation.State]string{
		compensation.NoneYet: "not decided yet",
		compensation.Coming:  "COMING: being decided",
		compensation.Decided: "DECIDED",
		compensation.None:    "NO compensation",
	}[d.State]
	head := fmt.Sprintf("Compensation: %s", a.Incident.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* (version %d, by %s, %s)", state, d.Version, esc(incident.ActorName(d.By)), d.At.UTC().Format("2 Jan 15:04 MST"))
	status := b.String()

	var sections []string
	if len(a.Changes) > 0 {
		var cs []string
		for i, c := range a.Changes {
			if i == maxAgentLines {
				cs = append(cs, fmt.Sprintf("• … and %d more", len(a.Changes)-i))
				break
			}
			cs = append(cs, "• "+esc(compensation.NameComponents(c.String(), a.Names)))
		}
		sections = append(sections, "*What changed*\n"+strings.Join(cs, "\n"))
	}
	switch d.State {
	case compensation.Decided:
		p := d.Policy
		if p != nil {
			var offers []string
			for i, o := range p.Offers {
				if i == maxAgentLines {
					offers = append(offers, fmt.Sprintf("• … and %d more", len(p.Offers)-i))
					break
				}
				offers = append(offers, fmt.Sprintf("• `%s`: %s", o.ID, esc(o.Describe())))
			}
			for _, c := range p.Choices {
				offers = append(offers, fmt.Sprintf("• `%s`: the customer's choice of %s", c.ID, strings.Join(c.Offers, " or ")))
			}
			sections = append(sections, "*Offers*\n"+strings.Join(offers, "\n"))
			var rules []string
			for i, r := range p.Rules {
				if i == maxAgentLines {
					rules = append(rules, fmt.Sprintf("• … and %d more", len(p.Rules)-i))
					break
				}
				rules = append(rules, "• "+esc(compensation.NameComponents(r.Describe(), a.Names)))
			}
			var limits []string
			if p.Cap != nil {
				limits = append(limits, "at most "+p.Cap.String()+" per customer")
			}
			if p.ClaimDeadline != nil {
				limits = append(limits, "claims until "+p.ClaimDeadline.UTC().Format("2 Jan 2006 15:04 MST"))
			}
			for _, e := range p.Exclude {
				limits = append(limits, "excluded: "+strings.ReplaceAll(string(e), "_", " "))
			}
			if len(limits) > 0 {
				rules = append(rules, "_"+strings.Join(limits, " · ")+"_")
			}
			sections = append(sections, "*Who gets what*\n"+strings.Join(rules, "\n"))
		}
		sections = append(sections, "*What to do*\nCheck each customer before you offer anything: herald computes how long they were affected and what they get. If they take none of it, thank them and do not insist.")
	default:
		sections = append(sections, "*What you may say*\n"+esc(compensation.Script(a.Lang, d, nil, compensation.AffectedTime{}, nil)))
	}
	check := ""
	if a.CheckURL != "" {
		check = fmt.Sprintf("Check a customer: `herald compensation check %s CUSTOMER` or GET %s", a.Incident.ID, esc(a.CheckURL))
	}

	blocks := []any{
		map[string]any{"type": "header", "text": slackText{Type: "plain_text", Text: truncateRunes(head, 150), Emoji: true}},
		map[string]any{"type": "section", "text": slackText{Type: "mrkdwn", Text: status}},
	}
	for _, s := range sections {
		blocks = append(blocks, map[string]any{"type": "section", "text": slackText{Type: "mrkdwn", Text: truncateRunes(s, 3000)}})
	}
	if check != "" {
		blocks = append(blocks, map[string]any{"type": "context", "elements": []slackText{{Type: "mrkdwn", Text: truncateRunes(check, 3000)}}})
	}
	raw, err := json.Marshal(blocks)
	if err != nil {
		return nil, err
	}
	// The fallback text is what a notification shows: short. The blocks
	// carry the whole decision.
	text := head + ": " + stripMrkdwn(status)
	switch n := len(a.Changes); {
	case n == 1:
		text += " – " + compensation.NameComponents(a.Changes[0].String(), a.Names)
	case n > 1:
		text += fmt.Sprintf(" – %s, and %d more changes", compensation.NameComponents(a.Changes[0].String(), a.Names), n-1)
	}
	return &channel.Message{Kind: channel.Slack, Text: truncateRunes(text, 3000), Blocks: raw, Language: compensation.Language(a.Lang)}, nil
}

func stripMrkdwn(s string) string { return strings.NewReplacer("*", "", "_", "", "`", "").Replace(s) }

package render

import (
	"encoding/json"
	"fmt"
	"strconv"
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
	w := compensation.Words(a.Lang)
	more := func(n int) string { return "• " + w.Fill("AgentMore", "N", strconv.Itoa(n)) }
	head := w.Fill("AgentCompTitle", "Name", a.Incident.NameIn(compensation.Language(a.Lang)))
	// Times in the page's zone, named, as the incident's own Slack
	// messages have them: a deadline read in UTC is an hour off in Budapest.
	loc := compensation.PageZone(a.Page)
	status := "*" + w.State(d.State) + "* " + w.Fill("AgentVersion", "Version", strconv.Itoa(d.Version), "By", esc(incident.ActorName(d.By)),
		"At", compensation.Stamp(d.At, loc))

	var sections []string
	if len(a.Changes) > 0 {
		var cs []string
		for i, c := range a.Changes {
			if i == maxAgentLines {
				cs = append(cs, more(len(a.Changes)-i))
				break
			}
			cs = append(cs, "• "+esc(compensation.NameComponents(w.Change(c), a.Names)))
		}
		sections = append(sections, "*"+w.Text("AgentWhatChanged")+"*\n"+strings.Join(cs, "\n"))
	}
	switch d.State {
	case compensation.Decided:
		p := d.Policy
		if p != nil {
			var offers []string
			for i := range p.Offers {
				if i == maxAgentLines {
					offers = append(offers, more(len(p.Offers)-i))
					break
				}
				offers = append(offers, fmt.Sprintf("• `%s`: %s", p.Offers[i].ID, esc(w.Label(&p.Offers[i], nil))))
			}
			or := strings.TrimSpace(w.Text("CompOr"))
			for _, c := range p.Choices {
				offers = append(offers, fmt.Sprintf("• `%s`: %s", c.ID, w.Fill("AgentChoiceOf", "Options", strings.Join(c.Offers, " "+or+" "))))
			}
			sections = append(sections, "*"+w.Text("AgentOffers")+"*\n"+strings.Join(offers, "\n"))
			var rules []string
			for i, r := range p.Rules {
				if i == maxAgentLines {
					rules = append(rules, more(len(p.Rules)-i))
					break
				}
				rules = append(rules, "• "+esc(compensation.NameComponents(w.Rule(r), a.Names)))
			}
			if limits := w.Limits(p, loc); len(limits) > 0 {
				rules = append(rules, "_"+strings.Join(limits, " · ")+"_")
			}
			sections = append(sections, "*"+w.Text("AgentWhoGetsWhat")+"*\n"+strings.Join(rules, "\n"))
		}
		sections = append(sections, "*"+w.Text("AgentWhatToDo")+"*\n"+w.Text("AgentWhatToDoText"))
	default:
		sections = append(sections, "*"+w.Text("AgentWhatYouMaySay")+"*\n"+esc(compensation.Script(a.Lang, d, nil, compensation.AffectedTime{}, nil)))
	}
	check := ""
	if a.CheckURL != "" {
		check = w.Fill("AgentCheck", "Command", "`herald compensation check "+a.Incident.ID+" CUSTOMER`", "URL", esc(a.CheckURL))
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
	text := head + " – " + stripMrkdwn(status)
	switch n := len(a.Changes); {
	case n == 1:
		text += " – " + compensation.NameComponents(w.Change(a.Changes[0]), a.Names)
	case n > 1:
		text += " – " + w.Plural("AgentMoreChanges", n-1, "First", compensation.NameComponents(w.Change(a.Changes[0]), a.Names))
	}
	return &channel.Message{Kind: channel.Slack, Text: truncateRunes(text, 3000), Blocks: raw, Language: compensation.Language(a.Lang)}, nil
}

func stripMrkdwn(s string) string { return strings.NewReplacer("*", "", "_", "", "`", "").Replace(s) }

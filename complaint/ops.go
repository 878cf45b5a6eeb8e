package complaint

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/incident"
)

// Get returns a page's complaint, or ENOTFOUND.
func (s *Service) Get(ctx context.Context, pageID, id string) (*Complaint, error) {
	c, err := s.Store.FindComplaintByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.PageID != pageID {
		return nil, incident.NotFound("complaint", id)
	}
	return c, nil
}

// ResolveID returns the ID of the page's complaint that idOrRef names: an
// ID as it is, or the reference the customer was given (C-RCLFXZ2G, in
// any case), which agents are read out on the phone. A reference two of
// the page's complaints share (a one-in-a-trillion chance a pair) is
// refused with both IDs named.
func (s *Service) ResolveID(ctx context.Context, pageID, idOrRef string) (string, error) {
	if _, ok := RefPrefix(idOrRef); !ok {
		return idOrRef, nil
	}
	cs, err := s.Store.FindComplaintsByRef(ctx, pageID, idOrRef)
	if err != nil {
		return "", err
	}
	switch len(cs) {
	case 0:
		// An ID may look like a reference too (ten characters): try it.
		return idOrRef, nil
	case 1:
		return cs[0].ID, nil
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return "", incident.Invalid("complaint_id", "reference %s names %d complaints (%s): use the complaint's ID", strings.ToUpper(idOrRef), len(cs), strings.Join(ids, ", "))
}

// List returns the complaints matching f and how many match in all.
func (s *Service) List(ctx context.Context, f Filter) ([]*Complaint, int, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	return s.Store.FindComplaints(ctx, f)
}

// Timeline returns a page's complaint with every message, note and change,
// oldest first: the whole history, so a new owner never asks the customer
// to repeat anything.
func (s *Service) Timeline(ctx context.Context, pageID, id string) (*Complaint, []*Entry, error) {
	c, err := s.Get(ctx, pageID, id)
	if err != nil {
		return nil, nil, err
	}
	entries, err := s.Store.FindEntries(ctx, id)
	return c, entries, err
}

// edit changes a page's complaint through fn and audits who did it.
func (s *Service) edit(ctx context.Context, pageID, id string, fn func(c *Complaint, actor string, now time.Time) ([]*Entry, error)) (*Complaint, error) {
	if _, err := s.Get(ctx, pageID, id); err != nil {
		return nil, err
	}
	actor := incident.ActorFrom(ctx).String()
	return s.change(ctx, id, func(c *Complaint, now time.Time) ([]*Entry, error) { return fn(c, actor, now) })
}

// Assign gives a complaint to owner ("" leaves it unassigned). A new owner
// is explicit and audited, and sees the whole timeline. The owner must be
// an agent herald knows (agentNamed): a complaint given to a misspelt
// name would be in nobody's queue.
func (s *Service) Assign(ctx context.Context, pageID, id, owner string) (*Complaint, error) {
	return s.assign(ctx, pageID, id, owner, nil)
}

// AssignIf is Assign while the complaint's owner is still seen, the owner
// the agent's screen showed ("" nobody): of two agents taking one
// complaint at once (on one node or two), the second is told who has it
// (ECONFLICT) instead of taking it from them unseen; their screen then
// shows the new owner, and taking it again takes it from them.
func (s *Service) AssignIf(ctx context.Context, pageID, id, owner, seen string) (*Complaint, error) {
	return s.assign(ctx, pageID, id, owner, &seen)
}

func (s *Service) assign(ctx context.Context, pageID, id, owner string, seen *string) (*Complaint, error) {
	owner = strings.TrimSpace(owner)
	if utf8.RuneCountInString(owner) > MaxNameLen {
		return nil, incident.Invalid("owner", "is longer than %d characters", MaxNameLen)
	}
	if p := incident.LineProblem(owner); p != "" {
		return nil, incident.Invalid("owner", "%s", p)
	}
	if owner != "" {
		var err error
		if owner, err = s.agentNamed(ctx, owner); err != nil {
			return nil, err
		}
	}
	return s.edit(ctx, pageID, id, func(c *Complaint, actor string, now time.Time) ([]*Entry, error) {
		if c.Owner == owner {
			return nil, errUnchanged
		}
		if seen != nil && c.Owner != *seen {
			return nil, incident.Errorf(incident.ECONFLICT, "%s took this complaint a moment ago; to take it from them, take it again", incident.ActorName(c.Owner))
		}
		from := c.Owner
		if from == "" {
			from = "nobody"
		}
		to := owner
		if to == "" {
			to = "nobody"
		}
		was := c.Owner
		c.Owner = owner
		return []*Entry{s.event(c, EntryAssign, actor, "owner: "+from+" → "+to, now, EventOwner, "from", was, "to", owner)}, nil
	})
}

// SetTag tags a complaint to a page's incident, re-tags it, or with
// incidentID "" untags it (it then waits in triage, and the incident's
// resolution no longer answers it). Every change is audited.
func (s *Service) SetTag(ctx context.Context, pageID, id, incidentID string) (*Complaint, error) {
	if incidentID != "" {
		if _, err := s.incident(ctx, pageID, incidentID, "incident_id"); err != nil {
			return nil, err
		}
	}
	return s.edit(ctx, pageID, id, func(c *Complaint, actor string, now time.Time) ([]*Entry, error) {
		if c.IncidentID() == incidentID {
			return nil, errUnchanged
		}
		from := c.IncidentID()
		if incidentID == "" {
			c.Tag = nil
			return []*Entry{s.event(c, EntryTag, actor, "untagged from "+from, now, EventUntagged, "incident", from)}, nil
		}
		c.Tag = &Tag{IncidentID: incidentID, Confidence: 1, Reason: "tagged by " + actor, By: actor, At: now,
			Why: []Why{{Code: WhyBy, Args: map[string]string{"actor": incident.ActorName(actor)}}}}
		c.Suggestion = nil
		text := "tagged to " + incidentID
		if from != "" {
			text = "re-tagged from " + from + " to " + incidentID
		}
		return []*Entry{s.event(c, EntryTag, actor, text, now, EventTagged, "incident", incidentID, "from", from)}, nil
	})
}

// Note adds an internal note: the customer never sees it.
func (s *Service) Note(ctx context.Context, pageID, id, text string) (*Complaint, error) {
	text = strings.TrimSpace(text)
	if err := checkText("text", text); err != nil {
		return nil, err
	}
	return s.edit(ctx, pageID, id, func(c *Complaint, actor string, now time.Time) ([]*Entry, error) {
		return []*Entry{s.entry(c, EntryNote, actor, "", text, now)}, nil
	})
}

// Reply sends the agent's words to the customer, on the channel the
// complaint came in, and counts as the first answer.
func (s *Service) Reply(ctx context.Context, pageID, id, text string) (*Complaint, error) {
	text = strings.TrimSpace(text)
	if err := checkText("text", text); err != nil {
		return nil, err
	}
	if s.Answers == nil {
		return nil, incident.Errorf(incident.EINVALID, "herald cannot send messages here")
	}
	c, err := s.Get(ctx, pageID, id)
	if err != nil {
		return nil, err
	}
	out, canWrite, err := s.answerChannel(ctx, c)
	if err != nil {
		return nil, err
	}
	if !canWrite {
		// Queued nowhere, the reply would read as sent on the timeline
		// while nobody got it.
		return nil, &incident.Error{Code: incident.ETRANSITION, Field: "text",
			Message: "herald cannot write to this contact (no address it can use, or they opted out of every one it has): call them, or add a note"}
	}
	key := "reply-" + incident.NewID()
	if err := s.Answers.Answer(ctx, c, AnswerReply, key, text); err != nil {
		return nil, err
	}
	return s.edit(ctx, pageID, id, func(c *Complaint, actor string, now time.Time) ([]*Entry, error) {
		answered(c, now)
		entries := []*Entry{s.entry(c, EntryMessageOut, actor, out, text, now)}
		if c.State == StateNew || c.State == StateAcknowledged {
			entries = append(entries, s.event(c, EntryState, actor, string(c.State)+" → in_progress", now, EventState, "from", string(c.State), "to", string(StateInProgress)))
			c.State = StateInProgress
		}
		return entries, nil
	})
}

// answered records the first answer; the resolution promise is checked
// from then on, with its own warning.
func answered(c *Complaint, now time.Time) {
	if c.FirstAnswerAt == nil {
		c.FirstAnswerAt = &now
		c.Warned, c.Escalated = false, false
	}
}

// Move moves a complaint along its lifecycle: in_progress,
// waiting_on_customer, closed, or back to in_progress (reopen). Resolving
// needs an outcome: use Resolve.
func (s *Service) Move(ctx context.Context, pageID, id string, to State) (*Complaint, error) {
	if !to.valid() {
		return nil, incident.Invalid("state", "must be one of %s", joinAll(States))
	}
	if to == StateResolved {
		return nil, incident.Invalid("state", "resolving needs an outcome and a remedy: use resolve")
	}
	return s.edit(ctx, pageID, id, func(c *Complaint, actor string, now time.Time) ([]*Entry, error) {
		if c.State == to {
			return nil, errUnchanged
		}
		if !CanMove(c.State, to) {
			return nil, incident.Errorf(incident.ETRANSITION, "a complaint cannot go from %s to %s", c.State, to)
		}
		from := c.State
		c.State = to
		switch {
		case to == StateClosed:
			c.ClosedAt = &now
		case !from.Open():
			reopen(c, now)
		}
		return []*Entry{s.event(c, EntryState, actor, string(from)+" → "+string(to), now, EventState, "from", string(from), "to", string(to))}, nil
	})
}

// Hold keeps a complaint open when its incident resolves (an agent still
// has something to do for this customer), or lets it go again.
func (s *Service) Hold(ctx context.Context, pageID, id string, hold bool) (*Complaint, error) {
	return s.edit(ctx, pageID, id, func(c *Complaint, actor string, now time.Time) ([]*Entry, error) {
		if c.HoldOpen == hold {
			return nil, errUnchanged
		}
		c.HoldOpen = hold
		text := "held open when its incident resolves"
		if !hold {
			text = "no longer held open"
		}
		return []*Entry{s.entry(c, EntryNote, actor, "", text, now)}, nil
	})
}

// Edit is a correction of what was recorded.
type Edit struct {
	Category   *Category
	Ask        *Ask
	Severity   *Severity
	Promise    *string
	Components []string // nil: unchanged
}

// CheckEdit says what is wrong with an Edit, naming the field, before
// anything else is done with it (the console checks a promise before it
// sends the reply that carries it).
func CheckEdit(e Edit) error {
	switch {
	case e.Category != nil && !oneOf(*e.Category, Categories):
		return incident.Invalid("category", "must be one of %s", joinAll(Categories))
	case e.Ask != nil && !oneOf(*e.Ask, Asks):
		return incident.Invalid("ask", "must be one of %s", joinAll(Asks))
	case e.Severity != nil && !oneOf(*e.Severity, Severities):
		return incident.Invalid("severity", "must be one of %s", joinAll(Severities))
	case e.Promise != nil && utf8.RuneCountInString(*e.Promise) > MaxTextLen:
		return incident.Invalid("promise", "is longer than %d characters", MaxTextLen)
	case e.Promise != nil && incident.TextProblem(*e.Promise) != "":
		return incident.Invalid("promise", "%s", incident.TextProblem(*e.Promise))
	}
	return nil
}

// Update corrects a complaint's recorded fields, audited.
func (s *Service) Update(ctx context.Context, pageID, id string, e Edit) (*Complaint, error) {
	if err := CheckEdit(e); err != nil {
		return nil, err
	}
	return s.edit(ctx, pageID, id, func(c *Complaint, actor string, now time.Time) ([]*Entry, error) {
		var changed []string
		if e.Category != nil && *e.Category != c.Category {
			changed = append(changed, "category: "+string(c.Category)+" → "+string(*e.Category))
			c.Category = *e.Category
		}
		if e.Ask != nil && *e.Ask != c.Ask {
			changed = append(changed, "ask: "+string(c.Ask)+" → "+string(*e.Ask))
			c.Ask = *e.Ask
		}
		if e.Severity != nil && *e.Severity != c.Severity {
			changed = append(changed, "severity: "+string(c.Severity)+" → "+string(*e.Severity))
			c.Severity = *e.Severity
		}
		if e.Promise != nil && strings.TrimSpace(*e.Promise) != c.Promise {
			c.Promise = strings.TrimSpace(*e.Promise)
			changed = append(changed, "promise: "+c.Promise)
		}
		if e.Components != nil {
			c.Components = e.Components
			changed = append(changed, "components: "+strings.Join(e.Components, ", "))
		}
		if len(changed) == 0 {
			return nil, errUnchanged
		}
		return []*Entry{s.entry(c, EntryEdit, actor, "", strings.Join(changed, "; "), now)}, nil
	})
}

// Resolve closes the work on a complaint with a written outcome and the
// remedy given, and tells the customer the outcome. Never a silent close.
func (s *Service) Resolve(ctx context.Context, pageID, id string, remedy Remedy, outcome string) (*Complaint, error) {
	outcome = strings.TrimSpace(outcome)
	switch {
	case !oneOf(remedy, Remedies):
		return nil, incident.Invalid("remedy", "must be one of %s", joinAll(Remedies))
	case outcome == "":
		return nil, incident.Invalid("outcome", "is required: what was done, in words the customer can read")
	}
	if err := checkText("outcome", outcome); err != nil {
		return nil, err
	}
	actor := incident.ActorFrom(ctx).String()
	for attempt := 0; ; attempt++ {
		c, err := s.Get(ctx, pageID, id)
		if err != nil {
			return nil, err
		}
		switch {
		case c.State == StateResolved && attempt > 0:
			return nil, incident.Errorf(incident.ETRANSITION, "someone resolved this complaint a moment ago; the customer was told: %q", c.Outcome)
		case !CanMove(c.State, StateResolved):
			return nil, incident.Errorf(incident.ETRANSITION, "a complaint cannot go from %s to resolved", c.State)
		}
		got, err := s.resolveAt(ctx, c, actor, remedy, outcome)
		if incident.ErrorCode(err) == incident.ECONFLICT && attempt < 4 {
			continue // changed meanwhile: read it again
		}
		return got, err
	}
}

// resolveAt is an agent's resolution of c as it was read: saved only if
// no other change came first (else ECONFLICT), with the answer to the
// customer keyed by the version read. Of two agents resolving one
// complaint at once, one resolves it and one answer goes out; the other
// reads it again and is told. Where the pipeline drafts the answer and
// the store queues it in the complaint's save, both land in one write;
// elsewhere the save comes first, so a lost race sends nothing.
func (s *Service) resolveAt(ctx context.Context, c *Complaint, actor string, remedy Remedy, outcome string) (*Complaint, error) {
	key := "resolved-" + strconv.Itoa(c.Version)
	out, _, err := s.answerChannel(ctx, c)
	if err != nil {
		return nil, err
	}
	next := *c
	now := s.now()
	entries := s.markResolved(&next, actor, remedy, outcome, "", out, now)
	next.Version++
	next.UpdatedAt = now
	next.CheckAt = s.Policy.CheckAt(&next)
	if d, ok := s.Answers.(Drafter); ok {
		ds, queued, err := d.Draft(ctx, c, AnswerResolved, key, outcome)
		if err != nil {
			return nil, err
		}
		switch err := s.Store.SaveComplaintQueued(ctx, &next, entries, ds); {
		case err == nil:
			if queued != nil {
				queued()
			}
			s.publish(ctx, &next)
			return &next, nil
		case !errors.Is(err, ErrNotAtomic):
			return nil, err
		}
	}
	if err := s.Store.SaveComplaint(ctx, &next, entries); err != nil {
		return nil, err
	}
	s.publish(ctx, &next)
	if s.Answers != nil {
		if err := s.Answers.Answer(ctx, c, AnswerResolved, key, outcome); err != nil {
			return nil, err
		}
	}
	return &next, nil
}

// resolve moves c to resolved and asks for the answer that tells the
// customer, keyed by key (so a retry sends it once). incidentID names the
// resolved incident when its resolution is the answer; "" for an agent's.
//
// changed reports whether this call resolved it: when two nodes answer
// one incident's complaints at once, the answer (keyed) is queued once
// and each complaint is resolved by one of them.
func (s *Service) resolve(ctx context.Context, c *Complaint, actor string, remedy Remedy, outcome, key, incidentID string) (_ *Complaint, changed bool, _ error) {
	out, _, err := s.answerChannel(ctx, c)
	if err != nil {
		return nil, false, err
	}
	if s.Answers != nil {
		a := AnswerResolved
		if incidentID != "" {
			a = AnswerIncidentResolved
		}
		if err := s.Answers.Answer(ctx, c, a, key, outcome); err != nil {
			return nil, false, err
		}
	}
	got, err := s.change(ctx, c.ID, func(c *Complaint, now time.Time) ([]*Entry, error) {
		changed = false
		if !CanMove(c.State, StateResolved) {
			return nil, errUnchanged
		}
		changed = true
		return s.markResolved(c, actor, remedy, outcome, incidentID, out, now), nil
	})
	if err != nil {
		return nil, false, err
	}
	return got, changed, nil
}

// markResolved moves c to resolved with its remedy and outcome (the
// answer to the customer) and returns the timeline entries that say so:
// the answer as a message out on channel out (answerChannel), or, when
// out is "" (herald cannot write to the contact), a note that the
// customer was not told.
func (s *Service) markResolved(c *Complaint, actor string, remedy Remedy, outcome, incidentID string, out Channel, now time.Time) []*Entry {
	from := c.State
	c.State, c.Remedy, c.Outcome, c.ResolvedAt = StateResolved, remedy, outcome, &now
	if incidentID != "" {
		c.IncidentAnswered = incidentID
	}
	answered(c, now)
	told := s.entry(c, EntryMessageOut, actor, out, outcome, now)
	if out == "" {
		told = s.event(c, EntryNote, "system", "the customer was not told (herald cannot write to this contact): "+outcome, now, EventNotTold, "outcome", outcome)
	}
	return []*Entry{
		s.event(c, EntryState, actor, string(from)+" → resolved (remedy: "+string(remedy)+")", now,
			EventStateRemedy, "from", string(from), "to", string(StateResolved), "remedy", string(remedy)),
		told,
	}
}

// checkText checks a note, reply or outcome.
func checkText(field, text string) error {
	switch {
	case text == "":
		return incident.Invalid(field, "is required")
	case utf8.RuneCountInString(text) > MaxTextLen:
		return incident.Invalid(field, "is longer than %d characters", MaxTextLen)
	}
	if p := incident.TextProblem(text); p != "" {
		return incident.Invalid(field, "%s", p)
	}
	return nil
}

// ErrNoOpenComplaint is what a front door gets for a message that
// continues no complaint when it must (a Slack button on a closed one).
var ErrNoOpenComplaint = errors.New("complaint: no open complaint")

// maxAgentsListed bounds the names an unknown owner's error lists.
const maxAgentsListed = 12

// Agents returns the names complaints may be given to, sorted: those of
// live tokens that may act as agents (a console link makes one per
// person) and those on duty (OnDuty), as written there.
func (s *Service) Agents(ctx context.Context) ([]string, error) {
	names := append([]string(nil), s.OnDuty...)
	if s.Incidents != nil {
		tokens, err := s.Incidents.FindTokens(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range tokens {
			if t.RevokedAt == nil && t.Role.Allows(incident.RoleAgent) && t.Name != "" {
				names = append(names, t.Name)
			}
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(names), nil
}

// agentNamed returns the agent a complaint may be given to under name:
// one of Agents, or the actor's own name. A name that differs only in
// case is that agent's; any other is refused with the names there are, so
// a tired agent's typo never leaves a complaint in nobody's queue.
func (s *Service) agentNamed(ctx context.Context, name string) (string, error) {
	if a := incident.ActorFrom(ctx); a.Name != "" && a.Name == name {
		return name, nil
	}
	names, err := s.Agents(ctx)
	if err != nil {
		return "", err
	}
	var folded []string
	for _, n := range names {
		if n == name {
			return n, nil
		}
		if strings.EqualFold(n, name) {
			folded = append(folded, n)
		}
	}
	if len(folded) == 1 {
		return folded[0], nil
	}
	switch {
	case len(names) == 0:
		return "", incident.Invalid("owner", "no agent is named %q: herald knows no agents yet (give one a console link or a token: herald console link --role agent --name NAME)", name)
	case len(names) > maxAgentsListed:
		names = append(names[:maxAgentsListed], "…")
	}
	return "", incident.Invalid("owner", "no agent is named %q; the agents are %s", name, strings.Join(names, ", "))
}

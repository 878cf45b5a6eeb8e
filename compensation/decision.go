package compensation

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
)

// State is where an incident's compensation stands.
type State string

// States. Every incident starts in none_yet; a manager moves it.
const (
	NoneYet State = "none_yet" // nothing said yet: agents promise nothing
	Coming  State = "coming"   // being decided: agents and messages may say compensation will come
	Decided State = "decided"  // a policy says who gets what
	None    State = "none"     // no compensation, with the reason agents may give
)

// States lists every state.
var States = []State{NoneYet, Coming, Decided, None}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// CanMove reports whether a decision may go from one state to another.
// Any state may go to coming, decided or none, the same state included (an
// amended policy, a new reason). Nothing goes back to none_yet: once
// agents or customers were told something, taking it back is a decision
// too (none, with its reason).
func CanMove(from, to State) bool {
	return from.Valid() && to.Valid() && to != NoneYet
}

// Decision is one version of an incident's compensation decision. The
// store keeps every version (the audit trail agents' diffs are made from);
// the newest is in force.
type Decision struct {
	PageID     string  `json:"page_id"`
	IncidentID string  `json:"incident_id"`
	State      State   `json:"state"`
	Policy     *Policy `json:"policy"` // set when decided
	// Reason is what agents may say: required for none ("the outage was
	// caused by the customer's provider"), an optional note otherwise
	// ("decision expected on Friday").
	Reason string        `json:"reason"`
	By     string        `json:"by"` // incident.Actor.String()
	Role   incident.Role `json:"role"`
	At     time.Time     `json:"at,omitzero"` // absent for the implicit none_yet: nobody decided it
	// Version is 0 for the implicit none_yet every incident starts with,
	// and increments on every change.
	Version int `json:"version"`
}

// Initial is the decision every incident has before anyone decides.
func Initial(pageID, incidentID string) *Decision {
	return &Decision{PageID: pageID, IncidentID: incidentID, State: NoneYet}
}

// Proposal is a manager's change to the decision.
type Proposal struct {
	State  State   `json:"state"`
	Policy *Policy `json:"policy"`
	Reason string  `json:"reason"`
	// Version is the decision version the manager saw; another current
	// version means someone decided meanwhile (incident.ECONFLICT).
	Version int `json:"version"`
	// AcceptLower confirms a decision that gives customers less on some
	// option than they were told, or than the decision in force offers
	// them (Service.Decide refuses it otherwise, with LowerError).
	AcceptLower bool `json:"accept_lower,omitempty"`
}

// Decide applies p to the current decision and returns the next version,
// and whether anything changed (a proposal equal to the current decision
// returns cur and false). It returns:
//   - incident.EFORBIDDEN when by is below manager (agents cannot decide);
//   - incident.EINVALID naming the field for a bad state, a missing or
//     invalid policy (Policy.Validate against scope), a policy outside
//     decided, a missing reason for none, or coming/decided for a
//     scheduled maintenance (planned work owes no compensation);
//   - incident.ECONFLICT when p.Version is not cur.Version;
//   - incident.ETRANSITION when the state machine refuses the move.
func Decide(cur *Decision, p Proposal, by incident.Actor, at time.Time, scope Scope) (*Decision, bool, error) {
	if !by.Role.Allows(incident.RoleManager) {
		return nil, false, incident.Errorf(incident.EFORBIDDEN, "only a manager or an admin may decide compensation")
	}
	if !p.State.Valid() {
		// none_yet is valid but no choice (every incident starts there,
		// and nothing goes back to it: CanMove says so): not offered.
		return nil, false, incident.Invalid("state", "must be one of coming, decided, none; not %q", p.State)
	}
	if p.Version != cur.Version {
		return nil, false, incident.Errorf(incident.ECONFLICT, "the decision is at version %d, not %d: reload and decide again", cur.Version, p.Version)
	}
	if !CanMove(cur.State, p.State) {
		return nil, false, incident.Errorf(incident.ETRANSITION, "compensation cannot go from %s to %s", cur.State, p.State)
	}
	if inc := scope.Incident; inc != nil && inc.IsMaintenance() && (p.State == Coming || p.State == Decided) {
		return nil, false, incident.Invalid("state", "a scheduled maintenance owes no compensation")
	}
	if err := validText("reason", p.Reason, p.State == None); err != nil {
		return nil, false, err
	}
	if p.State == Decided {
		if err := p.Policy.Validate(scope); err != nil {
			return nil, false, err
		}
	} else if p.Policy != nil {
		return nil, false, incident.Invalid("policy", "only a decided compensation has a policy")
	}
	next := &Decision{
		PageID: cur.PageID, IncidentID: cur.IncidentID, State: p.State, Policy: p.Policy,
		Reason: strings.TrimSpace(p.Reason), By: by.String(), Role: by.Role, At: at.UTC(), Version: cur.Version + 1,
	}
	if len(Diff(cur, next)) == 0 {
		return cur, false, nil
	}
	return next, true, nil
}

// Change is one difference between two decisions, for the push to agents.
type Change struct {
	Subject string `json:"subject"` // state, reason, currency, plan_fee, offer, choice, rule, cap, claim_deadline, exclusion
	Op      string `json:"op"`      // added, removed, changed
	ID      string `json:"id,omitempty"`
	Before  string `json:"before,omitempty"`
	After   string `json:"after,omitempty"`
}

// Change operations.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// String is the change in words an agent reads: "offer credit10 added:
// credit of 10 % of the monthly fee", "cap changed: 50.00 EUR → 30.00
// EUR". The message catalogue words it for each language later; the
// fields are there for that.
func (c Change) String() string {
	subject := strings.ReplaceAll(c.Subject, "_", " ")
	if c.ID != "" {
		subject += " " + c.ID
	}
	switch c.Op {
	case Added:
		return subject + " added: " + c.After
	case Removed:
		return subject + " removed (was: " + c.Before + ")"
	}
	return subject + " changed: " + c.Before + " → " + c.After
}

// Diff lists what changed from old to new, in a fixed order: state,
// reason, then the policy's currency, plan fees, offers, choices, rules,
// cap, deadline and exclusions, each by ID in the order of the policy
// that has them. A nil old is the initial none_yet.
func Diff(old, new *Decision) []Change {
	if old == nil {
		old = &Decision{State: NoneYet}
	}
	if new == nil {
		new = &Decision{State: NoneYet}
	}
	var cs []Change
	if old.State != new.State {
		cs = append(cs, Change{Subject: "state", Op: Changed, Before: string(old.State), After: string(new.State)})
	}
	if old.Reason != new.Reason {
		cs = append(cs, edit("reason", "", old.Reason, new.Reason))
	}
	op, np := old.Policy, new.Policy
	if op == nil {
		op = &Policy{}
	}
	if np == nil {
		np = &Policy{}
	}
	if op.Currency != np.Currency && op.Currency != "" && np.Currency != "" {
		cs = append(cs, edit("currency", "", op.Currency, np.Currency))
	}
	fees := slices.Sorted(maps.Keys(op.PlanFees))
	for _, plan := range slices.Sorted(maps.Keys(np.PlanFees)) {
		if _, ok := op.PlanFees[plan]; !ok {
			fees = append(fees, plan)
		}
	}
	for _, plan := range fees {
		cs = appendEdit(cs, "plan_fee", plan, moneyText(op.PlanFees, plan), moneyText(np.PlanFees, plan))
	}
	cs = diffByID(cs, "offer", op.Offers, np.Offers, func(o Offer) string { return o.ID }, Offer.Describe)
	cs = diffByID(cs, "choice", op.Choices, np.Choices, func(c Choice) string { return c.ID },
		func(c Choice) string { return "one of " + strings.Join(c.Offers, ", ") })
	cs = diffByID(cs, "rule", op.Rules, np.Rules, func(r Rule) string { return r.ID }, Rule.Describe)
	cs = appendEdit(cs, "cap", "", ptrText(op.Cap), ptrText(np.Cap))
	cs = appendEdit(cs, "claim_deadline", "", timeText(op.ClaimDeadline), timeText(np.ClaimDeadline))
	for _, e := range op.Exclude {
		if !slices.Contains(np.Exclude, e) {
			cs = append(cs, Change{Subject: "exclusion", Op: Removed, Before: string(e)})
		}
	}
	for _, e := range np.Exclude {
		if !slices.Contains(op.Exclude, e) {
			cs = append(cs, Change{Subject: "exclusion", Op: Added, After: string(e)})
		}
	}
	return cs
}

// edit is a change between two texts, either of which may be empty.
func edit(subject, id, before, after string) Change {
	c := Change{Subject: subject, ID: id, Op: Changed, Before: before, After: after}
	switch {
	case before == "":
		c.Op = Added
	case after == "":
		c.Op = Removed
	}
	return c
}

func appendEdit(cs []Change, subject, id, before, after string) []Change {
	if before == after {
		return cs
	}
	return append(cs, edit(subject, id, before, after))
}

func diffByID[T any](cs []Change, subject string, old, new []T, id func(T) string, text func(T) string) []Change {
	find := func(xs []T, want string) (T, bool) {
		for _, x := range xs {
			if id(x) == want {
				return x, true
			}
		}
		var zero T
		return zero, false
	}
	for _, o := range old {
		if n, ok := find(new, id(o)); !ok {
			cs = append(cs, Change{Subject: subject, ID: id(o), Op: Removed, Before: text(o)})
		} else if bt, at := text(o), text(n); bt != at {
			cs = append(cs, Change{Subject: subject, ID: id(o), Op: Changed, Before: bt, After: at})
		}
	}
	for _, n := range new {
		if _, ok := find(old, id(n)); !ok {
			cs = append(cs, Change{Subject: subject, ID: id(n), Op: Added, After: text(n)})
		}
	}
	return cs
}

func moneyText(m map[string]Money, k string) string {
	if v, ok := m[k]; ok {
		return v.String()
	}
	return ""
}

func ptrText(m *Money) string {
	if m == nil {
		return ""
	}
	return m.String()
}

func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Summary is the changes in one text, one per line: the body of a push.
func Summary(cs []Change) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprint(&b, c.String())
	}
	return b.String()
}

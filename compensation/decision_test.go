package compensation

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/incident"
)

var (
	manager = incident.Actor{TokenID: "t1", Name: "Mia", Role: incident.RoleManager}
	admin   = incident.Actor{TokenID: "t0", Name: "Ada", Role: incident.RoleAdmin}
	agent   = incident.Actor{TokenID: "t2", Name: "Ann", Role: incident.RoleAgent}
)

func code(err error) string { return incident.ErrorCode(err) }

func TestCanMove(t *testing.T) {
	tests := []struct {
		from, to State
		want     bool
	}{
		{NoneYet, Coming, true},
		{NoneYet, Decided, true},
		{NoneYet, None, true},
		{Coming, Decided, true},
		{Coming, None, true},
		{Decided, Decided, true}, // amended
		{Decided, None, true},
		{None, Decided, true}, // reconsidered
		{None, None, true},    // a new reason
		{Coming, NoneYet, false},
		{Decided, NoneYet, false},
		{NoneYet, NoneYet, false},
		{"maybe", Coming, false},
		{Coming, "maybe", false},
	}
	for _, tt := range tests {
		if got := CanMove(tt.from, tt.to); got != tt.want {
			t.Errorf("CanMove(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestDecide(t *testing.T) {
	scope := exampleScope()
	comingV1 := &Decision{PageID: "p", IncidentID: "i", State: Coming, Version: 1}
	decidedV2 := &Decision{PageID: "p", IncidentID: "i", State: Decided, Policy: examplePolicy(), Version: 2}
	maintenance := exampleScope()
	maintenance.Incident = &incident.Incident{ID: "m", StartedAt: at(0), ScheduledFor: ptr(at(0))}
	tests := []struct {
		name    string
		cur     *Decision
		p       Proposal
		by      incident.Actor
		scope   Scope
		code    string // "" : accepted
		field   string
		changed bool
	}{
		{"manager says coming", Initial("p", "i"), Proposal{State: Coming}, manager, scope, "", "", true},
		{"admin decides", comingV1, Proposal{State: Decided, Policy: examplePolicy(), Version: 1}, admin, scope, "", "", true},
		{"an agent cannot decide", Initial("p", "i"), Proposal{State: Coming}, agent, scope, incident.EFORBIDDEN, "", false},
		{"no role cannot decide", Initial("p", "i"), Proposal{State: Coming}, incident.Actor{}, scope, incident.EFORBIDDEN, "", false},
		{"unknown state", Initial("p", "i"), Proposal{State: "soon"}, manager, scope, incident.EINVALID, "state", false},
		{"stale version", decidedV2, Proposal{State: None, Reason: "x", Version: 1}, manager, scope, incident.ECONFLICT, "", false},
		{"back to none_yet", comingV1, Proposal{State: NoneYet, Version: 1}, manager, scope, incident.ETRANSITION, "", false},
		{"decided without a policy", comingV1, Proposal{State: Decided, Version: 1}, manager, scope, incident.EINVALID, "policy", false},
		{"decided with an invalid policy", comingV1, Proposal{State: Decided, Policy: &Policy{Currency: "EUR"}, Version: 1}, manager, scope, incident.EINVALID, "offers", false},
		{"none needs a reason", comingV1, Proposal{State: None, Reason: "  ", Version: 1}, manager, scope, incident.EINVALID, "reason", false},
		{"none with a reason", comingV1, Proposal{State: None, Reason: "caused by the customer's provider", Version: 1}, manager, scope, "", "", true},
		{"a policy outside decided", comingV1, Proposal{State: None, Reason: "no", Policy: examplePolicy(), Version: 1}, manager, scope, incident.EINVALID, "policy", false},
		{"maintenance owes nothing", Initial("p", "m"), Proposal{State: Coming}, manager, maintenance, incident.EINVALID, "state", false},
		{"maintenance may say none", Initial("p", "m"), Proposal{State: None, Reason: "planned work"}, manager, maintenance, "", "", true},
		{"the same policy again changes nothing", decidedV2, Proposal{State: Decided, Policy: examplePolicy(), Version: 2}, manager, scope, "", "", false},
		{"an amended policy", decidedV2, Proposal{State: Decided, Policy: func() *Policy { p := examplePolicy(); p.Offers[0].Percent = 1500; return p }(), Version: 2}, manager, scope, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, changed, err := Decide(tt.cur, tt.p, tt.by, at(30), tt.scope)
			if code(err) != tt.code {
				t.Fatalf("error = %v, want code %q", err, tt.code)
			}
			if tt.field != "" {
				assertField(t, err, tt.field)
			}
			if err != nil {
				return
			}
			if changed != tt.changed {
				t.Fatalf("changed = %v, want %v", changed, tt.changed)
			}
			if !changed {
				if next != tt.cur {
					t.Errorf("an unchanged decision should be the current one")
				}
				return
			}
			if next.Version != tt.cur.Version+1 || next.State != tt.p.State || next.By != tt.by.String() ||
				next.Role != tt.by.Role || !next.At.Equal(at(30)) || next.IncidentID != tt.cur.IncidentID {
				t.Errorf("next = %+v", next)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	amended := examplePolicy()
	amended.Offers[0].Percent = 1500                                                                   // changed
	amended.Offers = append(amended.Offers[:1], amended.Offers[2:]...)                                 // "day" removed
	amended.Offers = append(amended.Offers, Offer{ID: "voucher", Kind: Voucher, VoucherList: "sorry"}) // added
	amended.Rules[1].Give = []string{"voucher"}
	amended.Rules[1].MinAffectedMinutes = 120
	amended.Cap = eur(2000)
	amended.PlanFees["gold"] = Money{5999, "EUR"}
	amended.Exclude = []Exclusion{ExcludeNotAffected}
	amended.ClaimDeadline = nil

	v1 := &Decision{State: Coming, Version: 1}
	v2 := &Decision{State: Decided, Policy: examplePolicy(), Version: 2}
	v3 := &Decision{State: Decided, Policy: amended, Version: 3}
	v4 := &Decision{State: None, Reason: "the provider pays instead", Version: 4}

	tests := []struct {
		name     string
		old, new *Decision
		want     []string
	}{
		{"nothing to coming", nil, v1, []string{"state changed: none_yet → coming"}},
		{"coming to decided lists the policy", v1, v2, []string{
			"state changed: coming → decided",
			"plan fee bronze added: 9.99 EUR",
			"plan fee gold added: 49.99 EUR",
			"plan fee silver added: 19.99 EUR",
			"offer credit10 added: credit of 10 % of the monthly fee",
			"offer day added: 1 free day",
			"offer refund5 added: refund of 5.00 EUR",
			"offer week added: 7 free days",
			"choice gold-choice added: one of refund5, week",
			"rule hour added: if plan gold or silver, affected ≥ 60 min: credit10",
			"rule long added: if affected ≥ 240 min: day",
			"rule gold added: if plan gold, affected on api: gold-choice",
			"cap added: 10.00 EUR",
			"claim deadline added: 2026-12-31T10:00:00Z",
			"exclusion added: already_granted",
			"exclusion added: not_affected",
		}},
		{"amended", v2, v3, []string{
			"plan fee gold changed: 49.99 EUR → 59.99 EUR",
			"offer credit10 changed: credit of 10 % of the monthly fee → credit of 15 % of the monthly fee",
			"offer day removed (was: 1 free day)",
			"offer voucher added: a voucher code from list sorry",
			"rule long changed: if affected ≥ 240 min: day → if affected ≥ 120 min: voucher",
			"cap changed: 10.00 EUR → 20.00 EUR",
			"claim deadline removed (was: 2026-12-31T10:00:00Z)",
			"exclusion removed (was: already_granted)",
		}},
		{"the same", v2, &Decision{State: Decided, Policy: examplePolicy(), Version: 3}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.old, tt.new)
			var lines []string
			for _, c := range got {
				lines = append(lines, c.String())
			}
			if strings.Join(lines, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Diff:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}

	// Withdrawing a policy says so, and says why.
	got := Summary(Diff(v3, v4))
	for _, want := range []string{"state changed: decided → none", "reason added: the provider pays instead", "offer credit10 removed", "rule hour removed"} {
		if !strings.Contains(got, want) {
			t.Errorf("withdrawal summary lacks %q:\n%s", want, got)
		}
	}
}

// TestDecideOffersOnlyChoices: an unknown state is refused listing what a
// manager may choose; none_yet, where every incident starts and nothing
// goes back, is not among them.
func TestDecideOffersOnlyChoices(t *testing.T) {
	_, _, err := Decide(Initial("p", "i"), Proposal{State: "maybe"}, manager, at(30), exampleScope())
	if err == nil || !strings.Contains(err.Error(), "coming, decided, none") || strings.Contains(err.Error(), "none_yet") {
		t.Errorf("Decide(maybe) = %v; want the choices listed, none_yet not among them", err)
	}
}

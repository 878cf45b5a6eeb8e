package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
)

// RunCompensation runs the compensation.Store suite. open must return a
// fresh, empty engine for the calling (sub)test as both interfaces (the
// same handle); RunCompensation closes it through incident.Store when
// that test ends. Subtests run one after another, never in parallel.
func RunCompensation(t *testing.T, open func(t *testing.T) (incident.Store, compensation.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s compensation.Store)
	}{
		{"DecisionVersions", testDecisionVersions},
		{"DecisionRoundTrip", testDecisionRoundTrip},
		{"DecisionVersionsConcurrently", testDecisionVersionsConcurrently},
		{"DecisionPages", testDecisionPages},
		{"FindDecided", testFindDecided},
		{"DecisionInvalid", testDecisionInvalid},
		{"GrantRoundTrip", testGrantRoundTrip},
		{"GrantKeys", testGrantKeys},
		{"GrantSeen", testGrantSeen},
		{"GrantIDs", testGrantIDs},
		{"GrantInvalid", testGrantInvalid},
		{"FindGrants", testFindGrants},
		{"GrantsConcurrently", testGrantsConcurrently},
		{"Vouchers", testVouchers},
		{"VoucherPages", testVoucherPages},
		{"VoucherInvalid", testVoucherInvalid},
		{"VouchersConcurrently", testVouchersConcurrently},
		{"GrantDrawsVoucher", testGrantDrawsVoucher},
		{"GrantsDrawConcurrently", testGrantsDrawConcurrently},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is, s := open(t)
			if is == nil || s == nil {
				t.Fatal("storetest: open returned a nil store")
			}
			t.Cleanup(func() {
				if err := is.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// ---- compensation fixtures ----

func eur(cents int64) *compensation.Money { return &compensation.Money{Amount: cents, Currency: "EUR"} }

// compPolicy is a policy with every kind of part: plan fees, offers of
// each kind, a choice, rules with every condition, a cap, a deadline and
// exclusions. Its deadline is in UTC at millisecond precision.
func compPolicy() *compensation.Policy {
	return &compensation.Policy{
		Currency: "EUR",
		PlanFees: map[string]compensation.Money{"gold": {Amount: 4999, Currency: "EUR"}, "silver": {Amount: 1999, Currency: "EUR"}},
		Offers: []compensation.Offer{
			{ID: "credit10", Kind: compensation.Credit, Percent: 1000, Text: "10 % off \"next\" <invoice> & more"},
			{ID: "refund5", Kind: compensation.Refund, Amount: eur(500)},
			{ID: "week", Kind: compensation.FreePeriod, Days: 7},
			{ID: "code", Kind: compensation.Voucher, VoucherList: "spring"},
			{ID: "gen", Kind: compensation.Voucher, VoucherPattern: "HRLD-######"},
			{ID: "mug", Kind: compensation.Other, Text: "a bögre"},
		},
		Choices: []compensation.Choice{{ID: "gold-choice", Offers: []string{"refund5", "week"}}},
		Rules: []compensation.Rule{
			{ID: "hour", Plans: []string{"gold", "silver"}, Regions: []string{"hu"}, MinAffectedMinutes: 60, Give: []string{"credit10"}},
			{ID: "vip", Attributes: map[string][]string{"tier": {"a", "b"}}, Components: []string{"api", "web"}, Give: []string{"gold-choice", "code"}},
			{ID: "all", Give: []string{"mug"}},
		},
		Cap:           eur(1000),
		ClaimDeadline: ptr(at(30 * 24 * time.Hour)),
		Exclude:       []compensation.Exclusion{compensation.ExcludeAlreadyGranted, compensation.ExcludeNotAffected},
	}
}

// newDecision returns a decision as compensation.Decide makes it: times
// in UTC at millisecond precision, a policy only when decided.
func newDecision(pageID, incidentID string, version int, state compensation.State, when time.Time) *compensation.Decision {
	d := &compensation.Decision{PageID: pageID, IncidentID: incidentID, State: state, Reason: "v" + fmt.Sprint(version),
		By: "Ann (token t1)", Role: incident.RoleManager, At: when, Version: version}
	if state == compensation.Decided {
		d.Policy = compPolicy()
	}
	return d
}

func saveDecision(t *testing.T, s compensation.Store, d *compensation.Decision) {
	t.Helper()
	if err := s.SaveDecision(context.Background(), d); err != nil {
		t.Fatalf("SaveDecision(%s/%s v%d): %v", d.PageID, d.IncidentID, d.Version, err)
	}
}

func findDecisions(t *testing.T, s compensation.Store, pageID, incidentID string) []*compensation.Decision {
	t.Helper()
	ds, err := s.FindDecisions(context.Background(), pageID, incidentID)
	if err != nil {
		t.Fatalf("FindDecisions(%s, %s): %v", pageID, incidentID, err)
	}
	if ds == nil {
		t.Errorf("FindDecisions(%s, %s) = nil, want a list (empty when there are none)", pageID, incidentID)
	}
	return ds
}

func findDecision(t *testing.T, s compensation.Store, pageID, incidentID string) *compensation.Decision {
	t.Helper()
	d, err := s.FindDecision(context.Background(), pageID, incidentID)
	if err != nil {
		t.Fatalf("FindDecision(%s, %s): %v", pageID, incidentID, err)
	}
	return d
}

// versions lists "<incident> v<version>" of ds, for readable failures.
func versions(ds []*compensation.Decision) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s v%d", d.IncidentID, d.Version))
	}
	return out
}

// newGrant returns a grant with every field but Override set, its time
// in UTC at millisecond precision. Its fingerprint is its customer's, so
// the same customer's grants are the same request unless a test says
// otherwise.
func newGrant(id, pageID, incidentID, customerID string, when time.Time) *compensation.Grant {
	return &compensation.Grant{ID: id, PageID: pageID, IncidentID: incidentID, CustomerID: customerID, ComplaintID: "cmp-" + id,
		Group: "gold-choice", OfferID: "refund5", Kind: compensation.Refund, Amount: compensation.Money{Amount: 500, Currency: "EUR"},
		Days: 0, Voucher: "", PolicyVersion: 2, By: "Bob", At: when, Key: "key-" + id, Fingerprint: "fp-" + customerID}
}

func saveGrant(t *testing.T, s compensation.Store, g *compensation.Grant, seen int) *compensation.Grant {
	t.Helper()
	got, created, err := s.SaveGrant(context.Background(), g, seen)
	if err != nil {
		t.Fatalf("SaveGrant(%s, seen %d): %v", g.ID, seen, err)
	}
	if !created {
		t.Fatalf("SaveGrant(%s, seen %d) = false, want true: a new key", g.ID, seen)
	}
	return got
}

func findGrants(t *testing.T, s compensation.Store, pageID, incidentID, customerID string) []*compensation.Grant {
	t.Helper()
	gs, err := s.FindGrants(context.Background(), pageID, incidentID, customerID)
	if err != nil {
		t.Fatalf("FindGrants(%s, %s, %q): %v", pageID, incidentID, customerID, err)
	}
	if gs == nil {
		t.Errorf("FindGrants(%s, %s, %q) = nil, want a list (empty when there are none)", pageID, incidentID, customerID)
	}
	return gs
}

func grantIDs(gs []*compensation.Grant) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}

// inBudapest returns t in Europe/Budapest with 456 µs more: the store
// must give back compensation.Millis of it.
func inBudapest(t *testing.T) func(time.Time) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Budapest")
	if err != nil {
		t.Skip(err)
	}
	return func(v time.Time) time.Time { return v.In(loc).Add(456 * time.Microsecond) }
}

// ---- decisions ----

func testDecisionVersions(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	t.Run("nothing saved", func(t *testing.T) {
		_, err := s.FindDecision(ctx, "pa", "i1")
		wantErr(t, "FindDecision before any save", err, incident.ErrNotFound)
		equal(t, "FindDecisions before any save", versions(findDecisions(t, s, "pa", "i1")), []string{})
	})

	v1 := newDecision("pa", "i1", 1, compensation.Coming, base)
	saveDecision(t, s, v1)
	// unchanged checks that only v1 is stored, whatever failed.
	unchanged := func(t *testing.T) {
		t.Helper()
		equal(t, "decisions after a refused save", findDecisions(t, s, "pa", "i1"), []*compensation.Decision{v1})
		equal(t, "newest decision after a refused save", findDecision(t, s, "pa", "i1"), v1)
	}
	for _, tt := range []struct {
		name    string
		version int
	}{{"version 1 again", 1}, {"a gap: version 3", 3}, {"far ahead", 99}} {
		t.Run(tt.name, func(t *testing.T) {
			d := newDecision("pa", "i1", tt.version, compensation.Decided, at(time.Minute))
			wantCode(t, "SaveDecision", s.SaveDecision(ctx, d), incident.ECONFLICT)
			unchanged(t)
		})
	}

	t.Run("next versions in turn", func(t *testing.T) {
		v2 := newDecision("pa", "i1", 2, compensation.Decided, at(time.Minute))
		saveDecision(t, s, v2)
		wantCode(t, "stale version 2", s.SaveDecision(ctx, newDecision("pa", "i1", 2, compensation.None, at(time.Hour))), incident.ECONFLICT)
		v3 := newDecision("pa", "i1", 3, compensation.None, at(2*time.Minute))
		saveDecision(t, s, v3)
		equal(t, "every version, oldest first", findDecisions(t, s, "pa", "i1"), []*compensation.Decision{v1, v2, v3})
		equal(t, "the newest", findDecision(t, s, "pa", "i1"), v3)
	})

	t.Run("another incident counts on its own", func(t *testing.T) {
		wantCode(t, "version 2 of a new incident", s.SaveDecision(ctx, newDecision("pa", "i2", 2, compensation.Coming, base)), incident.ECONFLICT)
		_, err := s.FindDecision(ctx, "pa", "i2")
		wantErr(t, "FindDecision after a refused first save", err, incident.ErrNotFound)
		saveDecision(t, s, newDecision("pa", "i2", 1, compensation.Coming, base))
		equal(t, "i2", versions(findDecisions(t, s, "pa", "i2")), []string{"i2 v1"})
		equal(t, "i1", versions(findDecisions(t, s, "pa", "i1")), []string{"i1 v1", "i1 v2", "i1 v3"})
	})
}

func testDecisionRoundTrip(t *testing.T, s compensation.Store) {
	local := inBudapest(t)

	want := newDecision("pa", "i1", 1, compensation.Decided, base)
	in := *want
	in.At = local(want.At)
	policy := *want.Policy
	policy.ClaimDeadline = ptr(local(*want.Policy.ClaimDeadline))
	in.Policy = &policy
	saveDecision(t, s, &in)

	t.Run("times come back in UTC at millisecond precision, the policy whole", func(t *testing.T) {
		equal(t, "FindDecision", findDecision(t, s, "pa", "i1"), want)
		equal(t, "FindDecisions", findDecisions(t, s, "pa", "i1"), []*compensation.Decision{want})
		if got := findDecision(t, s, "pa", "i1"); !got.At.Equal(compensation.Millis(in.At)) || got.At.Location() != time.UTC {
			t.Errorf("At = %v, want %v in UTC", got.At, compensation.Millis(in.At))
		}
	})

	t.Run("the caller's values are not changed", func(t *testing.T) {
		if in.At.Location() == time.UTC || in.At.Equal(compensation.Millis(in.At)) {
			t.Errorf("SaveDecision changed the caller's At: %v", in.At)
		}
		if dl := *in.Policy.ClaimDeadline; dl.Location() == time.UTC || dl.Equal(compensation.Millis(dl)) {
			t.Errorf("SaveDecision changed the caller's ClaimDeadline: %v", dl)
		}
		if in.Policy != &policy {
			t.Error("SaveDecision replaced the caller's Policy")
		}
	})

	t.Run("a returned decision is the caller's to change", func(t *testing.T) {
		got := findDecision(t, s, "pa", "i1")
		got.Reason = "changed"
		got.Policy.Offers[0].ID = "changed"
		got.Policy.PlanFees["gold"] = compensation.Money{Amount: 1, Currency: "EUR"}
		got.Policy.Rules[1].Attributes["tier"][0] = "changed"
		*got.Policy.ClaimDeadline = base
		got.Policy.Cap.Amount = 1
		equal(t, "FindDecision after changing a returned one", findDecision(t, s, "pa", "i1"), want)
		list := findDecisions(t, s, "pa", "i1")
		list[0].Policy.Choices[0].Offers[0] = "changed"
		equal(t, "FindDecisions after changing a returned one", findDecisions(t, s, "pa", "i1"), []*compensation.Decision{want})
	})

	t.Run("states without a policy keep a nil policy and their reason", func(t *testing.T) {
		for i, st := range []compensation.State{compensation.None, compensation.Coming} {
			d := newDecision("pa", "i1", i+2, st, at(time.Duration(i+1)*time.Minute))
			d.Reason = "the outage was caused by the customer's provider – ügyfél"
			saveDecision(t, s, d)
			equal(t, "FindDecision", findDecision(t, s, "pa", "i1"), d)
		}
	})

	t.Run("a decided policy without optional parts", func(t *testing.T) {
		d := newDecision("pa", "i2", 1, compensation.Decided, base)
		d.Policy = &compensation.Policy{Currency: "HUF", Offers: []compensation.Offer{{ID: "mug", Kind: compensation.Other, Text: "a mug"}},
			Rules: []compensation.Rule{{ID: "all", Give: []string{"mug"}}}}
		saveDecision(t, s, d)
		equal(t, "FindDecision", findDecision(t, s, "pa", "i2"), d)
	})
}

func testDecisionVersionsConcurrently(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	saveDecision(t, s, newDecision("pa", "i1", 1, compensation.Coming, base))
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := newDecision("pa", "i1", 2, compensation.None, at(time.Minute))
			d.Reason = fmt.Sprintf("writer %d", i)
			errs[i] = s.SaveDecision(ctx, d)
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both saved version 2", winner, i)
		case err == nil:
			winner = i
		default:
			wantCode(t, fmt.Sprintf("writer %d", i), err, incident.ECONFLICT)
		}
	}
	if winner < 0 {
		t.Fatal("no writer saved version 2")
	}
	ds := findDecisions(t, s, "pa", "i1")
	equal(t, "versions", versions(ds), []string{"i1 v1", "i1 v2"})
	if len(ds) == 2 && ds[1].Reason != fmt.Sprintf("writer %d", winner) {
		t.Errorf("version 2 is %q, want writer %d's", ds[1].Reason, winner)
	}
}

// testDecisionPages: an incident's decisions live in its page; another
// page neither sees nor counts them.
func testDecisionPages(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	saveDecision(t, s, newDecision("pa", "i1", 1, compensation.Coming, base))
	saveDecision(t, s, newDecision("pa", "i1", 2, compensation.Decided, base))
	_, err := s.FindDecision(ctx, "pb", "i1")
	wantErr(t, "FindDecision on another page", err, incident.ErrNotFound)
	equal(t, "FindDecisions on another page", versions(findDecisions(t, s, "pb", "i1")), []string{})
	wantCode(t, "version 3 on another page", s.SaveDecision(ctx, newDecision("pb", "i1", 3, compensation.None, base)), incident.ECONFLICT)
	saveDecision(t, s, newDecision("pb", "i1", 1, compensation.None, base))
	equal(t, "pa", versions(findDecisions(t, s, "pa", "i1")), []string{"i1 v1", "i1 v2"})
	equal(t, "pb", versions(findDecisions(t, s, "pb", "i1")), []string{"i1 v1"})
	if d := findDecision(t, s, "pa", "i1"); d.State != compensation.Decided || d.PageID != "pa" {
		t.Errorf("pa's newest = %s on %s, want decided on pa", d.State, d.PageID)
	}
}

func testFindDecided(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	find := func(t *testing.T, pageID string) []*compensation.Decision {
		t.Helper()
		ds, err := s.FindDecided(ctx, pageID)
		if err != nil {
			t.Fatalf("FindDecided(%s): %v", pageID, err)
		}
		if ds == nil {
			t.Errorf("FindDecided(%s) = nil, want a list", pageID)
		}
		return ds
	}
	t.Run("nothing saved", func(t *testing.T) {
		equal(t, "FindDecided", versions(find(t, "pa")), []string{})
	})

	// Saved out of incident order: the store orders.
	save := func(incidentID string, states ...compensation.State) *compensation.Decision {
		var d *compensation.Decision
		for i, st := range states {
			d = newDecision("pa", incidentID, i+1, st, at(time.Duration(i)*time.Minute))
			saveDecision(t, s, d)
		}
		return d
	}
	i4 := save("i4", compensation.Decided, compensation.Coming)                                          // newest coming: listed at v2
	save("i2", compensation.Decided, compensation.None)                                                  // newest none: not listed, although v1 was decided
	i3 := save("i3", compensation.None, compensation.Decided)                                            // newest decided: listed at v2
	i1 := save("i1", compensation.Coming)                                                                // listed at v1
	save("i5", compensation.None)                                                                        // never listed
	i6 := save("i6", compensation.Coming, compensation.Decided, compensation.None, compensation.Decided) // back to decided: v4
	saveDecision(t, s, newDecision("pb", "i7", 1, compensation.Decided, base))
	want := []*compensation.Decision{i1, i3, i4, i6}

	t.Run("the newest coming or decided of each incident, by incident ID", func(t *testing.T) {
		equal(t, "FindDecided(pa)", find(t, "pa"), want)
	})
	t.Run("only the page's", func(t *testing.T) {
		equal(t, "FindDecided(pb)", versions(find(t, "pb")), []string{"i7 v1"})
		equal(t, "FindDecided(pc)", versions(find(t, "pc")), []string{})
	})
	t.Run("a new version moves an incident in and out", func(t *testing.T) {
		saveDecision(t, s, newDecision("pa", "i1", 2, compensation.None, at(time.Hour)))
		saveDecision(t, s, newDecision("pa", "i5", 2, compensation.Coming, at(time.Hour)))
		equal(t, "FindDecided(pa)", versions(find(t, "pa")), []string{"i3 v2", "i4 v2", "i5 v2", "i6 v4"})
	})
	t.Run("a refused save moves nothing", func(t *testing.T) {
		wantCode(t, "stale save", s.SaveDecision(ctx, newDecision("pa", "i3", 2, compensation.None, at(time.Hour))), incident.ECONFLICT)
		wantCode(t, "gap", s.SaveDecision(ctx, newDecision("pa", "i2", 4, compensation.Decided, at(time.Hour))), incident.ECONFLICT)
		equal(t, "FindDecided(pa)", versions(find(t, "pa")), []string{"i3 v2", "i4 v2", "i5 v2", "i6 v4"})
	})
	t.Run("a returned decision is the caller's to change", func(t *testing.T) {
		got := find(t, "pa")
		for _, d := range got {
			if d.Policy != nil {
				d.Policy.Offers[0].Text = "changed"
				d.Policy.PlanFees["gold"] = compensation.Money{}
			}
		}
		equal(t, "i3 after changing a returned one", find(t, "pa")[0], i3)
	})
}

func testDecisionInvalid(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		d    *compensation.Decision
	}{
		{"nil", nil},
		{"no page", newDecision("", "i1", 1, compensation.Coming, base)},
		{"no incident", newDecision("pa", "", 1, compensation.Coming, base)},
		{"version 0", newDecision("pa", "i1", 0, compensation.Coming, base)},
		{"a negative version", newDecision("pa", "i1", -1, compensation.Coming, base)},
		{"an unknown state", newDecision("pa", "i1", 1, "maybe", base)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, "SaveDecision", s.SaveDecision(ctx, tt.d), incident.EINVALID)
		})
	}
	_, err := s.FindDecision(ctx, "pa", "i1")
	wantErr(t, "FindDecision after invalid saves", err, incident.ErrNotFound)
	equal(t, "FindDecisions after invalid saves", versions(findDecisions(t, s, "pa", "i1")), []string{})
}

// ---- grants ----

func testGrantRoundTrip(t *testing.T, s compensation.Store) {
	local := inBudapest(t)

	t.Run("every field, Key, Fingerprint and Override.By included; times in UTC at millisecond precision", func(t *testing.T) {
		want := newGrant("g1", "pa", "i1", "k1", base)
		want.Override = &compensation.Override{By: incident.Actor{TokenID: "t9", Name: "Mia", Role: incident.RoleManager},
			Reason: "long-standing customer, asked \"politely\""}
		in := *want
		in.At = local(want.At)
		got := saveGrant(t, s, &in, 0)
		equal(t, "SaveGrant's grant", got, want)
		equal(t, "FindGrants", findGrants(t, s, "pa", "i1", ""), []*compensation.Grant{want})
		if in.At.Location() == time.UTC || in.At.Equal(compensation.Millis(in.At)) {
			t.Errorf("SaveGrant changed the caller's At: %v", in.At)
		}
		if got == &in {
			t.Error("SaveGrant returned the caller's grant")
		}
	})

	t.Run("a voucher, a free period and a decline", func(t *testing.T) {
		v := newGrant("g2", "pa", "i1", "k2", base)
		v.Group, v.OfferID, v.Kind, v.Amount, v.Voucher = "code", "code", compensation.Voucher, compensation.Money{}, "SPRING-0001"
		d := newGrant("g3", "pa", "i1", "k3", base)
		d.Group, d.OfferID, d.Kind, d.Days, d.Amount = "week", "week", compensation.FreePeriod, 7, compensation.Money{}
		x := newGrant("g4", "pa", "i1", "k4", base)
		x.Group, x.OfferID, x.Kind, x.Amount, x.Declined, x.ComplaintID = "gold-choice", "", "", compensation.Money{}, true, ""
		for _, g := range []*compensation.Grant{v, d, x} {
			equal(t, "SaveGrant's grant", saveGrant(t, s, g, 0), g)
			equal(t, "FindGrants("+g.CustomerID+")", findGrants(t, s, "pa", "i1", g.CustomerID), []*compensation.Grant{g})
		}
	})

	t.Run("a returned grant is the caller's to change", func(t *testing.T) {
		gs := findGrants(t, s, "pa", "i1", "k1")
		if len(gs) != 1 || gs[0].Override == nil {
			t.Fatalf("FindGrants(k1) = %v", grantIDs(gs))
		}
		want := *gs[0]
		ov := *gs[0].Override
		want.Override = &ov
		gs[0].Override.Reason = "changed"
		gs[0].Amount.Amount = 1
		equal(t, "FindGrants after changing a returned one", findGrants(t, s, "pa", "i1", "k1"), []*compensation.Grant{&want})
	})
}

func testGrantKeys(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	first := newGrant("g1", "pa", "i1", "k1", base)
	saveGrant(t, s, first, 0)

	t.Run("a retry with the same key returns the stored grant and writes nothing", func(t *testing.T) {
		retry := newGrant("g2", "pa", "i1", "k1", at(time.Minute))
		retry.Key = first.Key
		retry.Amount.Amount = 999
		// The retry read the grants before the first attempt: seen 0,
		// now stale. The key wins over the count.
		for _, seen := range []int{0, 1, 7} {
			got, created, err := s.SaveGrant(ctx, retry, seen)
			if err != nil || created {
				t.Fatalf("SaveGrant(retry, seen %d) = %v, %v; want the stored grant, false", seen, created, err)
			}
			equal(t, "the grant a retry gets", got, first)
		}
		equal(t, "FindGrants", findGrants(t, s, "pa", "i1", ""), []*compensation.Grant{first})
	})

	refused := func(t *testing.T, g *compensation.Grant) {
		t.Helper()
		got, created, err := s.SaveGrant(ctx, g, 0)
		var e *incident.Error
		if !errors.As(err, &e) || e.Code != incident.EIDEMPOTENCY || e.Field != "key" {
			t.Errorf("SaveGrant(%s, key %s) error = %v, want %s on key", g.ID, g.Key, err, incident.EIDEMPOTENCY)
		}
		if got != nil || created {
			t.Errorf("a refused SaveGrant returned %v, %v; want nil, false", got, created)
		}
	}

	t.Run("the same key for another customer is refused, and writes nothing", func(t *testing.T) {
		other := newGrant("g3", "pa", "i1", "k2", base)
		other.Key = first.Key
		refused(t, other)
		// Even with the first request's fingerprint: the customer is
		// part of the request.
		other.Fingerprint = first.Fingerprint
		refused(t, other)
		equal(t, "k2's grants", grantIDs(findGrants(t, s, "pa", "i1", "k2")), []string{})
		equal(t, "FindGrants", findGrants(t, s, "pa", "i1", ""), []*compensation.Grant{first})
	})

	t.Run("the same key with another request of the customer is refused, and writes nothing", func(t *testing.T) {
		other := newGrant("g6", "pa", "i1", "k1", base)
		other.Key, other.Fingerprint = first.Key, "fp-another-offer"
		refused(t, other)
		equal(t, "FindGrants", findGrants(t, s, "pa", "i1", ""), []*compensation.Grant{first})
	})

	t.Run("a grant stored without a fingerprint is retried by any request of its customer", func(t *testing.T) {
		old := newGrant("g7", "pa", "i3", "k1", base)
		old.Fingerprint = "" // a key derived from the request, or a grant from before fingerprints
		saveGrant(t, s, old, 0)
		retry := newGrant("g8", "pa", "i3", "k1", at(time.Minute))
		retry.Key = old.Key
		got, created, err := s.SaveGrant(ctx, retry, 1)
		if err != nil || created {
			t.Fatalf("SaveGrant(retry) = %v, %v; want the stored grant, false", created, err)
		}
		equal(t, "the grant a retry gets", got, old)
		other := newGrant("g9", "pa", "i3", "k2", at(time.Minute))
		other.Key = old.Key
		refused(t, other)
	})

	t.Run("FindGrantByKey finds the incident's grant, whichever customer's", func(t *testing.T) {
		got, err := s.FindGrantByKey(ctx, "pa", "i1", first.Key)
		if err != nil {
			t.Fatalf("FindGrantByKey: %v", err)
		}
		equal(t, "FindGrantByKey", got, first)
		for _, tt := range []struct{ what, page, incident, key string }{
			{"an unknown key", "pa", "i1", "key-none"},
			{"another incident", "pa", "i9", first.Key},
			{"another page", "pz", "i1", first.Key},
			{"an invalid page", "", "i1", first.Key},
		} {
			_, err := s.FindGrantByKey(ctx, tt.page, tt.incident, tt.key)
			wantCode(t, "FindGrantByKey, "+tt.what, err, incident.ENOTFOUND)
		}
	})

	t.Run("FindGrantByKey finds a key's old top-up, of the lowest version, when the key has no grant", func(t *testing.T) {
		// A herald before 0208d89 recorded the top-ups a client's key up
		// granted under versions 3 and 10 of i4's decision as below;
		// the other keys are no old top-ups of up, nor of zz.
		for v := 1; v <= 11; v++ {
			saveDecision(t, s, newDecision("pa", "i4", v, compensation.Decided, at(time.Duration(v)*time.Minute)))
		}
		var v3 *compensation.Grant
		for i, key := range []string{"i4:up:top-up-v10", "i4:up:top-up-v3",
			"i4:zz:top-up-vx", "i4:zz:top-up-v03", "i4:zz:top-up-v0", "i4:zz:top-up-v", "i4:zz:top-up-v2x", "i4:upper:top-up-v2", "i4:u"} {
			g := newGrant(fmt.Sprintf("old%d", i), "pa", "i4", "k1", at(time.Duration(i)*time.Second))
			g.Key, g.TopUp = key, true
			if saved := saveGrant(t, s, g, i); key == "i4:up:top-up-v3" {
				v3 = saved
			}
		}
		got, err := s.FindGrantByKey(ctx, "pa", "i4", "i4:up")
		if err != nil {
			t.Fatalf("FindGrantByKey(i4:up): %v", err)
		}
		equal(t, "FindGrantByKey(i4:up)", got, v3)
		for _, tt := range []struct{ what, page, incident, key string }{
			{"a key with no grant but a longer key's old top-up", "pa", "i4", "i4:upp"},
			{"a key whose keys like old top-ups' have no version", "pa", "i4", "i4:zz"},
			{"another incident", "pa", "i1", "i4:up"},
			{"another page", "pz", "i4", "i4:up"},
		} {
			_, err := s.FindGrantByKey(ctx, tt.page, tt.incident, tt.key)
			wantCode(t, "FindGrantByKey, "+tt.what, err, incident.ENOTFOUND)
		}
		// The key's own grant comes first.
		own := newGrant("new1", "pa", "i4", "k2", at(time.Hour))
		own.Key = "i4:up"
		saveGrant(t, s, own, 0)
		got, err = s.FindGrantByKey(ctx, "pa", "i4", "i4:up")
		if err != nil {
			t.Fatalf("FindGrantByKey(i4:up): %v", err)
		}
		equal(t, "FindGrantByKey(i4:up) once it has a grant", got, own)
	})

	t.Run("keys are per incident and page", func(t *testing.T) {
		onI2 := newGrant("g4", "pa", "i2", "k1", base)
		onI2.Key = first.Key
		equal(t, "on another incident", saveGrant(t, s, onI2, 0), onI2)
		onPB := newGrant("g5", "pb", "i1", "k1", base)
		onPB.Key = first.Key
		equal(t, "on another page", saveGrant(t, s, onPB, 0), onPB)
		equal(t, "pa i1", findGrants(t, s, "pa", "i1", ""), []*compensation.Grant{first})
	})
}

func testGrantSeen(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	refused := func(t *testing.T, g *compensation.Grant, seen int) {
		t.Helper()
		got, created, err := s.SaveGrant(ctx, g, seen)
		wantCode(t, fmt.Sprintf("SaveGrant(%s, seen %d)", g.ID, seen), err, incident.ECONFLICT)
		if got != nil || created {
			t.Errorf("a refused SaveGrant returned %v, %v; want nil, false", got, created)
		}
	}
	g1 := newGrant("g1", "pa", "i1", "k1", base)

	t.Run("seen must be the stored count", func(t *testing.T) {
		refused(t, g1, 1)
		refused(t, g1, -1)
		equal(t, "after refused saves", grantIDs(findGrants(t, s, "pa", "i1", "")), []string{})
		saveGrant(t, s, g1, 0)
		g2 := newGrant("g2", "pa", "i1", "k1", at(time.Minute))
		refused(t, g2, 0) // someone granted meanwhile
		refused(t, g2, 2)
		equal(t, "after refused saves", grantIDs(findGrants(t, s, "pa", "i1", "")), []string{"g1"})
		saveGrant(t, s, g2, 1)
		equal(t, "k1's", grantIDs(findGrants(t, s, "pa", "i1", "k1")), []string{"g1", "g2"})
	})

	t.Run("a refused save's key stays free", func(t *testing.T) {
		g3 := newGrant("g3", "pa", "i1", "k1", at(2*time.Minute))
		refused(t, g3, 1)
		saveGrant(t, s, g3, 2)
	})

	t.Run("a decline counts", func(t *testing.T) {
		d := newGrant("d1", "pa", "i1", "k2", base)
		d.Declined, d.OfferID, d.Amount = true, "", compensation.Money{}
		saveGrant(t, s, d, 0)
		refused(t, newGrant("d2", "pa", "i1", "k2", base), 0)
		saveGrant(t, s, newGrant("d2", "pa", "i1", "k2", base), 1)
	})

	t.Run("the count is the customer's on the incident and page", func(t *testing.T) {
		saveGrant(t, s, newGrant("o1", "pa", "i1", "k3", base), 0) // another customer
		saveGrant(t, s, newGrant("o2", "pa", "i2", "k1", base), 0) // another incident
		saveGrant(t, s, newGrant("o3", "pb", "i1", "k1", base), 0) // another page
		refused(t, newGrant("o4", "pa", "i1", "k1", base), 0)
		saveGrant(t, s, newGrant("o4", "pa", "i1", "k1", base), 3)
	})
}

func testGrantIDs(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	g1 := newGrant("g1", "pa", "i1", "k1", base)
	saveGrant(t, s, g1, 0)
	for _, tt := range []struct {
		name string
		g    *compensation.Grant
		seen int
	}{
		{"the same incident and customer", newGrant("g1", "pa", "i1", "k1", at(time.Minute)), 1},
		{"another customer", newGrant("g1", "pa", "i1", "k2", at(time.Minute)), 0},
		{"another incident", newGrant("g1", "pa", "i2", "k1", at(time.Minute)), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.g.Key = "another-key-" + tt.name
			got, created, err := s.SaveGrant(ctx, tt.g, tt.seen)
			wantCode(t, "SaveGrant with a stored ID", err, incident.ECONFLICT)
			if got != nil || created {
				t.Errorf("a refused SaveGrant returned %v, %v; want nil, false", got, created)
			}
			equal(t, "pa i1", findGrants(t, s, "pa", "i1", ""), []*compensation.Grant{g1})
			equal(t, "pa i2", grantIDs(findGrants(t, s, "pa", "i2", "")), []string{})
		})
	}
	t.Run("another page may hold the ID", func(t *testing.T) {
		g := newGrant("g1", "pb", "i1", "k1", at(time.Minute))
		equal(t, "SaveGrant", saveGrant(t, s, g, 0), g)
		equal(t, "pa i1", findGrants(t, s, "pa", "i1", ""), []*compensation.Grant{g1})
	})
}

func testGrantInvalid(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		change func(g *compensation.Grant)
	}{
		{"no ID", func(g *compensation.Grant) { g.ID = "" }},
		{"no page", func(g *compensation.Grant) { g.PageID = "" }},
		{"no incident", func(g *compensation.Grant) { g.IncidentID = "" }},
		{"no customer", func(g *compensation.Grant) { g.CustomerID = "" }},
		{"no key", func(g *compensation.Grant) { g.Key = "" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGrant("g1", "pa", "i1", "k1", base)
			tt.change(g)
			_, created, err := s.SaveGrant(ctx, g, 0)
			wantCode(t, "SaveGrant", err, incident.EINVALID)
			if created {
				t.Error("an invalid grant was created")
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		_, _, err := s.SaveGrant(ctx, nil, 0)
		wantCode(t, "SaveGrant(nil)", err, incident.EINVALID)
	})
	equal(t, "grants after invalid saves", grantIDs(findGrants(t, s, "pa", "i1", "")), []string{})
}

func testFindGrants(t *testing.T, s compensation.Store) {
	// Saved out of order: the store orders by At, ties by ID.
	//
	//	id  customer at
	//	g5  k1       0
	//	g2  k2       1m
	//	g3  k1       1m
	//	g1  k1       2m
	//	g4  k2       2m
	seen := map[string]int{}
	var all []*compensation.Grant
	for _, r := range []struct {
		id, customer string
		at           time.Duration
	}{{"g3", "k1", time.Minute}, {"g1", "k1", 2 * time.Minute}, {"g4", "k2", 2 * time.Minute}, {"g5", "k1", 0}, {"g2", "k2", time.Minute}} {
		g := newGrant(r.id, "pa", "i1", r.customer, at(r.at))
		saveGrant(t, s, g, seen[r.customer])
		seen[r.customer]++
		all = append(all, g)
	}
	saveGrant(t, s, newGrant("x1", "pa", "i2", "k1", base), 0)
	saveGrant(t, s, newGrant("y1", "pb", "i1", "k1", base), 0)

	for _, tt := range []struct {
		name                     string
		page, incident, customer string
		want                     []string
	}{
		{"oldest first, ties by ID", "pa", "i1", "", []string{"g5", "g2", "g3", "g1", "g4"}},
		{"one customer", "pa", "i1", "k1", []string{"g5", "g3", "g1"}},
		{"another customer", "pa", "i1", "k2", []string{"g2", "g4"}},
		{"a customer without grants", "pa", "i1", "k9", []string{}},
		{"another incident", "pa", "i2", "", []string{"x1"}},
		{"another page", "pb", "i1", "", []string{"y1"}},
		{"another page, one customer", "pb", "i1", "k1", []string{"y1"}},
		{"an unknown incident", "pa", "i9", "", []string{}},
		{"an unknown page", "pc", "i1", "", []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			equal(t, "IDs", grantIDs(findGrants(t, s, tt.page, tt.incident, tt.customer)), tt.want)
		})
	}
	t.Run("the grants are whole", func(t *testing.T) {
		byID := map[string]*compensation.Grant{}
		for _, g := range all {
			byID[g.ID] = g
		}
		for _, g := range findGrants(t, s, "pa", "i1", "") {
			equal(t, g.ID, g, byID[g.ID])
		}
	})
}

func testGrantsConcurrently(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	saveGrant(t, s, newGrant("g0", "pa", "i1", "k1", base), 0)
	const writers = 8
	type result struct {
		g       *compensation.Grant
		created bool
		err     error
	}
	results := make([]result, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every writer read one grant, checked the cap, and grants.
			g, created, err := s.SaveGrant(ctx, newGrant(fmt.Sprintf("g%d", i+1), "pa", "i1", "k1", at(time.Minute)), 1)
			results[i] = result{g, created, err}
		}()
	}
	wg.Wait()
	winner := -1
	for i, r := range results {
		switch {
		case r.err == nil && winner >= 0:
			t.Errorf("writers %d and %d both granted", winner, i)
		case r.err == nil:
			winner = i
			if !r.created || r.g == nil || r.g.ID != fmt.Sprintf("g%d", i+1) {
				t.Errorf("the winner's SaveGrant = %v, %v", r.g, r.created)
			}
		default:
			wantCode(t, fmt.Sprintf("writer %d", i), r.err, incident.ECONFLICT)
		}
	}
	if winner < 0 {
		t.Fatal("no writer granted")
	}
	equal(t, "grants", grantIDs(findGrants(t, s, "pa", "i1", "k1")), []string{"g0", fmt.Sprintf("g%d", winner+1)})

	t.Run("one key for two customers at once grants once", func(t *testing.T) {
		errs := make([]error, writers)
		created := make([]bool, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := newGrant(fmt.Sprintf("c%d", i), "pa", "i2", fmt.Sprintf("c%d", i), base)
				g.Key = "one-key"
				_, created[i], errs[i] = s.SaveGrant(ctx, g, 0)
			}()
		}
		wg.Wait()
		n := 0
		for i := range writers {
			switch {
			case errs[i] == nil && created[i]:
				n++
			case errs[i] == nil:
				t.Errorf("writer %d got another customer's grant", i)
			default:
				wantCode(t, fmt.Sprintf("writer %d", i), errs[i], incident.EIDEMPOTENCY)
			}
		}
		if stored := grantIDs(findGrants(t, s, "pa", "i2", "")); n != 1 || len(stored) != 1 {
			t.Errorf("%d writers created a grant, %v stored; want one", n, stored)
		}
	})

	t.Run("retries of one request grant once", func(t *testing.T) {
		created := make([]bool, writers)
		ids := make([]string, writers)
		errs := make([]error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := newGrant(fmt.Sprintf("r%d", i), "pa", "i1", "k2", base)
				g.Key = "one-request"
				var got *compensation.Grant
				got, created[i], errs[i] = s.SaveGrant(ctx, g, 0)
				if got != nil {
					ids[i] = got.ID
				}
			}()
		}
		wg.Wait()
		n := 0
		for i := range writers {
			if errs[i] != nil {
				t.Errorf("retry %d: %v", i, errs[i])
			}
			if created[i] {
				n++
			}
		}
		stored := grantIDs(findGrants(t, s, "pa", "i1", "k2"))
		if n != 1 || len(stored) != 1 {
			t.Fatalf("%d retries created a grant, %v stored; want one", n, stored)
		}
		for i := range writers {
			if ids[i] != stored[0] {
				t.Errorf("retry %d got grant %q, want the stored %q", i, ids[i], stored[0])
			}
		}
	})
}

// ---- vouchers ----

func addVouchers(t *testing.T, s compensation.Store, pageID, listID string, want int, codes ...string) {
	t.Helper()
	n, err := s.AddVouchers(context.Background(), pageID, listID, codes)
	if err != nil {
		t.Fatalf("AddVouchers(%s, %s): %v", pageID, listID, err)
	}
	if n != want {
		t.Errorf("AddVouchers(%s, %s, %v) = %d, want %d", pageID, listID, codes, n, want)
	}
}

func countVouchers(t *testing.T, s compensation.Store, pageID, listID string, total, free int) {
	t.Helper()
	gotTotal, gotFree, err := s.CountVouchers(context.Background(), pageID, listID)
	if err != nil {
		t.Fatalf("CountVouchers(%s, %s): %v", pageID, listID, err)
	}
	if gotTotal != total || gotFree != free {
		t.Errorf("CountVouchers(%s, %s) = %d total, %d free; want %d, %d", pageID, listID, gotTotal, gotFree, total, free)
	}
}

func draw(t *testing.T, s compensation.Store, pageID, listID, key string) string {
	t.Helper()
	code, err := s.DrawVoucher(context.Background(), pageID, listID, key)
	if err != nil {
		t.Fatalf("DrawVoucher(%s, %s, %s): %v", pageID, listID, key, err)
	}
	return code
}

func testVouchers(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	t.Run("a list that does not exist", func(t *testing.T) {
		countVouchers(t, s, "pa", "spring", 0, 0)
		_, err := s.DrawVoucher(ctx, "pa", "spring", "grant-1")
		wantErr(t, "DrawVoucher", err, incident.ErrNotFound)
	})

	addVouchers(t, s, "pa", "spring", 3, "A-1", "A-2", "A-3")
	countVouchers(t, s, "pa", "spring", 3, 3)
	t.Run("codes already in the list are skipped", func(t *testing.T) {
		addVouchers(t, s, "pa", "spring", 2, "A-2", "A-4", "A-4", "a-4", "A-1")
		countVouchers(t, s, "pa", "spring", 5, 5)
		addVouchers(t, s, "pa", "spring", 0)
		addVouchers(t, s, "pa", "spring", 0, "A-3")
		countVouchers(t, s, "pa", "spring", 5, 5)
	})

	pool := map[string]bool{"A-1": true, "A-2": true, "A-3": true, "A-4": true, "a-4": true}
	drawn := map[string]string{} // key → code
	t.Run("distinct keys draw distinct codes of the list", func(t *testing.T) {
		for i := range 3 {
			key := fmt.Sprintf("grant-%d", i)
			code := draw(t, s, "pa", "spring", key)
			if !pool[code] {
				t.Errorf("key %s drew %q, not a code of the list", key, code)
			}
			for k, c := range drawn {
				if c == code {
					t.Errorf("keys %s and %s both drew %q", k, key, code)
				}
			}
			drawn[key] = code
			countVouchers(t, s, "pa", "spring", 5, 5-len(drawn))
		}
	})

	t.Run("the same key gets the same code again", func(t *testing.T) {
		for key, code := range drawn {
			if got := draw(t, s, "pa", "spring", key); got != code {
				t.Errorf("key %s drew %q again, want %q", key, got, code)
			}
		}
		countVouchers(t, s, "pa", "spring", 5, 2)
	})

	t.Run("an exhausted list", func(t *testing.T) {
		drawn["grant-3"] = draw(t, s, "pa", "spring", "grant-3")
		drawn["grant-4"] = draw(t, s, "pa", "spring", "grant-4")
		countVouchers(t, s, "pa", "spring", 5, 0)
		_, err := s.DrawVoucher(ctx, "pa", "spring", "grant-5")
		wantErr(t, "DrawVoucher from an exhausted list", err, incident.ErrNotFound)
		got := map[string]bool{}
		for key, code := range drawn {
			got[code] = true
			if again := draw(t, s, "pa", "spring", key); again != code {
				t.Errorf("after exhaustion key %s drew %q, want %q", key, again, code)
			}
		}
		equal(t, "the codes handed out", got, pool)
	})

	t.Run("codes added later are drawn", func(t *testing.T) {
		addVouchers(t, s, "pa", "spring", 1, "A-5", "A-1")
		countVouchers(t, s, "pa", "spring", 6, 1)
		if got := draw(t, s, "pa", "spring", "grant-5"); got != "A-5" {
			t.Errorf("DrawVoucher = %q, want the only unused code A-5", got)
		}
		if got := draw(t, s, "pa", "spring", "grant-0"); got != drawn["grant-0"] {
			t.Errorf("key grant-0 drew %q, want %q", got, drawn["grant-0"])
		}
	})

	t.Run("a key is per list", func(t *testing.T) {
		addVouchers(t, s, "pa", "summer", 1, "B-1")
		if got := draw(t, s, "pa", "summer", "grant-0"); got != "B-1" {
			t.Errorf("grant-0 on summer drew %q, want B-1", got)
		}
		countVouchers(t, s, "pa", "summer", 1, 0)
		countVouchers(t, s, "pa", "spring", 6, 0)
	})
}

func testVoucherPages(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	addVouchers(t, s, "pa", "spring", 2, "A-1", "A-2")
	addVouchers(t, s, "pb", "spring", 1, "A-1")
	countVouchers(t, s, "pb", "spring", 1, 1)
	countVouchers(t, s, "pc", "spring", 0, 0)
	if got := draw(t, s, "pb", "spring", "k"); got != "A-1" {
		t.Errorf("pb drew %q, want A-1", got)
	}
	_, err := s.DrawVoucher(ctx, "pb", "spring", "k2")
	wantErr(t, "DrawVoucher from pb's exhausted list", err, incident.ErrNotFound)
	_, err = s.DrawVoucher(ctx, "pc", "spring", "k")
	wantErr(t, "DrawVoucher on a page without the list", err, incident.ErrNotFound)
	countVouchers(t, s, "pa", "spring", 2, 2)
	a := draw(t, s, "pa", "spring", "k")
	b := draw(t, s, "pa", "spring", "k2")
	if a == b || a == "" || b == "" {
		t.Errorf("pa drew %q and %q; want its two codes", a, b)
	}
}

func testVoucherInvalid(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	for _, tt := range []struct {
		name, page, list string
		codes            []string
	}{
		{"no page", "", "spring", []string{"A-1"}},
		{"no list", "pa", "", []string{"A-1"}},
		{"a list ID with capitals", "pa", "Spring", []string{"A-1"}},
		{"an empty code", "pa", "spring", []string{"A-1", ""}},
		{"a code with a space", "pa", "spring", []string{"A-1", "A 2"}},
		{"a code with a comma", "pa", "spring", []string{"A,2"}},
		{"a code of 65 characters", "pa", "spring", []string{string(make([]byte, 65))}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, err := s.AddVouchers(ctx, tt.page, tt.list, tt.codes)
			wantCode(t, "AddVouchers", err, incident.EINVALID)
			if n != 0 {
				t.Errorf("AddVouchers = %d, want 0", n)
			}
		})
	}
	countVouchers(t, s, "pa", "spring", 0, 0)
	addVouchers(t, s, "pa", "spring", 1, "A-1")
	_, err := s.DrawVoucher(ctx, "pa", "spring", "")
	wantCode(t, "DrawVoucher without a key", err, incident.EINVALID)
	countVouchers(t, s, "pa", "spring", 1, 1)
}

func testVouchersConcurrently(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	const codes, workers, each = 30, 8, 5 // 40 draws for 30 codes
	var list []string
	for i := range codes {
		list = append(list, fmt.Sprintf("C-%02d", i))
	}
	addVouchers(t, s, "pa", "spring", codes, list...)
	var mu sync.Mutex
	got := map[string]string{} // code → key
	misses := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := fmt.Sprintf("w%d-%d", w, i)
				code, err := s.DrawVoucher(ctx, "pa", "spring", key)
				mu.Lock()
				switch {
				case errors.Is(err, incident.ErrNotFound):
					misses++
				case err != nil:
					t.Errorf("DrawVoucher(%s): %v", key, err)
				case got[code] != "":
					t.Errorf("keys %s and %s both drew %q", got[code], key, code)
				default:
					got[code] = key
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != codes || misses != workers*each-codes {
		t.Errorf("%d codes handed out and %d misses; want %d and %d", len(got), misses, codes, workers*each-codes)
	}
	countVouchers(t, s, "pa", "spring", codes, 0)

	t.Run("one key drawn concurrently gets one code", func(t *testing.T) {
		addVouchers(t, s, "pa", "autumn", 3, "D-1", "D-2", "D-3")
		results := make([]string, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, err := s.DrawVoucher(ctx, "pa", "autumn", "the-key")
				if err != nil {
					t.Errorf("DrawVoucher: %v", err)
				}
				results[w] = code
			}()
		}
		wg.Wait()
		sort.Strings(results)
		if results[0] == "" || results[0] != results[workers-1] {
			t.Errorf("one key drew %v; want one code every time", results)
		}
		countVouchers(t, s, "pa", "autumn", 3, 2)
	})
}

// voucherGrant is newGrant's grant of the offer code, whose code SaveGrant
// draws from listID.
func voucherGrant(id, pageID, incidentID, customerID, listID string) *compensation.Grant {
	g := newGrant(id, pageID, incidentID, customerID, base)
	g.Group, g.OfferID, g.Kind, g.Amount, g.VoucherList = "code", "code", compensation.Voucher, compensation.Money{}, listID
	return g
}

func testGrantDrawsVoucher(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	addVouchers(t, s, "pa", "spring", 4, "A-1", "A-2", "A-3", "A-4")

	first := voucherGrant("g1", "pa", "i1", "k1", "spring")
	t.Run("a grant naming a list draws its first unused code as it is stored, and keeps the list", func(t *testing.T) {
		got := saveGrant(t, s, first, 0)
		want := *first
		want.Voucher = "A-1"
		equal(t, "SaveGrant's grant", got, &want)
		equal(t, "FindGrants", findGrants(t, s, "pa", "i1", "k1"), []*compensation.Grant{&want})
		if first.Voucher != "" {
			t.Errorf("SaveGrant changed the caller's Voucher to %q", first.Voucher)
		}
		countVouchers(t, s, "pa", "spring", 4, 3)
		if code := draw(t, s, "pa", "spring", first.Key); code != "A-1" {
			t.Errorf("DrawVoucher(the grant's key) = %q, want its code A-1", code)
		}
	})

	t.Run("a retry, a refused and a conflicting save draw nothing", func(t *testing.T) {
		retry := voucherGrant("g2", "pa", "i1", "k1", "spring")
		retry.Key = first.Key
		got, created, err := s.SaveGrant(ctx, retry, 0)
		if err != nil || created || got.ID != first.ID || got.Voucher != "A-1" {
			t.Errorf("SaveGrant(retry) = %+v, %v, %v; want g1 with A-1", got, created, err)
		}
		other := voucherGrant("g3", "pa", "i1", "k2", "spring")
		other.Key = first.Key
		_, _, err = s.SaveGrant(ctx, other, 0)
		wantCode(t, "the key for another customer", err, incident.EIDEMPOTENCY)
		stale := voucherGrant("g4", "pa", "i1", "k1", "spring")
		_, _, err = s.SaveGrant(ctx, stale, 0)
		wantCode(t, "a stale count", err, incident.ECONFLICT)
		sameID := voucherGrant("g1", "pa", "i1", "k3", "spring")
		sameID.Key = "key-another"
		_, _, err = s.SaveGrant(ctx, sameID, 0)
		wantCode(t, "a known ID", err, incident.ECONFLICT)
		countVouchers(t, s, "pa", "spring", 4, 3)
		equal(t, "FindGrants", grantIDs(findGrants(t, s, "pa", "i1", "")), []string{"g1"})
	})

	t.Run("a key that drew a code before gets it", func(t *testing.T) {
		g := voucherGrant("g5", "pa", "i1", "k5", "spring")
		code := draw(t, s, "pa", "spring", g.Key)
		if got := saveGrant(t, s, g, 0); got.Voucher != code {
			t.Errorf("the grant's code %q, want %q, drawn for its key before", got.Voucher, code)
		}
		countVouchers(t, s, "pa", "spring", 4, 2)
	})

	t.Run("an exhausted list is ENOTFOUND and writes nothing", func(t *testing.T) {
		saveGrant(t, s, voucherGrant("g6", "pa", "i1", "k6", "spring"), 0)
		saveGrant(t, s, voucherGrant("g7", "pa", "i1", "k7", "spring"), 0)
		countVouchers(t, s, "pa", "spring", 4, 0)
		for _, g := range []*compensation.Grant{voucherGrant("g8", "pa", "i1", "k8", "spring"), voucherGrant("g9", "pa", "i1", "k9", "nolist")} {
			_, _, err := s.SaveGrant(ctx, g, 0)
			wantCode(t, "SaveGrant from "+g.VoucherList, err, incident.ENOTFOUND)
			if _, err := s.FindGrantByKey(ctx, "pa", "i1", g.Key); incident.ErrorCode(err) != incident.ENOTFOUND {
				t.Errorf("FindGrantByKey(%s) after the refusal: %v, want ENOTFOUND", g.Key, err)
			}
		}
		equal(t, "k8's grants", grantIDs(findGrants(t, s, "pa", "i1", "k8")), []string{})
	})

	t.Run("another page's list of that name is not drawn", func(t *testing.T) {
		addVouchers(t, s, "pb", "autumn", 1, "B-1")
		_, _, err := s.SaveGrant(ctx, voucherGrant("g10", "pa", "i1", "k10", "autumn"), 0)
		wantCode(t, "SaveGrant from pb's list", err, incident.ENOTFOUND)
		countVouchers(t, s, "pb", "autumn", 1, 1)
	})

	t.Run("a code and a list, or a bad list, are invalid", func(t *testing.T) {
		both := voucherGrant("g11", "pa", "i1", "k11", "spring")
		both.Voucher = "A-9"
		bad := voucherGrant("g12", "pa", "i1", "k12", "no list")
		for _, g := range []*compensation.Grant{both, bad} {
			_, _, err := s.SaveGrant(ctx, g, 0)
			wantCode(t, "SaveGrant("+g.ID+")", err, incident.EINVALID)
		}
	})
}

// testGrantsDrawConcurrently: saves racing with one key, each drawing from
// one of two lists, store one grant and draw its code alone; each round
// starts the writers together.
func testGrantsDrawConcurrently(t *testing.T, s compensation.Store) {
	ctx := context.Background()
	const writers, rounds = 8, 10
	lists := []string{"spring", "autumn"}
	for _, l := range lists {
		codes := make([]string, rounds)
		for i := range codes {
			codes[i] = fmt.Sprintf("%s-%d", l, i)
		}
		addVouchers(t, s, "pa", l, rounds, codes...)
	}
	free := map[string]int{"spring": rounds, "autumn": rounds}
	for round := range rounds {
		type result struct {
			g       *compensation.Grant
			created bool
			err     error
		}
		results := make([]result, writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				g := voucherGrant(fmt.Sprintf("r%d-%d", round, i), "pa", "i1", "k1", lists[i%2])
				g.Key, g.Fingerprint = fmt.Sprintf("key-%d", round), "fp-"+lists[i%2]
				<-start
				r := result{}
				r.g, r.created, r.err = s.SaveGrant(ctx, g, round)
				results[i] = r
			})
		}
		close(start)
		wg.Wait()
		var won *compensation.Grant
		for i, r := range results {
			switch {
			case r.created && won != nil:
				t.Fatalf("round %d: two grants for one key: %s and %s", round, won.ID, r.g.ID)
			case r.created:
				won = r.g
			case r.err == nil:
				if r.g.VoucherList != lists[i%2] {
					t.Errorf("round %d, writer %d: the grant of another request: %+v", round, i, r.g)
				}
			default:
				wantCode(t, fmt.Sprintf("round %d, writer %d", round, i), r.err, incident.EIDEMPOTENCY)
			}
		}
		if won == nil {
			t.Fatalf("round %d: no grant: %+v", round, results)
		}
		free[won.VoucherList]--
		for _, l := range lists {
			countVouchers(t, s, "pa", l, rounds, free[l])
		}
		if want := fmt.Sprintf("%s-%d", won.VoucherList, rounds-1-free[won.VoucherList]); won.Voucher != want {
			t.Errorf("round %d: the grant's code %q, want %q, the list's next", round, won.Voucher, want)
		}
	}
}

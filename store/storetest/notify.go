package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// RunNotify runs the Pipeline suite. open must return a fresh, empty
// engine for the calling (sub)test as both interfaces (the same handle:
// plans appear when incident.Store commits a broadcast); RunNotify closes
// it through incident.Store when that test ends. Subtests run one after
// another, never in parallel.
//
// Every method that takes a time is given one explicitly, so the suite
// never sleeps: lease expiry is tested by passing a later now.
func RunNotify(t *testing.T, open func(t *testing.T) (incident.Store, Pipeline)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, is incident.Store, ns Pipeline)
	}{
		{"Customers", testCustomers},
		{"Subscribers", testSubscribers},
		{"Suppressions", testSuppressions},
		{"PlanPerBroadcast", testPlanPerBroadcast},
		{"ClaimPlan", testClaimPlan},
		{"SavePlanBatch", testSavePlanBatch},
		{"CancelPlanAndProgress", testCancelPlanAndProgress},
		{"EnqueueDeliveries", testEnqueueDeliveries},
		{"ClaimDeliveries", testClaimDeliveries},
		{"ClaimDeliveriesConcurrently", testClaimDeliveriesConcurrently},
		{"FinishDeliveries", testFinishDeliveries},
		{"SetDeliveryStatus", testSetDeliveryStatus},
		{"Receipts", testReceipts},
		{"FindDeliveries", testFindDeliveries},
		{"LargePlan", testLargePlan},
		{"Secret", testSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is, ns := open(t)
			if is == nil || ns == nil {
				t.Fatal("storetest: open returned a nil store")
			}
			t.Cleanup(func() {
				if err := is.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, is, ns)
		})
	}
}

// ---- notify fixtures ----

func newCustomer(id, pageID string, created time.Time) *audience.Customer {
	return &audience.Customer{ID: id, PageID: pageID, Name: "Customer " + id, Phone: "+3620123" + fmt.Sprintf("%04d", len(id)),
		Email: id + "@example.com", Slack: "U" + id, Language: "hu", TimeZone: "Europe/Budapest", Plan: "gold", Region: "eu",
		Components: []string{"c2", "c1"}, Attributes: map[string]string{"tier": "1", "ünï": "cödé"},
		CreatedAt: created, UpdatedAt: created.Add(time.Second)}
}

func newSubscriber(id, pageID string, kind channel.Kind, address, incidentID string, state audience.SubscriberState, created time.Time) *audience.Subscriber {
	return &audience.Subscriber{ID: id, PageID: pageID, Kind: kind, Address: address, Language: "en", ComponentIDs: []string{"c1"},
		IncidentID: incidentID, State: state, Source: "page", CreatedAt: created}
}

// broadcastFixture commits page pa, incident id and one broadcast for it,
// and returns the broadcast.
func broadcastFixture(t *testing.T, is incident.Store, id string, created time.Time) *incident.Broadcast {
	t.Helper()
	ctx := context.Background()
	if _, err := is.FindPageByID(ctx, "pa"); err != nil {
		commit(t, is, &incident.Change{Pages: []*incident.Page{newPage("pa", base)}})
	}
	incID := "inc-" + id
	b := &incident.Broadcast{ID: id, PageID: "pa", IncidentID: incID, UpdateID: incID + "-u1", Kind: incident.BroadcastDeclared, CreatedAt: created}
	c := &incident.Change{Broadcasts: []*incident.Broadcast{b}}
	if _, err := is.FindIncidentByID(ctx, incID); err != nil {
		c.Incidents = []*incident.Incident{newIncident(incID, "pa", incident.Investigating, created)}
	}
	commit(t, is, c)
	return b
}

// newDelivery returns a pending delivery of broadcast b (nil: outside any
// plan), due at next, with its ID derived as the planner derives it.
func newDelivery(b *incident.Broadcast, kind channel.Kind, address, recipientID string, next time.Time) *queue.Delivery {
	d := &queue.Delivery{PageID: "pa", IncidentID: "", UpdateID: "upd-x", MessageKind: queue.KindConfirm, Kind: kind, Address: address,
		RecipientType: queue.FromSubscriber, RecipientID: recipientID, Name: "Name " + recipientID, Language: "hu",
		TimeZone: "Europe/Budapest", State: queue.StatePending, NextAt: next, CreatedAt: next, UpdatedAt: next,
		Vars: map[string]string{"code": "123456"}}
	if b != nil {
		d.PageID, d.IncidentID, d.UpdateID, d.BroadcastID = b.PageID, b.IncidentID, b.UpdateID, b.ID
		d.MessageKind, d.RecipientType, d.Vars = queue.KindAck, queue.FromCustomer, nil
	}
	d.ID = queue.DeliveryID(d.UpdateID, kind, address)
	return d
}

// deliveryIDs returns the IDs of ds, sorted, for set comparisons.
func deliveryIDs(ds []*queue.Delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	sort.Strings(out)
	return out
}

// orderedIDs returns the IDs of ds in their order.
func orderedIDs(ds []*queue.Delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func sortedIDs(ids ...string) []string {
	out := append([]string{}, ids...)
	sort.Strings(out)
	return out
}

func enqueue(t *testing.T, ns Pipeline, ds ...*queue.Delivery) {
	t.Helper()
	if _, err := ns.EnqueueDeliveries(context.Background(), ds); err != nil {
		t.Fatalf("EnqueueDeliveries: %v", err)
	}
}

func claim(t *testing.T, ns Pipeline, kind channel.Kind, now time.Time, lease time.Duration, n int) []*queue.Delivery {
	t.Helper()
	ds, err := ns.ClaimDeliveries(context.Background(), kind, now, lease, n)
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	return ds
}

func findDelivery(t *testing.T, ns Pipeline, id string) *queue.Delivery {
	t.Helper()
	d, err := ns.FindDeliveryByID(context.Background(), id)
	if err != nil {
		t.Fatalf("FindDeliveryByID(%s): %v", id, err)
	}
	return d
}

// claimPlan claims the one plan expected to be claimable at now.
func claimPlan(t *testing.T, ns Pipeline, now time.Time, lease time.Duration) *queue.Plan {
	t.Helper()
	p, err := ns.ClaimPlan(context.Background(), now, lease)
	if err != nil {
		t.Fatalf("ClaimPlan: %v", err)
	}
	if p == nil {
		t.Fatal("ClaimPlan = nil, want a plan")
	}
	return p
}

func progress(t *testing.T, ns Pipeline, broadcastID string) *queue.Progress {
	t.Helper()
	p, err := ns.Progress(context.Background(), broadcastID)
	if err != nil {
		t.Fatalf("Progress(%s): %v", broadcastID, err)
	}
	return p
}

// counts is Progress.Counts written compactly.
type counts = map[channel.Kind]map[queue.DeliveryState]int

// ---- customers ----

func testCustomers(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	a, b, c := newCustomer("a", "pa", base), newCustomer("b", "pa", base), newCustomer("c", "pa", base)
	bare := &audience.Customer{ID: "d", PageID: "pa", CreatedAt: base, UpdatedAt: base}
	other := newCustomer("a", "pb", at(time.Hour)) // same ID, other page: another customer

	t.Run("insert", func(t *testing.T) {
		n, err := ns.UpsertCustomers(ctx, []*audience.Customer{c, a, b, bare, other})
		if err != nil || n != 5 {
			t.Fatalf("UpsertCustomers = %d, %v; want 5 created", n, err)
		}
		for _, want := range []*audience.Customer{a, bare, other} {
			got, err := ns.FindCustomerByID(ctx, want.PageID, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want.Components == nil && len(got.Components) == 0 {
				got.Components = nil
			}
			if want.Attributes == nil && len(got.Attributes) == 0 {
				got.Attributes = nil
			}
			equal(t, "customer "+want.PageID+"/"+want.ID, got, want)
		}
	})

	t.Run("empty batch", func(t *testing.T) {
		if n, err := ns.UpsertCustomers(ctx, nil); err != nil || n != 0 {
			t.Errorf("UpsertCustomers(nil) = %d, %v; want 0, nil", n, err)
		}
	})

	t.Run("replace keeps CreatedAt and counts only new", func(t *testing.T) {
		a2 := newCustomer("a", "pa", at(time.Hour))
		a2.Name, a2.Phone, a2.Components, a2.Attributes = "Renamed", "+36201112222", []string{"c3"}, map[string]string{"x": "y"}
		e := newCustomer("e", "pa", at(time.Hour))
		n, err := ns.UpsertCustomers(ctx, []*audience.Customer{a2, e})
		if err != nil || n != 1 {
			t.Fatalf("UpsertCustomers = %d, %v; want 1 created", n, err)
		}
		got, err := ns.FindCustomerByID(ctx, "pa", "a")
		if err != nil {
			t.Fatal(err)
		}
		want := *a2
		want.CreatedAt = a.CreatedAt // first imported at
		equal(t, "replaced customer", got, &want)
		if got, _ := ns.FindCustomerByID(ctx, "pb", "a"); got == nil || got.Name != other.Name {
			t.Errorf("the same ID on another page changed: %+v", got)
		}
	})

	t.Run("paging by ID", func(t *testing.T) {
		tests := []struct {
			name  string
			f     audience.CustomerFilter
			wantN []string
		}{
			{"first page", audience.CustomerFilter{PageID: "pa", Limit: 2}, []string{"a", "b"}},
			{"after b", audience.CustomerFilter{PageID: "pa", After: "b", Limit: 2}, []string{"c", "d"}},
			{"last page", audience.CustomerFilter{PageID: "pa", After: "d", Limit: 2}, []string{"e"}},
			{"past the end", audience.CustomerFilter{PageID: "pa", After: "e", Limit: 2}, []string{}},
			{"no limit", audience.CustomerFilter{PageID: "pa"}, []string{"a", "b", "c", "d", "e"}},
			{"other page", audience.CustomerFilter{PageID: "pb", Limit: 10}, []string{"a"}},
			{"unknown page", audience.CustomerFilter{PageID: "nope", Limit: 10}, []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cs, err := ns.FindCustomers(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				got := []string{}
				for _, c := range cs {
					if c.PageID != tt.f.PageID {
						t.Errorf("customer %s of page %s in page %s's list", c.ID, c.PageID, tt.f.PageID)
					}
					got = append(got, c.ID)
				}
				equal(t, "IDs", got, tt.wantN)
			})
		}
	})

	t.Run("count and delete", func(t *testing.T) {
		if n, err := ns.CountCustomers(ctx, "pa"); err != nil || n != 5 {
			t.Errorf("CountCustomers(pa) = %d, %v; want 5", n, err)
		}
		if err := ns.DeleteCustomer(ctx, "pa", "b"); err != nil {
			t.Fatalf("DeleteCustomer: %v", err)
		}
		_, err := ns.FindCustomerByID(ctx, "pa", "b")
		wantErr(t, "FindCustomerByID after delete", err, incident.ErrNotFound)
		wantErr(t, "DeleteCustomer again", ns.DeleteCustomer(ctx, "pa", "b"), incident.ErrNotFound)
		wantErr(t, "DeleteCustomer of another page's ID", ns.DeleteCustomer(ctx, "pb", "c"), incident.ErrNotFound)
		if n, err := ns.CountCustomers(ctx, "pa"); err != nil || n != 4 {
			t.Errorf("CountCustomers(pa) = %d, %v; want 4", n, err)
		}
		if n, err := ns.CountCustomers(ctx, "pb"); err != nil || n != 1 {
			t.Errorf("CountCustomers(pb) = %d, %v; want 1", n, err)
		}
		if n, err := ns.CountCustomers(ctx, "nope"); err != nil || n != 0 {
			t.Errorf("CountCustomers(nope) = %d, %v; want 0", n, err)
		}
	})

	t.Run("missing", func(t *testing.T) {
		_, err := ns.FindCustomerByID(ctx, "pa", "zzz")
		wantErr(t, "FindCustomerByID", err, incident.ErrNotFound)
	})
}

// ---- subscribers ----

func testSubscribers(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	const phone, mail = "+36201234567", "ann@example.com"
	s1 := newSubscriber("s1", "pa", channel.SMS, phone, "", audience.SubscriberPending, base)
	s1.ConfirmHash, s1.ConfirmTries, s1.Source = "f00d", 2, "sms"
	s1.ConfirmSentAt = ptr(at(30 * time.Second)) // the code's age decides whether it still works
	s1.ComponentIDs = nil
	s2 := newSubscriber("s2", "pa", channel.Email, mail, "", audience.SubscriberActive, at(time.Minute))
	s2.ConfirmedAt = ptr(at(2 * time.Minute))
	s3 := newSubscriber("s3", "pa", channel.SMS, phone, "i1", audience.SubscriberActive, at(2*time.Minute)) // follows one incident
	s4 := newSubscriber("s4", "pb", channel.SMS, phone, "", audience.SubscriberActive, at(3*time.Minute))   // other page
	s5 := newSubscriber("s5", "pa", channel.Webhook, "https://hooks.example.com/x", "", audience.SubscriberActive, at(4*time.Minute))

	t.Run("save and round-trip", func(t *testing.T) {
		for _, s := range []*audience.Subscriber{s1, s2, s3, s4, s5} {
			if err := ns.SaveSubscriber(ctx, s); err != nil {
				t.Fatalf("SaveSubscriber(%s): %v", s.ID, err)
			}
		}
		for _, want := range []*audience.Subscriber{s1, s2, s3} {
			got, err := ns.FindSubscriberByID(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want.ComponentIDs == nil && len(got.ComponentIDs) == 0 {
				got.ComponentIDs = nil
			}
			equal(t, "subscriber "+want.ID, got, want)
		}
		_, err := ns.FindSubscriberByID(ctx, "nope")
		wantErr(t, "FindSubscriberByID(nope)", err, incident.ErrNotFound)
	})

	t.Run("uniqueness of live subscribers", func(t *testing.T) {
		tests := []struct {
			name     string
			s        *audience.Subscriber
			conflict bool
		}{
			{"second pending for the same address", newSubscriber("x1", "pa", channel.SMS, phone, "", audience.SubscriberPending, base), true},
			{"second active for the same address", newSubscriber("x2", "pa", channel.SMS, phone, "", audience.SubscriberActive, base), true},
			{"second follower of the same incident", newSubscriber("x3", "pa", channel.SMS, phone, "i1", audience.SubscriberPending, base), true},
			{"an unsubscribed record may coexist", newSubscriber("x4", "pa", channel.SMS, phone, "", audience.SubscriberUnsubscribed, base), false},
			{"follower of another incident", newSubscriber("x5", "pa", channel.SMS, phone, "i2", audience.SubscriberPending, base), false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := ns.SaveSubscriber(ctx, tt.s)
				if tt.conflict {
					wantErr(t, "SaveSubscriber", err, incident.ErrConflict)
					_, err := ns.FindSubscriberByID(ctx, tt.s.ID)
					wantErr(t, "FindSubscriberByID after a refused save", err, incident.ErrNotFound)
					return
				}
				if err != nil {
					t.Fatalf("SaveSubscriber: %v", err)
				}
			})
		}
		if err := ns.DeleteSubscriber(ctx, "x5"); err != nil {
			t.Fatal(err)
		}
		if err := ns.DeleteSubscriber(ctx, "x4"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("replace by ID, then re-subscribe after unsubscribing", func(t *testing.T) {
		active := *s1
		active.State, active.ConfirmHash, active.ConfirmTries, active.ConfirmedAt = audience.SubscriberActive, "", 0, ptr(at(time.Hour))
		active.ConfirmSentAt = nil
		if err := ns.SaveSubscriber(ctx, &active); err != nil {
			t.Fatalf("SaveSubscriber(confirm s1): %v (replacing itself is no conflict)", err)
		}
		got, err := ns.FindSubscriberByAddress(ctx, "pa", channel.SMS, phone, "")
		if err != nil || got.ID != "s1" || got.State != audience.SubscriberActive {
			t.Fatalf("FindSubscriberByAddress = %+v, %v; want active s1", got, err)
		}
		gone := active
		gone.State, gone.UnsubscribedAt, gone.UnsubscribeReason = audience.SubscriberUnsubscribed, ptr(at(2*time.Hour)), "webhook:410"
		if err := ns.SaveSubscriber(ctx, &gone); err != nil {
			t.Fatal(err)
		}
		if got, err := ns.FindSubscriberByID(ctx, "s1"); err != nil {
			t.Fatal(err)
		} else {
			if len(got.ComponentIDs) == 0 {
				got.ComponentIDs = nil
			}
			equal(t, "unsubscribed s1 with its reason", got, &gone)
		}
		_, err = ns.FindSubscriberByAddress(ctx, "pa", channel.SMS, phone, "")
		wantErr(t, "FindSubscriberByAddress after unsubscribing", err, incident.ErrNotFound)
		again := newSubscriber("s6", "pa", channel.SMS, phone, "", audience.SubscriberPending, at(3*time.Hour))
		if err := ns.SaveSubscriber(ctx, again); err != nil {
			t.Fatalf("SaveSubscriber(re-subscribe): %v", err)
		}
		got, err = ns.FindSubscriberByAddress(ctx, "pa", channel.SMS, phone, "")
		if err != nil || got.ID != "s6" {
			t.Fatalf("FindSubscriberByAddress = %+v, %v; want the new s6", got, err)
		}
		if old, err := ns.FindSubscriberByID(ctx, "s1"); err != nil || old.State != audience.SubscriberUnsubscribed {
			t.Errorf("s1 = %+v, %v; want kept as unsubscribed", old, err)
		}
	})

	t.Run("by address", func(t *testing.T) {
		tests := []struct {
			name                      string
			page                      string
			kind                      channel.Kind
			address, incidentID, want string
		}{
			{"page-wide", "pa", channel.Email, mail, "", "s2"},
			{"follower", "pa", channel.SMS, phone, "i1", "s3"},
			{"other page", "pb", channel.SMS, phone, "", "s4"},
			{"other kind", "pa", channel.Email, phone, "", ""},
			{"no follower of that incident", "pa", channel.Email, mail, "i1", ""},
			{"unknown address", "pa", channel.SMS, "+3611111111", "", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := ns.FindSubscriberByAddress(ctx, tt.page, tt.kind, tt.address, tt.incidentID)
				if tt.want == "" {
					wantErr(t, "FindSubscriberByAddress", err, incident.ErrNotFound)
					return
				}
				if err != nil || got.ID != tt.want {
					t.Errorf("FindSubscriberByAddress = %+v, %v; want %s", got, err, tt.want)
				}
			})
		}
	})

	t.Run("filters", func(t *testing.T) {
		// Now: s1 unsubscribed, s2 active email, s3 active sms following i1,
		// s4 on pb, s5 active webhook, s6 pending sms.
		tests := []struct {
			name string
			f    audience.SubscriberFilter
			want []string
		}{
			{"page-wide, any state", audience.SubscriberFilter{PageID: "pa"}, []string{"s1", "s2", "s5", "s6"}},
			{"page-wide and followers of i1", audience.SubscriberFilter{PageID: "pa", IncidentID: "i1"}, []string{"s1", "s2", "s3", "s5", "s6"}},
			{"followers of i1 only", audience.SubscriberFilter{PageID: "pa", IncidentID: "i1", Following: true}, []string{"s3"}},
			{"active", audience.SubscriberFilter{PageID: "pa", State: audience.SubscriberActive}, []string{"s2", "s5"}},
			{"sms", audience.SubscriberFilter{PageID: "pa", Kind: channel.SMS}, []string{"s1", "s6"}},
			{"active sms incl. i1 followers", audience.SubscriberFilter{PageID: "pa", Kind: channel.SMS, State: audience.SubscriberActive, IncidentID: "i1"}, []string{"s3"}},
			{"paging", audience.SubscriberFilter{PageID: "pa", After: "s1", Limit: 2}, []string{"s2", "s5"}},
			{"paging to the end", audience.SubscriberFilter{PageID: "pa", After: "s5", Limit: 2}, []string{"s6"}},
			{"other page", audience.SubscriberFilter{PageID: "pb"}, []string{"s4"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ss, err := ns.FindSubscribers(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				got := []string{}
				for _, s := range ss {
					got = append(got, s.ID)
				}
				equal(t, "IDs (by ID)", got, tt.want)
			})
		}
	})

	t.Run("count and delete", func(t *testing.T) {
		tests := []struct {
			page  string
			state audience.SubscriberState
			want  int
		}{
			{"pa", "", 5},
			{"pa", audience.SubscriberActive, 3},
			{"pa", audience.SubscriberPending, 1},
			{"pa", audience.SubscriberUnsubscribed, 1},
			{"pb", "", 1},
			{"nope", "", 0},
		}
		for _, tt := range tests {
			if n, err := ns.CountSubscribers(ctx, tt.page, tt.state); err != nil || n != tt.want {
				t.Errorf("CountSubscribers(%s, %q) = %d, %v; want %d", tt.page, tt.state, n, err, tt.want)
			}
		}
		if err := ns.DeleteSubscriber(ctx, "s2"); err != nil {
			t.Fatal(err)
		}
		_, err := ns.FindSubscriberByID(ctx, "s2")
		wantErr(t, "FindSubscriberByID after delete", err, incident.ErrNotFound)
		_, err = ns.FindSubscriberByAddress(ctx, "pa", channel.Email, mail, "")
		wantErr(t, "FindSubscriberByAddress after delete", err, incident.ErrNotFound)
		wantErr(t, "DeleteSubscriber again", ns.DeleteSubscriber(ctx, "s2"), incident.ErrNotFound)
		if n, _ := ns.CountSubscribers(ctx, "pa", ""); n != 4 {
			t.Errorf("CountSubscribers after delete = %d, want 4", n)
		}
	})
}

// ---- suppressions ----

func testSuppressions(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	const phone, mail = "+36201234567", "ann@example.com"
	pageStop := audience.Suppression{PageID: "pa", Kind: channel.Email, Address: mail, Reason: "unsubscribe", At: base}
	globalStop := audience.Suppression{PageID: "", Kind: channel.SMS, Address: phone, Reason: "stop", At: at(time.Minute)}
	for _, s := range []audience.Suppression{pageStop, globalStop} {
		if err := ns.Suppress(ctx, s); err != nil {
			t.Fatalf("Suppress: %v", err)
		}
	}

	find := func(t *testing.T, page string, kind channel.Kind, address string, want *audience.Suppression) {
		t.Helper()
		got, err := ns.FindSuppression(ctx, page, kind, address)
		if want == nil {
			wantErr(t, fmt.Sprintf("FindSuppression(%s, %s, %s)", page, kind, address), err, incident.ErrNotFound)
			return
		}
		if err != nil {
			t.Fatalf("FindSuppression(%s, %s, %s): %v", page, kind, address, err)
		}
		equal(t, "suppression", got, want)
	}

	t.Run("scope", func(t *testing.T) {
		tests := []struct {
			name    string
			page    string
			kind    channel.Kind
			address string
			want    *audience.Suppression
		}{
			{"page-scoped on its page", "pa", channel.Email, mail, &pageStop},
			{"page-scoped elsewhere", "pb", channel.Email, mail, nil},
			{"global on one page", "pa", channel.SMS, phone, &globalStop},
			{"global on another page", "pb", channel.SMS, phone, &globalStop},
			{"other kind, same address", "pa", channel.SMS, mail, nil},
			{"unknown address", "pa", channel.SMS, "+3611111111", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { find(t, tt.page, tt.kind, tt.address, tt.want) })
		}
	})

	t.Run("idempotent: the first is kept", func(t *testing.T) {
		again := pageStop
		again.Reason, again.At = "bounce", at(time.Hour)
		if err := ns.Suppress(ctx, again); err != nil {
			t.Fatalf("Suppress again: %v", err)
		}
		find(t, "pa", channel.Email, mail, &pageStop)
	})

	t.Run("page-scoped wins over global", func(t *testing.T) {
		scoped := audience.Suppression{PageID: "pa", Kind: channel.SMS, Address: phone, Reason: "provider:21610", At: at(2 * time.Minute)}
		if err := ns.Suppress(ctx, scoped); err != nil {
			t.Fatal(err)
		}
		find(t, "pa", channel.SMS, phone, &scoped)
		find(t, "pb", channel.SMS, phone, &globalStop)
	})

	t.Run("unsuppress", func(t *testing.T) {
		if err := ns.Unsuppress(ctx, "pa", channel.SMS, phone); err != nil {
			t.Fatal(err)
		}
		find(t, "pa", channel.SMS, phone, &globalStop) // the global one still applies
		if err := ns.Unsuppress(ctx, "", channel.SMS, phone); err != nil {
			t.Fatal(err)
		}
		find(t, "pa", channel.SMS, phone, nil)
		find(t, "pa", channel.Email, mail, &pageStop) // others untouched
		if err := ns.Unsuppress(ctx, "", channel.SMS, phone); err != nil {
			t.Errorf("Unsuppress of nothing = %v, want nil (idempotent)", err)
		}
	})

	t.Run("batch", func(t *testing.T) {
		// Suppressed numbers among 1 200: global, on pa, on pb; the rest not.
		num := func(i int) string { return fmt.Sprintf("+3630%07d", i) }
		var all []string
		for i := range 1200 {
			all = append(all, num(i))
		}
		for _, s := range []audience.Suppression{
			{PageID: "", Kind: channel.SMS, Address: num(0), Reason: "stop", At: base},
			{PageID: "", Kind: channel.SMS, Address: num(700), Reason: "stop", At: base},
			{PageID: "pa", Kind: channel.SMS, Address: num(1), Reason: "unsubscribe", At: base},
			{PageID: "pa", Kind: channel.SMS, Address: num(1199), Reason: "unsubscribe", At: base},
			{PageID: "pa", Kind: channel.SMS, Address: num(700), Reason: "unsubscribe", At: base}, // and global
			{PageID: "pb", Kind: channel.SMS, Address: num(2), Reason: "unsubscribe", At: base},
			{PageID: "pa", Kind: channel.Email, Address: num(3), Reason: "bounce", At: base}, // another channel
		} {
			if err := ns.Suppress(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			name      string
			page      string
			kind      channel.Kind
			addresses []string
			want      []string
		}{
			{"page-scoped and global", "pa", channel.SMS, all, sortedIDs(num(0), num(1), num(700), num(1199))},
			{"another page", "pb", channel.SMS, all, sortedIDs(num(0), num(2), num(700))},
			{"a page without its own", "pc", channel.SMS, all, sortedIDs(num(0), num(700))},
			{"another channel", "pa", channel.Email, all, sortedIDs(num(3))},
			{"repeated and unknown addresses", "pa", channel.SMS, []string{num(1), "+3611111111", num(1), num(5)}, sortedIDs(num(1))},
			{"every address twice", "pa", channel.SMS, append(append([]string{}, all...), all...), sortedIDs(num(0), num(1), num(700), num(1199))},
			{"the earlier ones", "pa", channel.Email, []string{mail, phone}, sortedIDs(mail)},
			{"none asked", "pa", channel.SMS, nil, []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := ns.FindSuppressed(ctx, tt.page, tt.kind, tt.addresses)
				if err != nil {
					t.Fatal(err)
				}
				equal(t, "suppressed", sortedIDs(got...), tt.want)
				for _, a := range got {
					if _, err := ns.FindSuppression(ctx, tt.page, tt.kind, a); err != nil {
						t.Errorf("FindSuppressed has %s, FindSuppression says %v", a, err)
					}
				}
			})
		}
	})
}

// ---- plans ----

func testPlanPerBroadcast(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	b1 := broadcastFixture(t, is, "b1", at(time.Minute))
	b2 := broadcastFixture(t, is, "b2", at(2*time.Minute))

	t.Run("a committed broadcast has a pending plan", func(t *testing.T) {
		for _, b := range []*incident.Broadcast{b1, b2} {
			p, err := ns.FindPlan(ctx, b.ID)
			if err != nil {
				t.Fatalf("FindPlan(%s): %v", b.ID, err)
			}
			equal(t, "plan", p, &queue.Plan{Broadcast: b, State: queue.PlanPending})
		}
	})

	t.Run("FindPlans oldest first", func(t *testing.T) {
		b0 := &incident.Broadcast{ID: "b0", PageID: "pa", IncidentID: "inc-b1", UpdateID: "u0", Kind: incident.BroadcastUpdated, CreatedAt: base}
		b3 := &incident.Broadcast{ID: "b3", PageID: "pa", IncidentID: "inc-b1", UpdateID: "u3", Kind: incident.BroadcastResolved, CreatedAt: at(time.Hour)}
		commit(t, is, &incident.Change{Broadcasts: []*incident.Broadcast{b3, b0}})
		ps, err := ns.FindPlans(ctx, "inc-b1")
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, p := range ps {
			got = append(got, p.Broadcast.ID)
		}
		equal(t, "plans of inc-b1", got, []string{"b0", "b1", "b3"})
		ps, err = ns.FindPlans(ctx, "no-such-incident")
		if err != nil || len(ps) != 0 {
			t.Errorf("FindPlans(unknown) = %v, %v; want empty, nil", ps, err)
		}
	})

	t.Run("a refused commit leaves no plan", func(t *testing.T) {
		stale := newIncident("inc-b1", "pa", incident.Identified, base) // version 1 again: ECONFLICT
		bx := &incident.Broadcast{ID: "bx", PageID: "pa", IncidentID: "inc-b1", UpdateID: "ux", Kind: incident.BroadcastUpdated, CreatedAt: base}
		err := is.Commit(ctx, &incident.Change{Incidents: []*incident.Incident{stale}, Broadcasts: []*incident.Broadcast{bx}})
		wantErr(t, "Commit", err, incident.ErrConflict)
		_, err = ns.FindPlan(ctx, "bx")
		wantErr(t, "FindPlan after a refused commit", err, incident.ErrNotFound)
	})

	t.Run("missing", func(t *testing.T) {
		_, err := ns.FindPlan(ctx, "nope")
		wantErr(t, "FindPlan", err, incident.ErrNotFound)
		_, err = ns.Progress(ctx, "nope")
		wantErr(t, "Progress", err, incident.ErrNotFound)
		wantErr(t, "CancelPlan", ns.CancelPlan(ctx, "nope", base), incident.ErrNotFound)
	})
}

func testClaimPlan(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)

	t.Run("nothing to plan", func(t *testing.T) {
		if p, err := ns.ClaimPlan(ctx, now, lease); err != nil || p != nil {
			t.Fatalf("ClaimPlan on an empty store = %+v, %v; want nil, nil", p, err)
		}
	})

	b1 := broadcastFixture(t, is, "b1", at(time.Minute))
	var first *queue.Plan
	t.Run("lease", func(t *testing.T) {
		first = claimPlan(t, ns, now, lease)
		if first.Broadcast == nil || first.Broadcast.ID != b1.ID || first.State != queue.PlanPending || first.Lease == "" {
			t.Fatalf("ClaimPlan = %+v; want b1, pending, with a lease", first)
		}
		equal(t, "claimed plan's broadcast", first.Broadcast, b1)
		for _, d := range []time.Duration{0, lease / 2, lease - time.Millisecond} {
			if p, err := ns.ClaimPlan(ctx, now.Add(d), lease); err != nil || p != nil {
				t.Fatalf("ClaimPlan %v into the lease = %+v, %v; want nil", d, p, err)
			}
		}
		again := claimPlan(t, ns, now.Add(lease+time.Millisecond), lease)
		if again.Broadcast.ID != b1.ID || again.Lease == first.Lease {
			t.Fatalf("ClaimPlan after expiry = %+v; want b1 with a new lease (old %q)", again, first.Lease)
		}
		if p, err := ns.ClaimPlan(ctx, now.Add(lease+time.Second), lease); err != nil || p != nil {
			t.Fatalf("ClaimPlan after the re-claim = %+v, %v; want nil", p, err)
		}
		// The first holder lost its lease: its batch is refused.
		_, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: first, Cursor: "x"}, now.Add(lease+2*time.Second), lease)
		wantErr(t, "SavePlanBatch with a lost lease", err, incident.ErrConflict)
	})

	t.Run("two plans, two claimants", func(t *testing.T) {
		broadcastFixture(t, is, "b2", at(2*time.Minute))
		broadcastFixture(t, is, "b3", at(3*time.Minute))
		later := now.Add(time.Hour) // b1's lease has expired too
		seen := map[string]bool{}
		for range 3 {
			p := claimPlan(t, ns, later, lease)
			if seen[p.Broadcast.ID] {
				t.Fatalf("plan %s claimed twice within its lease", p.Broadcast.ID)
			}
			seen[p.Broadcast.ID] = true
		}
		if p, err := ns.ClaimPlan(ctx, later, lease); err != nil || p != nil {
			t.Fatalf("ClaimPlan with every plan leased = %+v, %v; want nil", p, err)
		}
	})
}

func testSavePlanBatch(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, lease)
	d1 := newDelivery(b, channel.SMS, "+36201000001", "c1", now)
	d2 := newDelivery(b, channel.SMS, "+36201000002", "c2", now)
	d3 := newDelivery(b, channel.Email, "c3@example.com", "c3", now)
	d4 := newDelivery(b, channel.Email, "c4@example.com", "c4", now)

	t.Run("stale lease writes nothing", func(t *testing.T) {
		stale := *p
		stale.Lease = "not-the-lease"
		_, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: &stale, Deliveries: []*queue.Delivery{d1}, Cursor: "c1"}, now, lease)
		wantErr(t, "SavePlanBatch", err, incident.ErrConflict)
		_, err = ns.FindDeliveryByID(ctx, d1.ID)
		wantErr(t, "FindDeliveryByID after a refused batch", err, incident.ErrNotFound)
		got, err := ns.FindPlan(ctx, b.ID)
		if err != nil || got.Cursor != "" || got.Planned != 0 {
			t.Fatalf("FindPlan = %+v, %v; want cursor \"\" and nothing planned", got, err)
		}
	})

	t.Run("first batch", func(t *testing.T) {
		n, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: []*queue.Delivery{d1, d2, d3}, Cursor: "after-c3"}, now, lease)
		if err != nil || n != 3 {
			t.Fatalf("SavePlanBatch = %d, %v; want 3 new", n, err)
		}
		got, err := ns.FindPlan(ctx, b.ID)
		if err != nil || got.Cursor != "after-c3" || got.Planned != 3 || got.State != queue.PlanPending {
			t.Fatalf("FindPlan = %+v, %v; want cursor after-c3, 3 planned, pending", got, err)
		}
		equal(t, "delivery d1", findDelivery(t, ns, d1.ID), d1)
	})

	t.Run("the lease is renewed", func(t *testing.T) {
		later := now.Add(lease - time.Second)
		if _, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Cursor: "after-c3"}, later, lease); err != nil {
			t.Fatal(err)
		}
		if q, err := ns.ClaimPlan(ctx, now.Add(lease+time.Second), lease); err != nil || q != nil {
			t.Fatalf("ClaimPlan after a renewal = %+v, %v; want nil (renewed until %v)", q, err, later.Add(lease))
		}
	})

	t.Run("known IDs are skipped", func(t *testing.T) {
		dup := *d1
		dup.Name = "changed" // a re-planned duplicate must not overwrite
		n, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: []*queue.Delivery{&dup, d2, d4}, Cursor: "after-c4"}, now.Add(lease), lease)
		if err != nil || n != 1 {
			t.Fatalf("SavePlanBatch = %d, %v; want 1 new", n, err)
		}
		equal(t, "delivery d1 after a duplicate", findDelivery(t, ns, d1.ID), d1)
		got, _ := ns.FindPlan(ctx, b.ID)
		if got.Cursor != "after-c4" || got.Planned != 4 {
			t.Fatalf("FindPlan = %+v; want cursor after-c4, 4 planned", got)
		}
		equal(t, "counts", progress(t, ns, b.ID).Counts, counts{channel.SMS: {queue.StatePending: 2}, channel.Email: {queue.StatePending: 2}})
	})

	t.Run("done", func(t *testing.T) {
		n, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Cursor: "end", Done: true}, now.Add(lease), lease)
		if err != nil || n != 0 {
			t.Fatalf("SavePlanBatch(done) = %d, %v", n, err)
		}
		got, _ := ns.FindPlan(ctx, b.ID)
		if got.State != queue.PlanDone || got.Cursor != "end" || got.Planned != 4 {
			t.Fatalf("FindPlan = %+v; want done at cursor end with 4 planned", got)
		}
		if q, err := ns.ClaimPlan(ctx, now.Add(24*time.Hour), lease); err != nil || q != nil {
			t.Fatalf("ClaimPlan after done = %+v, %v; want nil", q, err)
		}
		_, err = ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: []*queue.Delivery{newDelivery(b, channel.SMS, "+3620999", "c9", now)}}, now.Add(lease), lease)
		wantErr(t, "SavePlanBatch after done", err, incident.ErrConflict)
	})

	t.Run("a delivery of another broadcast is refused", func(t *testing.T) {
		b2 := broadcastFixture(t, is, "b2", at(time.Minute))
		p2 := claimPlan(t, ns, now, lease)
		if p2.Broadcast.ID != b2.ID {
			t.Fatalf("claimed %s, want b2", p2.Broadcast.ID)
		}
		stray := newDelivery(b, channel.SMS, "+36201000077", "c7", now) // of b1
		_, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p2, Deliveries: []*queue.Delivery{stray}}, now, lease)
		wantErr(t, "SavePlanBatch with another broadcast's delivery", err, incident.ErrInvalid)
	})
}

func testCancelPlanAndProgress(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, lease)
	sms := []*queue.Delivery{
		newDelivery(b, channel.SMS, "+36201000001", "c1", now),
		newDelivery(b, channel.SMS, "+36201000002", "c2", now),
		newDelivery(b, channel.SMS, "+36201000003", "c3", now),
	}
	mails := []*queue.Delivery{
		newDelivery(b, channel.Email, "c1@example.com", "c1", now),
		newDelivery(b, channel.Email, "c2@example.com", "c2", now),
	}
	stopped := newDelivery(b, channel.Email, "c3@example.com", "c3", now)
	stopped.State, stopped.Reason = queue.StateSuppressed, "unsubscribe"
	all := append(append(append([]*queue.Delivery{}, sms...), mails...), stopped)
	if n, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: all, Cursor: "x"}, now, lease); err != nil || n != 6 {
		t.Fatalf("SavePlanBatch = %d, %v; want 6", n, err)
	}

	t.Run("after planning", func(t *testing.T) {
		got := progress(t, ns, b.ID)
		want := &queue.Progress{BroadcastID: b.ID, IncidentID: b.IncidentID, Kind: b.Kind, State: queue.PlanPending, Planned: 6,
			Counts:    counts{channel.SMS: {queue.StatePending: 3}, channel.Email: {queue.StatePending: 2, queue.StateSuppressed: 1}},
			Reasons:   map[channel.Kind]map[string]int{channel.Email: {"unsubscribe": 1}},
			CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt}
		equal(t, "progress", got, want)
		if !got.CreatedAt.Equal(b.CreatedAt) {
			t.Errorf("CreatedAt = %v, want the broadcast's %v", got.CreatedAt, b.CreatedAt)
		}
	})

	t.Run("after claims, finishes and receipts", func(t *testing.T) {
		claimed := claim(t, ns, channel.SMS, now, lease, 2)
		if len(claimed) != 2 {
			t.Fatalf("claimed %d, want 2", len(claimed))
		}
		equal(t, "counts while sending", progress(t, ns, b.ID).Counts,
			counts{channel.SMS: {queue.StatePending: 1, queue.StateSending: 2}, channel.Email: {queue.StatePending: 2, queue.StateSuppressed: 1}})
		ok, bad := *claimed[0], *claimed[1]
		ok.State, ok.ProviderID, ok.SentAt = queue.StateSent, "SM-ok", ptr(now)
		bad.State, bad.ErrorCode, bad.Reason = queue.StateFailed, "21211", "invalid number"
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{&ok, &bad}); err != nil {
			t.Fatal(err)
		}
		got := progress(t, ns, b.ID)
		equal(t, "counts after finishing", got.Counts,
			counts{channel.SMS: {queue.StatePending: 1, queue.StateSent: 1, queue.StateFailed: 1}, channel.Email: {queue.StatePending: 2, queue.StateSuppressed: 1}})
		equal(t, "reasons after finishing", got.Reasons, map[channel.Kind]map[string]int{channel.Email: {"unsubscribe": 1}, channel.SMS: {"invalid number": 1}})
		if err := ns.SetDeliveryStatus(ctx, ok.ID, queue.StateDelivered, "delivered", "", now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		equal(t, "counts after a receipt", progress(t, ns, b.ID).Counts,
			counts{channel.SMS: {queue.StatePending: 1, queue.StateDelivered: 1, queue.StateFailed: 1}, channel.Email: {queue.StatePending: 2, queue.StateSuppressed: 1}})
	})

	t.Run("cancel", func(t *testing.T) {
		if err := ns.CancelPlan(ctx, b.ID, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		got := progress(t, ns, b.ID)
		if got.State != queue.PlanCancelled {
			t.Errorf("plan state = %s, want cancelled", got.State)
		}
		equal(t, "counts after cancel", got.Counts,
			counts{channel.SMS: {queue.StateCancelled: 1, queue.StateDelivered: 1, queue.StateFailed: 1}, channel.Email: {queue.StateCancelled: 2, queue.StateSuppressed: 1}})
		if d := findDelivery(t, ns, mails[0].ID); d.State != queue.StateCancelled {
			t.Errorf("pending email delivery = %s after cancel, want cancelled", d.State)
		}
		if d := findDelivery(t, ns, stopped.ID); d.State != queue.StateSuppressed {
			t.Errorf("suppressed delivery = %s after cancel, want it left suppressed", d.State)
		}
		for _, k := range []channel.Kind{channel.SMS, channel.Email} {
			if ds := claim(t, ns, k, now.Add(time.Hour), lease, 10); len(ds) != 0 {
				t.Errorf("claimed %d %s deliveries of a cancelled plan", len(ds), k)
			}
		}
		_, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Cursor: "y"}, now, lease)
		wantErr(t, "SavePlanBatch after cancel", err, incident.ErrConflict)
		if q, err := ns.ClaimPlan(ctx, now.Add(time.Hour), lease); err != nil || q != nil {
			t.Errorf("ClaimPlan after cancel = %+v, %v; want nil", q, err)
		}
		if err := ns.CancelPlan(ctx, b.ID, now.Add(2*time.Minute)); err != nil {
			t.Errorf("CancelPlan again = %v, want nil", err)
		}
		equal(t, "counts after a second cancel", progress(t, ns, b.ID).Counts, got.Counts)
	})
}

// ---- deliveries ----

func testEnqueueDeliveries(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	now := at(time.Hour)
	d1 := newDelivery(nil, channel.SMS, "+36201000001", "s1", now)
	d2 := newDelivery(nil, channel.Email, "a@example.com", "s2", now)
	d2.Critical, d2.Vars, d2.Language, d2.TimeZone, d2.Name = true, map[string]string{"link": "https://x.test/c?t=1&u=ü"}, "", "", ""
	d3 := newDelivery(nil, channel.Webhook, "https://hooks.example.com/h", "s3", now.Add(time.Minute))
	d3.Vars = nil

	n, err := ns.EnqueueDeliveries(ctx, []*queue.Delivery{d1, d2, d3})
	if err != nil || n != 3 {
		t.Fatalf("EnqueueDeliveries = %d, %v; want 3", n, err)
	}
	for _, want := range []*queue.Delivery{d1, d2, d3} {
		equal(t, "delivery "+string(want.Kind), findDelivery(t, ns, want.ID), want)
	}
	dup := *d1
	dup.Address = "changed"
	d4 := newDelivery(nil, channel.SMS, "+36201000004", "s4", now)
	n, err = ns.EnqueueDeliveries(ctx, []*queue.Delivery{&dup, d2, d4})
	if err != nil || n != 1 {
		t.Fatalf("EnqueueDeliveries again = %d, %v; want 1", n, err)
	}
	equal(t, "d1 after a duplicate", findDelivery(t, ns, d1.ID), d1)
	if n, err := ns.EnqueueDeliveries(ctx, nil); err != nil || n != 0 {
		t.Errorf("EnqueueDeliveries(nil) = %d, %v", n, err)
	}
	_, err = ns.FindDeliveryByID(ctx, "nope")
	wantErr(t, "FindDeliveryByID", err, incident.ErrNotFound)
	if got := claim(t, ns, channel.SMS, now, time.Minute, 10); len(got) != 2 {
		t.Errorf("claimed %d enqueued sms deliveries, want 2", len(got))
	}
}

func testClaimDeliveries(t *testing.T, _ incident.Store, ns Pipeline) {
	const lease = time.Minute
	now := at(time.Hour)
	early := newDelivery(nil, channel.SMS, "+36201000001", "r1", now.Add(-time.Minute))
	onTime := newDelivery(nil, channel.SMS, "+36201000002", "r2", now)
	later := newDelivery(nil, channel.SMS, "+36201000003", "r3", now.Add(30*time.Second))
	mail := newDelivery(nil, channel.Email, "r4@example.com", "r4", now.Add(-time.Hour))
	enqueue(t, ns, later, onTime, mail, early)

	var first []*queue.Delivery
	t.Run("due only, of one kind", func(t *testing.T) {
		first = claim(t, ns, channel.SMS, now, lease, 10)
		equal(t, "claimed", deliveryIDs(first), sortedIDs(early.ID, onTime.ID))
		for _, d := range first {
			if d.State != queue.StateSending || d.Attempts != 1 || d.Lease == "" || d.Kind != channel.SMS {
				t.Errorf("claimed %s: state %s, attempts %d, lease %q; want sending, 1, a lease", d.ID, d.State, d.Attempts, d.Lease)
			}
			stored := findDelivery(t, ns, d.ID)
			if stored.State != queue.StateSending || stored.Attempts != 1 {
				t.Errorf("stored %s: state %s, attempts %d; want sending, 1", d.ID, stored.State, stored.Attempts)
			}
		}
		if d := findIn(first, early.ID); d.Address != early.Address || d.RecipientID != early.RecipientID || d.Name != early.Name || !reflectEqualVars(d.Vars, early.Vars) {
			t.Errorf("claimed delivery lost fields: %+v", d)
		}
	})

	t.Run("a live lease is not claimed again", func(t *testing.T) {
		if got := claim(t, ns, channel.SMS, now.Add(lease/2), lease, 10); len(got) != 1 || got[0].ID != later.ID {
			t.Fatalf("claimed %v; want only the delivery that became due (%s)", orderedIDs(got), later.ID)
		}
		if got := claim(t, ns, channel.SMS, now.Add(lease-time.Millisecond), lease, 10); len(got) != 0 {
			t.Fatalf("claimed %v inside every lease; want none", orderedIDs(got))
		}
	})

	t.Run("an expired lease is claimed again with a new lease", func(t *testing.T) {
		got := claim(t, ns, channel.SMS, now.Add(lease+time.Millisecond), lease, 10)
		equal(t, "re-claimed", deliveryIDs(got), sortedIDs(early.ID, onTime.ID))
		for _, d := range got {
			if d.Attempts != 2 || d.State != queue.StateSending || d.Lease == "" || d.Lease == first[0].Lease {
				t.Errorf("re-claimed %s: attempts %d, state %s, lease %q (old %q); want 2, sending, a new lease", d.ID, d.Attempts, d.State, d.Lease, first[0].Lease)
			}
		}
	})

	t.Run("limit", func(t *testing.T) {
		var ds []*queue.Delivery
		for i := range 5 {
			ds = append(ds, newDelivery(nil, channel.Slack, fmt.Sprintf("https://hooks.slack.test/%d", i), "r", now.Add(time.Duration(i)*time.Millisecond)))
		}
		enqueue(t, ns, ds...)
		var got []string
		for _, want := range []int{2, 2, 1, 0} {
			c := claim(t, ns, channel.Slack, now.Add(time.Second), lease, 2)
			if len(c) != want {
				t.Fatalf("claimed %d, want %d", len(c), want)
			}
			got = append(got, orderedIDs(c)...)
		}
		equal(t, "claim order", got, orderedIDs(ds))
	})

	t.Run("email untouched by sms claims", func(t *testing.T) {
		got := claim(t, ns, channel.Email, now, lease, 10)
		equal(t, "email", orderedIDs(got), []string{mail.ID})
	})
}

// findIn returns the delivery with id from ds, or nil.
func findIn(ds []*queue.Delivery, id string) *queue.Delivery {
	for _, d := range ds {
		if d.ID == id {
			return d
		}
	}
	return &queue.Delivery{}
}

// reflectEqualVars compares two Vars maps, treating nil and empty alike.
func reflectEqualVars(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func testClaimDeliveriesConcurrently(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const total, workers, batch = 2000, 8, 50
	now := at(time.Hour)
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, time.Hour)
	var ds []*queue.Delivery
	for i := range total {
		ds = append(ds, newDelivery(b, channel.SMS, fmt.Sprintf("+3620%07d", i), fmt.Sprintf("c%d", i), now.Add(-time.Duration(i%7)*time.Second)))
	}
	for i := 0; i < total; i += 500 {
		if _, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds[i : i+500], Cursor: fmt.Sprint(i)}, now, time.Hour); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := ns.ClaimDeliveries(ctx, channel.SMS, now, time.Hour, batch)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					seen[d.ID]++
				}
				mu.Unlock()
				for _, d := range got {
					d.State, d.ProviderID = queue.StateSent, "SM"+d.ID
				}
				if err := ns.FinishDeliveries(ctx, got); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != total {
		t.Errorf("claimed %d distinct deliveries, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
	equal(t, "counts", progress(t, ns, b.ID).Counts, counts{channel.SMS: {queue.StateSent: total}})
}

func testFinishDeliveries(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	d := newDelivery(nil, channel.SMS, "+36201000001", "r1", now)
	enqueue(t, ns, d)

	t.Run("retry later", func(t *testing.T) {
		c := claim(t, ns, channel.SMS, now, lease, 1)[0]
		c.State, c.NextAt, c.ErrorCode, c.Reason = queue.StatePending, now.Add(10*time.Second), "503", "provider unavailable"
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{c}); err != nil {
			t.Fatal(err)
		}
		got := findDelivery(t, ns, d.ID)
		if got.State != queue.StatePending || !got.NextAt.Equal(now.Add(10*time.Second)) || got.Attempts != 1 || got.ErrorCode != "503" {
			t.Fatalf("after a retry: %+v; want pending at +10s, 1 attempt, code 503", got)
		}
		if c := claim(t, ns, channel.SMS, now.Add(9*time.Second), lease, 1); len(c) != 0 {
			t.Fatal("claimed before its retry time")
		}
		if c := claim(t, ns, channel.SMS, now.Add(10*time.Second), lease, 1); len(c) != 1 || c[0].Attempts != 2 {
			t.Fatalf("claim at the retry time = %+v; want it with 2 attempts", c)
		}
	})

	t.Run("a lost lease is skipped", func(t *testing.T) {
		// The lease from the retry claim expires; another worker takes it.
		t1 := now.Add(10*time.Second + lease + time.Millisecond)
		mine := findDelivery(t, ns, d.ID)
		theirs := claim(t, ns, channel.SMS, t1, lease, 1)
		if len(theirs) != 1 {
			t.Fatal("expired lease not re-claimed")
		}
		stale := *theirs[0]
		stale.Lease = "stale-" + stale.Lease
		stale.State, stale.Reason = queue.StateFailed, "from the dead worker"
		if mine.State != queue.StateSending {
			t.Fatalf("state before the re-claim = %s, want sending", mine.State)
		}
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{&stale}); err != nil {
			t.Fatalf("FinishDeliveries with a lost lease = %v, want nil (skipped)", err)
		}
		if got := findDelivery(t, ns, d.ID); got.State != queue.StateSending {
			t.Fatalf("state = %s after a stale finish, want still sending", got.State)
		}
		ok := *theirs[0]
		ok.State, ok.ProviderID, ok.SentAt = queue.StateSent, "SM1", ptr(t1)
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{&ok}); err != nil {
			t.Fatal(err)
		}
		got := findDelivery(t, ns, d.ID)
		if got.State != queue.StateSent || got.ProviderID != "SM1" || got.SentAt == nil || !got.SentAt.Equal(t1) || got.Attempts != 3 {
			t.Fatalf("after finishing: %+v; want sent, SM1, SentAt %v, 3 attempts", got, t1)
		}
		// Finishing again (the lease is spent) changes nothing.
		again := ok
		again.State = queue.StateFailed
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{&again}); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, d.ID); got.State != queue.StateSent {
			t.Fatalf("state = %s after a second finish, want sent", got.State)
		}
	})

	t.Run("a lost and the live lease of one delivery in one batch: the live one counts", func(t *testing.T) {
		// One dispatcher can hold both: its first claim waited past the
		// lease, the delivery was claimed again, and both outcomes meet in
		// one batched finish. The live one must be written, or a message
		// already sent stays "sending" and goes out again.
		e := newDelivery(nil, channel.SMS, "+36201000002", "r2", now)
		enqueue(t, ns, e)
		t0 := now.Add(time.Hour)
		first := claim(t, ns, channel.SMS, t0, lease, 1)
		second := claim(t, ns, channel.SMS, t0.Add(lease+time.Millisecond), lease, 1)
		if len(first) != 1 || len(second) != 1 || first[0].ID != e.ID || second[0].ID != e.ID || first[0].Lease == second[0].Lease {
			t.Fatalf("claims = %+v, %+v; want the same delivery under two leases", first, second)
		}
		lost, live := first[0], second[0]
		lost.State, lost.NextAt, lost.Deferred = queue.StatePending, t0, true
		live.State, live.ProviderID, live.SentAt = queue.StateSent, "SM2", ptr(t0)
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{lost, live}); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, e.ID); got.State != queue.StateSent || got.ProviderID != "SM2" || got.Attempts != 2 {
			t.Fatalf("after both finishes: state %s, provider ID %q, %d attempts; want sent, SM2, 2", got.State, got.ProviderID, got.Attempts)
		}
	})

	t.Run("a deferral is no attempt", func(t *testing.T) {
		// Far more deferrals than any MaxAttempts: quiet hours every night.
		q := newDelivery(nil, channel.SMS, "+36201000099", "r9", now)
		enqueue(t, ns, q)
		when := now
		for i := range 40 {
			c := claim(t, ns, channel.SMS, when, lease, 10)
			if len(c) != 1 || c[0].ID != q.ID {
				t.Fatalf("claim %d = %v, want %s", i, orderedIDs(c), q.ID)
			}
			if c[0].Attempts != 1 {
				t.Fatalf("claim %d: attempts %d, want 1 (every earlier claim was deferred)", i, c[0].Attempts)
			}
			when = when.Add(time.Hour)
			c[0].State, c[0].NextAt, c[0].Reason, c[0].Deferred = queue.StatePending, when, "quiet hours", true
			if err := ns.FinishDeliveries(ctx, c); err != nil {
				t.Fatal(err)
			}
			if got := findDelivery(t, ns, q.ID); got.Attempts != 0 || got.State != queue.StatePending || !got.NextAt.Equal(when) {
				t.Fatalf("after deferral %d: state %s, attempts %d, next %v; want pending, 0, %v", i, got.State, got.Attempts, got.NextAt, when)
			}
		}
		// A retry (not deferred) counts, and the next deferral leaves it be.
		c := claim(t, ns, channel.SMS, when, lease, 10)
		if len(c) != 1 || c[0].Attempts != 1 {
			t.Fatalf("claim after the deferrals = %+v, want it with 1 attempt", c)
		}
		when = when.Add(time.Minute)
		c[0].State, c[0].NextAt, c[0].ErrorCode = queue.StatePending, when, "503"
		if err := ns.FinishDeliveries(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, q.ID); got.Attempts != 1 {
			t.Fatalf("after a retry: attempts %d, want 1", got.Attempts)
		}
		c = claim(t, ns, channel.SMS, when, lease, 10)
		if len(c) != 1 || c[0].Attempts != 2 {
			t.Fatalf("claim after the retry = %+v, want it with 2 attempts", c)
		}
		when = when.Add(time.Hour)
		c[0].State, c[0].NextAt, c[0].Deferred = queue.StatePending, when, true
		if err := ns.FinishDeliveries(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, q.ID); got.Attempts != 1 {
			t.Fatalf("after a deferral following a retry: attempts %d, want 1", got.Attempts)
		}
		// A stale deferral (its lease lost) takes nothing back either.
		c = claim(t, ns, channel.SMS, when, lease, 10)
		stale := *c[0]
		stale.Lease, stale.State, stale.Deferred = "stale-"+stale.Lease, queue.StatePending, true
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{&stale}); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, q.ID); got.Attempts != 2 || got.State != queue.StateSending {
			t.Fatalf("after a stale deferral: state %s, attempts %d; want sending, 2", got.State, got.Attempts)
		}
	})

	t.Run("provider ID lookup", func(t *testing.T) {
		got, err := ns.FindDeliveryByProviderID(ctx, "SM1")
		if err != nil || got.ID != d.ID {
			t.Fatalf("FindDeliveryByProviderID = %+v, %v; want %s", got, err, d.ID)
		}
		for _, id := range []string{"SM-unknown", ""} {
			_, err := ns.FindDeliveryByProviderID(ctx, id)
			wantErr(t, fmt.Sprintf("FindDeliveryByProviderID(%q)", id), err, incident.ErrNotFound)
		}
	})

	t.Run("empty", func(t *testing.T) {
		if err := ns.FinishDeliveries(ctx, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func testSetDeliveryStatus(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	now := at(time.Hour)
	// sent returns a fresh delivery in state sent.
	n := 0
	sent := func(t *testing.T) *queue.Delivery {
		t.Helper()
		n++
		d := newDelivery(nil, channel.SMS, fmt.Sprintf("+3620100%04d", n), "r", now)
		enqueue(t, ns, d)
		c := claim(t, ns, channel.SMS, now, time.Minute, 1)
		if len(c) != 1 || c[0].ID != d.ID {
			t.Fatalf("claim = %v, want %s", orderedIDs(c), d.ID)
		}
		c[0].State, c[0].ProviderID = queue.StateSent, fmt.Sprintf("SM%d", n)
		if err := ns.FinishDeliveries(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c[0]
	}
	type step struct {
		state queue.DeliveryState
		code  string
	}
	tests := []struct {
		name      string
		steps     []step
		want      queue.DeliveryState
		wantCode  string
		delivered bool
	}{
		{"sent to delivered", []step{{queue.StateDelivered, ""}}, queue.StateDelivered, "", true},
		{"sent to undelivered", []step{{queue.StateUndelivered, "30003"}}, queue.StateUndelivered, "30003", false},
		{"sent to failed", []step{{queue.StateFailed, "30007"}}, queue.StateFailed, "30007", false},
		{"duplicate receipt", []step{{queue.StateDelivered, ""}, {queue.StateDelivered, ""}}, queue.StateDelivered, "", true},
		{"never back from delivered", []step{{queue.StateDelivered, ""}, {queue.StateUndelivered, "30003"}}, queue.StateDelivered, "", true},
		{"a final failure stays", []step{{queue.StateFailed, "30007"}, {queue.StateUndelivered, "30003"}}, queue.StateFailed, "30007", false},
		{"sent again is a no-op", []step{{queue.StateSent, ""}}, queue.StateSent, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := sent(t)
			for i, s := range tt.steps {
				if err := ns.SetDeliveryStatus(ctx, d.ID, s.state, string(s.state), s.code, now.Add(time.Duration(i+1)*time.Second)); err != nil {
					t.Fatalf("SetDeliveryStatus(%s): %v", s.state, err)
				}
			}
			got := findDelivery(t, ns, d.ID)
			if got.State != tt.want || got.ErrorCode != tt.wantCode {
				t.Errorf("state %s, code %q; want %s, %q", got.State, got.ErrorCode, tt.want, tt.wantCode)
			}
			if tt.delivered && (got.DeliveredAt == nil || !got.DeliveredAt.Equal(now.Add(time.Second))) {
				t.Errorf("DeliveredAt = %v, want %v (the first receipt)", got.DeliveredAt, now.Add(time.Second))
			}
			if !tt.delivered && got.DeliveredAt != nil {
				t.Errorf("DeliveredAt = %v, want nil", got.DeliveredAt)
			}
		})
	}

	t.Run("not yet sent: ignored", func(t *testing.T) {
		d := newDelivery(nil, channel.Email, "late@example.com", "r", now.Add(time.Hour))
		enqueue(t, ns, d)
		if err := ns.SetDeliveryStatus(ctx, d.ID, queue.StateDelivered, "delivered", "", now); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, d.ID); got.State != queue.StatePending {
			t.Errorf("state = %s, want pending (a receipt cannot skip the send)", got.State)
		}
	})

	t.Run("errors", func(t *testing.T) {
		wantErr(t, "unknown delivery", ns.SetDeliveryStatus(ctx, "nope", queue.StateDelivered, "delivered", "", now), incident.ErrNotFound)
		d := sent(t)
		wantErr(t, "receipt state pending", ns.SetDeliveryStatus(ctx, d.ID, queue.StatePending, "queued", "", now), incident.ErrInvalid)
	})
}

// ---- receipts kept for provider IDs not yet written ----

func testReceipts(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	now := at(time.Hour)
	receipt := func(id string, st queue.DeliveryState, code string, expires time.Time) queue.PendingReceipt {
		return queue.PendingReceipt{ProviderID: id, State: st, Status: string(st), ErrorCode: code, At: now, Expires: expires}
	}
	keep := func(t *testing.T, r queue.PendingReceipt, now time.Time) {
		t.Helper()
		if err := ns.KeepReceipt(ctx, r, now); err != nil {
			t.Fatalf("KeepReceipt(%s): %v", r.ProviderID, err)
		}
	}
	take := func(t *testing.T, now time.Time, ids ...string) []queue.PendingReceipt {
		t.Helper()
		rs, err := ns.TakeReceipts(ctx, ids, now)
		if err != nil {
			t.Fatalf("TakeReceipts: %v", err)
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].ProviderID < rs[j].ProviderID })
		if rs == nil {
			rs = []queue.PendingReceipt{}
		}
		return rs
	}

	t.Run("invalid", func(t *testing.T) {
		for _, r := range []queue.PendingReceipt{
			receipt("", queue.StateDelivered, "", now.Add(time.Hour)),
			receipt("SMbad", queue.StateSent, "", now.Add(time.Hour)),
			receipt("SMbad", queue.StatePending, "", now.Add(time.Hour)),
			receipt("SMbad", "", "", now.Add(time.Hour)),
		} {
			wantErr(t, fmt.Sprintf("KeepReceipt(%q, %q)", r.ProviderID, r.State), ns.KeepReceipt(ctx, r, now), incident.ErrInvalid)
		}
		equal(t, "taken after refusals", take(t, now, "SMbad", ""), []queue.PendingReceipt{})
	})

	t.Run("kept until taken, once", func(t *testing.T) {
		delivered := receipt("SMa", queue.StateDelivered, "", now.Add(time.Hour))
		failed := receipt("SMb", queue.StateFailed, "30007", now.Add(time.Hour))
		failed.Status = "canceled"
		keep(t, delivered, now)
		keep(t, receipt("SMa", queue.StateUndelivered, "30003", now.Add(2*time.Hour)), now.Add(time.Second)) // the first stays
		keep(t, failed, now)
		keep(t, receipt("SMc", queue.StateDelivered, "", now.Add(time.Hour)), now)
		equal(t, "none for other IDs", take(t, now, "SMx", "SMy"), []queue.PendingReceipt{})
		equal(t, "taken", take(t, now.Add(time.Minute), "SMa", "SMb", "SMx"), []queue.PendingReceipt{delivered, failed})
		equal(t, "taken again", take(t, now.Add(time.Minute), "SMa", "SMb"), []queue.PendingReceipt{})
		equal(t, "the one not asked for stays", take(t, now.Add(time.Minute), "SMc"),
			[]queue.PendingReceipt{receipt("SMc", queue.StateDelivered, "", now.Add(time.Hour))})
		equal(t, "nothing asked", take(t, now), []queue.PendingReceipt{})
	})

	t.Run("expiry", func(t *testing.T) {
		keep(t, receipt("SMd", queue.StateDelivered, "", now), now) // expired already: not kept
		keep(t, receipt("SMe", queue.StateDelivered, "", now.Add(time.Minute)), now)
		keep(t, receipt("SMf", queue.StateDelivered, "", now.Add(time.Minute)), now)
		equal(t, "expired", take(t, now.Add(time.Minute), "SMd", "SMe"), []queue.PendingReceipt{})
		equal(t, "expired, taken later", take(t, now.Add(time.Hour), "SMe"), []queue.PendingReceipt{})
		// An expired receipt does not hold its provider ID: a new one is kept.
		fresh := receipt("SMf", queue.StateUndelivered, "30003", now.Add(time.Hour))
		fresh.At = now.Add(2 * time.Minute)
		keep(t, fresh, now.Add(2*time.Minute))
		equal(t, "kept after expiry", take(t, now.Add(3*time.Minute), "SMf"), []queue.PendingReceipt{fresh})
	})

	t.Run("concurrent takers", func(t *testing.T) {
		const takers = 8
		ids := []string{"SMg1", "SMg2", "SMg3"}
		for _, id := range ids {
			keep(t, receipt(id, queue.StateDelivered, "", now.Add(time.Hour)), now)
		}
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		errs := make(chan error, takers)
		for range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rs, err := ns.TakeReceipts(ctx, ids, now)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, r := range rs {
					got[r.ProviderID]++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		equal(t, "takes per receipt", got, map[string]int{"SMg1": 1, "SMg2": 1, "SMg3": 1})
	})
}

func testFindDeliveries(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	now := at(time.Hour)
	b1 := broadcastFixture(t, is, "b1", base)
	b2 := broadcastFixture(t, is, "b2", at(time.Minute))
	mk := func(b *incident.Broadcast, kind channel.Kind, addr, rid string, created time.Duration) *queue.Delivery {
		d := newDelivery(b, kind, addr, rid, now)
		d.CreatedAt, d.UpdatedAt = now.Add(created), now.Add(created)
		return d
	}
	d1 := mk(b1, channel.SMS, "+36201", "c1", 1*time.Second)
	d1.NextAt = now.Add(-time.Second) // due first, so the claim below takes it
	d2 := mk(b1, channel.Email, "c1@example.com", "c1", 2*time.Second)
	d3 := mk(b1, channel.SMS, "+36202", "c2", 3*time.Second)
	d4 := mk(b2, channel.SMS, "+36201", "c1", 4*time.Second)
	d5 := mk(nil, channel.Email, "s9@example.com", "s9", 5*time.Second)
	d5.PageID = "pb"
	for _, b := range []*incident.Broadcast{b1, b2} {
		p := claimPlan(t, ns, now, time.Minute)
		var ds []*queue.Delivery
		for _, d := range []*queue.Delivery{d1, d2, d3, d4} {
			if d.BroadcastID == p.Broadcast.ID {
				ds = append(ds, d)
			}
		}
		if _, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds, Done: true}, now, time.Minute); err != nil {
			t.Fatalf("SavePlanBatch(%s): %v", b.ID, err)
		}
	}
	enqueue(t, ns, d5)
	c := claim(t, ns, channel.SMS, now, time.Minute, 1)
	if len(c) != 1 || c[0].ID != d1.ID {
		t.Fatalf("claimed %v, want d1 (due first)", orderedIDs(c))
	}
	c[0].State, c[0].Reason = queue.StateFailed, "invalid"
	if err := ns.FinishDeliveries(ctx, c); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		f    queue.DeliveryFilter
		want []*queue.Delivery
	}{
		{"all, newest first", queue.DeliveryFilter{}, []*queue.Delivery{d5, d4, d3, d2, d1}},
		{"page", queue.DeliveryFilter{PageID: "pa"}, []*queue.Delivery{d4, d3, d2, d1}},
		{"broadcast", queue.DeliveryFilter{BroadcastID: "b1"}, []*queue.Delivery{d3, d2, d1}},
		{"incident", queue.DeliveryFilter{IncidentID: b2.IncidentID}, []*queue.Delivery{d4}},
		{"recipient", queue.DeliveryFilter{RecipientID: "c1"}, []*queue.Delivery{d4, d2, d1}},
		{"kind and address", queue.DeliveryFilter{Kind: channel.SMS, Address: "+36201"}, []*queue.Delivery{d4, d1}},
		{"states", queue.DeliveryFilter{States: []queue.DeliveryState{queue.StateFailed, queue.StateSent}}, []*queue.Delivery{d1}},
		{"pending sms", queue.DeliveryFilter{Kind: channel.SMS, States: []queue.DeliveryState{queue.StatePending}}, []*queue.Delivery{d4, d3}},
		{"since", queue.DeliveryFilter{Since: now.Add(3 * time.Second)}, []*queue.Delivery{d5, d4, d3}},
		{"limit", queue.DeliveryFilter{Limit: 2}, []*queue.Delivery{d5, d4}},
		{"nothing", queue.DeliveryFilter{BroadcastID: "nope"}, []*queue.Delivery{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ns.FindDeliveries(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "IDs", orderedIDs(got), orderedIDs(tt.want))
		})
	}
}

func testSecret(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	gen := func(b byte) func() []byte { return func() []byte { return bytes.Repeat([]byte{b}, 32) } }

	first, err := ns.Secret(ctx, "links", gen(1))
	if err != nil || !bytes.Equal(first, gen(1)()) {
		t.Fatalf("Secret = %x, %v; want the generated bytes", first, err)
	}
	again, err := ns.Secret(ctx, "links", gen(2))
	if err != nil || !bytes.Equal(again, first) {
		t.Fatalf("Secret again = %x, %v; want the first bytes %x", again, err, first)
	}

	t.Run("concurrent first use", func(t *testing.T) {
		const callers = 8
		var wg sync.WaitGroup
		got := make([][]byte, callers)
		errs := make([]error, callers)
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = ns.Secret(ctx, "race", gen(byte(10+i)))
			}()
		}
		wg.Wait()
		for i := range callers {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if !bytes.Equal(got[i], got[0]) {
				t.Fatalf("caller %d got %x, caller 0 got %x; every caller must get the same secret", i, got[i], got[0])
			}
		}
		if bytes.Equal(got[0], first) {
			t.Error("two names share one secret")
		}
	})
}

// testLargePlan plans more deliveries than one batch of a few keeps (an
// engine may store a plan's waiting deliveries apart from claimed ones, as
// SQLite packs them in chunks) and checks that every read sees a planned
// delivery the same before and after its claim, that a planner taking over
// a plan skips what is stored, and that cancelling reaches the deliveries
// not yet claimed.
func testLargePlan(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, lease)
	// Batch A: 300 customers, SMS then email each, due now. Batch B: 50
	// more, created and due a second later.
	mk := func(i int, kind channel.Kind, created, next time.Time) *queue.Delivery {
		addr := fmt.Sprintf("+3620%07d", i)
		if kind == channel.Email {
			addr = fmt.Sprintf("c%04d@example.com", i)
		}
		d := newDelivery(b, kind, addr, fmt.Sprintf("c%04d", i), next)
		d.Name, d.Language = fmt.Sprintf("Customer %d", i), []string{"en", "hu", "pl", "hr"}[i%4]
		d.CreatedAt, d.UpdatedAt = created, created
		return d
	}
	var batchA, batchB, smsA, mailA, smsB []*queue.Delivery
	for i := range 300 {
		s, m := mk(i, channel.SMS, now, now), mk(i, channel.Email, now, now)
		batchA, smsA, mailA = append(batchA, s, m), append(smsA, s), append(mailA, m)
	}
	for i := 300; i < 350; i++ {
		s, m := mk(i, channel.SMS, now.Add(time.Second), now.Add(time.Second)), mk(i, channel.Email, now.Add(time.Second), now.Add(time.Second))
		batchB, smsB = append(batchB, s, m), append(smsB, s)
	}
	save := func(p *queue.Plan, ds []*queue.Delivery, when time.Time) int {
		t.Helper()
		n, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds, Cursor: "x"}, when, lease)
		if err != nil {
			t.Fatalf("SavePlanBatch: %v", err)
		}
		return n
	}
	if n := save(p, batchA, now) + save(p, batchB, now); n != 700 {
		t.Fatalf("planned %d, want 700", n)
	}
	recipient := func(when string, want ...*queue.Delivery) {
		t.Helper()
		got, err := ns.FindDeliveries(ctx, queue.DeliveryFilter{PageID: "pa", RecipientID: "c0123"})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "deliveries of c0123 "+when, deliveryIDs(got), deliveryIDs(want))
	}

	t.Run("reads before any claim", func(t *testing.T) {
		equal(t, "a planned delivery", findDelivery(t, ns, batchA[437].ID), batchA[437])
		got, err := ns.FindDeliveries(ctx, queue.DeliveryFilter{BroadcastID: b.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "the newest 100 (batch B)", deliveryIDs(got), deliveryIDs(batchB))
		recipient("before claims", smsA[123], mailA[123])
		got, err = ns.FindDeliveries(ctx, queue.DeliveryFilter{Kind: channel.Email, Address: mailA[7].Address})
		if err != nil || len(got) != 1 {
			t.Fatalf("by kind and address = %d, %v; want 1", len(got), err)
		}
		equal(t, "by kind and address", got[0], mailA[7])
	})

	var claimed []*queue.Delivery
	t.Run("claims take the due ones, oldest first, each once", func(t *testing.T) {
		for _, want := range []int{200, 100, 0} {
			c := claim(t, ns, channel.SMS, now, lease, 200)
			if len(c) != want {
				t.Fatalf("claimed %d, want %d", len(c), want)
			}
			claimed = append(claimed, c...)
		}
		equal(t, "claimed at now", deliveryIDs(claimed), deliveryIDs(smsA))
		for _, d := range claimed {
			if d.State != queue.StateSending || d.Attempts != 1 || d.Lease == "" {
				t.Fatalf("claimed %s: %s, attempt %d, lease %q", d.ID, d.State, d.Attempts, d.Lease)
			}
		}
		c := findIn(claimed, smsA[42].ID)
		if c.Name != smsA[42].Name || c.Language != smsA[42].Language || c.RecipientID != smsA[42].RecipientID || !c.NextAt.Equal(now) {
			t.Errorf("claimed delivery lost fields: %+v", c)
		}
		later := claim(t, ns, channel.SMS, now.Add(time.Second), lease, 500)
		equal(t, "claimed a second later", deliveryIDs(later), deliveryIDs(smsB))
		claimed = append(claimed, later...)
		equal(t, "counts", progress(t, ns, b.ID).Counts, counts{channel.SMS: {queue.StateSending: 350}, channel.Email: {queue.StatePending: 350}})
		recipient("with the SMS claimed", smsA[123], mailA[123])
		if d := findDelivery(t, ns, smsA[123].ID); d.State != queue.StateSending {
			t.Errorf("claimed delivery reads as %s", d.State)
		}
	})

	t.Run("a repeated batch is skipped, claimed or not", func(t *testing.T) {
		if n := save(p, batchA, now); n != 0 {
			t.Fatalf("saved %d of batch A again, want 0", n)
		}
	})

	t.Run("a planner taking over skips what is stored", func(t *testing.T) {
		p2 := claimPlan(t, ns, now.Add(2*lease), lease)
		extra := mk(999, channel.Email, now, now)
		if n := save(p2, append(append(append([]*queue.Delivery{}, batchB...), batchA...), extra), now.Add(2*lease)); n != 1 {
			t.Fatalf("the new planner saved %d, want only the one new delivery", n)
		}
		p = p2
	})

	t.Run("an enqueued copy of a waiting delivery is skipped", func(t *testing.T) {
		dup := *mailA[5]
		if n, err := ns.EnqueueDeliveries(ctx, []*queue.Delivery{&dup}); err != nil || n != 0 {
			t.Fatalf("EnqueueDeliveries = %d, %v; want 0", n, err)
		}
	})

	t.Run("cancel reaches the waiting ones", func(t *testing.T) {
		done := make([]*queue.Delivery, 0, 10)
		for _, d := range claimed[:10] {
			f := *d
			f.State, f.ProviderID, f.SentAt = queue.StateSent, "SM"+d.ID, ptr(now)
			done = append(done, &f)
		}
		if err := ns.FinishDeliveries(ctx, done); err != nil {
			t.Fatal(err)
		}
		if err := ns.CancelPlan(ctx, b.ID, now.Add(3*lease)); err != nil {
			t.Fatal(err)
		}
		equal(t, "counts", progress(t, ns, b.ID).Counts,
			counts{channel.SMS: {queue.StateSending: 340, queue.StateSent: 10}, channel.Email: {queue.StateCancelled: 351}})
		if got := claim(t, ns, channel.Email, now.Add(time.Hour), lease, 1000); len(got) != 0 {
			t.Errorf("claimed %d email deliveries of a cancelled plan", len(got))
		}
		d := findDelivery(t, ns, mailA[250].ID)
		if d.State != queue.StateCancelled || !d.UpdatedAt.Equal(now.Add(3*lease)) {
			t.Errorf("waiting delivery after cancel: %s at %v; want cancelled at %v", d.State, d.UpdatedAt, now.Add(3*lease))
		}
		got, err := ns.FindDeliveries(ctx, queue.DeliveryFilter{BroadcastID: b.ID, States: []queue.DeliveryState{queue.StateCancelled}})
		if err != nil || len(got) != 351 {
			t.Fatalf("cancelled deliveries = %d, %v; want 351", len(got), err)
		}
		got, err = ns.FindDeliveries(ctx, queue.DeliveryFilter{BroadcastID: b.ID, States: []queue.DeliveryState{queue.StateSent}})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "sent", deliveryIDs(got), deliveryIDs(done))
	})
}

// Pipeline is what an engine keeps for the fan-out: the audience, the
// queue and the link-signing secrets (notify.Store, restated here so that
// the suite, like the engines, imports data packages only).
type Pipeline interface {
	audience.Store
	queue.Store
	queue.Secrets
}

package storetest

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/surveys"
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
		{"CustomerImportUnit", testCustomerImportUnit},
		{"Subscribers", testSubscribers},
		{"Suppressions", testSuppressions},
		{"PlanPerBroadcast", testPlanPerBroadcast},
		{"ClaimPlan", testClaimPlan},
		{"SavePlanBatch", testSavePlanBatch},
		{"CancelPlanAndProgress", testCancelPlanAndProgress},
		{"EnqueueDeliveries", testEnqueueDeliveries},
		{"ClaimDeliveries", testClaimDeliveries},
		{"ClaimDeliveriesConcurrently", testClaimDeliveriesConcurrently},
		{"ClaimLanes", testClaimLanes},
		{"ClaimLaneAll", testClaimLaneAll},
		{"ClaimLaneBacklog", testClaimLaneBacklog},
		{"FinishDeliveries", testFinishDeliveries},
		{"SetDeliveryStatus", testSetDeliveryStatus},
		{"Receipts", testReceipts},
		{"Unconfirmed", testUnconfirmed},
		{"FindDeliveriesUnlimited", testFindDeliveriesUnlimited},
		{"FindDeliveries", testFindDeliveries},
		{"RecipientDeliveries", testRecipientDeliveries},
		{"CustomersByIDs", testCustomersByIDs},
		{"DeliveryTimes", testDeliveryTimes},
		{"LargePlan", testLargePlan},
		{"Secret", testSecret},
		{"AutoReplies", testAutoReplies},
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
	ds, err := ns.ClaimDeliveries(context.Background(), kind, queue.LaneAll, now, lease, n)
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

// Pipeline is what an engine keeps for the fan-out: the audience, the
// queue and the link-signing secrets (notify.Store, restated here so that
// the suite, like the engines, imports data packages only).
type Pipeline interface {
	audience.Store
	queue.Store
	queue.Secrets
	queue.AutoReplies
	// The paged and batched reads that scheduling surveys makes.
	surveys.Deliveries
	surveys.Customers
}

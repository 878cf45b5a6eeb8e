package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// RunComplaints runs the complaint.Store suite, with the address lookup
// the complaint service makes through audience.Store
// (FindCustomersByAddress). open must return a fresh, empty engine for the
// calling (sub)test as all three interfaces (the same handle);
// RunComplaints closes it through incident.Store when that test ends.
// Subtests run one after another, never in parallel.
//
// Like RunNotify it never sleeps: leases and SLA checks are given their
// now explicitly.
func RunComplaints(t *testing.T, open func(t *testing.T) (incident.Store, complaint.Store, audience.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, cs complaint.Store, as audience.Store)
	}{
		{"ComplaintRoundTrip", testComplaintRoundTrip},
		{"ComplaintVersions", testComplaintVersions},
		{"ComplaintVersionsConcurrently", testComplaintVersionsConcurrently},
		{"ComplaintExternalIDs", testComplaintExternalIDs},
		{"SaveComplaintQueued", testSaveComplaintQueued},
		{"SavesConcurrently", testSavesConcurrently},
		{"FindComplaints", testFindComplaints},
		{"FindComplaintsAfterUpdate", testFindComplaintsAfterUpdate},
		{"ComplaintEntries", testComplaintEntries},
		{"ComplaintsToCheck", testComplaintsToCheck},
		{"NextTurn", testNextTurn},
		{"Lease", testLease},
		{"ClaimContact", testClaimContact},
		{"ComplaintsMissing", testComplaintsMissing},
		{"ComplaintsByRef", testComplaintsByRef},
		{"CustomersByAddress", testCustomersByAddress},
		{"ComplaintTally", testComplaintTally},
		{"ComplaintQueue", testComplaintQueue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is, cs, as := open(t)
			if is == nil || cs == nil || as == nil {
				t.Fatal("storetest: open returned a nil store")
			}
			t.Cleanup(func() {
				if err := is.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, cs, as)
		})
	}
}

// ---- complaint fixtures ----

// newComplaint returns a Version 1 complaint with every field set, times
// in UTC at millisecond precision (as they come back).
func newComplaint(id, pageID string, created time.Time) *complaint.Complaint {
	return &complaint.Complaint{ID: id, PageID: pageID, Ref: complaint.NewRef(id),
		Contact: complaint.Contact{CustomerID: "cust-" + id, Name: "Ügyfél " + id, Phone: "+36201234567", Email: id + "@example.com", Slack: "U" + id},
		Channel: complaint.SMS, Category: complaint.CategoryOutage, Ask: complaint.AskCompensation, Severity: complaint.SeverityHigh,
		Language: "hu", Subject: "Nem megy a net", Text: "Since 9 o'clock \"nothing\" works <b>at all</b> & I want money back",
		Promise: "call back by noon", State: complaint.StateInProgress, Owner: "agent:ann",
		Tag: &complaint.Tag{IncidentID: "inc1", Confidence: 0.87, Reason: "component and time", By: "auto", At: created.Add(time.Second), Ended: true,
			Why: []complaint.Why{{Code: complaint.WhyUses, Args: map[string]string{"component": "Fizetés", "what": "major_outage", "since": "09:12 CET"}}, {Code: complaint.WhyOnlyOpen}}},
		Suggestion: &complaint.Tag{IncidentID: "inc0", Confidence: 0.25, Reason: "words", By: "auto", At: created.Add(time.Second)},
		Components: []string{"c2", "c1"}, Repeat: true, RepeatOf: []string{"older2", "older1"}, HoldOpen: true, IncidentAnswered: "inc1",
		FirstAnswerDue: created.Add(24 * time.Hour), ResolveDue: created.Add(48 * time.Hour), Warned: true, Escalated: false,
		CheckAt: created.Add(46 * time.Hour), AckedAt: ptr(created.Add(2 * time.Second)), FirstAnswerAt: ptr(created.Add(time.Hour)),
		ResolvedAt: ptr(created.Add(2 * time.Hour)), ClosedAt: ptr(created.Add(3 * time.Hour)), Remedy: complaint.RemedyRefund,
		Outcome: "refunded a month", Messages: 3, LastMessageAt: created.Add(30 * time.Minute), CreatedAt: created,
		UpdatedAt: created.Add(3 * time.Hour), Version: 1}
}

// bareComplaint returns a Version 1 complaint with only what a complaint
// always has: nil pointers and slices, zero times.
func bareComplaint(id, pageID string, created time.Time) *complaint.Complaint {
	return &complaint.Complaint{ID: id, PageID: pageID, Channel: complaint.Web, Category: complaint.CategoryOther,
		State: complaint.StateNew, CreatedAt: created, UpdatedAt: created, Version: 1}
}

func newEntry(id string, c *complaint.Complaint, kind complaint.EntryKind, at time.Time) *complaint.Entry {
	return &complaint.Entry{ID: id, ComplaintID: c.ID, PageID: c.PageID, Kind: kind, Actor: "customer", Channel: c.Channel,
		Text: "entry " + id, At: at}
}

func saveComplaint(t *testing.T, cs complaint.Store, c *complaint.Complaint, entries ...*complaint.Entry) {
	t.Helper()
	if err := cs.SaveComplaint(context.Background(), c, entries); err != nil {
		t.Fatalf("SaveComplaint(%s v%d): %v", c.ID, c.Version, err)
	}
}

// nextVersion returns a copy of c as the Service would save it next.
func nextVersion(c *complaint.Complaint) *complaint.Complaint {
	v := *c
	v.Version++
	v.UpdatedAt = v.UpdatedAt.Add(time.Minute)
	return &v
}

func findComplaint(t *testing.T, cs complaint.Store, id string) *complaint.Complaint {
	t.Helper()
	c, err := cs.FindComplaintByID(context.Background(), id)
	if err != nil {
		t.Fatalf("FindComplaintByID(%s): %v", id, err)
	}
	return c
}

func findEntries(t *testing.T, cs complaint.Store, id string) []*complaint.Entry {
	t.Helper()
	es, err := cs.FindEntries(context.Background(), id)
	if err != nil {
		t.Fatalf("FindEntries(%s): %v", id, err)
	}
	if es == nil {
		t.Errorf("FindEntries(%s) = nil, want a list (empty when there are none)", id)
	}
	return es
}

func complaintIDs(cs []*complaint.Complaint) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func entryIDs(es []*complaint.Entry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if incident.ErrorCode(err) != code {
		t.Errorf("%s: error = %v, want %s", what, err, code)
	}
}

// ---- round trip ----

func testComplaintRoundTrip(t *testing.T, cs complaint.Store, _ audience.Store) {
	t.Run("every field", func(t *testing.T) {
		want := newComplaint("full", "pa", base)
		e := newEntry("e1", want, complaint.EntryMessageIn, base)
		e.ExternalID = "SM0001"
		ev := newEntry("e2", want, complaint.EntryState, base.Add(time.Second))
		ev.Event, ev.Args = complaint.EventState, map[string]string{"from": "new", "to": "acknowledged", "note": "\"quoted\" & <b>"}
		saveComplaint(t, cs, want, e, ev)
		equal(t, "complaint", findComplaint(t, cs, "full"), want)
		equal(t, "entries", findEntries(t, cs, "full"), []*complaint.Entry{e, ev})
	})

	t.Run("nil pointers, nil slices and zero times stay so", func(t *testing.T) {
		want := bareComplaint("bare", "pa", base)
		saveComplaint(t, cs, want)
		equal(t, "complaint", findComplaint(t, cs, "bare"), want)
		equal(t, "entries", findEntries(t, cs, "bare"), []*complaint.Entry{})
	})

	t.Run("empty slices stay empty", func(t *testing.T) {
		want := bareComplaint("empty", "pa", base)
		want.Components, want.RepeatOf = []string{}, []string{}
		saveComplaint(t, cs, want)
		got := findComplaint(t, cs, "empty")
		if got.Components == nil || got.RepeatOf == nil {
			t.Errorf("empty Components/RepeatOf came back nil: %#v %#v", got.Components, got.RepeatOf)
		}
		equal(t, "complaint", got, want)
	})

	t.Run("times come back in UTC at millisecond precision", func(t *testing.T) {
		loc, err := time.LoadLocation("Europe/Budapest")
		if err != nil {
			t.Skip(err)
		}
		want := newComplaint("times", "pa", base)
		in := *want
		local := func(t time.Time) time.Time { return t.In(loc).Add(456 * time.Microsecond) }
		localPtr := func(t *time.Time) *time.Time { return ptr(local(*t)) }
		tag, sug := *want.Tag, *want.Suggestion
		tag.At, sug.At = local(tag.At), local(sug.At)
		in.Tag, in.Suggestion = &tag, &sug
		in.FirstAnswerDue, in.ResolveDue, in.CheckAt = local(in.FirstAnswerDue), local(in.ResolveDue), local(in.CheckAt)
		in.LastMessageAt, in.CreatedAt, in.UpdatedAt = local(in.LastMessageAt), local(in.CreatedAt), local(in.UpdatedAt)
		in.AckedAt, in.FirstAnswerAt = localPtr(in.AckedAt), localPtr(in.FirstAnswerAt)
		in.ResolvedAt, in.ClosedAt = localPtr(in.ResolvedAt), localPtr(in.ClosedAt)
		e := newEntry("t1", want, complaint.EntryNote, base)
		inEntry := *e
		inEntry.At = local(e.At)
		saveComplaint(t, cs, &in, &inEntry)
		equal(t, "complaint", findComplaint(t, cs, "times"), want)
		equal(t, "entries", findEntries(t, cs, "times"), []*complaint.Entry{e})
		if in.Tag.At.Location() != loc || inEntry.At.Location() != loc {
			t.Error("SaveComplaint changed the caller's values")
		}
	})

	t.Run("a save replaces every field", func(t *testing.T) {
		c := newComplaint("repl", "pa", base)
		saveComplaint(t, cs, c)
		want := bareComplaint("repl", "pa", at(time.Minute))
		want.Version = 2
		saveComplaint(t, cs, want)
		equal(t, "complaint", findComplaint(t, cs, "repl"), want)
	})
}

// ---- versions ----

func testComplaintVersions(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	v1 := newComplaint("c1", "pa", base)
	saveComplaint(t, cs, v1, newEntry("e1", v1, complaint.EntryMessageIn, base))

	// unchanged checks that c1 is v1 with its one entry, whatever failed.
	unchanged := func(t *testing.T) {
		t.Helper()
		equal(t, "complaint after a refused save", findComplaint(t, cs, "c1"), v1)
		if got := entryIDs(findEntries(t, cs, "c1")); len(got) != 1 || got[0] != "e1" {
			t.Errorf("entries after a refused save = %v, want [e1]", got)
		}
		if _, err := cs.FindEntryByExternalID(ctx, "pa", "SM-refused"); !errors.Is(err, incident.ErrNotFound) {
			t.Errorf("a refused save's entry is findable by its external ID: %v", err)
		}
	}
	refused := func(c *complaint.Complaint) []*complaint.Entry {
		e := newEntry("refused-"+fmt.Sprint(c.Version), c, complaint.EntryNote, at(time.Hour))
		e.ExternalID = "SM-refused"
		return []*complaint.Entry{e}
	}

	tests := []struct {
		name string
		c    func() *complaint.Complaint
	}{
		{"version 1 again", func() *complaint.Complaint { c := *v1; c.Owner = "other"; return &c }},
		{"a version ahead", func() *complaint.Complaint { c := nextVersion(nextVersion(v1)); return c }},
		{"version 0", func() *complaint.Complaint { c := *v1; c.Version = 0; return &c }},
		{"version 1 of the same ID on another page", func() *complaint.Complaint { return newComplaint("c1", "pb", base) }},
		{"version 2 moved to another page", func() *complaint.Complaint { c := nextVersion(v1); c.PageID = "pb"; return c }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c()
			wantCode(t, "SaveComplaint", cs.SaveComplaint(ctx, c, refused(c)), incident.ECONFLICT)
			unchanged(t)
		})
	}
	if cs, n, err := cs.FindComplaints(ctx, complaint.Filter{PageID: "pb"}); err != nil || n != 0 || len(cs) != 0 {
		t.Errorf("page pb lists %v (%d), %v after refused saves; want nothing", complaintIDs(cs), n, err)
	}

	t.Run("version 2 of a missing complaint", func(t *testing.T) {
		c := nextVersion(newComplaint("ghost", "pa", base))
		wantCode(t, "SaveComplaint", cs.SaveComplaint(ctx, c, nil), incident.ECONFLICT)
		_, err := cs.FindComplaintByID(ctx, "ghost")
		wantErr(t, "FindComplaintByID", err, incident.ErrNotFound)
	})

	t.Run("next versions in turn", func(t *testing.T) {
		v2 := nextVersion(v1)
		v2.Owner = "agent:bob"
		saveComplaint(t, cs, v2, newEntry("e2", v2, complaint.EntryAssign, at(time.Minute)))
		wantCode(t, "stale version 2", cs.SaveComplaint(ctx, v2, refused(v2)), incident.ECONFLICT)
		v3 := nextVersion(v2)
		v3.State = complaint.StateResolved
		saveComplaint(t, cs, v3)
		equal(t, "complaint", findComplaint(t, cs, "c1"), v3)
		equal(t, "entries", entryIDs(findEntries(t, cs, "c1")), []string{"e1", "e2"})
	})
}

func testComplaintVersionsConcurrently(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	v1 := newComplaint("c1", "pa", base)
	saveComplaint(t, cs, v1)
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v2 := nextVersion(v1)
			v2.Owner = fmt.Sprintf("agent:%d", i)
			errs[i] = cs.SaveComplaint(ctx, v2, []*complaint.Entry{newEntry(fmt.Sprintf("e%d", i), v2, complaint.EntryAssign, base)})
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
	got := findComplaint(t, cs, "c1")
	if got.Version != 2 || got.Owner != fmt.Sprintf("agent:%d", winner) {
		t.Errorf("stored v%d owned by %q; want v2 by writer %d", got.Version, got.Owner, winner)
	}
	equal(t, "entries", entryIDs(findEntries(t, cs, "c1")), []string{fmt.Sprintf("e%d", winner)})
}

// ---- external IDs ----

func testComplaintExternalIDs(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	c1 := newComplaint("c1", "pa", base)
	first := newEntry("e1", c1, complaint.EntryMessageIn, base)
	first.ExternalID = "SM1"
	saveComplaint(t, cs, c1, first)

	withExternal := func(id string, c *complaint.Complaint, ext string) *complaint.Entry {
		e := newEntry(id, c, complaint.EntryMessageIn, at(time.Minute))
		e.ExternalID = ext
		return e
	}

	t.Run("a new complaint with a stored ExternalID writes nothing", func(t *testing.T) {
		c2 := newComplaint("c2", "pa", at(time.Minute))
		err := cs.SaveComplaint(ctx, c2, []*complaint.Entry{newEntry("e2a", c2, complaint.EntryTag, at(time.Minute)), withExternal("e2", c2, "SM1")})
		wantCode(t, "SaveComplaint", err, incident.ECONFLICT)
		_, err = cs.FindComplaintByID(ctx, "c2")
		wantErr(t, "FindComplaintByID(c2)", err, incident.ErrNotFound)
		list, n, err := cs.FindComplaints(ctx, complaint.Filter{PageID: "pa"})
		if err != nil || n != 1 || len(list) != 1 {
			t.Errorf("FindComplaints = %v (%d), %v; want [c1]", complaintIDs(list), n, err)
		}
		toCheck, err := cs.FindComplaintsToCheck(ctx, at(1000*time.Hour), 10)
		if err != nil || len(toCheck) != 1 {
			t.Errorf("FindComplaintsToCheck = %v, %v; want [c1]", complaintIDs(toCheck), err)
		}
	})

	t.Run("an update with a stored ExternalID writes nothing", func(t *testing.T) {
		v2 := nextVersion(c1)
		v2.Messages = 4
		wantCode(t, "SaveComplaint", cs.SaveComplaint(ctx, v2, []*complaint.Entry{withExternal("e3", v2, "SM1")}), incident.ECONFLICT)
		equal(t, "complaint", findComplaint(t, cs, "c1"), c1)
		equal(t, "entries", entryIDs(findEntries(t, cs, "c1")), []string{"e1"})
	})

	t.Run("the same ExternalID twice in one save", func(t *testing.T) {
		v2 := nextVersion(c1)
		err := cs.SaveComplaint(ctx, v2, []*complaint.Entry{withExternal("e4", v2, "SM9"), withExternal("e5", v2, "SM9")})
		wantCode(t, "SaveComplaint", err, incident.ECONFLICT)
		equal(t, "complaint", findComplaint(t, cs, "c1"), c1)
		_, err = cs.FindEntryByExternalID(ctx, "pa", "SM9")
		wantErr(t, "FindEntryByExternalID(SM9)", err, incident.ErrNotFound)
	})

	t.Run("the same ExternalID on another page is another message", func(t *testing.T) {
		d1 := newComplaint("d1", "pb", base)
		other := withExternal("f1", d1, "SM1")
		saveComplaint(t, cs, d1, other)
		got, err := cs.FindEntryByExternalID(ctx, "pb", "SM1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "entry on pb", got, other)
	})

	t.Run("entries without ExternalID never clash", func(t *testing.T) {
		v2 := nextVersion(c1)
		saveComplaint(t, cs, v2, newEntry("n1", v2, complaint.EntryNote, at(time.Hour)), newEntry("n2", v2, complaint.EntryNote, at(time.Hour)))
		c3 := newComplaint("c3", "pa", base)
		saveComplaint(t, cs, c3, newEntry("n3", c3, complaint.EntryNote, base))
	})

	t.Run("FindEntryByExternalID", func(t *testing.T) {
		got, err := cs.FindEntryByExternalID(ctx, "pa", "SM1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "entry on pa", got, first)
		for _, q := range []struct{ page, ext string }{{"pa", "SM2"}, {"pc", "SM1"}, {"pa", ""}, {"pa", "sm1"}} {
			_, err := cs.FindEntryByExternalID(ctx, q.page, q.ext)
			wantErr(t, fmt.Sprintf("FindEntryByExternalID(%q, %q)", q.page, q.ext), err, incident.ErrNotFound)
		}
	})
}

// ---- a save that queues ----

// testSaveComplaintQueued: SaveComplaintQueued writes the complaint, its
// entries and the deliveries, or nothing; an engine that cannot do it in
// one transaction says ErrNotAtomic and writes nothing. The deliveries
// are read back through the engine's queue.Store (Pipeline).
func testSaveComplaintQueued(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	qs, ok := cs.(Pipeline)
	if !ok {
		t.Fatalf("storetest: the complaint store %T is not also a Pipeline", cs)
	}
	ack := func(c *complaint.Complaint, address string) *queue.Delivery {
		d := newDelivery(nil, channel.SMS, address, c.Contact.CustomerID, c.CreatedAt.Add(-24*time.Hour))
		d.PageID, d.UpdateID, d.MessageKind, d.RecipientType, d.Critical = c.PageID, "complaint:"+c.ID+":ack", queue.KindComplaintReceived, queue.FromCustomer, true
		d.Vars = map[string]string{"complaint": c.ID, "ref": c.Ref}
		d.ID = queue.DeliveryID(d.UpdateID, d.Kind, d.Address)
		return d
	}
	noDelivery := func(t *testing.T, id string) {
		t.Helper()
		_, err := qs.FindDeliveryByID(ctx, id)
		wantErr(t, "FindDeliveryByID("+id+")", err, incident.ErrNotFound)
	}
	noComplaint := func(t *testing.T, id string) {
		t.Helper()
		_, err := cs.FindComplaintByID(ctx, id)
		wantErr(t, "FindComplaintByID("+id+")", err, incident.ErrNotFound)
	}

	c1 := newComplaint("c1", "pa", base)
	e1 := newEntry("e1", c1, complaint.EntryMessageIn, base)
	e1.ExternalID = "SM1"
	e2 := newEntry("e2", c1, complaint.EntryMessageOut, base)
	d1 := ack(c1, "+36201000001")
	err := cs.SaveComplaintQueued(ctx, c1, []*complaint.Entry{e1, e2}, []*queue.Delivery{d1})
	if errors.Is(err, complaint.ErrNotAtomic) {
		noComplaint(t, "c1")
		noDelivery(t, d1.ID)
		if _, err := cs.FindEntryByExternalID(ctx, "pa", "SM1"); !errors.Is(err, incident.ErrNotFound) {
			t.Errorf("FindEntryByExternalID after ErrNotAtomic: %v, want not found", err)
		}
		t.Skip("this engine cannot queue in a complaint's save (ErrNotAtomic), and wrote nothing")
	}
	if err != nil {
		t.Fatalf("SaveComplaintQueued: %v", err)
	}

	t.Run("the complaint, its entries and the deliveries", func(t *testing.T) {
		equal(t, "complaint", findComplaint(t, cs, "c1"), c1)
		equal(t, "entries", entryIDs(findEntries(t, cs, "c1")), []string{"e1", "e2"})
		equal(t, "delivery", findDelivery(t, qs, d1.ID), d1)
		got := claim(t, qs, channel.SMS, base, time.Minute, 10)
		equal(t, "claimed", deliveryIDs(got), []string{d1.ID})
	})

	t.Run("a refused save queues nothing", func(t *testing.T) {
		again := newComplaint("c1", "pa", base) // version 1 again
		d := ack(again, "+36201000002")
		wantCode(t, "SaveComplaintQueued(c1 v1 again)", cs.SaveComplaintQueued(ctx, again, nil, []*queue.Delivery{d}), incident.ECONFLICT)
		noDelivery(t, d.ID)

		c2 := newComplaint("c2", "pa", at(time.Minute))
		dup := newEntry("e3", c2, complaint.EntryMessageIn, at(time.Minute))
		dup.ExternalID = "SM1" // c1's message
		d2 := ack(c2, "+36201000003")
		wantCode(t, "SaveComplaintQueued(stored ExternalID)", cs.SaveComplaintQueued(ctx, c2, []*complaint.Entry{dup}, []*queue.Delivery{d2}), incident.ECONFLICT)
		noComplaint(t, "c2")
		noDelivery(t, d2.ID)

		stale := nextVersion(c1)
		stale.Version = 5
		d3 := ack(stale, "+36201000004")
		d3.ID = queue.DeliveryID("complaint:c1:reply", d3.Kind, d3.Address)
		wantCode(t, "SaveComplaintQueued(stale version)", cs.SaveComplaintQueued(ctx, stale, nil, []*queue.Delivery{d3}), incident.ECONFLICT)
		noDelivery(t, d3.ID)
		equal(t, "complaint", findComplaint(t, cs, "c1"), c1)
	})

	t.Run("an invalid delivery writes nothing", func(t *testing.T) {
		c3 := newComplaint("c3", "pa", at(time.Minute))
		bad := ack(c3, "+36201000005")
		bad.State = queue.StateSending
		err := cs.SaveComplaintQueued(ctx, c3, []*complaint.Entry{newEntry("e4", c3, complaint.EntryMessageIn, at(time.Minute))}, []*queue.Delivery{bad})
		wantCode(t, "SaveComplaintQueued(a sending delivery)", err, incident.EINVALID)
		noComplaint(t, "c3")
		noDelivery(t, bad.ID)
	})

	t.Run("a delivery whose ID is queued is skipped", func(t *testing.T) {
		v2 := nextVersion(c1)
		v2.Messages = 4
		changed := *d1
		changed.Address, changed.Name = "+36209999999", "changed"
		if err := cs.SaveComplaintQueued(ctx, v2, []*complaint.Entry{newEntry("e5", v2, complaint.EntryNote, at(time.Hour))}, []*queue.Delivery{&changed}); err != nil {
			t.Fatalf("SaveComplaintQueued(v2): %v", err)
		}
		equal(t, "complaint", findComplaint(t, cs, "c1"), v2)
		equal(t, "entries", entryIDs(findEntries(t, cs, "c1")), []string{"e1", "e2", "e5"})
		if got := findDelivery(t, qs, d1.ID); got.Address != d1.Address || got.Name != d1.Name {
			t.Errorf("delivery after a second queueing: %s %q, want %s %q", got.Address, got.Name, d1.Address, d1.Name)
		}
	})

	t.Run("no deliveries: a plain save", func(t *testing.T) {
		c4 := newComplaint("c4", "pb", base)
		if err := cs.SaveComplaintQueued(ctx, c4, []*complaint.Entry{newEntry("e6", c4, complaint.EntryMessageIn, base)}, nil); err != nil {
			t.Fatalf("SaveComplaintQueued(no deliveries): %v", err)
		}
		equal(t, "complaint", findComplaint(t, cs, "c4"), c4)
		equal(t, "entries", entryIDs(findEntries(t, cs, "c4")), []string{"e6"})
	})
}

// testSavesConcurrently: a storm of saves at once (SQLite commits them in
// groups): each gets its own answer, the refused ones write nothing, the
// others everything, their deliveries included.
func testSavesConcurrently(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	qs, ok := cs.(Pipeline)
	if !ok {
		t.Fatalf("storetest: the complaint store %T is not also a Pipeline", cs)
	}
	first := newComplaint("first", "pa", base)
	firstMsg := newEntry("m-first", first, complaint.EntryMessageIn, base)
	firstMsg.ExternalID = "SM-taken"
	saveComplaint(t, cs, first, firstMsg)

	const n = 120
	type save struct {
		c   *complaint.Complaint
		d   *queue.Delivery
		dup bool // its message is already stored: refused
		err error
	}
	saves := make([]*save, n)
	for i := range saves {
		c := newComplaint(fmt.Sprintf("c%03d", i), "pa", at(time.Duration(i)*time.Second))
		d := newDelivery(nil, channel.SMS, fmt.Sprintf("+362010%05d", i), c.ID, base)
		d.PageID, d.UpdateID = "pa", "complaint:"+c.ID+":ack"
		d.ID = queue.DeliveryID(d.UpdateID, d.Kind, d.Address)
		saves[i] = &save{c: c, d: d, dup: i%10 == 3}
	}
	var wg sync.WaitGroup
	for _, s := range saves {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := newEntry("m-"+s.c.ID, s.c, complaint.EntryMessageIn, s.c.CreatedAt)
			msg.ExternalID = "SM-" + s.c.ID
			if s.dup {
				msg.ExternalID = "SM-taken"
			}
			if s.c.ID == "c007" { // a plain save among them
				s.d = nil
				s.err = cs.SaveComplaint(ctx, s.c, []*complaint.Entry{msg})
				return
			}
			s.err = cs.SaveComplaintQueued(ctx, s.c, []*complaint.Entry{msg}, []*queue.Delivery{s.d})
		}()
	}
	wg.Wait()
	if errors.Is(saves[0].err, complaint.ErrNotAtomic) {
		t.Skip("this engine cannot queue in a complaint's save (ErrNotAtomic)")
	}
	saved := 1
	for _, s := range saves {
		if s.dup {
			wantCode(t, s.c.ID, s.err, incident.ECONFLICT)
			if _, err := cs.FindComplaintByID(ctx, s.c.ID); !errors.Is(err, incident.ErrNotFound) {
				t.Errorf("refused %s: FindComplaintByID = %v, want not found", s.c.ID, err)
			}
			if _, err := qs.FindDeliveryByID(ctx, s.d.ID); !errors.Is(err, incident.ErrNotFound) {
				t.Errorf("refused %s: its delivery = %v, want not found", s.c.ID, err)
			}
			continue
		}
		if s.err != nil {
			t.Errorf("save %s: %v", s.c.ID, s.err)
			continue
		}
		saved++
		equal(t, s.c.ID, findComplaint(t, cs, s.c.ID), s.c)
		equal(t, s.c.ID+" entries", entryIDs(findEntries(t, cs, s.c.ID)), []string{"m-" + s.c.ID})
		if s.d != nil {
			if _, err := qs.FindDeliveryByID(ctx, s.d.ID); err != nil {
				t.Errorf("save %s: its delivery: %v", s.c.ID, err)
			}
		}
	}
	if _, total, err := cs.FindComplaints(ctx, complaint.Filter{PageID: "pa"}); err != nil || total != saved {
		t.Errorf("FindComplaints: %d, %v; want %d", total, err, saved)
	}
}

// ---- FindComplaints ----

// complaintsFixture saves complaints of varied fields on pages pa and pb:
//
//	id  page created state               contact                 channel category tag owner
//	c1  pa   0       new                 customer:k1             sms     outage   i1  ann
//	c2  pa   1m      acknowledged        phone:+36201111111      sms     other    -   -
//	c3  pa   2m      in_progress         customer:k1             email   outage   i1  bob
//	c4  pa   2m      resolved            customer:k1             email   refund   i2  ann
//	c5  pa   3m      closed              email:ann@example.com   web     other    -   bob
//	c6  pa   4m      waiting_on_customer slack:U1                slack   outage   i2  ann
//	d1  pb   1m      new                 customer:k1             sms     outage   i1  ann
func complaintsFixture(t *testing.T, cs complaint.Store) {
	t.Helper()
	mk := func(id, page string, created time.Duration, state complaint.State, ct complaint.Contact, ch complaint.Channel,
		cat complaint.Category, inc, owner string) {
		c := bareComplaint(id, page, at(created))
		c.State, c.Contact, c.Channel, c.Category, c.Owner = state, ct, ch, cat, owner
		if inc != "" {
			c.Tag = &complaint.Tag{IncidentID: inc, Confidence: 1, Reason: "agent", By: "agent:x", At: at(created)}
		} else {
			c.Suggestion = &complaint.Tag{IncidentID: "i1", Confidence: 0.1, Reason: "words", By: "auto", At: at(created)}
		}
		saveComplaint(t, cs, c)
	}
	k1 := complaint.Contact{CustomerID: "k1", Name: "Kund", Phone: "+36209999999"}
	// Saved out of order: the store orders, not the insertion.
	mk("c4", "pa", 2*time.Minute, complaint.StateResolved, k1, complaint.Email, complaint.CategoryRefund, "i2", "ann")
	mk("c1", "pa", 0, complaint.StateNew, k1, complaint.SMS, complaint.CategoryOutage, "i1", "ann")
	mk("c6", "pa", 4*time.Minute, complaint.StateWaitingOnCustomer, complaint.Contact{Slack: "U1"}, complaint.Slack, complaint.CategoryOutage, "i2", "ann")
	mk("c2", "pa", time.Minute, complaint.StateAcknowledged, complaint.Contact{Phone: "+36201111111"}, complaint.SMS, complaint.CategoryOther, "", "")
	mk("c5", "pa", 3*time.Minute, complaint.StateClosed, complaint.Contact{Email: "Ann@Example.com"}, complaint.Web, complaint.CategoryOther, "", "bob")
	mk("c3", "pa", 2*time.Minute, complaint.StateInProgress, k1, complaint.Email, complaint.CategoryOutage, "i1", "bob")
	mk("d1", "pb", time.Minute, complaint.StateNew, k1, complaint.SMS, complaint.CategoryOutage, "i1", "ann")
}

type complaintQuery struct {
	name  string
	f     complaint.Filter
	want  []string
	total int // -1: len(want)
}

func runComplaintQueries(t *testing.T, cs complaint.Store, tests []complaintQuery) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := cs.FindComplaints(context.Background(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Error("FindComplaints returned a nil list; want an empty one")
			}
			total := tt.total
			if total < 0 {
				total = len(tt.want)
			}
			equal(t, "IDs", complaintIDs(got), tt.want)
			if n != total {
				t.Errorf("total = %d, want %d", n, total)
			}
		})
	}
}

func testFindComplaints(t *testing.T, cs complaint.Store, _ audience.Store) {
	complaintsFixture(t, cs)
	pa := func(f complaint.Filter) complaint.Filter { f.PageID = "pa"; return f }
	runComplaintQueries(t, cs, []complaintQuery{
		{"a page, newest first, ties by ID descending", pa(complaint.Filter{}), []string{"c6", "c5", "c4", "c3", "c2", "c1"}, -1},
		{"every page", complaint.Filter{}, []string{"c6", "c5", "c4", "c3", "d1", "c2", "c1"}, -1},
		{"another page", complaint.Filter{PageID: "pb"}, []string{"d1"}, -1},
		{"an unknown page", complaint.Filter{PageID: "nope"}, []string{}, -1},
		{"one state", pa(complaint.Filter{States: []complaint.State{complaint.StateNew}}), []string{"c1"}, -1},
		{"one state on every page", complaint.Filter{States: []complaint.State{complaint.StateNew}}, []string{"d1", "c1"}, -1},
		{"states: any of", pa(complaint.Filter{States: []complaint.State{complaint.StateClosed, complaint.StateResolved}}), []string{"c5", "c4"}, -1},
		{"states repeated", pa(complaint.Filter{States: []complaint.State{complaint.StateNew, complaint.StateNew}}), []string{"c1"}, -1},
		{"open", pa(complaint.Filter{Open: true}), []string{"c6", "c3", "c2", "c1"}, -1},
		{"incident", pa(complaint.Filter{IncidentID: "i1"}), []string{"c3", "c1"}, -1},
		{"incident on every page", complaint.Filter{IncidentID: "i1"}, []string{"c3", "d1", "c1"}, -1},
		{"incident, open", pa(complaint.Filter{IncidentID: "i2", Open: true}), []string{"c6"}, -1},
		{"untagged", pa(complaint.Filter{Untagged: true}), []string{"c5", "c2"}, -1},
		{"untagged, open", pa(complaint.Filter{Untagged: true, Open: true}), []string{"c2"}, -1},
		{"untagged and an incident", pa(complaint.Filter{Untagged: true, IncidentID: "i1"}), []string{}, -1},
		{"owner", pa(complaint.Filter{Owner: "ann"}), []string{"c6", "c4", "c1"}, -1},
		{"contact key", pa(complaint.Filter{ContactKey: "customer:k1"}), []string{"c4", "c3", "c1"}, -1},
		{"contact key on another page", complaint.Filter{PageID: "pb", ContactKey: "customer:k1"}, []string{"d1"}, -1},
		{"contact key, open", pa(complaint.Filter{ContactKey: "customer:k1", Open: true}), []string{"c3", "c1"}, -1},
		{"contact key, open, limit 1", pa(complaint.Filter{ContactKey: "customer:k1", Open: true, Limit: 1}), []string{"c3"}, 2},
		{"contact key of a phone", pa(complaint.Filter{ContactKey: "phone:+36201111111"}), []string{"c2"}, -1},
		{"contact key of an email, lower-cased", pa(complaint.Filter{ContactKey: "email:ann@example.com"}), []string{"c5"}, -1},
		{"contact key of a Slack user", pa(complaint.Filter{ContactKey: "slack:U1"}), []string{"c6"}, -1},
		{"unknown contact key", pa(complaint.Filter{ContactKey: "customer:nobody"}), []string{}, -1},
		{"channel", pa(complaint.Filter{Channel: complaint.Email}), []string{"c4", "c3"}, -1},
		{"category", pa(complaint.Filter{Category: complaint.CategoryOutage}), []string{"c6", "c3", "c1"}, -1},
		{"since (inclusive)", pa(complaint.Filter{Since: at(2 * time.Minute)}), []string{"c6", "c5", "c4", "c3"}, -1},
		{"until (exclusive)", pa(complaint.Filter{Until: at(2 * time.Minute)}), []string{"c2", "c1"}, -1},
		{"since and until", pa(complaint.Filter{Since: at(time.Minute), Until: at(3 * time.Minute)}), []string{"c4", "c3", "c2"}, -1},
		{"until on every page", complaint.Filter{States: []complaint.State{complaint.StateNew}, Until: at(time.Minute)}, []string{"c1"}, -1},
		{"limit", pa(complaint.Filter{Limit: 2}), []string{"c6", "c5"}, 6},
		{"limit and offset", pa(complaint.Filter{Limit: 2, Offset: 2}), []string{"c4", "c3"}, 6},
		{"offset only", pa(complaint.Filter{Offset: 5}), []string{"c1"}, 6},
		{"offset past the end", pa(complaint.Filter{Offset: 10, Limit: 3}), []string{}, 6},
		{"limit on every page", complaint.Filter{Limit: 3, Offset: 3}, []string{"c3", "d1", "c2"}, 7},
		{"owner, open, category", pa(complaint.Filter{Owner: "ann", Open: true, Category: complaint.CategoryOutage}), []string{"c6", "c1"}, -1},
		{"states and owner", pa(complaint.Filter{States: []complaint.State{complaint.StateNew, complaint.StateInProgress}, Owner: "bob"}), []string{"c3"}, -1},
		{"contact key, since, limit", pa(complaint.Filter{ContactKey: "customer:k1", Since: at(time.Minute), Limit: 1}), []string{"c4"}, 2},
		{"incident, channel, open", pa(complaint.Filter{IncidentID: "i1", Channel: complaint.SMS, Open: true}), []string{"c1"}, -1},
		{"everything at once", pa(complaint.Filter{States: []complaint.State{complaint.StateInProgress}, Open: true, IncidentID: "i1",
			Owner: "bob", ContactKey: "customer:k1", Channel: complaint.Email, Category: complaint.CategoryOutage,
			Since: at(2 * time.Minute), Until: at(3 * time.Minute), Limit: 5}), []string{"c3"}, -1},
	})

	t.Run("the documents are whole", func(t *testing.T) {
		got, _, err := complaintStore(cs).FindComplaints(context.Background(), complaint.Filter{PageID: "pa", Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("FindComplaints = %v, %v", got, err)
		}
		equal(t, "c6", got[0], findComplaint(t, cs, "c6"))
	})
}

// complaintStore names the interface, for readability at call sites.
func complaintStore(cs complaint.Store) complaint.Store { return cs }

// testFindComplaintsAfterUpdate moves a complaint in every filterable
// field: it must leave every selection it no longer matches.
func testFindComplaintsAfterUpdate(t *testing.T, cs complaint.Store, _ audience.Store) {
	complaintsFixture(t, cs)
	c2 := findComplaint(t, cs, "c2")
	v2 := nextVersion(c2)
	v2.State = complaint.StateResolved
	v2.Tag = &complaint.Tag{IncidentID: "i2", Confidence: 1, Reason: "agent", By: "agent:x", At: at(time.Hour)}
	v2.Owner = "bob"
	v2.Contact = complaint.Contact{CustomerID: "k2"}
	v2.Channel, v2.Category = complaint.Phone, complaint.CategoryConduct
	v2.CreatedAt = at(5 * time.Minute) // corrected by an agent
	saveComplaint(t, cs, v2)
	pa := func(f complaint.Filter) complaint.Filter { f.PageID = "pa"; return f }
	runComplaintQueries(t, cs, []complaintQuery{
		{"created order", pa(complaint.Filter{}), []string{"c2", "c6", "c5", "c4", "c3", "c1"}, -1},
		{"old state", pa(complaint.Filter{States: []complaint.State{complaint.StateAcknowledged}}), []string{}, -1},
		{"new state", pa(complaint.Filter{States: []complaint.State{complaint.StateResolved}}), []string{"c2", "c4"}, -1},
		{"open", pa(complaint.Filter{Open: true}), []string{"c6", "c3", "c1"}, -1},
		{"untagged", pa(complaint.Filter{Untagged: true}), []string{"c5"}, -1},
		{"new incident", pa(complaint.Filter{IncidentID: "i2"}), []string{"c2", "c6", "c4"}, -1},
		{"old contact", pa(complaint.Filter{ContactKey: "phone:+36201111111"}), []string{}, -1},
		{"new contact", pa(complaint.Filter{ContactKey: "customer:k2"}), []string{"c2"}, -1},
		{"new owner", pa(complaint.Filter{Owner: "bob"}), []string{"c2", "c5", "c3"}, -1},
		{"old channel", pa(complaint.Filter{Channel: complaint.SMS}), []string{"c1"}, -1},
		{"new channel", pa(complaint.Filter{Channel: complaint.Phone}), []string{"c2"}, -1},
		{"old category", pa(complaint.Filter{Category: complaint.CategoryOther}), []string{"c5"}, -1},
		{"new category", pa(complaint.Filter{Category: complaint.CategoryConduct}), []string{"c2"}, -1},
		{"new created_at", pa(complaint.Filter{Since: at(5 * time.Minute)}), []string{"c2"}, -1},
	})

	t.Run("untagging and reopening", func(t *testing.T) {
		v3 := nextVersion(v2)
		v3.Tag, v3.State, v3.Owner = nil, complaint.StateInProgress, ""
		saveComplaint(t, cs, v3)
		runComplaintQueries(t, cs, []complaintQuery{
			{"untagged", pa(complaint.Filter{Untagged: true}), []string{"c2", "c5"}, -1},
			{"old incident", pa(complaint.Filter{IncidentID: "i2"}), []string{"c6", "c4"}, -1},
			{"open", pa(complaint.Filter{Open: true}), []string{"c2", "c6", "c3", "c1"}, -1},
			{"old owner", pa(complaint.Filter{Owner: "bob"}), []string{"c5", "c3"}, -1},
		})
	})
}

// ---- entries ----

func testComplaintEntries(t *testing.T, cs complaint.Store, _ audience.Store) {
	c := newComplaint("c1", "pa", base)
	// Saved as e1 (1m), e2 (0); then e3 (0), e4 (2m), e5 and e6 (3m).
	saveComplaint(t, cs, c, newEntry("e1", c, complaint.EntryMessageIn, at(time.Minute)), newEntry("e2", c, complaint.EntryTag, base))
	c = nextVersion(c)
	saveComplaint(t, cs, c, newEntry("e3", c, complaint.EntryState, base), newEntry("e4", c, complaint.EntryNote, at(2*time.Minute)),
		newEntry("e5", c, complaint.EntryNote, at(3*time.Minute)), newEntry("e6", c, complaint.EntryNote, at(3*time.Minute)))
	c = nextVersion(c)
	saveComplaint(t, cs, c) // no entries: the timeline stays
	other := newComplaint("c2", "pa", base)
	saveComplaint(t, cs, other, newEntry("x1", other, complaint.EntryNote, base))
	equal(t, "timeline: oldest first, ties in save order", entryIDs(findEntries(t, cs, "c1")), []string{"e2", "e3", "e1", "e4", "e5", "e6"})
	equal(t, "the other complaint's", entryIDs(findEntries(t, cs, "c2")), []string{"x1"})

	t.Run("entries must belong to the complaint", func(t *testing.T) {
		v := nextVersion(c)
		stray := newEntry("s1", other, complaint.EntryNote, base)
		if err := cs.SaveComplaint(context.Background(), v, []*complaint.Entry{stray}); err == nil {
			t.Error("SaveComplaint took an entry of another complaint")
		}
		equal(t, "complaint", findComplaint(t, cs, "c1").Version, c.Version)
	})
}

// ---- SLA checks ----

func testComplaintsToCheck(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	mk := func(id, page string, checkAt time.Time) *complaint.Complaint {
		c := bareComplaint(id, page, base)
		c.CheckAt = checkAt
		saveComplaint(t, cs, c)
		return c
	}
	k1 := mk("k1", "pa", at(10*time.Minute))
	k2 := mk("k2", "pa", at(5*time.Minute))
	mk("k3", "pa", time.Time{})
	mk("k4", "pa", at(5*time.Minute))
	mk("k5", "pb", at(20*time.Minute))
	check := func(t *testing.T, now time.Time, limit int, want ...string) {
		t.Helper()
		got, err := cs.FindComplaintsToCheck(ctx, now, limit)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil {
			t.Error("FindComplaintsToCheck = nil, want a list")
		}
		equal(t, fmt.Sprintf("due at %s, limit %d", now.Sub(base), limit), complaintIDs(got), append([]string{}, want...))
	}
	t.Run("due ones, earliest first, ties by ID", func(t *testing.T) {
		check(t, at(10*time.Minute), 10, "k2", "k4", "k1")
		check(t, at(10*time.Minute), 2, "k2", "k4")
		check(t, at(30*time.Minute), 10, "k2", "k4", "k1", "k5")
		check(t, at(30*time.Minute), 0, "k2", "k4", "k1", "k5")
		check(t, at(5*time.Minute-time.Millisecond), 10)
		check(t, at(5*time.Minute), 10, "k2", "k4")
	})
	t.Run("the whole document", func(t *testing.T) {
		got, err := cs.FindComplaintsToCheck(ctx, at(5*time.Minute), 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("FindComplaintsToCheck = %v, %v", got, err)
		}
		equal(t, "k2", got[0], k2)
	})
	t.Run("an update that clears CheckAt takes it out", func(t *testing.T) {
		v := nextVersion(k2)
		v.CheckAt = time.Time{}
		saveComplaint(t, cs, v)
		check(t, at(30*time.Minute), 10, "k4", "k1", "k5")
	})
	t.Run("an update that moves CheckAt moves it", func(t *testing.T) {
		v := nextVersion(k1)
		v.CheckAt = at(25 * time.Minute)
		saveComplaint(t, cs, v)
		check(t, at(20*time.Minute), 10, "k4", "k5")
		check(t, at(25*time.Minute), 10, "k4", "k5", "k1")
	})
}

// ---- counters and leases ----

func testNextTurn(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	turn := func(key string) int64 {
		t.Helper()
		n, err := cs.NextTurn(ctx, key)
		if err != nil {
			t.Fatalf("NextTurn(%s): %v", key, err)
		}
		return n
	}
	for want := int64(1); want <= 3; want++ {
		if got := turn("complaint.owner:pa"); got != want {
			t.Errorf("NextTurn(pa) = %d, want %d", got, want)
		}
	}
	if got := turn("complaint.owner:pb"); got != 1 {
		t.Errorf("NextTurn(pb) = %d, want 1: each key counts on its own", got)
	}
	if got := turn("odd {key} with spaces"); got != 1 {
		t.Errorf("NextTurn(odd key) = %d, want 1", got)
	}

	t.Run("concurrent callers get distinct turns", func(t *testing.T) {
		const callers, each = 8, 10
		var mu sync.Mutex
		var got []int64
		var wg sync.WaitGroup
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					n, err := cs.NextTurn(ctx, "shared")
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					got = append(got, n)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
		for i, n := range got {
			if n != int64(i+1) {
				t.Fatalf("turns = %v, want 1…%d each once", got, callers*each)
			}
		}
		if len(got) != callers*each {
			t.Errorf("%d turns, want %d", len(got), callers*each)
		}
	})
}

func testLease(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	steps := []struct {
		name       string
		lease      string
		holder     string
		now, until time.Duration
		want       bool
	}{
		{"free: taken", "sweep", "a", 0, 90 * time.Second, true},
		{"another holder while it lasts", "sweep", "b", 10 * time.Second, 100 * time.Second, false},
		{"the holder renews", "sweep", "a", 30 * time.Second, 120 * time.Second, true},
		{"the renewal lasts", "sweep", "b", 100 * time.Second, 190 * time.Second, false},
		{"a millisecond before the end", "sweep", "b", 120*time.Second - time.Millisecond, 200 * time.Second, false},
		{"at its end: taken over", "sweep", "b", 120 * time.Second, 210 * time.Second, true},
		{"the old holder is refused", "sweep", "a", 130 * time.Second, 220 * time.Second, false},
		{"another lease is its own", "report", "a", 130 * time.Second, 220 * time.Second, true},
		{"the new holder renews", "sweep", "b", 200 * time.Second, 300 * time.Second, true},
		{"long after: taken over", "sweep", "a", time.Hour, time.Hour + time.Minute, true},
	}
	for _, s := range steps {
		ok, err := cs.Lease(ctx, s.lease, s.holder, at(s.now), at(s.until))
		if err != nil {
			t.Fatalf("%s: Lease: %v", s.name, err)
		}
		if ok != s.want {
			t.Errorf("%s: Lease(%s, %s, now %s) = %v, want %v", s.name, s.lease, s.holder, s.now, ok, s.want)
		}
	}

	t.Run("concurrent takers: one wins", func(t *testing.T) {
		const takers = 8
		var wins sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range takers {
			wins.Add(1)
			go func() {
				defer wins.Done()
				ok, err := cs.Lease(ctx, "race", fmt.Sprintf("node-%d", i), base, at(time.Minute))
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					won++
					mu.Unlock()
				}
			}()
		}
		wins.Wait()
		if won != 1 {
			t.Errorf("%d takers got the lease, want exactly 1", won)
		}
	})
}

func testClaimContact(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	claim := func(page, key, holder string, now, until time.Duration) bool {
		t.Helper()
		ok, err := cs.ClaimContact(ctx, page, key, holder, at(now), at(until))
		if err != nil {
			t.Fatalf("ClaimContact(%s, %s, %s): %v", page, key, holder, err)
		}
		return ok
	}
	release := func(page, key, holder string) {
		t.Helper()
		if err := cs.ReleaseContact(ctx, page, key, holder); err != nil {
			t.Fatalf("ReleaseContact(%s, %s, %s): %v", page, key, holder, err)
		}
	}
	const ann = "phone:+36201110001"
	if !claim("pa", ann, "a", 0, 30*time.Second) {
		t.Fatal("a free contact: not claimed")
	}
	if claim("pa", ann, "b", time.Second, 31*time.Second) {
		t.Error("another holder took a claim that lasts")
	}
	if !claim("pb", ann, "b", time.Second, 31*time.Second) || !claim("pa", "phone:+36201110002", "b", time.Second, 31*time.Second) {
		t.Error("another page's or another contact's claim is not its own")
	}
	if claim("pa", ann, "b", 30*time.Second-time.Millisecond, time.Minute) {
		t.Error("taken a millisecond before the claim ends")
	}
	release("pa", ann, "b") // not b's: left as it is
	if claim("pa", ann, "c", 2*time.Second, time.Minute) {
		t.Error("another holder's release ended a's claim")
	}
	release("pa", ann, "a")
	if !claim("pa", ann, "c", 2*time.Second, time.Minute) {
		t.Error("not claimed after its holder released it")
	}
	if !claim("pa", ann, "d", time.Minute, 2*time.Minute) {
		t.Error("not taken over at the end of the claim")
	}
	release("pa", ann, "c") // the old holder's release leaves the new claim
	if claim("pa", ann, "e", time.Minute+time.Second, 3*time.Minute) {
		t.Error("the old holder's release ended the claim that took over")
	}
	release("pa", ann, "d")
	release("pa", "never-claimed", "x")

	t.Run("concurrent claimers: one wins", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := cs.ClaimContact(ctx, "pa", "email:race@example.com", fmt.Sprintf("node-%d", i), base, at(time.Minute))
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					won++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%d claimers got the contact, want exactly 1", won)
		}
	})
}

func testComplaintsMissing(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	saveComplaint(t, cs, newComplaint("c1", "pa", base))
	_, err := cs.FindComplaintByID(ctx, "nope")
	wantErr(t, "FindComplaintByID", err, incident.ErrNotFound)
	_, err = cs.FindComplaintByID(ctx, "")
	wantErr(t, "FindComplaintByID(\"\")", err, incident.ErrNotFound)
	_, err = cs.FindEntries(ctx, "nope")
	wantErr(t, "FindEntries", err, incident.ErrNotFound)
	_, err = cs.FindEntryByExternalID(ctx, "pa", "SM404")
	wantErr(t, "FindEntryByExternalID", err, incident.ErrNotFound)
	if got, err := cs.FindComplaintsToCheck(ctx, base, 10); err != nil || len(got) != 0 {
		t.Errorf("FindComplaintsToCheck before any is due = %v, %v", complaintIDs(got), err)
	}
}

// ---- customers by address ----

func testCustomersByAddress(t *testing.T, _ complaint.Store, as audience.Store) {
	ctx := context.Background()
	const p1, p2, p3 = "+36201110001", "+36201110002", "+36201110003"
	mk := func(id, page, phone, email, slack string) *audience.Customer {
		c := newCustomer(id, page, base)
		c.Phone, c.Email, c.Slack = phone, email, slack
		return c
	}
	a := mk("a", "pa", p1, "Ann.Lee@example.com", "U1")
	b := mk("b", "pa", p1, "b@example.com", "")
	c := mk("c", "pa", p2, "", "https://hooks.slack.com/services/T/B/X")
	other := mk("a", "pb", p1, "Ann.Lee@example.com", "U1")
	if _, err := as.UpsertCustomers(ctx, []*audience.Customer{c, b, a, other}); err != nil {
		t.Fatal(err)
	}
	find := func(t *testing.T, page string, kind channel.Kind, address string, want ...string) {
		t.Helper()
		got, err := as.FindCustomersByAddress(ctx, page, kind, address)
		if err != nil {
			t.Fatalf("FindCustomersByAddress(%s, %s, %q): %v", page, kind, address, err)
		}
		if got == nil {
			t.Errorf("FindCustomersByAddress(%s, %s, %q) = nil, want a list", page, kind, address)
		}
		ids := []string{}
		for _, cu := range got {
			if cu.PageID != page {
				t.Errorf("customer %s/%s found on page %s", cu.PageID, cu.ID, page)
			}
			ids = append(ids, cu.ID)
		}
		equal(t, fmt.Sprintf("%s %s %q", page, kind, address), ids, append([]string{}, want...))
	}

	t.Run("lookups", func(t *testing.T) {
		find(t, "pa", channel.SMS, p1, "a", "b")
		find(t, "pb", channel.SMS, p1, "a")
		find(t, "pa", channel.SMS, p2, "c")
		find(t, "pa", channel.SMS, p3)
		find(t, "pc", channel.SMS, p1)
		find(t, "pa", channel.Email, "Ann.Lee@example.com", "a")
		find(t, "pa", channel.Email, "Ann.Lee@EXAMPLE.Com", "a")
		find(t, "pa", channel.Email, "ann.lee@example.com", "a") // the case of the local part does not matter
		find(t, "pa", channel.Email, "ANN.LEE@EXAMPLE.COM", "a")
		find(t, "pa", channel.Email, "B@example.com", "b")
		find(t, "pa", channel.Email, "b@Example.COM", "b")
		find(t, "pa", channel.Slack, "U1", "a")
		find(t, "pa", channel.Slack, "u1")
		find(t, "pa", channel.Slack, "https://hooks.slack.com/services/T/B/X", "c")
		find(t, "pa", channel.SMS, "")
		find(t, "pa", channel.Email, "")
		find(t, "pa", channel.Slack, "")
		find(t, "pa", channel.Webhook, p1)
		find(t, "pa", channel.Email, p1)
	})

	t.Run("whole records", func(t *testing.T) {
		got, err := as.FindCustomersByAddress(ctx, "pa", channel.Slack, "U1")
		if err != nil || len(got) != 1 {
			t.Fatalf("FindCustomersByAddress = %v, %v", got, err)
		}
		want, err := as.FindCustomerByID(ctx, "pa", "a")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "customer a", got[0], want)
	})

	t.Run("a re-import with changed and cleared addresses", func(t *testing.T) {
		a2 := mk("a", "pa", p3, "", "U2")
		if _, err := as.UpsertCustomers(ctx, []*audience.Customer{a2}); err != nil {
			t.Fatal(err)
		}
		find(t, "pa", channel.SMS, p1, "b")
		find(t, "pa", channel.SMS, p3, "a")
		find(t, "pa", channel.Email, "Ann.Lee@example.com")
		find(t, "pa", channel.Slack, "U1")
		find(t, "pa", channel.Slack, "U2", "a")
		find(t, "pb", channel.SMS, p1, "a")
		find(t, "pb", channel.Slack, "U1", "a")
	})

	t.Run("a re-import that keeps its addresses", func(t *testing.T) {
		b2 := mk("b", "pa", p1, "b@example.com", "")
		b2.Name = "Renamed"
		if _, err := as.UpsertCustomers(ctx, []*audience.Customer{b2, b2}); err != nil {
			t.Fatal(err)
		}
		find(t, "pa", channel.SMS, p1, "b")
		find(t, "pa", channel.Email, "b@example.com", "b")
	})

	t.Run("after a deletion", func(t *testing.T) {
		if err := as.DeleteCustomer(ctx, "pa", "b"); err != nil {
			t.Fatal(err)
		}
		find(t, "pa", channel.SMS, p1)
		find(t, "pa", channel.Email, "b@example.com")
		find(t, "pb", channel.SMS, p1, "a")
	})
}

// testComplaintsByRef: a reference finds the page's complaints whose ID
// it begins, in any case, newest first; not another page's, not an ID
// that only shares fewer characters, and a malformed reference is
// refused rather than matched as a pattern.
func testComplaintsByRef(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	saveComplaint(t, cs, newComplaint("rclfxz2g21ly", "pa", base))
	saveComplaint(t, cs, newComplaint("rclfxz2gzzzz", "pa", at(time.Hour)))   // the same reference, newer
	saveComplaint(t, cs, newComplaint("rclfxz2h0000", "pa", at(time.Minute))) // the next reference
	saveComplaint(t, cs, newComplaint("rclfxz2g9999", "pb", base))            // another page
	for _, ref := range []string{"C-RCLFXZ2G", "c-rclfxz2g"} {
		got, err := cs.FindComplaintsByRef(ctx, "pa", ref)
		if err != nil {
			t.Fatalf("FindComplaintsByRef(%s): %v", ref, err)
		}
		if ids := complaintIDs(got); strings.Join(ids, ",") != "rclfxz2gzzzz,rclfxz2g21ly" {
			t.Errorf("FindComplaintsByRef(%s) = %v, want the page's two, newest first", ref, ids)
		}
	}
	if got, err := cs.FindComplaintsByRef(ctx, "pa", "C-00000000"); err != nil || len(got) != 0 {
		t.Errorf("an unknown reference = %v, %v; want none", complaintIDs(got), err)
	}
	if got, err := cs.FindComplaintsByRef(ctx, "pc", "C-RCLFXZ2G"); err != nil || len(got) != 0 {
		t.Errorf("a page without complaints = %v, %v; want none", complaintIDs(got), err)
	}
	for _, bad := range []string{"C-RCLFXZ2*", "C-RCLFXZ2", "RCLFXZ2G21", "C-RCLF?Z2G", ""} {
		_, err := cs.FindComplaintsByRef(ctx, "pa", bad)
		wantCode(t, "FindComplaintsByRef("+bad+")", err, incident.EINVALID)
	}
}

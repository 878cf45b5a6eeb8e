package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

func testIncidentRoundTrip(t *testing.T, s incident.Store) {
	ctx := context.Background()
	commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pa", base)}})

	minimal := newIncident("minimal", "pa", incident.Investigating, base)

	full := newIncident("full", "pa", incident.Postmortem, at(time.Hour))
	full.Impact, full.ImpactOverride = incident.ImpactCritical, incident.ImpactMajor
	full.ComponentIDs = []string{"c2", "c1"} // order is kept
	full.MonitoringAt, full.ResolvedAt = ptr(at(2*time.Hour)), ptr(at(3*time.Hour+7*time.Millisecond))
	full.PostmortemBody, full.PostmortemPublishedAt = "# What happened\n\nünïcödé, \"quotes\" and \x01", ptr(at(4*time.Hour))
	full.Backfilled, full.ScheduledRemindPrior, full.ScheduledAutoInProgress, full.ScheduledAutoCompleted = true, true, false, false
	full.Version = 1
	// Metadata comes back byte for byte: key order and number spelling kept.
	full.Metadata = json.RawMessage(`{"zeta":{"jira":"OPS-12"},"alpha":12345678901234567890,"ünï":[1.50,null,true]}`)
	// The name per language comes back as given.
	full.Names = map[string]string{"hu": "Kártyás fizetés: „hiba”", "pl": "Płatności kartą – łódź"}
	u3 := newUpdate("full-u3", "full", incident.Resolved, at(3*time.Hour))
	// The operator's text per language (issue 10) comes back as written.
	u3.Messages = map[string]string{"hu": "Elhárult. Elnézést kérünk: „idézet”\n\nmásodik bekezdés", "pl": "Rozwiązano – łódź", "hr": "Riješeno: čćđšž"}
	u3.AffectedComponents = []incident.AffectedComponent{
		{Code: "c1", Name: "API", OldStatus: incident.MajorOutage, NewStatus: incident.Operational},
		{Code: "c2", Name: "Web", OldStatus: incident.PartialOutage, NewStatus: incident.Operational},
	}
	u2 := newUpdate("full-u2", "full", incident.Monitoring, at(2*time.Hour))
	u2.AffectedComponents = []incident.AffectedComponent{} // empty stays empty
	u2.DeliverNotifications = false
	u2.DisplayAt = at(90 * time.Minute) // edited display time, older than created
	u1 := newUpdate("full-u1", "full", incident.Investigating, at(time.Hour))
	u1.AffectedComponents = []incident.AffectedComponent{{Code: "c1", Name: "API", OldStatus: incident.Operational, NewStatus: incident.MajorOutage}}
	u1.Body = ""
	full.Updates = []*incident.Update{u3, u2, u1}

	maint := newMaintenance("maint", "pa", incident.Scheduled, at(2*time.Hour))
	maint.ComponentIDs = []string{"c1"}

	nilIDs := newIncident("nilids", "pa", incident.Identified, at(3*time.Hour))
	nilIDs.ComponentIDs = nil

	noUpdates := newIncident("noupdates", "pa", incident.Investigating, at(4*time.Hour))
	noUpdates.Updates = nil

	targeted := newIncident("targeted", "pa", incident.Identified, at(5*time.Hour))
	targeted.Audience = &incident.Audience{AllCustomers: true, Plans: []string{"gold", "platinum"}, Regions: []string{"eu-west"},
		Attributes:  map[string][]string{"tier": {"1", "2"}, "segment": {"smb"}},
		CustomerIDs: []string{"cust-9", "cust-1"}} // order is kept

	subscribersOnly := newIncident("subsonly", "pa", incident.Identified, at(6*time.Hour))
	subscribersOnly.Audience = &incident.Audience{NoCustomers: true}

	zeroAudience := newIncident("zeroaudience", "pa", incident.Identified, at(7*time.Hour))
	zeroAudience.Audience = &incident.Audience{} // non-nil zero value stays non-nil

	tests := []struct {
		name string
		inc  *incident.Incident
		// nilOrEmpty: a nil list in inc may come back nil or empty.
		nilOrEmpty bool
	}{
		{"minimal", minimal, false},
		{"every field, updates newest first", full, false},
		{"maintenance", maint, false},
		{"nil component IDs", nilIDs, true},
		{"no updates", noUpdates, true},
		{"audience with segments", targeted, false},
		{"audience: subscribers only", subscribersOnly, false},
		{"audience: zero value", zeroAudience, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			commit(t, s, &incident.Change{Incidents: []*incident.Incident{tt.inc}})
			got, err := s.FindIncidentByID(ctx, tt.inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := *tt.inc
			if tt.nilOrEmpty {
				if want.ComponentIDs == nil && len(got.ComponentIDs) == 0 {
					got.ComponentIDs = nil
				}
				if want.Updates == nil && len(got.Updates) == 0 {
					got.Updates = nil
				}
			}
			equal(t, "incident", got, &want)
			if (got.Audience == nil) != (tt.inc.Audience == nil) {
				t.Errorf("Audience nil-ness changed: got %v, want %v (nil means \"by components\", a zero Audience is explicit)", got.Audience, tt.inc.Audience)
			}
			if tt.inc.ComponentIDs != nil && got.ComponentIDs == nil {
				t.Error("an empty ComponentIDs came back nil; it must stay an empty list")
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		_, err := s.FindIncidentByID(ctx, "nope")
		wantErr(t, "FindIncidentByID", err, incident.ErrNotFound)
	})
}

// testIncidentUpdatesReplaced checks that Commit stores exactly the
// incident's updates: added, edited and dropped ones.
func testIncidentUpdatesReplaced(t *testing.T, s incident.Store) {
	ctx := context.Background()
	commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pa", base)}})
	inc := newIncident("i1", "pa", incident.Investigating, base)
	commit(t, s, &incident.Change{Incidents: []*incident.Incident{inc}})

	steps := []struct {
		name   string
		change func(inc *incident.Incident)
	}{
		{"add newest first", func(inc *incident.Incident) {
			inc.Status = incident.Identified
			inc.Updates = append([]*incident.Update{newUpdate("i1-u2", "i1", incident.Identified, at(time.Hour))}, inc.Updates...)
		}},
		{"edit one", func(inc *incident.Incident) {
			u := *inc.Updates[1]
			u.Body, u.UpdatedAt, u.DisplayAt = "corrected", at(2*time.Hour), at(-time.Hour)
			inc.Updates[1] = &u
		}},
		{"add another", func(inc *incident.Incident) {
			inc.Updates = append([]*incident.Update{newUpdate("i1-u3", "i1", incident.Monitoring, at(3*time.Hour))}, inc.Updates...)
		}},
		{"texts per language on one", func(inc *incident.Incident) {
			u := *inc.Updates[0]
			u.Messages = map[string]string{"hu": "Figyeljük.", "pl": "Monitorujemy."}
			inc.Updates[0] = &u
		}},
		{"drop one", func(inc *incident.Incident) {
			inc.Updates = []*incident.Update{inc.Updates[0], inc.Updates[2]}
		}},
	}
	cur := inc
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			next := bumped(cur, cur.Name)
			st.change(next)
			commit(t, s, &incident.Change{Incidents: []*incident.Incident{next}})
			got, err := s.FindIncidentByID(ctx, "i1")
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "incident", got, next)
			cur = next
		})
	}
}

func testVersions(t *testing.T, s incident.Store) {
	ctx := context.Background()
	commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pa", base)}})
	stored := newIncident("i1", "pa", incident.Investigating, base)
	commit(t, s, &incident.Change{Incidents: []*incident.Incident{stored}})
	stored = bumped(stored, "v2")
	commit(t, s, &incident.Change{Incidents: []*incident.Incident{stored}}) // stored version is now 2

	withVersion := func(id string, v int) *incident.Incident {
		inc := bumped(stored, "attempt")
		inc.ID, inc.Version = id, v
		for i, u := range inc.Updates {
			uc := *u
			uc.ID, uc.IncidentID = id+"-u"+string(rune('0'+i)), id
			inc.Updates[i] = &uc
		}
		if id == "i1" {
			inc.Updates = stored.Updates
		}
		return inc
	}
	tests := []struct {
		name     string
		inc      *incident.Incident
		conflict bool
	}{
		{"new incident at version 1", withVersion("new", 1), false},
		{"existing incident at version 1", withVersion("i1", 1), true},
		{"missing incident above version 1", withVersion("ghost", 2), true},
		{"version 0", withVersion("zero", 0), true},
		{"same version as stored", withVersion("i1", 2), true},
		{"skipping a version", withVersion("i1", 4), true},
		{"stored plus one", withVersion("i1", 3), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, beforeErr := s.FindIncidentByID(ctx, tt.inc.ID)
			err := s.Commit(ctx, &incident.Change{Incidents: []*incident.Incident{tt.inc}})
			if !tt.conflict {
				if err != nil {
					t.Fatalf("Commit: %v", err)
				}
				got, err := s.FindIncidentByID(ctx, tt.inc.ID)
				if err != nil {
					t.Fatal(err)
				}
				equal(t, "incident", got, tt.inc)
				return
			}
			wantErr(t, "Commit", err, incident.ErrConflict)
			after, afterErr := s.FindIncidentByID(ctx, tt.inc.ID)
			if beforeErr != nil {
				wantErr(t, "FindIncidentByID after a refused create", afterErr, incident.ErrNotFound)
				return
			}
			if afterErr != nil {
				t.Fatal(afterErr)
			}
			equal(t, "incident after a refused commit", after, before)
		})
	}
}

// testAtomicity checks that a refused Commit writes none of its parts.
func testAtomicity(t *testing.T, s incident.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	existing := newIncident("i0", "pa", incident.Investigating, base)
	oldComp := newComponent("c0", "pa", 0, base)
	oldKey := &incident.IdempotencyKey{Scope: "s", Key: "used", ResourceID: "i0", ExpiresAt: now.Add(time.Hour)}
	delComp := newComponent("cdel", "pa", 5, base)
	delInc := newIncident("idel", "pa", incident.Investigating, base)
	commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pa", base), newPage("pdel", base)}, Components: []*incident.Component{oldComp, delComp}})
	commit(t, s, &incident.Change{Incidents: []*incident.Incident{existing, delInc}, Idempotency: oldKey,
		Audit:         []*incident.AuditEntry{{ID: "a0", PageID: "pa", Actor: "x", Action: "incident.create", ObjectType: "incident", ObjectID: "i0", At: base}},
		StatusChanges: []incident.StatusChange{{PageID: "pa", ComponentID: "c0", Status: incident.Operational, At: base}}})

	_, tokHash := incident.NewTokenSecret()
	// everything builds a Change touching every part; bad makes it fail.
	everything := func(bad func(c *incident.Change)) *incident.Change {
		comp := *oldComp
		comp.Status = incident.MajorOutage
		fresh := newIncident("inew", "pa", incident.Investigating, at(time.Hour))
		c := &incident.Change{
			Pages:              []*incident.Page{newPage("pnew", at(time.Hour))},
			DeletePageIDs:      []string{"pdel"},
			Components:         []*incident.Component{&comp, newComponent("cnew", "pa", 1, at(time.Hour))},
			DeleteComponentIDs: []string{"cdel"},
			Incidents:          []*incident.Incident{fresh, bumped(existing, "changed")},
			DeleteIncidentIDs:  []string{"idel"},
			StatusChanges:      []incident.StatusChange{{PageID: "pa", ComponentID: "c0", Status: incident.MajorOutage, At: at(time.Hour)}},
			Audit:              []*incident.AuditEntry{{ID: "anew", PageID: "pa", Actor: "x", Action: "incident.create", ObjectType: "incident", ObjectID: "inew", At: at(time.Hour)}},
			Broadcasts:         []*incident.Broadcast{{ID: "bnew", PageID: "pa", IncidentID: "inew", UpdateID: "inew-u1", Kind: incident.BroadcastDeclared, CreatedAt: at(time.Hour)}},
			Tokens:             []*incident.Token{{ID: "tnew", Name: "n", Role: incident.RoleAdmin, Hash: tokHash, CreatedAt: at(time.Hour)}},
			Idempotency:        &incident.IdempotencyKey{Scope: "s", Key: "fresh", ResourceID: "inew", ExpiresAt: now.Add(time.Hour)},
		}
		bad(c)
		return c
	}
	tests := []struct {
		name string
		bad  func(c *incident.Change)
	}{
		{"stale version on the last incident", func(c *incident.Change) { c.Incidents[1].Version = 5 }},
		{"existing incident at version 1", func(c *incident.Change) {
			c.Incidents = append(c.Incidents, newIncident("i0", "pa", incident.Identified, base))
		}},
		{"duplicate idempotency key", func(c *incident.Change) { c.Idempotency.Key = "used" }},
		{"conditional delete at a stale version", func(c *incident.Change) { c.DeleteIncidentIf = map[string]int{"idel": 2} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Commit(ctx, everything(tt.bad))
			wantErr(t, "Commit", err, incident.ErrConflict)

			for _, id := range []string{"pnew"} {
				_, err := s.FindPageByID(ctx, id)
				wantErr(t, "new page "+id, err, incident.ErrNotFound)
			}
			if _, err := s.FindPageByID(ctx, "pdel"); err != nil {
				t.Errorf("deleted page came back: %v", err)
			}
			_, err = s.FindComponentByID(ctx, "cnew")
			wantErr(t, "new component", err, incident.ErrNotFound)
			if _, err := s.FindComponentByID(ctx, "cdel"); err != nil {
				t.Errorf("deleted component: %v", err)
			}
			if c, err := s.FindComponentByID(ctx, "c0"); err != nil {
				t.Error(err)
			} else {
				equal(t, "changed component", c, oldComp)
			}
			_, err = s.FindIncidentByID(ctx, "inew")
			wantErr(t, "new incident", err, incident.ErrNotFound)
			if _, err := s.FindIncidentByID(ctx, "idel"); err != nil {
				t.Errorf("deleted incident: %v", err)
			}
			if inc, err := s.FindIncidentByID(ctx, "i0"); err != nil {
				t.Error(err)
			} else {
				equal(t, "changed incident", inc, existing)
			}
			if changes, err := s.FindStatusChanges(ctx, "pa", time.Time{}); err != nil || len(changes) != 1 {
				t.Errorf("status changes = %v, %v; want only the first one", changes, err)
			}
			if entries, total, err := s.FindAudit(ctx, incident.AuditFilter{}); err != nil || total != 1 || len(entries) != 1 {
				t.Errorf("audit = %d entries (total %d), %v; want only the first one", len(entries), total, err)
			}
			if bs, err := s.FindBroadcasts(ctx, "inew"); err != nil || len(bs) != 0 {
				t.Errorf("broadcasts = %d, %v; want none", len(bs), err)
			}
			_, err = s.FindTokenByHash(ctx, tokHash)
			wantErr(t, "new token", err, incident.ErrNotFound)
			_, err = s.FindIdempotencyKey(ctx, "s", "fresh")
			wantErr(t, "new idempotency key", err, incident.ErrNotFound)
			if id, err := s.FindIdempotencyKey(ctx, "s", "used"); id != "i0" || err != nil {
				t.Errorf("old idempotency key = %q, %v; want i0", id, err)
			}
		})
	}

	t.Run("the same change without the fault succeeds", func(t *testing.T) {
		commit(t, s, everything(func(c *incident.Change) {}))
		if _, err := s.FindIncidentByID(ctx, "inew"); err != nil {
			t.Error(err)
		}
		if inc, err := s.FindIncidentByID(ctx, "i0"); err != nil || inc.Version != 2 {
			t.Errorf("changed incident = %+v, %v; want version 2", inc, err)
		}
		_, err := s.FindIncidentByID(ctx, "idel")
		wantErr(t, "deleted incident", err, incident.ErrNotFound)
		_, err = s.FindComponentByID(ctx, "cdel")
		wantErr(t, "deleted component", err, incident.ErrNotFound)
		_, err = s.FindPageByID(ctx, "pdel")
		wantErr(t, "deleted page", err, incident.ErrNotFound)
	})
}

func testDeletes(t *testing.T, s incident.Store) {
	ctx := context.Background()
	build := func(page string) *incident.Change {
		inc := newIncident(page+"-i", page, incident.Investigating, base)
		inc.ComponentIDs = []string{page + "-c"}
		inc.Updates = append([]*incident.Update{newUpdate(page+"-i-u2", inc.ID, incident.Identified, at(time.Minute))}, inc.Updates...)
		return &incident.Change{Pages: []*incident.Page{newPage(page, base)},
			Components: []*incident.Component{newComponent(page+"-c", page, 0, base), newComponent(page+"-c2", page, 1, base)},
			Incidents:  []*incident.Incident{inc, newMaintenance(page+"-m", page, incident.Scheduled, base)},
		}
	}
	commit(t, s, build("pa"))
	commit(t, s, build("pb"))

	t.Run("incident", func(t *testing.T) {
		commit(t, s, &incident.Change{DeleteIncidentIDs: []string{"pa-m"}})
		_, err := s.FindIncidentByID(ctx, "pa-m")
		wantErr(t, "deleted incident", err, incident.ErrNotFound)
		// The ID is free again: a new incident at version 1, whose
		// updates must not meet the old ones.
		again := newIncident("pa-m", "pa", incident.Investigating, at(time.Hour))
		again.Updates[0].ID = "pa-m-fresh"
		commit(t, s, &incident.Change{Incidents: []*incident.Incident{again}})
		got, err := s.FindIncidentByID(ctx, "pa-m")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "re-created incident", got, again)
	})
	t.Run("component", func(t *testing.T) {
		commit(t, s, &incident.Change{DeleteComponentIDs: []string{"pa-c2"}})
		_, err := s.FindComponentByID(ctx, "pa-c2")
		wantErr(t, "deleted component", err, incident.ErrNotFound)
		comps, _ := s.FindComponents(ctx, "pa")
		equal(t, "remaining components", compIDs(comps), []string{"pa-c"})
	})
	t.Run("conditional", func(t *testing.T) {
		commit(t, s, build("pc"))
		// pc-i is at version 1: a deletion that expects another version,
		// or a missing incident, changes nothing.
		for _, c := range []*incident.Change{
			{DeleteIncidentIDs: []string{"pc-i"}, DeleteIncidentIf: map[string]int{"pc-i": 2}},
			{DeleteIncidentIDs: []string{"pc-m", "nope"}, DeleteIncidentIf: map[string]int{"nope": 1}},
		} {
			wantErr(t, "Commit", s.Commit(ctx, c), incident.ErrConflict)
		}
		for _, id := range []string{"pc-i", "pc-m"} {
			if _, err := s.FindIncidentByID(ctx, id); err != nil {
				t.Errorf("%s after refused deletions: %v", id, err)
			}
		}
		commit(t, s, &incident.Change{DeleteIncidentIDs: []string{"pc-i"}, DeleteIncidentIf: map[string]int{"pc-i": 1}})
		_, err := s.FindIncidentByID(ctx, "pc-i")
		wantErr(t, "deleted incident", err, incident.ErrNotFound)
	})
	t.Run("missing IDs are not an error", func(t *testing.T) {
		commit(t, s, &incident.Change{DeletePageIDs: []string{"nope"}, DeleteComponentIDs: []string{"nope"}, DeleteIncidentIDs: []string{"nope"}})
	})
	t.Run("page cascades", func(t *testing.T) {
		audit := &incident.AuditEntry{ID: "adel", PageID: "pa", Actor: "x", Action: "page.delete", ObjectType: "page", ObjectID: "pa", Before: "{}", At: at(time.Hour)}
		commit(t, s, &incident.Change{DeletePageIDs: []string{"pa"}, Audit: []*incident.AuditEntry{audit}})
		_, err := s.FindPageByID(ctx, "pa")
		wantErr(t, "deleted page", err, incident.ErrNotFound)
		_, err = s.FindComponentByID(ctx, "pa-c")
		wantErr(t, "its component", err, incident.ErrNotFound)
		for _, id := range []string{"pa-i", "pa-m"} {
			_, err = s.FindIncidentByID(ctx, id)
			wantErr(t, "its incident "+id, err, incident.ErrNotFound)
		}
		if comps, err := s.FindComponents(ctx, "pa"); len(comps) != 0 || (err != nil && !isNotFound(err)) {
			t.Errorf("FindComponents(deleted page) = %v, %v; want none", compIDs(comps), err)
		}
		if incs, n, err := s.FindIncidents(ctx, incident.IncidentFilter{PageID: "pa"}); len(incs) != 0 || n != 0 || err != nil {
			t.Errorf("FindIncidents(deleted page) = %v (total %d), %v; want none", ids(incs), n, err)
		}
		// Re-creating the incident ID at version 1 proves its updates went too.
		commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pa", base)}})
		again := newIncident("pa-i", "pa", incident.Investigating, base)
		commit(t, s, &incident.Change{Incidents: []*incident.Incident{again}})
		if got, err := s.FindIncidentByID(ctx, "pa-i"); err != nil {
			t.Error(err)
		} else {
			equal(t, "re-created incident", got, again)
		}
		// The audit entry written with the delete outlives the page.
		entries, _, err := s.FindAudit(ctx, incident.AuditFilter{ObjectID: "pa"})
		if err != nil || len(entries) != 1 {
			t.Errorf("audit of the deletion = %d entries, %v; want it kept", len(entries), err)
		}
		// The other page is untouched.
		if _, err := s.FindIncidentByID(ctx, "pb-i"); err != nil {
			t.Errorf("other page's incident: %v", err)
		}
		if comps, _ := s.FindComponents(ctx, "pb"); len(comps) != 2 {
			t.Errorf("other page's components = %v, want 2", compIDs(comps))
		}
	})
}

func isNotFound(err error) bool { return incident.ErrorCode(err) == incident.ENOTFOUND }

func testFindIncidents(t *testing.T, s incident.Store) {
	ctx := context.Background()
	i1 := newIncident("i1", "pa", incident.Investigating, at(1*time.Hour))
	i2 := newIncident("i2", "pa", incident.Resolved, at(2*time.Hour))
	i2.ResolvedAt = ptr(at(3 * time.Hour))
	i2.Updates = append([]*incident.Update{newUpdate("i2-u2", "i2", incident.Resolved, at(3*time.Hour))}, i2.Updates...)
	i3 := newMaintenance("i3", "pa", incident.Scheduled, at(3*time.Hour))
	i4 := newMaintenance("i4", "pa", incident.InProgress, at(4*time.Hour))
	i5 := newIncident("i5", "pa", incident.Identified, at(5*time.Hour))
	i6 := newIncident("i6", "pb", incident.Investigating, at(150*time.Minute))
	commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pa", base), newPage("pb", base)}})
	// Committed out of order, over several commits.
	commit(t, s, &incident.Change{Incidents: []*incident.Incident{i3, i1, i6}})
	commit(t, s, &incident.Change{Incidents: []*incident.Incident{i5, i2}})
	commit(t, s, &incident.Change{Incidents: []*incident.Incident{i4}})

	yes, no := true, false
	open := []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring, incident.InProgress, incident.Verifying}
	tests := []struct {
		name  string
		f     incident.IncidentFilter
		want  []*incident.Incident
		total int
	}{
		{"everything, newest first", incident.IncidentFilter{}, []*incident.Incident{i5, i4, i3, i6, i2, i1}, 6},
		{"page", incident.IncidentFilter{PageID: "pa"}, []*incident.Incident{i5, i4, i3, i2, i1}, 5},
		{"maintenances", incident.IncidentFilter{PageID: "pa", Maintenance: &yes}, []*incident.Incident{i4, i3}, 2},
		{"incidents only", incident.IncidentFilter{PageID: "pa", Maintenance: &no}, []*incident.Incident{i5, i2, i1}, 3},
		{"statuses on every page", incident.IncidentFilter{Statuses: []incident.Status{incident.Investigating, incident.Identified}}, []*incident.Incident{i5, i6, i1}, 3},
		{"open on a page", incident.IncidentFilter{PageID: "pa", Statuses: open}, []*incident.Incident{i5, i4, i1}, 3},
		{"open maintenances", incident.IncidentFilter{Maintenance: &yes, Statuses: []incident.Status{incident.Scheduled, incident.InProgress, incident.Verifying}}, []*incident.Incident{i4, i3}, 2},
		{"since is inclusive", incident.IncidentFilter{Since: at(2 * time.Hour)}, []*incident.Incident{i5, i4, i3, i6, i2}, 5},
		{"limit", incident.IncidentFilter{PageID: "pa", Limit: 2}, []*incident.Incident{i5, i4}, 5},
		{"limit and offset", incident.IncidentFilter{PageID: "pa", Limit: 2, Offset: 2}, []*incident.Incident{i3, i2}, 5},
		{"offset only", incident.IncidentFilter{PageID: "pa", Offset: 4}, []*incident.Incident{i1}, 5},
		{"offset past the end", incident.IncidentFilter{PageID: "pa", Offset: 10}, nil, 5},
		{"every filter", incident.IncidentFilter{PageID: "pa", Maintenance: &no, Statuses: []incident.Status{incident.Resolved}, Since: at(90 * time.Minute)}, []*incident.Incident{i2}, 1},
		{"unknown page", incident.IncidentFilter{PageID: "nope"}, nil, 0},
		{"no status matches", incident.IncidentFilter{Statuses: []incident.Status{incident.Postmortem}}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.FindIncidents(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if total != tt.total {
				t.Errorf("total = %d, want %d", total, tt.total)
			}
			equal(t, "incident IDs", ids(got), ids(tt.want))
			if len(got) == len(tt.want) && len(got) > 0 {
				equal(t, "incidents with their updates", got, tt.want)
			}
		})
	}
}

func testFindStatusChanges(t *testing.T, s incident.Store) {
	ctx := context.Background()
	T := at(10 * time.Hour)
	sc := func(page, comp string, st incident.ComponentStatus, d time.Duration) incident.StatusChange {
		return incident.StatusChange{PageID: page, ComponentID: comp, Status: st, At: T.Add(d)}
	}
	var (
		c1a = sc("pa", "c1", incident.Operational, -3*time.Hour)
		c1b = sc("pa", "c1", incident.DegradedPerformance, -2*time.Hour)
		c1c = sc("pa", "c1", incident.Operational, time.Hour)
		c2a = sc("pa", "c2", incident.MajorOutage, -time.Hour)
		c3a = sc("pa", "c3", incident.PartialOutage, 2*time.Hour)
		c4a = sc("pa", "c4", incident.Operational, -5*time.Hour)
		c4b = sc("pa", "c4", incident.DegradedPerformance, 0) // exactly at since
		c9a = sc("pb", "c9", incident.MajorOutage, -time.Hour)
		c9b = sc("pb", "c9", incident.Operational, time.Hour)
	)
	commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pa", base), newPage("pb", base)}})
	commit(t, s, &incident.Change{StatusChanges: []incident.StatusChange{c3a, c1c, c9b, c4b}})
	commit(t, s, &incident.Change{StatusChanges: []incident.StatusChange{c2a, c1b, c9a}})
	commit(t, s, &incident.Change{StatusChanges: []incident.StatusChange{c4a, c1a}})

	tests := []struct {
		name  string
		page  string
		since time.Time
		want  []incident.StatusChange
	}{
		{"window plus the state at its start", "pa", T, []incident.StatusChange{c4a, c1b, c2a, c4b, c1c, c3a}},
		{"since before everything", "pa", T.Add(-24 * time.Hour), []incident.StatusChange{c4a, c1a, c1b, c2a, c4b, c1c, c3a}},
		{"since after everything: the last of each", "pa", T.Add(24 * time.Hour), []incident.StatusChange{c2a, c4b, c1c, c3a}},
		{"other page", "pb", T, []incident.StatusChange{c9a, c9b}},
		{"unknown page", "nope", T, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindStatusChanges(ctx, tt.page, tt.since)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			equal(t, "status changes", got, tt.want)
		})
	}
}

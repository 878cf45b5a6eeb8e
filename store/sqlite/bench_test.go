package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
)

// benchIncident returns a Version 1 incident with three updates.
func benchIncident(id, pageID string, created time.Time) *incident.Incident {
	inc := &incident.Incident{ID: id, PageID: pageID, Name: "Incident " + id, Status: incident.Investigating, Impact: incident.ImpactMajor,
		ComponentIDs: []string{"c1", "c2"}, CreatedAt: created, UpdatedAt: created, StartedAt: created, Version: 1}
	for i := range 3 {
		inc.Updates = append(inc.Updates, &incident.Update{ID: fmt.Sprintf("%s-u%d", id, i), IncidentID: id, Status: incident.Investigating,
			Body: "We are looking into it.", CreatedAt: created, UpdatedAt: created, DisplayAt: created,
			AffectedComponents: []incident.AffectedComponent{{Code: "c1", Name: "API", OldStatus: incident.Operational, NewStatus: incident.PartialOutage}}})
	}
	return inc
}

func benchDB(b *testing.B, incidents int) (context.Context, incident.Store) {
	ctx := context.Background()
	db := open(b, filepath.Join(b.TempDir(), "herald.db"))
	b.Cleanup(func() { db.Close() })
	now := time.Now().UTC().Truncate(time.Millisecond)
	page := &incident.Page{ID: "p1", Name: "Acme", URL: "https://status.acme.test", TimeZone: "Etc/UTC", CreatedAt: now, UpdatedAt: now}
	if err := db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page}}); err != nil {
		b.Fatal(err)
	}
	ch := &incident.Change{}
	for i := range incidents {
		inc := benchIncident(fmt.Sprintf("i%05d", i), "p1", now.Add(-time.Duration(i)*time.Minute))
		if i%10 == 0 {
			inc.Status = incident.Resolved
		}
		ch.Incidents = append(ch.Incidents, inc)
	}
	if err := db.Commit(ctx, ch); err != nil {
		b.Fatal(err)
	}
	return ctx, db
}

// BenchmarkFindIncidents reads the status page's view: one page of history
// and the open incidents, out of 2,000.
func BenchmarkFindIncidents(b *testing.B) {
	ctx, db := benchDB(b, 2000)
	filters := []struct {
		name string
		f    incident.IncidentFilter
	}{
		{"history page of 25", incident.IncidentFilter{PageID: "p1", Limit: 25, Offset: 50}},
		{"resolved", incident.IncidentFilter{PageID: "p1", Statuses: []incident.Status{incident.Resolved}, Limit: 25}},
	}
	for _, f := range filters {
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := db.FindIncidents(ctx, f.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCommit measures one incident update with its audit entry and
// broadcast: what a declare or update costs the writer.
func BenchmarkCommit(b *testing.B) {
	ctx, db := benchDB(b, 100)
	inc, err := db.FindIncidentByID(ctx, "i00001")
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		n++
		inc.Version++
		id := fmt.Sprintf("x%d", n)
		err := db.Commit(ctx, &incident.Change{Incidents: []*incident.Incident{inc},
			Audit:      []*incident.AuditEntry{{ID: id, PageID: "p1", Actor: "bench", Action: "incident.update", ObjectType: "incident", ObjectID: inc.ID, At: inc.UpdatedAt}},
			Broadcasts: []*incident.Broadcast{{ID: id, PageID: "p1", IncidentID: inc.ID, UpdateID: inc.Updates[0].ID, Kind: incident.BroadcastUpdated, CreatedAt: inc.UpdatedAt}}})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFindCustomers reads 100 000 customers, each with three
// components and two attributes, in pages of 5 000: what the planner,
// compensation totals and an announcement's audience read per customer.
func BenchmarkFindCustomers(b *testing.B) {
	ctx := context.Background()
	db := open(b, filepath.Join(b.TempDir(), "herald.db"))
	b.Cleanup(func() { db.Close() })
	now := time.Now().UTC().Truncate(time.Millisecond)
	page := &incident.Page{ID: "p1", Name: "Acme", URL: "https://status.acme.test", TimeZone: "Etc/UTC", CreatedAt: now, UpdatedAt: now}
	if err := db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page}}); err != nil {
		b.Fatal(err)
	}
	const n, pageSize = 100_000, 5000
	tiers := []string{"enterprise", "smb", "self"}
	batch := make([]*audience.Customer, 0, pageSize)
	for i := range n {
		batch = append(batch, &audience.Customer{ID: fmt.Sprintf("c%08d", i), PageID: "p1", Name: fmt.Sprintf("Customer %d", i),
			Phone: fmt.Sprintf("+3620%07d", i), Email: fmt.Sprintf("c%08d@example.com", i), Language: "en", TimeZone: "Europe/Budapest",
			Plan: "gold", Region: "eu", Components: []string{fmt.Sprintf("comp%02d", i%20), fmt.Sprintf("comp%02d", (i*7+3)%20), "comp05"},
			Attributes: map[string]string{"tier": tiers[i%3], "source": "crm"}, CreatedAt: now, UpdatedAt: now})
		if len(batch) == pageSize {
			if _, err := db.UpsertCustomers(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		after, got := "", 0
		for {
			cs, err := db.FindCustomers(ctx, audience.CustomerFilter{PageID: "p1", After: after, Limit: pageSize})
			if err != nil {
				b.Fatal(err)
			}
			got += len(cs)
			if len(cs) < pageSize {
				break
			}
			after = cs[len(cs)-1].ID
		}
		if got != n {
			b.Fatalf("read %d customers, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/customer")
}

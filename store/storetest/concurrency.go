package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// testConcurrency commits from many goroutines at once: distinct incidents
// must all land, and of two writers racing on one version exactly one wins.
func testConcurrency(t *testing.T, s incident.Store) {
	ctx := context.Background()
	commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pa", base)}})

	t.Run("distinct incidents", func(t *testing.T) {
		const writers, each = 8, 5
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range each {
					id := fmt.Sprintf("w%d-%d", w, n)
					inc := newIncident(id, "pa", incident.Investigating, at(time.Duration(w*each+n)*time.Second))
					audit := &incident.AuditEntry{ID: "a-" + id, PageID: "pa", Actor: "x", Action: "incident.create", ObjectType: "incident", ObjectID: id, At: inc.CreatedAt}
					if err := s.Commit(ctx, &incident.Change{Incidents: []*incident.Incident{inc}, Audit: []*incident.AuditEntry{audit}}); err != nil {
						errs <- fmt.Errorf("writer %d, incident %s: %w", w, id, err)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		incs, total, err := s.FindIncidents(ctx, incident.IncidentFilter{PageID: "pa"})
		if err != nil || total != writers*each || len(incs) != writers*each {
			t.Errorf("FindIncidents = %d (total %d), %v; want %d", len(incs), total, err, writers*each)
		}
		if _, total, _ := s.FindAudit(ctx, incident.AuditFilter{PageID: "pa"}); total != writers*each {
			t.Errorf("audit total = %d, want %d", total, writers*each)
		}
	})

	t.Run("racing on one version", func(t *testing.T) {
		cur := newIncident("race", "pa", incident.Investigating, base)
		commit(t, s, &incident.Change{Incidents: []*incident.Incident{cur}})
		for round := range 20 {
			a, b := bumped(cur, fmt.Sprintf("a%d", round)), bumped(cur, fmt.Sprintf("b%d", round))
			var wg sync.WaitGroup
			var errA, errB error
			start := make(chan struct{})
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				errA = s.Commit(ctx, &incident.Change{Incidents: []*incident.Incident{a}})
			}()
			go func() {
				defer wg.Done()
				<-start
				errB = s.Commit(ctx, &incident.Change{Incidents: []*incident.Incident{b}})
			}()
			close(start)
			wg.Wait()

			var winner *incident.Incident
			switch {
			case errA == nil && errB == nil:
				t.Fatalf("round %d: both writers won version %d", round, a.Version)
			case errA == nil:
				winner = a
				wantErr(t, fmt.Sprintf("round %d: loser", round), errB, incident.ErrConflict)
			case errB == nil:
				winner = b
				wantErr(t, fmt.Sprintf("round %d: loser", round), errA, incident.ErrConflict)
			default:
				t.Fatalf("round %d: both writers failed: %v; %v", round, errA, errB)
			}
			got, err := s.FindIncidentByID(ctx, "race")
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != winner.Version || got.Name != winner.Name {
				t.Fatalf("round %d: stored version %d %q, want the winner's %d %q", round, got.Version, got.Name, winner.Version, winner.Name)
			}
			cur = got
		}
	})
}

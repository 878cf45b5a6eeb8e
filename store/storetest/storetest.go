// Package storetest is the conformance suite every incident.Store engine
// passes: one set of tests, run by each engine's own test file with a
// function that opens a fresh, empty store.
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) incident.Store { return openEmpty(t) })
//	}
//
// The suite pins down what incident.Store's doc comments leave to the
// engine, so that the engines agree: exact round-trips (times in UTC at
// millisecond precision, nil versus empty lists), orderings and their
// tie-breaks, and what a failed Commit leaves behind (nothing).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// Run runs the whole suite. open must return a fresh, empty store for the
// calling (sub)test; Run closes it when that test ends, so open must not
// close it itself (a second Close must be harmless in any case). Subtests
// run one after another, never in parallel, so engines that share one
// backend (a Redis database) may empty it in open.
func Run(t *testing.T, open func(t *testing.T) incident.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s incident.Store)
	}{
		{"Pages", testPages},
		{"Components", testComponents},
		{"IncidentRoundTrip", testIncidentRoundTrip},
		{"IncidentUpdatesReplaced", testIncidentUpdatesReplaced},
		{"Versions", testVersions},
		{"Atomicity", testAtomicity},
		{"Deletes", testDeletes},
		{"FindIncidents", testFindIncidents},
		{"FindStatusChanges", testFindStatusChanges},
		{"Audit", testAudit},
		{"Broadcasts", testBroadcasts},
		{"Tokens", testTokens},
		{"Idempotency", testIdempotency},
		{"Times", testTimes},
		{"Ping", testPing},
		{"Concurrency", testConcurrency},
		{"DefaultPage", testDefaultPage},
		{"KeepAPage", testKeepAPage},
		{"LastPageRace", testLastPageRace},
		{"Service", testService},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("storetest: open returned a nil store")
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// base is the suite's reference time: UTC, millisecond-aligned, with a
// non-zero millisecond part so truncation bugs show.
var base = time.Date(2024, 3, 10, 12, 0, 0, 123*int(time.Millisecond), time.UTC)

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

func ptr[T any](v T) *T { return &v }

func commit(t *testing.T, s incident.Store, c *incident.Change) {
	t.Helper()
	if err := s.Commit(context.Background(), c); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// wantErr fails unless errors.Is(err, sentinel).
func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: error = %v, want %v", what, err, sentinel)
	}
}

// equal fails unless got and want are deeply equal: the same times with
// the same location, the same nil-ness of every slice and pointer.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	if string(g) == string(w) {
		t.Errorf("%s: differs in something JSON does not show (time location, a hidden field, nil vs empty):\n got %#v\nwant %#v", what, got, want)
		return
	}
	t.Errorf("%s:\n got %s\nwant %s", what, g, w)
}

// ids returns the IDs of incidents, for readable failures.
func ids(incs []*incident.Incident) []string {
	out := []string{}
	for _, inc := range incs {
		out = append(out, inc.ID)
	}
	return out
}

// ---- fixtures ----

func newPage(id string, created time.Time) *incident.Page {
	return &incident.Page{ID: id, Name: "Page " + id, URL: "https://status.example.com/" + id, TimeZone: "Europe/Budapest",
		Languages: []string{"hu", "en"}, Hosts: []string{id + ".example.com", "www." + id + ".example.com"},
		Logo:      "data:image/png;base64,iVBORw0KGgo=",
		CreatedAt: created, UpdatedAt: created.Add(1500 * time.Millisecond)}
}

func newComponent(id, pageID string, pos int, created time.Time) *incident.Component {
	return &incident.Component{ID: id, PageID: pageID, Name: "Component " + id, Description: "the " + id + " part",
		Status: incident.Operational, Position: pos, Showcase: true, StartDate: "2023-01-15",
		CreatedAt: created, UpdatedAt: created.Add(time.Second)}
}

func newUpdate(id, incidentID string, status incident.Status, created time.Time) *incident.Update {
	return &incident.Update{ID: id, IncidentID: incidentID, Status: status, Body: "status is " + string(status),
		CreatedAt: created, UpdatedAt: created, DisplayAt: created, DeliverNotifications: true}
}

// newIncident returns a Version 1 incident with one update.
func newIncident(id, pageID string, status incident.Status, created time.Time) *incident.Incident {
	inc := &incident.Incident{ID: id, PageID: pageID, Name: "Incident " + id, Status: status, Impact: incident.ImpactNone,
		ComponentIDs: []string{}, CreatedAt: created, UpdatedAt: created, StartedAt: created,
		ScheduledAutoInProgress: true, ScheduledAutoCompleted: true, Version: 1}
	inc.Updates = []*incident.Update{newUpdate(id+"-u1", id, status, created)}
	return inc
}

// newMaintenance returns a Version 1 maintenance scheduled a day after created.
func newMaintenance(id, pageID string, status incident.Status, created time.Time) *incident.Incident {
	inc := newIncident(id, pageID, status, created)
	inc.Impact = incident.ImpactMaintenance
	inc.ScheduledFor, inc.ScheduledUntil = ptr(created.Add(24*time.Hour)), ptr(created.Add(26*time.Hour))
	inc.StartedAt = *inc.ScheduledFor
	return inc
}

// bumped returns a copy of inc with Version+1 and a new name, as the
// Service would write it next.
func bumped(inc *incident.Incident, name string) *incident.Incident {
	c := *inc
	c.Name = name
	c.Version++
	c.UpdatedAt = c.UpdatedAt.Add(time.Minute)
	c.ComponentIDs = append([]string{}, inc.ComponentIDs...)
	c.Updates = append([]*incident.Update(nil), inc.Updates...)
	return &c
}

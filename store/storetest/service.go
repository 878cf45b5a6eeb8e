package storetest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// clock is a settable clock for incident.Service.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// newService returns a Service on s with a clock starting near the real
// time (idempotency keys expire by the store's real clock).
func newService(s incident.Store) (*incident.Service, *clock) {
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	svc := incident.NewService(s, incident.NewLocalEvents(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc.Now = c.Now
	return svc, c
}

// testService drives incident.Service end to end on the engine, so the
// lifecycle is covered on every engine, not only the store calls alone.
func testService(t *testing.T, s incident.Store) {
	ctx := incident.WithActor(context.Background(), incident.Actor{TokenID: "t1", Name: "alice", Role: incident.RoleManager})
	svc, clk := newService(s)
	page, err := svc.CreatePage(ctx, incident.PageInput{Name: ptr("Acme"), URL: ptr("https://status.acme.test")})
	if err != nil {
		t.Fatal(err)
	}
	api, err := svc.CreateComponent(ctx, page.ID, incident.ComponentInput{Name: ptr("API")})
	if err != nil {
		t.Fatal(err)
	}
	web, err := svc.CreateComponent(ctx, page.ID, incident.ComponentInput{Name: ptr("Web")})
	if err != nil {
		t.Fatal(err)
	}
	status := func(t *testing.T, id string) incident.ComponentStatus {
		t.Helper()
		c, err := s.FindComponentByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.Status
	}
	kinds := func(t *testing.T, id string) []incident.BroadcastKind {
		t.Helper()
		bs, err := s.FindBroadcasts(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		out := []incident.BroadcastKind{}
		for _, b := range bs {
			out = append(out, b.Kind)
		}
		return out
	}

	t.Run("declare, update, resolve", func(t *testing.T) {
		inc, created, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("API down"), Body: ptr("Looking into it"),
			Components: map[string]incident.ComponentStatus{api.ID: incident.MajorOutage}}, "key-1")
		if err != nil || !created {
			t.Fatalf("CreateIncident = %v, %v", created, err)
		}
		if inc.Status != incident.Investigating || inc.Impact != incident.ImpactCritical || inc.Version != 1 {
			t.Errorf("declared: status %s impact %s version %d; want investigating critical 1", inc.Status, inc.Impact, inc.Version)
		}
		if st := status(t, api.ID); st != incident.MajorOutage {
			t.Errorf("API status = %s, want major_outage", st)
		}
		stored, err := s.FindIncidentByID(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "stored incident", stored, inc)

		again, created, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("API down"), Body: ptr("Looking into it"),
			Components: map[string]incident.ComponentStatus{api.ID: incident.MajorOutage}}, "key-1")
		if err != nil || created || again.ID != inc.ID {
			t.Errorf("repeated CreateIncident = %v created=%v, %v; want the first incident replayed", again, created, err)
		}
		// The same key with another request is refused, not replayed.
		_, _, err = svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("API down")}, "key-1")
		wantErr(t, "CreateIncident with a reused key", err, &incident.Error{Code: incident.EIDEMPOTENCY})

		clk.Advance(10 * time.Minute)
		up, err := svc.UpdateIncident(ctx, page.ID, inc.ID, incident.IncidentInput{Status: ptr(incident.Identified), Body: ptr("Found it"),
			Components: map[string]incident.ComponentStatus{api.ID: incident.PartialOutage}})
		if err != nil {
			t.Fatal(err)
		}
		if up.Impact != incident.ImpactCritical {
			t.Errorf("impact after improving = %s, want critical (the worst it was)", up.Impact)
		}

		// A writer holding the version-1 copy loses to the update above.
		stale := *stored
		stale.Version = 2
		stale.Name = "stale"
		wantErr(t, "Commit(stale copy)", s.Commit(ctx, &incident.Change{Incidents: []*incident.Incident{&stale}}), incident.ErrConflict)

		clk.Advance(50 * time.Minute)
		res, err := svc.UpdateIncident(ctx, page.ID, inc.ID, incident.IncidentInput{Status: ptr(incident.Resolved), Body: ptr("Fixed")})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.FindIncidentByID(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "resolved incident", got, res)
		var statuses []incident.Status
		for _, u := range got.Updates {
			statuses = append(statuses, u.Status)
		}
		equal(t, "update statuses, newest first", statuses, []incident.Status{incident.Resolved, incident.Identified, incident.Investigating})
		if got.ResolvedAt == nil || !got.ResolvedAt.Equal(clk.Now()) || got.Version != 3 {
			t.Errorf("resolved_at %v version %d; want %v and 3", got.ResolvedAt, got.Version, clk.Now())
		}
		if st := status(t, api.ID); st != incident.Operational {
			t.Errorf("API status after resolve = %s, want operational", st)
		}
		if st := status(t, web.ID); st != incident.Operational {
			t.Errorf("Web status = %s, want operational (never touched)", st)
		}
		equal(t, "broadcasts", kinds(t, inc.ID), []incident.BroadcastKind{incident.BroadcastDeclared, incident.BroadcastUpdated, incident.BroadcastResolved})
		if _, total, err := s.FindAudit(ctx, incident.AuditFilter{ObjectID: inc.ID}); err != nil || total != 3 {
			t.Errorf("audit entries for the incident = %d, %v; want 3", total, err)
		}
		hist, err := svc.StatusHistory(ctx, page.ID, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var apiHist []incident.ComponentStatus
		for _, h := range hist {
			if h.ComponentID == api.ID {
				apiHist = append(apiHist, h.Status)
			}
		}
		equal(t, "API status history", apiHist, []incident.ComponentStatus{incident.Operational, incident.MajorOutage, incident.PartialOutage, incident.Operational})

		_, err = svc.UpdateIncident(ctx, page.ID, inc.ID, incident.IncidentInput{Status: ptr(incident.Investigating)})
		if incident.ErrorCode(err) != incident.ETRANSITION {
			t.Errorf("reopening = %v, want %s", err, incident.ETRANSITION)
		}
	})

	t.Run("maintenance advances with the clock", func(t *testing.T) {
		start := clk.Now()
		m, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("DB upgrade"), ComponentIDs: []string{web.ID},
			ScheduledFor: ptr(start.Add(time.Hour)), ScheduledUntil: ptr(start.Add(2 * time.Hour))}, "")
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != incident.Scheduled || m.Impact != incident.ImpactMaintenance {
			t.Errorf("scheduled: status %s impact %s", m.Status, m.Impact)
		}
		steps := []struct {
			advance time.Duration
			moved   int
			status  incident.Status
			web     incident.ComponentStatus
		}{
			{0, 0, incident.Scheduled, incident.Operational},
			{59 * time.Minute, 0, incident.Scheduled, incident.Operational},
			{time.Minute, 1, incident.InProgress, incident.UnderMaintenance},
			{0, 0, incident.InProgress, incident.UnderMaintenance},
			{time.Hour, 1, incident.Completed, incident.Operational},
			{time.Hour, 0, incident.Completed, incident.Operational},
		}
		for i, st := range steps {
			clk.Advance(st.advance)
			moved, err := svc.AdvanceMaintenances(ctx)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			got, err := s.FindIncidentByID(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if moved != st.moved || got.Status != st.status || status(t, web.ID) != st.web {
				t.Errorf("step %d: moved %d, status %s, web %s; want %d, %s, %s", i, moved, got.Status, status(t, web.ID), st.moved, st.status, st.web)
			}
		}
		equal(t, "broadcasts", kinds(t, m.ID), []incident.BroadcastKind{incident.BroadcastScheduled, incident.BroadcastStarted, incident.BroadcastCompleted})
	})

	t.Run("tokens", func(t *testing.T) {
		secret, tok, err := svc.CreateToken(ctx, "ops", incident.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.Authenticate(ctx, secret)
		if err != nil || got.ID != tok.ID {
			t.Fatalf("Authenticate = %v, %v", got, err)
		}
		stored, err := s.FindTokenByHash(ctx, incident.HashToken(secret))
		if err != nil || stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(clk.Now()) {
			t.Errorf("last used = %v, %v; want %v", stored, err, clk.Now())
		}
		if err := svc.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, secret); incident.ErrorCode(err) != incident.EUNAUTHORIZED {
			t.Errorf("Authenticate(revoked) = %v, want %s", err, incident.EUNAUTHORIZED)
		}
	})

	t.Run("delete page", func(t *testing.T) {
		other, err := svc.CreatePage(ctx, incident.PageInput{Name: ptr("Other"), URL: ptr("https://other.test")})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.CreateIncident(ctx, other.ID, incident.IncidentInput{Name: ptr("x")}, ""); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeletePage(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		pages, err := svc.Pages(ctx)
		if err != nil || len(pages) != 1 || pages[0].ID != page.ID {
			t.Errorf("pages after delete = %v, %v; want only %s", ids2(pages), err, page.ID)
		}
		if err := svc.DeletePage(ctx, page.ID); incident.ErrorCode(err) != incident.ECONFLICT {
			t.Errorf("deleting the last page = %v, want %s", err, incident.ECONFLICT)
		}
	})
}

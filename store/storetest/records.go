package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

func testPages(t *testing.T, s incident.Store) {
	ctx := context.Background()
	t.Run("missing", func(t *testing.T) {
		_, err := s.FindPageByID(ctx, "nope")
		wantErr(t, "FindPageByID", err, incident.ErrNotFound)
		pages, err := s.FindPages(ctx)
		if err != nil || len(pages) != 0 {
			t.Fatalf("FindPages on an empty store = %v, %v; want none", ids2(pages), err)
		}
	})

	// Committed newest first, so an engine that returns insertion order fails.
	p3, p2, p1 := newPage("p3", at(3*time.Hour)), newPage("p2", at(2*time.Hour)), newPage("p1", at(time.Hour))
	p2.Hosts = []string{} // the default page answers on every host: empty, not nil
	p2.Logo = ""          // no logo
	p3.Hosts, p3.Languages = nil, []string{"pl"}
	commit(t, s, &incident.Change{Pages: []*incident.Page{p3, p2}})
	commit(t, s, &incident.Change{Pages: []*incident.Page{p1}})

	tests := []struct {
		name string
		want *incident.Page
	}{
		{"all fields", p1},
		{"empty hosts stay empty", p2},
		{"nil hosts", p3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindPageByID(ctx, tt.want.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := *tt.want
			if want.Hosts == nil && got.Hosts != nil && len(got.Hosts) == 0 {
				got.Hosts = nil // nil may come back empty: both mean "no hosts"
			}
			equal(t, "page", got, &want)
		})
	}

	t.Run("oldest first", func(t *testing.T) {
		pages, err := s.FindPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "page IDs", ids2(pages), []string{"p1", "p2", "p3"})
	})

	t.Run("upsert", func(t *testing.T) {
		p := *p1
		p.Name, p.Languages, p.UpdatedAt = "Renamed", []string{"en"}, at(5*time.Hour)
		commit(t, s, &incident.Change{Pages: []*incident.Page{&p}})
		got, err := s.FindPageByID(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "page", got, &p)
		if pages, _ := s.FindPages(ctx); len(pages) != 3 {
			t.Errorf("FindPages after an upsert = %v, want 3 pages", ids2(pages))
		}
	})
}

func ids2(pages []*incident.Page) []string {
	out := []string{}
	for _, p := range pages {
		out = append(out, p.ID)
	}
	return out
}

func compIDs(comps []*incident.Component) []string {
	out := []string{}
	for _, c := range comps {
		out = append(out, c.ID)
	}
	return out
}

func testComponents(t *testing.T, s incident.Store) {
	ctx := context.Background()
	commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pa", base), newPage("pb", base)}})

	group := newComponent("grp", "pa", 1, at(time.Hour))
	group.Group, group.Status, group.Showcase, group.StartDate = true, incident.PartialOutage, false, ""
	member := newComponent("mem", "pa", 2, at(2*time.Hour))
	member.GroupID, member.Status, member.OnlyShowIfDegraded, member.Description = "grp", incident.PartialOutage, true, ""
	// Same position as group: CreatedAt breaks the tie (c0 is older).
	c0 := newComponent("c0", "pa", 1, at(-time.Hour))
	c9 := newComponent("c9", "pa", 0, at(9*time.Hour))
	other := newComponent("oth", "pb", 0, base)
	commit(t, s, &incident.Change{Components: []*incident.Component{member, group, c9}})
	commit(t, s, &incident.Change{Components: []*incident.Component{c0, other}})

	t.Run("round trip", func(t *testing.T) {
		for _, want := range []*incident.Component{group, member, c0, c9, other} {
			got, err := s.FindComponentByID(ctx, want.ID)
			if err != nil {
				t.Fatalf("FindComponentByID(%s): %v", want.ID, err)
			}
			equal(t, "component "+want.ID, got, want)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := s.FindComponentByID(ctx, "nope")
		wantErr(t, "FindComponentByID", err, incident.ErrNotFound)
	})
	t.Run("ordered by position then created", func(t *testing.T) {
		comps, err := s.FindComponents(ctx, "pa")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "component IDs", compIDs(comps), []string{"c9", "c0", "grp", "mem"})
		if len(comps) == 4 {
			equal(t, "first component", comps[0], c9)
		}
	})
	t.Run("page without components", func(t *testing.T) {
		commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pc", base)}})
		comps, err := s.FindComponents(ctx, "pc")
		if err != nil || len(comps) != 0 {
			t.Errorf("FindComponents(pc) = %v, %v; want none", compIDs(comps), err)
		}
	})
	t.Run("upsert", func(t *testing.T) {
		c := *c9
		c.Status, c.Position, c.UpdatedAt = incident.MajorOutage, 7, at(10*time.Hour)
		commit(t, s, &incident.Change{Components: []*incident.Component{&c}})
		got, err := s.FindComponentByID(ctx, "c9")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "component", got, &c)
		comps, _ := s.FindComponents(ctx, "pa")
		equal(t, "component IDs", compIDs(comps), []string{"c0", "grp", "mem", "c9"})
	})
}

func testAudit(t *testing.T, s incident.Store) {
	ctx := context.Background()
	entry := func(id, page, object string, d time.Duration) *incident.AuditEntry {
		return &incident.AuditEntry{ID: id, PageID: page, Actor: "alice (token t1)", Action: "incident.update", ObjectType: "incident",
			ObjectID: object, Before: `{"name":"before"}`, After: `{"name":"after"}`, At: at(d)}
	}
	a1 := entry("a1", "pa", "i1", 1*time.Minute)
	a2 := entry("a2", "pa", "i2", 2*time.Minute)
	a3 := entry("a3", "pb", "i1", 3*time.Minute) // the same object ID on another page
	a4 := entry("a4", "", "tok", 4*time.Minute)  // tokens belong to no page
	a4.Action, a4.ObjectType, a4.Before = "token.create", "token", ""
	a5 := entry("a5", "pa", "i1", 5*time.Minute)
	a5.After = ""
	// Out of order and across commits: the order comes from At.
	commit(t, s, &incident.Change{Audit: []*incident.AuditEntry{a3, a1}})
	commit(t, s, &incident.Change{Audit: []*incident.AuditEntry{a5, a2, a4}})

	tests := []struct {
		name  string
		f     incident.AuditFilter
		want  []*incident.AuditEntry
		total int
	}{
		{"all, newest first", incident.AuditFilter{}, []*incident.AuditEntry{a5, a4, a3, a2, a1}, 5},
		{"page", incident.AuditFilter{PageID: "pa"}, []*incident.AuditEntry{a5, a2, a1}, 3},
		{"object", incident.AuditFilter{ObjectID: "i1"}, []*incident.AuditEntry{a5, a3, a1}, 3},
		{"page and object", incident.AuditFilter{PageID: "pa", ObjectID: "i1"}, []*incident.AuditEntry{a5, a1}, 2},
		{"limit", incident.AuditFilter{Limit: 2}, []*incident.AuditEntry{a5, a4}, 5},
		{"limit and offset", incident.AuditFilter{Limit: 2, Offset: 2}, []*incident.AuditEntry{a3, a2}, 5},
		{"offset only", incident.AuditFilter{Offset: 4}, []*incident.AuditEntry{a1}, 5},
		{"offset past the end", incident.AuditFilter{PageID: "pa", Offset: 3}, []*incident.AuditEntry{}, 3},
		{"no match", incident.AuditFilter{PageID: "nope"}, []*incident.AuditEntry{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.FindAudit(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if total != tt.total {
				t.Errorf("total = %d, want %d", total, tt.total)
			}
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			equal(t, "entries", got, tt.want)
		})
	}
}

func testBroadcasts(t *testing.T, s incident.Store) {
	ctx := context.Background()
	b := func(id, incidentID string, kind incident.BroadcastKind, d time.Duration) *incident.Broadcast {
		return &incident.Broadcast{ID: id, PageID: "pa", IncidentID: incidentID, UpdateID: id + "-u", Kind: kind, CreatedAt: at(d)}
	}
	b1 := b("b1", "i1", incident.BroadcastDeclared, time.Minute)
	b2 := b("b2", "i1", incident.BroadcastUpdated, 2*time.Minute)
	b3 := b("b3", "i1", incident.BroadcastResolved, 3*time.Minute)
	bx := b("bx", "i2", incident.BroadcastScheduled, 0)
	commit(t, s, &incident.Change{Broadcasts: []*incident.Broadcast{b3, bx}})
	commit(t, s, &incident.Change{Broadcasts: []*incident.Broadcast{b2, b1}})

	tests := []struct {
		name       string
		incidentID string
		want       []*incident.Broadcast
	}{
		{"oldest first", "i1", []*incident.Broadcast{b1, b2, b3}},
		{"one", "i2", []*incident.Broadcast{bx}},
		{"none", "i3", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindBroadcasts(ctx, tt.incidentID)
			if err != nil {
				t.Fatalf("FindBroadcasts: %v (an incident without broadcasts is not an error)", err)
			}
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			equal(t, "broadcasts", got, tt.want)
		})
	}
}

func testTokens(t *testing.T, s incident.Store) {
	ctx := context.Background()
	_, h1 := incident.NewTokenSecret()
	_, h2 := incident.NewTokenSecret()
	t1 := &incident.Token{ID: "t1", Name: "ops", Role: incident.RoleAdmin, Hash: h1, CreatedAt: at(time.Hour)}
	t2 := &incident.Token{ID: "t2", Name: "agents", Role: incident.RoleAgent, Hash: h2, CreatedAt: at(-time.Hour),
		LastUsedAt: ptr(at(time.Minute))}
	commit(t, s, &incident.Change{Tokens: []*incident.Token{t1, t2}})

	t.Run("find by hash", func(t *testing.T) {
		for _, want := range []*incident.Token{t1, t2} {
			got, err := s.FindTokenByHash(ctx, want.Hash)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "token", got, want)
		}
		_, err := s.FindTokenByHash(ctx, incident.HashToken("hrld_unknown"))
		wantErr(t, "FindTokenByHash(unknown)", err, incident.ErrNotFound)
	})
	t.Run("oldest first", func(t *testing.T) {
		got, err := s.FindTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "tokens", got, []*incident.Token{t2, t1})
	})
	t.Run("touch", func(t *testing.T) {
		when := at(2 * time.Hour)
		if err := s.TouchToken(ctx, "t1", when); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindTokenByHash(ctx, h1)
		if err != nil {
			t.Fatal(err)
		}
		want := *t1
		want.LastUsedAt = &when
		equal(t, "touched token", got, &want)
		wantErr(t, "TouchToken(unknown)", s.TouchToken(ctx, "nope", when), incident.ErrNotFound)
	})
	t.Run("revoke", func(t *testing.T) {
		got, err := s.FindTokenByHash(ctx, h2)
		if err != nil {
			t.Fatal(err)
		}
		got.RevokedAt = ptr(at(3 * time.Hour))
		commit(t, s, &incident.Change{Tokens: []*incident.Token{got}})
		again, err := s.FindTokenByHash(ctx, h2)
		if err != nil {
			t.Fatalf("a revoked token must still be found (the Service refuses it): %v", err)
		}
		equal(t, "revoked token", again, got)
		all, _ := s.FindTokens(ctx)
		if len(all) != 2 {
			t.Errorf("FindTokens after revoke: %d tokens, want 2", len(all))
		}
	})
}

func testIdempotency(t *testing.T, s incident.Store) {
	ctx := context.Background()
	// Expiry is judged by the store's own clock, which is the real one here.
	now := time.Now().UTC().Truncate(time.Millisecond)
	live := &incident.IdempotencyKey{Scope: "incident.create:pa", Key: "k1", ResourceID: "i1", ExpiresAt: now.Add(time.Hour)}
	expired := &incident.IdempotencyKey{Scope: "incident.create:pa", Key: "k2", ResourceID: "i2", ExpiresAt: now.Add(-time.Minute)}
	commit(t, s, &incident.Change{Idempotency: live})
	commit(t, s, &incident.Change{Idempotency: expired})

	tests := []struct {
		name, scope, key string
		want             string // "" : ENOTFOUND
	}{
		{"live", "incident.create:pa", "k1", "i1"},
		{"expired", "incident.create:pa", "k2", ""},
		{"other scope", "incident.create:pb", "k1", ""},
		{"unknown", "incident.create:pa", "k3", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindIdempotencyKey(ctx, tt.scope, tt.key)
			if tt.want == "" {
				wantErr(t, "FindIdempotencyKey", err, incident.ErrNotFound)
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("FindIdempotencyKey = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	t.Run("duplicate", func(t *testing.T) {
		dup := *live
		dup.ResourceID = "other"
		err := s.Commit(ctx, &incident.Change{Idempotency: &dup})
		wantErr(t, "Commit(duplicate key)", err, incident.ErrConflict)
		if got, _ := s.FindIdempotencyKey(ctx, live.Scope, live.Key); got != "i1" {
			t.Errorf("the first use must keep the key: got %q, want i1", got)
		}
	})
	t.Run("same key in another scope", func(t *testing.T) {
		k := *live
		k.Scope, k.ResourceID = "incident.create:pb", "i9"
		commit(t, s, &incident.Change{Idempotency: &k})
		if got, err := s.FindIdempotencyKey(ctx, k.Scope, k.Key); got != "i9" || err != nil {
			t.Errorf("FindIdempotencyKey = %q, %v; want i9", got, err)
		}
	})
	t.Run("expired key is reusable", func(t *testing.T) {
		k := *expired
		k.ResourceID, k.ExpiresAt = "i3", now.Add(time.Hour)
		commit(t, s, &incident.Change{Idempotency: &k})
		if got, err := s.FindIdempotencyKey(ctx, k.Scope, k.Key); got != "i3" || err != nil {
			t.Errorf("FindIdempotencyKey = %q, %v; want i3", got, err)
		}
	})
}

// testTimes checks that every kind of time column keeps the instant exactly
// at millisecond precision and comes back in UTC.
func testTimes(t *testing.T, s incident.Store) {
	ctx := context.Background()
	commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pa", base)}})
	tests := []struct {
		name string
		in   time.Time
	}{
		{"reference", base},
		{"zero", time.Time{}},
		{"epoch", time.Unix(0, 0).UTC()},
		{"before epoch", time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC)},
		{"leap day last millisecond", time.Date(2024, 2, 29, 23, 59, 59, 999_000_000, time.UTC)},
		{"far future", time.Date(2199, 12, 31, 23, 59, 59, 1_000_000, time.UTC)},
		{"other zone", time.Date(2024, 7, 1, 2, 30, 0, 5_000_000, time.FixedZone("CEST", 2*3600))},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.in.UTC()
			id := "i" + string(rune('a'+i))
			inc := newIncident(id, "pa", incident.Resolved, tt.in)
			inc.MonitoringAt, inc.ResolvedAt, inc.PostmortemPublishedAt = ptr(tt.in), ptr(tt.in), ptr(tt.in)
			inc.Updates[0].DisplayAt = tt.in
			tok := &incident.Token{ID: "t" + id, Name: "n", Role: incident.RoleAgent, Hash: incident.HashToken(id), CreatedAt: tt.in, RevokedAt: ptr(tt.in)}
			sc := incident.StatusChange{PageID: "pa", ComponentID: "c" + id, Status: incident.MajorOutage, At: tt.in}
			commit(t, s, &incident.Change{Incidents: []*incident.Incident{inc}, Tokens: []*incident.Token{tok},
				StatusChanges: []incident.StatusChange{sc}})

			got, err := s.FindIncidentByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			gotTok, err := s.FindTokenByHash(ctx, tok.Hash)
			if err != nil {
				t.Fatal(err)
			}
			var gotSC time.Time
			changes, err := s.FindStatusChanges(ctx, "pa", time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range changes {
				if c.ComponentID == sc.ComponentID {
					gotSC = c.At
				}
			}
			for _, c := range []struct {
				field string
				got   time.Time
			}{
				{"CreatedAt", got.CreatedAt}, {"StartedAt", got.StartedAt},
				{"MonitoringAt", deref(got.MonitoringAt)}, {"ResolvedAt", deref(got.ResolvedAt)},
				{"PostmortemPublishedAt", deref(got.PostmortemPublishedAt)},
				{"Update.DisplayAt", got.Updates[0].DisplayAt},
				{"Token.CreatedAt", gotTok.CreatedAt}, {"Token.RevokedAt", deref(gotTok.RevokedAt)},
				{"StatusChange.At", gotSC},
			} {
				if !c.got.Equal(want) || c.got.Location() != time.UTC || !reflectTimeEqual(c.got, want) {
					t.Errorf("%s = %s (%s), want %s UTC", c.field, c.got.Format(time.RFC3339Nano), c.got.Location(), want.Format(time.RFC3339Nano))
				}
			}
		})
	}
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("nil", 0))
	}
	return *t
}

// reflectTimeEqual reports whether a and b are identical values, as
// reflect.DeepEqual on a struct holding them would see them.
func reflectTimeEqual(a, b time.Time) bool { return a == b }

func testPing(t *testing.T, s incident.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

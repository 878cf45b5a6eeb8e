package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// RunSessions is the conformance suite of incident.SessionStore: console
// sessions and one-time sign-in links. open returns a fresh, empty store.
// Times are near the real clock: the Redis engine lets a key expire at
// its ExpiresAt, by Redis's clock.
func RunSessions(t *testing.T, open func(t *testing.T) incident.SessionStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("round trip, touch, expiry, delete", func(t *testing.T) {
		s := open(t)
		in := &incident.Session{Hash: incident.HashToken("one"), TokenID: "tok1", TokenHash: incident.HashToken("hrld_x"), Name: "Ana",
			Role: incident.RoleAgent, Language: "hu", CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(30 * time.Minute)}
		if err := s.CreateSession(ctx, in); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		dup := *in
		wantErr(t, "CreateSession twice", s.CreateSession(ctx, &dup), incident.ErrConflict)
		got, err := s.FindSessionByHash(ctx, in.Hash, now)
		if err != nil {
			t.Fatalf("FindSessionByHash: %v", err)
		}
		equal(t, "session", got, in)
		_, err = s.FindSessionByHash(ctx, incident.HashToken("other"), now)
		wantErr(t, "unknown session", err, incident.ErrNotFound)
		_, err = s.FindSessionByHash(ctx, in.Hash, in.ExpiresAt.Add(time.Millisecond))
		wantErr(t, "session after its expiry", err, incident.ErrNotFound)

		later := now.Add(10 * time.Minute)
		if err := s.TouchSession(ctx, in.Hash, later, later.Add(30*time.Minute), ""); err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		got, err = s.FindSessionByHash(ctx, in.Hash, later.Add(25*time.Minute))
		if err != nil {
			t.Fatalf("after touch, FindSessionByHash within the new expiry: %v", err)
		}
		if !got.SeenAt.Equal(later) || !got.ExpiresAt.Equal(later.Add(30*time.Minute)) || got.Language != "hu" {
			t.Errorf("after touch: seen %v expires %v language %q; want %v, %v, hu (kept)", got.SeenAt, got.ExpiresAt, got.Language, later, later.Add(30*time.Minute))
		}
		if err := s.TouchSession(ctx, in.Hash, later, later.Add(30*time.Minute), "pl"); err != nil {
			t.Fatalf("TouchSession with a language: %v", err)
		}
		if got, _ := s.FindSessionByHash(ctx, in.Hash, later); got == nil || got.Language != "pl" {
			t.Errorf("language after touch = %+v, want pl", got)
		}
		wantErr(t, "TouchSession unknown", s.TouchSession(ctx, incident.HashToken("other"), later, later.Add(time.Minute), ""), incident.ErrNotFound)
		wantErr(t, "TouchSession after expiry", s.TouchSession(ctx, in.Hash, later.Add(time.Hour), later.Add(2*time.Hour), ""), incident.ErrNotFound)

		if err := s.DeleteSession(ctx, in.Hash); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		_, err = s.FindSessionByHash(ctx, in.Hash, now)
		wantErr(t, "deleted session", err, incident.ErrNotFound)
		if err := s.DeleteSession(ctx, in.Hash); err != nil {
			t.Errorf("DeleteSession twice: %v", err)
		}
	})

	t.Run("sign-in link taken once", func(t *testing.T) {
		s := open(t)
		l := &incident.SignInLink{Hash: incident.HashToken("link"), TokenID: "tok1", TokenHash: incident.HashToken("hrld_y"), CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
		if err := s.CreateSignInLink(ctx, l); err != nil {
			t.Fatalf("CreateSignInLink: %v", err)
		}
		wantErr(t, "CreateSignInLink twice", s.CreateSignInLink(ctx, l), incident.ErrConflict)
		const takers = 8
		var wg sync.WaitGroup
		got := make([]*incident.SignInLink, takers)
		errs := make([]error, takers)
		for i := range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = s.TakeSignInLink(ctx, l.Hash, now)
			}()
		}
		wg.Wait()
		won := 0
		for i := range takers {
			switch {
			case errs[i] == nil:
				won++
				equal(t, "taken link", got[i], l)
			default:
				wantErr(t, "a second taker", errs[i], incident.ErrNotFound)
			}
		}
		if won != 1 {
			t.Errorf("%d takers got the link, want exactly 1", won)
		}

		old := &incident.SignInLink{Hash: incident.HashToken("old"), TokenID: "tok1", TokenHash: "h", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := s.CreateSignInLink(ctx, old); err != nil {
			t.Fatal(err)
		}
		_, err := s.TakeSignInLink(ctx, old.Hash, now.Add(2*time.Minute))
		wantErr(t, "an expired link", err, incident.ErrNotFound)
	})
}

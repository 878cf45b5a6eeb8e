package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/livemsg"
	"github.com/heraldhq/herald/store/sqlite"
	"github.com/heraldhq/herald/store/storetest"
	"github.com/heraldhq/herald/surveys"
)

func open(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) incident.Store {
		return open(t, filepath.Join(t.TempDir(), "herald.db"))
	})
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	db := open(t, path)
	first, err := db.Migrations(ctx)
	if err != nil || len(first) == 0 {
		t.Fatalf("Migrations = %v, %v; want some", first, err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	page := &incident.Page{ID: "p1", Name: "Acme", URL: "https://status.acme.test", TimeZone: "Etc/UTC", Languages: []string{"en"}, Hosts: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		db := open(t, path)
		got, err := db.FindPageByID(ctx, "p1")
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		if got.Name != "Acme" || !got.CreatedAt.Equal(now) {
			t.Errorf("reopen %d: page = %+v", i, got)
		}
		again, err := db.Migrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != len(first) {
			t.Errorf("reopen %d: migrations = %v, want %v (re-running must be a no-op)", i, again, first)
		}
		var mode string
		if err := db.SQL().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v; want wal", mode, err)
		}
		var fk int
		if err := db.ReadSQL().QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
			t.Errorf("foreign_keys on a reader = %d, %v; want 1", fk, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRejectsMemory(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:"} {
		if db, err := sqlite.Open(context.Background(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded; want an error (readers and writer would see different databases)", path)
		}
	}
}

func TestNotifyStore(t *testing.T) {
	storetest.RunNotify(t, func(t *testing.T) (incident.Store, storetest.Pipeline) {
		db := open(t, filepath.Join(t.TempDir(), "herald.db"))
		return db, db
	})
}

func TestComplaintStore(t *testing.T) {
	storetest.RunComplaints(t, func(t *testing.T) (incident.Store, complaint.Store, audience.Store) {
		db := open(t, filepath.Join(t.TempDir(), "herald.db"))
		return db, db, db
	})
}

func TestCompensationStore(t *testing.T) {
	storetest.RunCompensation(t, func(t *testing.T) (incident.Store, compensation.Store) {
		db := open(t, filepath.Join(t.TempDir(), "herald.db"))
		return db, db
	})
}

func TestLiveMessageStore(t *testing.T) {
	storetest.RunLiveMessages(t, func(t *testing.T) livemsg.Store {
		db := open(t, filepath.Join(t.TempDir(), "herald.db"))
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestSurveyStore(t *testing.T) {
	storetest.RunSurveys(t, func(t *testing.T) (incident.Store, surveys.Store) {
		db := open(t, filepath.Join(t.TempDir(), "herald.db"))
		return db, db
	})
}

func TestCustomerNames(t *testing.T) {
	storetest.RunCustomerNames(t, func(t *testing.T) audience.Store {
		return open(t, filepath.Join(t.TempDir(), "herald.db"))
	})
}

// TestDefaultPageTwoProcesses opens one empty file twice, as two herald
// processes starting at once would, and races EnsureDefaultPage across
// both handles: one page only. The race is lost only now and then, so it
// runs on twenty fresh files.
func TestDefaultPageTwoProcesses(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("herald%d.db", round))
		a, b := open(t, path), open(t, path)
		storetest.RunDefaultPageRace(t, a, b)
		for _, db := range []*sqlite.DB{a, b} {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

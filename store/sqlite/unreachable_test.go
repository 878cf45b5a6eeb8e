package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/store/sqlite"
)

// TestBusyIsUnreachable: a write that finds the file locked by another
// process past busy_timeout fails with an error the store calls
// unreachable (503 at the front doors, try again), while its other errors
// are not. The lock is held by a second connection in BEGIN IMMEDIATE, as
// another herald process on the same file would.
func TestBusyIsUnreachable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "ROLLBACK") //nolint:errcheck

	err = db.ProbeWrite(ctx) // waits busy_timeout, then gives up
	if err == nil {
		t.Fatal("a write went through another connection's write lock")
	}
	svc := incident.NewService(db, nil, nil)
	if !svc.Unreachable(err) {
		t.Errorf("the busy file's %v is not unreachable", err)
	}
	if svc.Unreachable(errors.New("sqlite: constraint failed")) {
		t.Error("a plain error is unreachable")
	}
}

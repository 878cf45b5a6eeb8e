package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
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

// TestFullDiskIsUnreachable: a write the disk has no room for
// (SQLITE_FULL; here the file capped at its current size) is refused with
// an error the store calls unreachable, 503 with Retry-After at the front
// doors rather than 500: nothing was changed, and a later try gets
// through once there is room.
func TestFullDiskIsUnreachable(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := incident.NewService(db, nil, nil)
	name, url := "Acme", "https://status.acme.test"
	page, err := svc.CreatePage(ctx, incident.PageInput{Name: &name, URL: &url})
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlite.SetMaxPageCount(db, 1); err != nil { // the size it has now
		t.Fatal(err)
	}
	desc := strings.Repeat("a long description ", 50)
	for i := 0; i < 10000; i++ {
		n := fmt.Sprintf("Component %d", i)
		if _, err = svc.CreateComponent(ctx, page.ID, incident.ComponentInput{Name: &n, Description: &desc}); err != nil {
			break
		}
	}
	if err == nil {
		t.Fatal("10 000 components fitted in a file capped at its size")
	}
	if !strings.Contains(err.Error(), "full") || !svc.Unreachable(err) {
		t.Errorf("the full file's error %v: want one the store calls unreachable", err)
	}
}

// TestProbeWriteWantsFreeSpace: the write probe fails, naming the free
// space, when the file system has less than the store keeps for writes
// (on a full disk its one row still fitted the WAL while real writes
// failed), and passes when it has enough.
func TestProbeWriteWantsFreeSpace(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.ProbeWrite(ctx); err != nil {
		t.Fatalf("the probe on a roomy disk: %v", err)
	}
	sqlite.SetMinFree(db, 1<<62)
	if err := db.ProbeWrite(ctx); err == nil || !strings.Contains(err.Error(), "bytes free") {
		t.Errorf("the probe with less free space than it wants: %v; want it refused naming the free space", err)
	}
}

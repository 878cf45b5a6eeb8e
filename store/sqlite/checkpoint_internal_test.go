package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// TestCheckpointer: the checkpointer copies the log back without the
// writer: after a tick every frame of the log is in the database file.
func TestCheckpointer(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := range 50 {
		p := &incident.Page{ID: "p" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Name: "Page", URL: "https://s.test", TimeZone: "Etc/UTC", CreatedAt: now, UpdatedAt: now}
		if err := db.Commit(ctx, &incident.Change{Pages: []*incident.Page{p}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * CheckpointEvery)
	for {
		if last := db.ckptLast.Load(); last != nil && last[0] > 0 && last[0] == last[1] {
			break // the whole log copied
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the checkpointer reports %v (frames in the log, copied)", 5*CheckpointEvery, db.ckptLast.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

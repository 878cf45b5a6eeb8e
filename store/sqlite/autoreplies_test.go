package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestAutoRepliesAcrossRestart: the count of an address's automatic
// answers is in the file, not the process: after a restart the address
// that had its answers still gets no more within the window.
func TestAutoRepliesAcrossRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	const key, window, max = "email:anna@example.org", 24 * time.Hour, 2
	db := open(t, path)
	for i := range max {
		if ok, err := db.TakeAutoReply(ctx, key, fmt.Sprintf("a%d", i), now, window, max); err != nil || !ok {
			t.Fatalf("answer %d: %v, %v; want taken", i, ok, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	defer db.Close()
	if ok, err := db.TakeAutoReply(ctx, key, "a2", now.Add(time.Hour), window, max); err != nil || ok {
		t.Errorf("after a restart: %v, %v; want refused (%d answers within %s)", ok, err, max, window)
	}
	if ok, err := db.TakeAutoReply(ctx, key, "a3", now.Add(window), window, max); err != nil || !ok {
		t.Errorf("a window later: %v, %v; want taken", ok, err)
	}
}

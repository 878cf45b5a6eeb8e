package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// fileBefore writes a store file as a herald from before migration
// version left it: every migration below version applied, none from it
// on. It returns the file's path and a connection to it, for the test to
// put old rows in before it closes it and opens the file with Open.
func fileBefore(t *testing.T, version int) (string, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	old := &DB{w: w}
	if _, err := w.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
		applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	migs, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		if m.version < version {
			if err := old.applyMigration(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	return path, w
}

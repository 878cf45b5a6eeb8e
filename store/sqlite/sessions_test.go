package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/store/storetest"
)

func TestSessionStore(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) incident.SessionStore {
		db := open(t, filepath.Join(t.TempDir(), "herald.db"))
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}

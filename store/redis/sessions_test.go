package redis

import (
	"testing"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/store/storetest"
)

func TestSessionStore(t *testing.T) {
	needRedis(t)
	storetest.RunSessions(t, func(t *testing.T) incident.SessionStore {
		db := openTest(t, testPrefix(t))
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}

// Package enginetest opens herald's real engines for tests of the packages
// above them (notify, complaint): SQLite in a temporary file, and Redis at
// 127.0.0.1:6379 under a fresh key prefix that is deleted afterwards. Our
// own store is never mocked; a test runs against both.
//
// Redis tests skip with a loud message when no Redis answers, and fail
// instead when CI=true, so CI cannot pass by skipping them.
package enginetest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/store/redis"
	"github.com/heraldhq/herald/store/sqlite"
)

// RedisURL is the Redis the tests use: HERALD_TEST_REDIS_URL, else DB 0
// of 127.0.0.1:6379 (engineers who share a Redis each take a DB of
// their own).
var RedisURL = cmp.Or(os.Getenv("HERALD_TEST_REDIS_URL"), "redis://127.0.0.1:6379/0")

// SQLite opens a fresh SQLite store for t, closed when t ends.
func SQLite(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Redis opens the test Redis for t under a fresh prefix starting with
// name; when t ends the prefix's keys are deleted and the store closed.
func Redis(t testing.TB, name string) *redis.DB {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := name + hex.EncodeToString(b)
	db, err := redis.Open(ctx, RedisURL, redis.WithPrefix(prefix))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis at 127.0.0.1:6379: %v", err)
		}
		t.Skipf("!!! SKIPPING: no Redis at 127.0.0.1:6379 (%v)", err)
	}
	t.Cleanup(func() {
		c := db.Client()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		db.Close()
	})
	return db
}

package redis

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/store/redis/redistest"
	"github.com/heraldhq/herald/store/storetest"
	"github.com/heraldhq/herald/surveys"
)

// TestRealCluster runs every conformance suite against a real three-master
// Redis Cluster opened from a redis-cluster:// address, as `herald serve
// --redis-cluster` opens it: a multi-key step that crossed hash slots
// would fail here with CROSSSLOT, which the single-Redis runs cannot see.
func TestRealCluster(t *testing.T) {
	url := redistest.StartCluster(t).URL()
	open := func(t *testing.T) *DB {
		db, err := Open(context.Background(), url, WithPrefix("heraldtest-"+strings.ToLower(strconv.FormatInt(time.Now().UnixNano(), 36))))
		if err != nil {
			t.Fatalf("Open(%s): %v", url, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if !db.perSlot {
			t.Fatal("a redis-cluster:// address opened a store that is not in per-slot mode")
		}
		return db
	}
	t.Run("store", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) incident.Store { return open(t) })
	})
	t.Run("notify", func(t *testing.T) {
		storetest.RunNotify(t, func(t *testing.T) (incident.Store, storetest.Pipeline) { db := open(t); return db, db })
	})
	t.Run("complaints", func(t *testing.T) {
		storetest.RunComplaints(t, func(t *testing.T) (incident.Store, complaint.Store, audience.Store) { db := open(t); return db, db, db })
	})
	t.Run("compensation", func(t *testing.T) {
		storetest.RunCompensation(t, func(t *testing.T) (incident.Store, compensation.Store) { db := open(t); return db, db })
	})
	t.Run("surveys", func(t *testing.T) {
		storetest.RunSurveys(t, func(t *testing.T) (incident.Store, surveys.Store) { db := open(t); return db, db })
	})
}

// TestSentinelFailover opens the store from a redis-sentinel:// address,
// kills the master with SIGKILL, and checks that the same store, without
// reopening, writes again once the Sentinel has promoted the replica, and
// still has what was written (and replicated) before.
func TestSentinelFailover(t *testing.T) {
	g := redistest.StartSentinel(t)
	ctx := context.Background()
	db, err := Open(ctx, g.URL(), WithPrefix("heraldtest-failover"))
	if err != nil {
		t.Fatalf("Open(%s): %v", g.URL(), err)
	}
	defer db.Close()
	page := func(id string) *incident.Page {
		now := time.Now().UTC().Truncate(time.Millisecond)
		return &incident.Page{ID: id, Name: "Page " + id, URL: "https://status.example.com", TimeZone: "Etc/UTC", Languages: []string{"en"}, CreatedAt: now, UpdatedAt: now}
	}
	if err := db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page("before")}}); err != nil {
		t.Fatalf("commit before the failover: %v", err)
	}
	// Replication is asynchronous: wait until the replica has the write,
	// as a production deployment bounds its loss with min-replicas-to-write.
	if n, err := db.client.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT for the replica: %d, %v", n, err)
	}

	g.Master.Kill()

	deadline := time.Now().Add(30 * time.Second)
	var lastErr error
	for {
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		lastErr = db.Commit(cctx, &incident.Change{Pages: []*incident.Page{page("after")}})
		cancel()
		if lastErr == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write within 30 s of the master's death: %v\nsentinel log:\n%s", lastErr, g.Sentinel.Log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The writes went to the promoted replica, and it has both pages.
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: g.Sentinel.Addr()})
	defer sc.Close()
	addr, err := sc.GetMasterAddrByName(ctx, g.Name).Result()
	if err != nil || net.JoinHostPort(addr[0], addr[1]) != g.Replica.Addr() {
		t.Fatalf("master after the failover: %v, %v; want the replica %s", addr, err, g.Replica.Addr())
	}
	for _, id := range []string{"before", "after"} {
		if p, err := db.FindPageByID(ctx, id); err != nil || p.ID != id {
			t.Errorf("page %q after the failover: %v, %v", id, p, err)
		}
	}
}

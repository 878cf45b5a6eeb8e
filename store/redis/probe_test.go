package redis

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// TestProbeWriteReadOnly runs a Redis of its own (the shared one must
// stay writable for the other tests) and turns it into a read-only replica
// of a master that is not there: Ping still answers, ProbeWrite must not.
func TestProbeWriteReadOnly(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is not installed (CI=true, so this fails): %v", err)
		}
		t.Skip("redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "redis://127.0.0.1:" + port + "/0"
	ctx := context.Background()
	admin := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + port})
	defer admin.Close()
	for deadline := time.Now().Add(10 * time.Second); admin.Ping(ctx).Err() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("the private redis-server never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	db, err := Open(ctx, url, WithPrefix("probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.ProbeWrite(ctx); err != nil {
		t.Fatalf("ProbeWrite on a writable Redis: %v", err)
	}
	// A closed port as the master: the replica never syncs and stays read-only.
	if err := admin.Do(ctx, "REPLICAOF", "127.0.0.1", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping on a read-only replica: %v", err)
	}
	err = db.ProbeWrite(ctx)
	if err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Fatalf("ProbeWrite on a read-only replica = %v, want a READONLY error", err)
	}
	if err := admin.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := db.ProbeWrite(ctx); err != nil {
		t.Fatalf("ProbeWrite once writable again: %v", err)
	}
}

// TestProbeWriteSeesLostData: a Redis that lost herald's data (restarted
// without persistence, flushed) still answers and takes the probe's write,
// but the probe must fail, saying so: every page and token is gone.
func TestProbeWriteSeesLostData(t *testing.T) {
	needRedis(t)
	db := openTest(t, testPrefix(t))
	defer db.Close()
	ctx := context.Background()
	if err := db.ProbeWrite(ctx); err != nil {
		t.Fatalf("ProbeWrite on a store just opened: %v", err)
	}
	if err := db.client.Del(ctx, db.keys.upgrades()).Err(); err != nil { // as a restart without data leaves it
		t.Fatal(err)
	}
	if err := db.ProbeWrite(ctx); err == nil || !strings.Contains(err.Error(), "data is gone") {
		t.Errorf("ProbeWrite after herald's data went: %v; want it refused, saying the data is gone", err)
	}
	if err := db.Upgrade(ctx); err != nil { // a restart of herald starts afresh
		t.Fatal(err)
	}
	if err := db.ProbeWrite(ctx); err != nil {
		t.Errorf("ProbeWrite once herald started afresh: %v", err)
	}
}

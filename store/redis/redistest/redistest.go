// Package redistest starts real Redis topologies for tests: a three-master
// Cluster and a Sentinel group, each from the redis-server binary on
// loopback ports of its own, in a temporary directory, killed when the test
// ends. .ci/run installs redis-server (with redis-cli) when it is missing;
// under CI=true a missing binary fails the test instead of skipping it.
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// NeedBinaries returns the paths of redis-server and redis-cli.
func NeedBinaries(t testing.TB) (server, cli string) {
	t.Helper()
	server, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server and redis-cli are needed (CI=true, so this fails): %v %v", err1, err2)
		}
		t.Skipf("SKIPPING: redis-server or redis-cli not installed (%v %v); .ci/run installs them", err1, err2)
	}
	return server, cli
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Proc is one redis-server process started for a test.
type Proc struct {
	Port int
	Log  *syncBuffer // what the process printed
	cmd  *exec.Cmd
	dir  string
}

// syncBuffer is a bytes.Buffer safe for the process's writes and a test's
// reads at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (p *Proc) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// kill stops the process at once (SIGKILL), as a crash would.
func (p *Proc) Kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// StartProc starts redis-server with args on a fresh port and waits
// until it answers PING. sentinel runs it as a Sentinel (its config file is
// written from args, which are then config lines).
func StartProc(t testing.TB, sentinel bool, args ...string) *Proc {
	t.Helper()
	server, _ := NeedBinaries(t)
	p := &Proc{Port: FreePort(t), Log: new(syncBuffer), dir: t.TempDir()}
	var cmdArgs []string
	if sentinel {
		conf := filepath.Join(p.dir, "sentinel.conf")
		lines := append([]string{"port " + strconv.Itoa(p.Port), "bind 127.0.0.1", "dir " + p.dir}, args...)
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmdArgs = []string{conf, "--sentinel"}
	} else {
		cmdArgs = append([]string{"--port", strconv.Itoa(p.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", p.dir}, args...)
	}
	p.cmd = exec.Command(server, cmdArgs...)
	p.cmd.Stdout, p.cmd.Stderr = p.Log, p.Log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(p.Kill)
	c := goredis.NewClient(&goredis.Options{Addr: p.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server %v did not answer on %s: %v\n%s", cmdArgs, p.Addr(), err, p.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartCluster starts a three-master Redis Cluster and returns its nodes
// once every slot is served.
func StartCluster(t testing.TB) []*Proc {
	t.Helper()
	_, cli := NeedBinaries(t)
	var nodes []*Proc
	args := []string{"redis-cli", "--cluster", "create"}
	for range 3 {
		p := StartProc(t, false, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000")
		nodes = append(nodes, p)
		args = append(args, p.Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node agrees the cluster is up.
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range nodes {
		c := goredis.NewClient(&goredis.Options{Addr: p.Addr()})
		for {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("cluster node %s not ok: %v\n%s", p.Addr(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return nodes
}

// ClusterURL is the redis-cluster:// address of nodes.
func ClusterURL(nodes []*Proc) string {
	var hosts []string
	for _, p := range nodes {
		hosts = append(hosts, p.Addr())
	}
	return "redis-cluster://" + strings.Join(hosts, ",")
}

// Sentinel is a master, one replica and one Sentinel watching them.
type Sentinel struct {
	Master, Replica, Sentinel *Proc
	Name                      string // the master's name
}

func (g *Sentinel) URL() string {
	return fmt.Sprintf("redis-sentinel://%s/%s", g.Sentinel.Addr(), g.Name)
}

// StartSentinel starts a sentinel group whose Sentinel decides a master is
// down after half a second, so a failover in a test takes a few seconds.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	g := &Sentinel{Name: "heraldtest"}
	g.Master = StartProc(t, false)
	g.Replica = StartProc(t, false, "--replicaof", "127.0.0.1", strconv.Itoa(g.Master.Port))
	g.Sentinel = StartProc(t, true,
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1", g.Name, g.Master.Port),
		fmt.Sprintf("sentinel down-after-milliseconds %s 500", g.Name),
		fmt.Sprintf("sentinel failover-timeout %s 5000", g.Name),
		fmt.Sprintf("sentinel parallel-syncs %s 1", g.Name),
	)
	// Wait until the replica has synced, so a failover has a candidate.
	c := goredis.NewClient(&goredis.Options{Addr: g.Replica.Addr()})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := c.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica did not sync: %v\n%s", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pause stops the process (SIGSTOP) without killing it: it holds its
// connections and answers nothing until Resume, as a hung server does.
func (p *Proc) Pause() error { return p.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (p *Proc) Resume() error { return p.cmd.Process.Signal(syscall.SIGCONT) }

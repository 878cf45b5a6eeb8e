// Package redistest starts real Redis topologies on loopback: a
// three-master Cluster and a Sentinel group, each from the redis-server
// binary on ports of its own, in a directory of its own. Tests use the
// Start* wrappers, which kill the processes when the test ends; the bench
// tool's chaos run uses New* and closes them itself. .ci/run installs
// redis-server (with redis-cli) when it is missing; under CI=true a test
// without the binaries fails instead of skipping.
package redistest

import (
	"bytes"
	"context"
	"errors"
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

// Binaries returns the paths of redis-server and redis-cli.
func Binaries() (server, cli string, err error) {
	server, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err := errors.Join(err1, err2); err != nil {
		return "", "", fmt.Errorf("redis-server and redis-cli are needed (.ci/run installs them): %w", err)
	}
	return server, cli, nil
}

// NeedBinaries skips t (fails it under CI=true) without redis-server and
// redis-cli.
func NeedBinaries(t testing.TB) {
	t.Helper()
	if _, _, err := Binaries(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true, so this fails: %v", err)
		}
		t.Skipf("SKIPPING: %v", err)
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Proc is one redis-server process.
type Proc struct {
	Port int
	Log  *Output // what the process printed
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd // nil while stopped
}

// Output is a buffer safe for a process's writes and a reader at once.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Addr is the process's host:port.
func (p *Proc) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// Kill stops the process at once (SIGKILL), as a crash would; a second
// Kill does nothing.
func (p *Proc) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a paused process must run to die
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}

// Stop shuts the process down as an operator's `systemctl stop` does
// (SIGTERM): Redis writes out what it persists and exits. Start runs it
// again on the same port and directory.
func (p *Proc) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	err := p.cmd.Wait()
	p.cmd = nil
	if err != nil {
		return fmt.Errorf("redis-server on %s: %w\n%s", p.Addr(), err, p.Log)
	}
	return nil
}

// Start runs a stopped (or killed) process again with the same arguments,
// on the same port, and waits until it answers PING.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("redis-server on %s is running", p.Addr())
	}
	return p.start()
}

// Pause stops the process (SIGSTOP) without killing it: it holds its
// connections and answers nothing until Resume, as a hung server does.
func (p *Proc) Pause() error { return p.signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (p *Proc) Resume() error { return p.signal(syscall.SIGCONT) }

func (p *Proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return fmt.Errorf("redis-server on %s is not running", p.Addr())
	}
	return p.cmd.Process.Signal(sig)
}

// NewProc starts redis-server in dir with args on a fresh port and waits
// until it answers PING. sentinel runs it as a Sentinel (its config file is
// written from args, which are then config lines).
func NewProc(dir string, sentinel bool, args ...string) (*Proc, error) {
	server, _, err := Binaries()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir = filepath.Join(dir, strconv.Itoa(port))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	p := &Proc{Port: port, Log: new(Output)}
	var cmdArgs []string
	if sentinel {
		conf := filepath.Join(dir, "sentinel.conf")
		lines := append([]string{"port " + strconv.Itoa(port), "bind 127.0.0.1", "dir " + dir}, args...)
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
		cmdArgs = []string{conf, "--sentinel"}
	} else {
		cmdArgs = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}, args...)
	}
	p.args = append([]string{server}, cmdArgs...)
	if err := p.start(); err != nil {
		return nil, err
	}
	return p, nil
}

// start runs p.args and waits until the server answers PING; p.mu is held
// (or p not yet shared).
func (p *Proc) start() error {
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: p.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			p.cmd = cmd
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("redis-server %v did not answer on %s: %v\n%s", p.args[1:], p.Addr(), err, p.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Cluster is a three-master Redis Cluster.
type Cluster struct{ Masters []*Proc }

// URL is the cluster's redis-cluster:// address.
func (c *Cluster) URL() string {
	var hosts []string
	for _, p := range c.Masters {
		hosts = append(hosts, p.Addr())
	}
	return "redis-cluster://" + strings.Join(hosts, ",")
}

// Close kills every process.
func (c *Cluster) Close() {
	for _, p := range c.Masters {
		p.Kill()
	}
}

// NewCluster starts a three-master Redis Cluster under dir and returns it
// once every node says every slot is served.
func NewCluster(dir string) (_ *Cluster, err error) {
	_, cli, err := Binaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	args := []string{"--cluster", "create"}
	for range 3 {
		// A node is failed after 2 s unreachable; a test pausing one for
		// longer sees the cluster refuse writes to its slots meanwhile.
		p, err := NewProc(dir, false, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000")
		if err != nil {
			return nil, err
		}
		c.Masters = append(c.Masters, p)
		args = append(args, p.Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range c.Masters {
		rc := goredis.NewClient(&goredis.Options{Addr: p.Addr()})
		for {
			info, err := rc.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				rc.Close()
				return nil, fmt.Errorf("cluster node %s not ok: %v\n%s", p.Addr(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rc.Close()
	}
	return c, nil
}

// Sentinel is a master, one replica and one Sentinel watching them.
type Sentinel struct {
	Master, Replica, Sentinel *Proc
	Name                      string // the master's name
}

// URL is the group's redis-sentinel:// address.
func (g *Sentinel) URL() string {
	return fmt.Sprintf("redis-sentinel://%s/%s", g.Sentinel.Addr(), g.Name)
}

// Close kills every process.
func (g *Sentinel) Close() {
	for _, p := range []*Proc{g.Sentinel, g.Replica, g.Master} {
		if p != nil {
			p.Kill()
		}
	}
}

// NewSentinel starts a Sentinel group under dir whose Sentinel decides a
// master is down after 1.5 s without an answer, so a failover takes a few
// seconds, and a test on a loaded machine is not failed over by mistake.
func NewSentinel(dir string) (*Sentinel, error) { return NewSentinelAfter(dir, 1500*time.Millisecond) }

// NewSentinelAfter is NewSentinel with the Sentinel's down-after-milliseconds:
// on a loaded machine half a second without an answer can be load, not a
// death, and a run that must not fail over by mistake waits longer.
func NewSentinelAfter(dir string, downAfter time.Duration) (_ *Sentinel, err error) {
	g := &Sentinel{Name: "heraldtest"}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	if g.Master, err = NewProc(dir, false); err != nil {
		return nil, err
	}
	if g.Replica, err = NewProc(dir, false, "--replicaof", "127.0.0.1", strconv.Itoa(g.Master.Port)); err != nil {
		return nil, err
	}
	g.Sentinel, err = NewProc(dir, true,
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1", g.Name, g.Master.Port),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", g.Name, downAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", g.Name, max(5000, 10*downAfter.Milliseconds())),
		fmt.Sprintf("sentinel parallel-syncs %s 1", g.Name),
	)
	if err != nil {
		return nil, err
	}
	// Wait until the replica has synced, so a failover has a candidate.
	c := goredis.NewClient(&goredis.Options{Addr: g.Replica.Addr()})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := c.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return g, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("replica did not sync: %v\n%s", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartCluster is NewCluster for a test: killed when it ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	NeedBinaries(t)
	c, err := NewCluster(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// StartSentinel is NewSentinel for a test: killed when it ends.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	NeedBinaries(t)
	g, err := NewSentinel(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

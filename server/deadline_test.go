package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// countingConn counts the deadlines that reach it and keeps the last.
type countingConn struct {
	net.Conn
	mu          sync.Mutex
	reads       int
	writes      int
	lastRead    time.Time
	lastWriteDL time.Time
}

func (c *countingConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.reads++
	c.lastRead = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writes++
	c.lastWriteDL = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func pipeConns(t *testing.T) (*deadlineConn, *countingConn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	cc := &countingConn{Conn: a}
	return &deadlineConn{Conn: cc}, cc, b
}

// TestLazyDeadlineKeepAlive replays what a keep-alive connection goes
// through for each request (awaited under the idle timeout, read under the
// read timeout once begun, answered under the write timeout) a thousand
// times: the socket is given a deadline about once a grain, not three
// times a request, and a request that arrives in pieces is still read
// under the read timeout.
func TestLazyDeadlineKeepAlive(t *testing.T) {
	dc, cc, peer := pipeConns(t)
	limits := connTimeouts{read: 30 * time.Second, write: 30 * time.Second, idle: 120 * time.Second}
	dc.limits = &limits
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := peer.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
				return
			}
			if _, err := peer.Read(buf); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64)
	const n = 1000
	start := time.Now()
	connPhase(dc, fasthttp.StateActive) // the first request
	for range n {
		if _, err := dc.Read(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := dc.Write([]byte("HTTP/1.1 200 OK\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		connPhase(dc, fasthttp.StateIdle)
		connPhase(dc, fasthttp.StateActive) // the next request's first bytes
	}
	// One deadline per grain crossed, and one more for the first (the
	// coarse clock may cross one more grain than the run did).
	limit := int(time.Since(start)/deadlineGrain) + 3
	cc.mu.Lock()
	reads, writes := cc.reads, cc.writes
	cc.mu.Unlock()
	if reads > limit || writes > limit {
		t.Fatalf("%d requests gave the socket %d read and %d write deadlines, want at most %d each", n, reads, writes, limit)
	}
	if reads == 0 || writes == 0 {
		t.Fatalf("no deadline reached the socket (%d reads, %d writes)", reads, writes)
	}

	// A request in pieces: the read that waits for the rest does so under
	// the read timeout (30 s), not the idle one (120 s).
	connPhase(dc, fasthttp.StateIdle)
	connPhase(dc, fasthttp.StateActive)
	readDL := time.Now().Add(limits.read)
	if _, err := dc.Read(buf); err != nil {
		t.Fatal(err)
	}
	cc.mu.Lock()
	got := cc.lastRead
	cc.mu.Unlock()
	if got.Before(readDL.Add(-time.Second)) || got.Sub(readDL) > deadlineGrain+clockTick+time.Second {
		t.Fatalf("the read waited under the deadline %v, want about %v (the read timeout from now)", got, readDL)
	}
}

// TestLazyDeadlineExpires: a deadline that passes while nothing arrives
// ends the read with a timeout, at most a grain late.
func TestLazyDeadlineExpires(t *testing.T) {
	dc, _, _ := pipeConns(t)
	if err := dc.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := dc.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v, want a timeout", err)
	}
}

// TestLazyDeadlineWhileReading: a deadline set while a Read waits reaches
// the socket at once and ends the wait, as net.Conn promises (a
// deadline kept only for the next Read would leave this one waiting).
func TestLazyDeadlineWhileReading(t *testing.T) {
	dc, _, _ := pipeConns(t)
	done := make(chan error, 1)
	reading := make(chan struct{})
	go func() {
		close(reading)
		_, err := dc.Read(make([]byte, 1))
		done <- err
	}()
	// Usually the read waits by now; if not, it begins under the deadline
	// below, which must end it as well.
	<-reading
	if err := dc.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting read did not end at its deadline")
	}
}

// TestRoundDeadline: up to the grain, never "none" for a time given.
func TestRoundDeadline(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		in   time.Time
		want int64
	}{
		{time.Time{}, 0},
		{base, base.UnixNano()},
		{base.Add(time.Nanosecond), base.Add(deadlineGrain).UnixNano()},
		{base.Add(deadlineGrain - 1), base.Add(deadlineGrain).UnixNano()},
		{time.Unix(0, 0), 1},
	} {
		if got := roundDeadline(c.in); got != c.want {
			t.Errorf("roundDeadline(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestServerTimeoutsCut: with the guard's lazy deadlines, herald's
// timeouts still end what they are for, each at most a grain late: a
// first request that never ends (read timeout), a keep-alive connection
// left idle after an answer (idle timeout), and a second request on it
// that stops half-way (read timeout, not the much longer idle one).
func TestServerTimeoutsCut(t *testing.T) {
	const get = "GET / HTTP/1.1\r\nHost: status.example.com\r\n\r\n"
	serve := func(t *testing.T, read, idle time.Duration) string {
		e := newEnv(t, func(c *Config) { c.ReadTimeout, c.IdleTimeout = read, idle })
		e.serve(t)
		return strings.TrimPrefix(e.base, "http://")
	}
	dial := func(t *testing.T, addr, send string) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write([]byte(send)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// closedWithin reads c until the server closes it, and fails if that
	// takes longer than limit.
	closedWithin := func(t *testing.T, c net.Conn, limit time.Duration, what string) []byte {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(limit))
		b, err := io.ReadAll(c)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("%s: the server kept the connection open: %v", what, err)
		}
		return b
	}

	// Read timeout 0.2 s, idle timeout 30 s: closed within 5 s can only
	// be the read timeout.
	addr := serve(t, 200*time.Millisecond, 30*time.Second)
	t.Run("first request never ends", func(t *testing.T) {
		c := dial(t, addr, "GET / HTTP/1.1\r\nHost: status")
		closedWithin(t, c, 5*time.Second, "half a first request")
	})
	t.Run("second request stops half-way", func(t *testing.T) {
		// The first answer is read whole before the second request
		// begins, so the server waits for it under the idle timeout and
		// must shorten that to the read timeout when it begins.
		c := dial(t, addr, get)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("first answer: %d, %v", resp.StatusCode, err)
		}
		time.Sleep(50 * time.Millisecond) // the server waits for the next request
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: sta")); err != nil {
			t.Fatal(err)
		}
		closedWithin(t, c, 5*time.Second, "a keep-alive connection with half a request")
	})
	t.Run("idle after an answer", func(t *testing.T) {
		c := dial(t, serve(t, 200*time.Millisecond, 400*time.Millisecond), get)
		b := closedWithin(t, c, 5*time.Second, "an idle keep-alive connection")
		if !bytes.HasPrefix(b, []byte("HTTP/1.1 200 OK")) {
			t.Fatalf("answer %q, want 200 before the close", b)
		}
	})
}

// TestConnKeepsTimeouts: a connection with herald's timeouts sets the
// deadlines fasthttp would have set, from fasthttp's ConnState: the read
// timeout once a request has begun, the idle timeout once it is
// answered, the write timeout at an answer's first write; a deadline a
// handler sets itself (a stream's) stands for the rest of that answer.
func TestConnKeepsTimeouts(t *testing.T) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	cc := &countingConn{Conn: a}
	limits := connTimeouts{read: 30 * time.Second, write: 20 * time.Second, idle: 120 * time.Second}
	dc := &deadlineConn{Conn: cc, limits: &limits}
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
			if _, err := b.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
				return
			}
		}
	}()
	// near reports whether the socket's last deadline in that direction
	// is d from now, as the connection rounds it.
	near := func(got time.Time, d time.Duration) bool {
		want := time.Now().Add(d)
		return !got.Before(want.Add(-time.Second)) && got.Sub(want) <= deadlineGrain+2*clockTick+time.Second
	}
	buf := make([]byte, 64)

	connPhase(dc, fasthttp.StateActive)
	if _, err := dc.Write([]byte("x")); err != nil { // the first answer's first write
		t.Fatal(err)
	}
	cc.mu.Lock()
	if !near(cc.lastWriteDL, limits.write) {
		t.Errorf("the answer was written under the deadline %v, want the write timeout from now", cc.lastWriteDL)
	}
	cc.mu.Unlock()
	stream := time.Now().Add(time.Hour)
	if err := dc.SetWriteDeadline(stream); err != nil { // a stream pushes its deadline on
		t.Fatal(err)
	}
	if _, err := dc.Read(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	cc.mu.Lock()
	if !near(cc.lastWriteDL, time.Hour) {
		t.Errorf("the stream's next write was under %v, want the deadline it set (an hour)", cc.lastWriteDL)
	}
	cc.mu.Unlock()

	connPhase(dc, fasthttp.StateIdle) // answered: waiting for the next request
	if _, err := dc.Read(buf); err != nil {
		t.Fatal(err)
	}
	cc.mu.Lock()
	if !near(cc.lastRead, limits.idle) {
		t.Errorf("the next request was awaited under %v, want the idle timeout from now", cc.lastRead)
	}
	cc.mu.Unlock()

	connPhase(dc, fasthttp.StateActive) // its first bytes are in
	if _, err := dc.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Read(buf); err != nil {
		t.Fatal(err)
	}
	cc.mu.Lock()
	if !near(cc.lastRead, limits.read) {
		t.Errorf("the rest of the request was read under %v, want the read timeout from now", cc.lastRead)
	}
	if !near(cc.lastWriteDL, limits.write) {
		t.Errorf("the next answer was written under %v, want the write timeout again, not the stream's", cc.lastWriteDL)
	}
	cc.mu.Unlock()
}

// TestConnWriteTimeoutCuts: a client that stops reading an answer is cut
// off at the write timeout, which fasthttp no longer sets.
func TestConnWriteTimeoutCuts(t *testing.T) {
	a, b := net.Pipe() // nobody reads b
	t.Cleanup(func() { a.Close(); b.Close() })
	dc := &deadlineConn{Conn: a, limits: &connTimeouts{read: time.Minute, write: 100 * time.Millisecond, idle: time.Minute}}
	connPhase(dc, fasthttp.StateActive)
	done := make(chan error, 1)
	go func() {
		_, err := dc.Write([]byte("HTTP/1.1 200 OK\r\n"))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write: %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an answer nobody reads was still being written after 10 s (write timeout 100 ms)")
	}
}

// TestCoarseClock: coarseNow keeps up with the clock within a tick or so.
func TestCoarseClock(t *testing.T) {
	for range 3 {
		before := time.Now().UnixNano()
		got := coarseNow()
		if got > time.Now().UnixNano() || before-got > int64(clockTick+time.Second) {
			t.Fatalf("coarseNow %v, the clock %v", time.Unix(0, got), time.Unix(0, before))
		}
		time.Sleep(clockTick)
	}
}

// TestServerGivesFasthttpNoTimeouts: herald's timeouts are the
// connections' (TestServerTimeoutsCut), so fasthttp reads the clock for
// none (BenchmarkServeConn).
func TestServerGivesFasthttpNoTimeouts(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.ReadTimeout, c.WriteTimeout, c.IdleTimeout = time.Second, 2*time.Second, 3*time.Second
	})
	fs := e.srv.app.Server()
	if fs.ReadTimeout != 0 || fs.WriteTimeout != 0 || fs.IdleTimeout != 0 || fs.ConnState == nil {
		t.Fatalf("fasthttp has timeouts %v/%v/%v and ConnState set %v", fs.ReadTimeout, fs.WriteTimeout, fs.IdleTimeout, fs.ConnState != nil)
	}
	l := e.srv.guard(nil, 1024)
	if l.timeouts != (connTimeouts{read: time.Second, write: 2 * time.Second, idle: 3 * time.Second}) {
		t.Fatalf("the connections keep %+v", l.timeouts)
	}
}

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

// TestLazyDeadlineKeepAlive replays what fasthttp does on a keep-alive
// connection for each request (idle deadline, read, read deadline, write
// deadline, write) a thousand times: the socket is given a deadline about
// once a grain, not three times a request, and a request that arrives in
// pieces is still read under the read timeout.
func TestLazyDeadlineKeepAlive(t *testing.T) {
	dc, cc, peer := pipeConns(t)
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
	for range n {
		if err := dc.SetReadDeadline(time.Now().Add(120 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := dc.Read(buf); err != nil {
			t.Fatal(err)
		}
		if err := dc.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := dc.SetWriteDeadline(time.Now().Add(30 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := dc.Write([]byte("HTTP/1.1 200 OK\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	// One deadline per grain crossed, and one more for the first.
	limit := int(time.Since(start)/deadlineGrain) + 2
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
	readDL := time.Now().Add(30 * time.Second)
	if err := dc.SetReadDeadline(readDL); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Read(buf); err != nil {
		t.Fatal(err)
	}
	cc.mu.Lock()
	got := cc.lastRead
	cc.mu.Unlock()
	if got.Before(readDL) || got.Sub(readDL) > deadlineGrain {
		t.Fatalf("the read waited under the deadline %v, want %v rounded up to %v", got, readDL, deadlineGrain)
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
	go func() {
		_, err := dc.Read(make([]byte, 1))
		done <- err
	}()
	for dc.rd.busy.Load() == 0 {
		time.Sleep(time.Millisecond) // until the read has begun
	}
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

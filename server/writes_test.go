package server

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// writeCountingListener counts the writes made on each connection it
// accepted (each one a system call on a real socket), by the client's
// address.
type writeCountingListener struct {
	net.Listener
	mu     sync.Mutex
	writes map[string]*atomic.Int64
}

func (l *writeCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := new(atomic.Int64)
	l.mu.Lock()
	l.writes[c.RemoteAddr().String()] = n
	l.mu.Unlock()
	return &writeCountingConn{Conn: c, writes: n}, nil
}

func (l *writeCountingListener) writesTo(client net.Conn) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.writes[client.LocalAddr().String()]; n != nil {
		return n.Load()
	}
	return 0 // not accepted yet
}

type writeCountingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *writeCountingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestAnswerInOneWrite: a status page answer that fits WriteBufferSize
// leaves in one write, head and body together. With fiber's default
// buffer (4 KB) a 6 KB page took two, which cost the status page about a
// seventh of its throughput under load.
func TestAnswerInOneWrite(t *testing.T) {
	e := newEnv(t)
	letters := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte(rand.IntN(26))
		}
		return string(b)
	}
	e.site.mu.Lock()
	e.site.assets["/incidents/page6k"] = htmlAsset(letters(6000), `"p6"`)
	e.site.assets["/incidents/page20k"] = htmlAsset(letters(20000), `"p20"`)
	e.site.mu.Unlock()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &writeCountingListener{Listener: inner, writes: map[string]*atomic.Int64{}}
	e.serveOn(t, ln)

	conn, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	// get asks for path on the kept connection and returns the answer's
	// size in bytes, head and body, and the server's writes for it.
	get := func(path string) (size int, writes int64) {
		t.Helper()
		before := ln.writesTo(conn)
		// No Accept-Encoding: the body is sent as rendered, at its size.
		if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: status.example.com\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		counted := &countingReader{r: br}
		res, err := http.ReadResponse(bufio.NewReader(counted), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s: %d, %v", path, res.StatusCode, err)
		}
		if len(body) < 6000 {
			t.Fatalf("GET %s: a body of %d bytes", path, len(body))
		}
		return counted.n, ln.writesTo(conn) - before
	}

	size, writes := get("/incidents/page6k")
	if size <= 4096 || size > WriteBufferSize {
		t.Fatalf("the answer has %d bytes: the test needs one between fiber's default buffer (4096) and WriteBufferSize (%d)", size, WriteBufferSize)
	}
	if writes != 1 {
		t.Errorf("an answer of %d bytes took %d writes, want 1 (WriteBufferSize %d)", size, writes, WriteBufferSize)
	}
	// The count sees a larger answer's several writes.
	if size, writes := get("/incidents/page20k"); writes < 2 {
		t.Errorf("an answer of %d bytes took %d write, want at least 2: the listener does not count writes", size, writes)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

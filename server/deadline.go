package server

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineGrain is how late a connection's read or write timeout may
// fire: deadlines are rounded up to it.
const deadlineGrain = time.Second

// lazyDeadline is one direction (reads or writes) of a connection's
// deadline. fasthttp sets a keep-alive connection's read deadline twice
// for every request (the idle timeout, then the read timeout once the
// request begins) and its write deadline once, and each call re-arms a
// runtime timer: on the status page's small answers that cost several
// per cent of the server's throughput (herald-bench statuspage). A
// deadline matters only to a Read or Write that waits, so it is kept as
// asked (want) and given to the socket (set) just before the next one,
// if it changed; rounded up to deadlineGrain, it changes about once a
// grain on a busy connection rather than three times a request. Nearly
// every request arrives whole with the read that waited under the idle
// timeout, so the read timeout is seldom given to the socket at all; a
// request that arrives in pieces is read under it, as before.
//
// A deadline set while a Read or Write waits reaches the socket at once,
// so it still ends the wait (net.Conn's contract). Times are Unix
// nanoseconds, 0 for no deadline.
type lazyDeadline struct {
	want, set atomic.Int64
	busy      atomic.Int32 // Reads (or Writes) under way
	mu        sync.Mutex   // held to give the socket a deadline
}

// roundDeadline is t as lazyDeadline keeps it: rounded up to
// deadlineGrain, 0 for the zero time (no deadline).
func roundDeadline(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	n := t.UnixNano()
	if r := n % int64(deadlineGrain); r != 0 {
		n += int64(deadlineGrain) - r
	}
	if n == 0 {
		n = 1 // the epoch itself: a deadline long past, not "none"
	}
	return n
}

// update records a deadline; apply gives it to the socket. It does so at
// once while a Read or Write waits.
func (d *lazyDeadline) update(t time.Time, apply func(time.Time) error) error {
	d.want.Store(roundDeadline(t))
	if d.busy.Load() > 0 {
		return d.sync(apply)
	}
	return nil
}

// begin is called before a Read or Write: it gives the socket the
// deadline asked for, if the socket has another. end is called after.
func (d *lazyDeadline) begin(apply func(time.Time) error) error {
	d.busy.Add(1)
	return d.sync(apply)
}

func (d *lazyDeadline) end() { d.busy.Add(-1) }

func (d *lazyDeadline) sync(apply func(time.Time) error) error {
	if d.set.Load() == d.want.Load() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.want.Load()
	if d.set.Load() == w {
		return nil
	}
	var t time.Time
	if w != 0 {
		t = time.Unix(0, w)
	}
	if err := apply(t); err != nil {
		return err
	}
	d.set.Store(w)
	return nil
}

// deadlineConn is a net.Conn whose deadlines are lazyDeadlines.
type deadlineConn struct {
	net.Conn
	rd, wd lazyDeadline
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	defer c.rd.end()
	if err := c.rd.begin(c.Conn.SetReadDeadline); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	defer c.wd.end()
	if err := c.wd.begin(c.Conn.SetWriteDeadline); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	return c.rd.update(t, c.Conn.SetReadDeadline)
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	return c.wd.update(t, c.Conn.SetWriteDeadline)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

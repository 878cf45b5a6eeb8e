package server

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
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
	return d.updateAt(roundDeadline(t), apply)
}

// updateAt is update with the deadline already rounded.
func (d *lazyDeadline) updateAt(n int64, apply func(time.Time) error) error {
	d.want.Store(n)
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

// connTimeouts are herald's read, write and idle timeouts (Config), which
// a connection from Serve keeps itself rather than fasthttp.
//
// fasthttp, given the timeouts, reads the clock for each deadline it sets:
// three times a request on a keep-alive connection, besides the two reads
// it makes anyway. On a virtual machine's clock (kvm-clock) a read costs
// about 45 ns, and those three were about 160 ns of the 1.3 µs fasthttp
// and herald spend on a status page request (BenchmarkServeConn). So
// fasthttp is given none, and the connection sets the same deadlines from
// fasthttp's own account of where a request is (its ConnState hook,
// Server.connPhase) with a clock read once a tick (coarseNow):
//
//   - when a request's first bytes are in (StateActive, as fasthttp's
//     ReadTimeout): the rest of it, body included, within read;
//   - when its answer has been written (StateIdle, as IdleTimeout): the
//     next request's first bytes within idle;
//   - at the answer's first write (as WriteTimeout, which fasthttp sets
//     after the handler): the answer within write.
//
// A deadline a handler sets itself (an import's body, an event stream)
// stands until the next of those.
type connTimeouts struct {
	read, write, idle time.Duration
}

// clockTick is how often coarseNow's clock is read.
const clockTick = 100 * time.Millisecond

var (
	clockOnce sync.Once
	clockNow  atomic.Int64 // Unix nanoseconds, at most about a tick old
)

// coarseNow is the time in Unix nanoseconds as of the last tick: a load,
// where time.Now reads the clock.
func coarseNow() int64 {
	clockOnce.Do(func() {
		clockNow.Store(time.Now().UnixNano())
		go func() {
			for t := range time.NewTicker(clockTick).C {
				clockNow.Store(t.UnixNano())
			}
		}()
	})
	return clockNow.Load()
}

// deadlineIn is a deadline d from now as lazyDeadline keeps it: from the
// coarse clock plus a tick, rounded up to deadlineGrain, so never early
// by more than the ticker's own lateness, and at most a grain and a tick
// late.
func deadlineIn(d time.Duration) int64 {
	return roundDeadline(time.Unix(0, coarseNow()+int64(clockTick+d)))
}

// deadlineConn is a net.Conn whose deadlines are lazyDeadlines, and which
// keeps herald's timeouts itself when it has them (connTimeouts).
type deadlineConn struct {
	net.Conn
	rd, wd lazyDeadline
	// limits are the timeouts this connection keeps; nil: none but the
	// deadlines set on it.
	limits *connTimeouts
	// answering: the answer being written has its write deadline.
	answering atomic.Bool
}

// phase is fasthttp's ConnState for this connection: where the request
// it serves is, and so which timeout applies (connTimeouts).
func (c *deadlineConn) phase(state fasthttp.ConnState) {
	if c.limits == nil {
		return
	}
	switch state {
	case fasthttp.StateActive:
		c.answering.Store(false)
		_ = c.rd.updateAt(deadlineIn(c.limits.read), c.Conn.SetReadDeadline)
	case fasthttp.StateIdle:
		c.answering.Store(false)
		_ = c.rd.updateAt(deadlineIn(c.limits.idle), c.Conn.SetReadDeadline)
	}
}

// phased is a connection that keeps its timeouts by fasthttp's
// ConnState (deadlineConn, and guardedConn through it).
type phased interface{ phase(fasthttp.ConnState) }

// connPhase is the fasthttp server's ConnState hook.
func connPhase(nc net.Conn, state fasthttp.ConnState) {
	if c, ok := nc.(phased); ok {
		c.phase(state)
	}
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	defer c.rd.end()
	if err := c.rd.begin(c.Conn.SetReadDeadline); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	if c.limits != nil && !c.answering.Load() {
		// An answer's first write: the answer within the write timeout.
		c.answering.Store(true)
		c.wd.want.Store(deadlineIn(c.limits.write))
	}
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

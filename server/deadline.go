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
// deadline. The connection's own timeouts (connTimeouts) change the
// deadline wanted two or three times a request: the idle timeout while
// the next request is awaited, the read timeout once it has begun, the
// write timeout for its answer; each given to the socket would re-arm a
// runtime timer, which on the status page's small answers costs several
// per cent of the server's throughput (herald-bench statuspage). A
// deadline matters only to a Read or Write that waits, so a timeout's
// deadline is kept as wanted (want) and given to the socket (set) just
// before the next Read or Write, if it changed; rounded up to
// deadlineGrain, it changes about once a grain on a busy connection.
// Nearly every request arrives whole with the read that waited under the
// idle timeout, so the read timeout is seldom given to the socket at all;
// a request that arrives in pieces is read under it.
//
// The timeouts' deadlines are wanted by the goroutine that serves the
// connection, between its Reads and Writes. A deadline set through
// net.Conn's methods (by a handler: an import's body, an event stream)
// goes to the socket at once, so that it also ends a Read or Write that
// waits in another goroutine (net.Conn's contract). Times are Unix
// nanoseconds, 0 for no deadline.
type lazyDeadline struct {
	want, set atomic.Int64
	mu        sync.Mutex // held to give the socket a deadline
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

// update gives the socket t at once (net.Conn's Set*Deadline).
func (d *lazyDeadline) update(t time.Time, apply func(time.Time) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := apply(t); err != nil {
		return err
	}
	n := roundDeadline(t)
	d.want.Store(n)
	d.set.Store(n)
	return nil
}

// expect wants the deadline n (rounded) from the next Read or Write on.
func (d *lazyDeadline) expect(n int64) { d.want.Store(n) }

// sync gives the socket the deadline wanted, if it has another: before
// each Read or Write.
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
		c.rd.expect(deadlineIn(c.limits.read))
	case fasthttp.StateIdle:
		c.answering.Store(false)
		c.rd.expect(deadlineIn(c.limits.idle))
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
	if c.rd.set.Load() != c.rd.want.Load() {
		if err := c.rd.sync(c.Conn.SetReadDeadline); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	if c.limits != nil && !c.answering.Load() {
		// An answer's first write: the answer within the write timeout.
		c.answering.Store(true)
		c.wd.expect(deadlineIn(c.limits.write))
	}
	if c.wd.set.Load() != c.wd.want.Load() {
		if err := c.wd.sync(c.Conn.SetWriteDeadline); err != nil {
			return 0, err
		}
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

package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/statuspage"
)

// fakeLink is an event bus whose link to other nodes the test breaks and
// restores, as store/redis.Events reports its subscription.
type fakeLink struct {
	*incident.LocalEvents
	mu      sync.Mutex
	state   incident.LinkState
	changed chan struct{}
}

var _ incident.Linked = (*fakeLink)(nil)

func newFakeLink() *fakeLink {
	return &fakeLink{LocalEvents: incident.NewLocalEvents(), state: incident.LinkState{Up: true}, changed: make(chan struct{})}
}

func (f *fakeLink) Link() incident.LinkState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

func (f *fakeLink) LinkChanged() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// set breaks (false) or restores (true) the link; restored, it counts a
// return but delivers no resync (resync does).
func (f *fakeLink) set(up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state.Up = up
	if up {
		f.state.Resyncs++
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeLink) resync() { f.Deliver(incident.Event{Type: incident.EventResync}) }

// linkedServer rebuilds e's server on link, an event bus with a link to
// other nodes, and site (nil: e's fake site); it is shut down when the
// test ends.
func linkedServer(t *testing.T, e *env, link *fakeLink, site Site, opts ...func(*Config)) {
	t.Helper()
	e.svc.Events = link
	if site == nil {
		site = e.site
	}
	cfg := Config{PublicURL: "https://status.example.com", BodyLimit: 64 << 10}
	for _, o := range opts {
		o(&cfg)
	}
	srv := New(cfg, e.svc, site, e.reg, slog.New(slog.NewTextHandler(e.logs, nil)))
	e.srv = srv
	t.Cleanup(func() { srv.doneOnce.Do(func() { close(srv.done) }) }) // stops watchLink when never served
}

// TestReadyzFollowsTheEventLink: /readyz is 503 while the node's event
// subscription is down, and after it is back until the status page has
// re-read every page for the resync; then 200 again.
func TestReadyzFollowsTheEventLink(t *testing.T) {
	e := newEnv(t)
	link := newFakeLink()
	site := statuspage.New(e.svc, link, statuspage.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	linkedServer(t, e, link, site)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = site.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	poll(t, "site ready", site.Ready)
	e.mustDo(t, http.StatusOK, "GET", "/readyz", "", "")

	link.set(false)
	if r := e.mustDo(t, http.StatusServiceUnavailable, "GET", "/readyz", "", ""); !strings.Contains(string(r.body), `"events":"reconnecting"`) {
		t.Errorf("readyz with the subscription down: %s", r.body)
	}
	link.set(true) // back, and the resync not yet handled
	if r := e.mustDo(t, http.StatusServiceUnavailable, "GET", "/readyz", "", ""); !strings.Contains(string(r.body), "re-reading") {
		t.Errorf("readyz before the pages were re-read: %s", r.body)
	}
	link.resync()
	poll(t, "ready after the re-read", func() bool { return e.do(t, "GET", "/readyz", "", "").status == http.StatusOK })
}

// TestStreamsEndWhenTheLinkIsLost: a live /events stream on a node whose
// event subscription stays down past LinkGrace ends (its client reconnects
// after the retry hint, through the load balancer, to a healthy node); one
// opened while it is down ends at once; once the link is back, streams
// stay open again.
func TestStreamsEndWhenTheLinkIsLost(t *testing.T) {
	e := newEnv(t)
	link := newFakeLink()
	linkedServer(t, e, link, nil, func(c *Config) { c.LinkGrace, c.HeartbeatInterval = 10*time.Millisecond, 20*time.Millisecond })
	e.serve(t)
	s := openStream(t, e)
	link.set(false)
	if !ends(s, 200) {
		t.Fatal("the stream stayed open with the event subscription down")
	}
	poll(t, "the stream released", func() bool { return e.srv.streams.count() == 0 })
	if !ends(openStream(t, e), 200) {
		t.Error("a stream opened with the subscription down stayed open")
	}
	link.set(true)
	link.resync()
	poll(t, "streams stay again", func() bool {
		select {
		case <-e.srv.lostLink():
			return false
		default:
			return true
		}
	})
	if ends(openStream(t, e), 3) {
		t.Error("a stream opened after the subscription came back ended")
	}
}

// TestStreamsOutlastABlip: a break of the event subscription shorter than
// LinkGrace leaves the streams open.
func TestStreamsOutlastABlip(t *testing.T) {
	e := newEnv(t)
	link := newFakeLink()
	linkedServer(t, e, link, nil, func(c *Config) { c.LinkGrace, c.HeartbeatInterval = time.Hour, 20*time.Millisecond })
	e.serve(t)
	s := openStream(t, e)
	link.set(false)
	link.set(true)
	link.resync()
	if ends(s, 3) {
		t.Error("a blip ended the stream")
	}
}

// ends reads the stream until it ends (true) or has sent beats heartbeats
// without ending (false).
func ends(s *rawConn, beats int) bool {
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	for beats > 0 {
		l, err := s.r.ReadString('\n')
		if err != nil {
			return true
		}
		if strings.Contains(l, "heartbeat") {
			beats--
		}
	}
	return false
}

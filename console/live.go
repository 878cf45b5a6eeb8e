package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
)

func urlQuery(s string) string { return url.QueryEscape(s) }

// coalesce is how long the live stream gathers events into one change.
const coalesce = 250 * time.Millisecond

func eventLine(name string) []byte {
	return []byte("event: change\ndata: " + strconv.Quote(name) + "\n\n")
}

// live is GET /console/live: server-sent events telling an open page that
// what it shows changed ("change", with the event's type), so its script
// re-reads the page and swaps the live parts. Every incident, page,
// complaint and compensation event counts, from any node (the event bus);
// with ?incident=ID the stream also watches that incident's broadcasts'
// progress, which moves without events.
//
// Events are coalesced for coalesce (a quarter second), so a burst costs
// an open page one re-read.
func (cs *Console) live(c *fiber.Ctx) error {
	if cs.cfg.Events == nil {
		return fiber.ErrNotFound
	}
	incidentID := c.Query("incident")
	if len(incidentID) > 64 {
		return incident.Invalid("incident", "too long")
	}
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	if c.Method() == fiber.MethodHead {
		return c.SendStatus(fiber.StatusOK)
	}
	release := func() {}
	if cs.cfg.AcquireStream != nil {
		r, err := cs.cfg.AcquireStream(c)
		if err != nil {
			return err
		}
		release = r
	}
	var gone <-chan struct{}
	if cs.cfg.WatchClose != nil {
		gone = cs.cfg.WatchClose(c)
	}
	wrote := func() {}
	if cs.cfg.KeepWriting != nil {
		wrote = cs.cfg.KeepWriting(c)
	}
	evs, cancel := cs.cfg.Events.Subscribe()
	done, heartbeat, every, n, log, allowed := cs.cfg.Done, cs.cfg.Heartbeat, cs.cfg.ProgressInterval, cs.cfg.Notify, cs.log, cs.sessionLive(c)
	progress := func() []byte {
		if n == nil || incidentID == "" {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ps, err := n.Broadcasts(ctx, incidentID)
		if err != nil {
			return nil
		}
		b, _ := json.Marshal(ps)
		return b
	}
	c.Status(fiber.StatusOK)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer release()
		defer cancel()
		_, _ = w.WriteString("retry: 2000\n\n: live\n\n")
		if w.Flush() != nil {
			return
		}
		wrote()
		last := progress()
		beat := time.NewTicker(heartbeat)
		defer beat.Stop()
		recheck := time.NewTicker(incident.StreamCheckEvery)
		defer recheck.Stop()
		flush := time.NewTimer(time.Hour)
		flush.Stop()
		defer flush.Stop()
		pending := ""
		var poll <-chan time.Time
		if n != nil && incidentID != "" {
			t := time.NewTicker(every)
			defer t.Stop()
			poll = t.C
		}
		for {
			select {
			case <-done:
				return
			case <-gone:
				return
			case ev, ok := <-evs:
				if !ok {
					return
				}
				// A storm of changes (a thousand complaints a second) becomes
				// one "change" per coalesce period: the page re-reads itself
				// once for all of them.
				if pending == "" {
					flush.Reset(coalesce)
				}
				pending = string(ev.Type)
				continue
			case <-flush.C:
				if pending == "" {
					continue
				}
				if !allowed(false) {
					return
				}
				_, _ = w.Write(eventLine(pending))
				pending = ""
			case <-poll:
				b := progress()
				if b == nil || bytes.Equal(b, last) {
					continue
				}
				last = b
				if !allowed(false) {
					return
				}
				_, _ = w.Write(eventLine("broadcast.progress"))
			case <-beat.C:
				if !allowed(true) {
					return
				}
				_, _ = w.WriteString(": heartbeat\n\n")
			case <-recheck.C:
				// The session or token is checked this often even when
				// nothing is sent: a sign-out or a revocation ends the
				// stream within StreamCheckEvery, not at the next heartbeat.
				if !allowed(false) {
					return
				}
				continue
			}
			if err := w.Flush(); err != nil {
				log.Debug("console live stream closed", "err", err)
				return
			}
			wrote()
		}
	})
	return nil
}

// sessionLive returns the check the live stream calls before each write
// (incident.StreamCheck): false once the session it was opened in has
// ended (signed out, expired) or its token was revoked.
func (cs *Console) sessionLive(c *fiber.Ctx) func(beat bool) bool {
	secret, _ := c.Locals(localSecret).(string)
	if secret == "" {
		return func(bool) bool { return true }
	}
	hash := incident.HashToken(secret)
	sessions, tokens, now := cs.cfg.Sessions, cs.cfg.Incidents.Store, cs.now
	return incident.StreamCheck(func(ctx context.Context) error {
		s, err := sessions.FindSessionByHash(ctx, hash, now())
		if err != nil {
			return err
		}
		return incident.LiveToken(tokens, s.TokenHash)(ctx)
	}, cs.log, "console live stream")
}

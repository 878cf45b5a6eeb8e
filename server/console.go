package server

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/console"
)

// EnableConsole mounts the web console at /console (console package). cfg
// needs Sessions, Events and Words; the services, the stream caps and the
// HTTPS check come from the server, so call it last, after the other
// Enable calls whose views it shows.
func (s *Server) EnableConsole(cfg console.Config) error {
	if s.console != nil {
		return errors.New("server: EnableConsole called twice")
	}
	cfg.Incidents = s.svc
	if s.bc != nil {
		cfg.Notify = s.bc.notify
		if cfg.DefaultRegion == "" {
			cfg.DefaultRegion = s.bc.cfg.DefaultRegion
		}
	}
	if s.cp != nil {
		cfg.Complaints = s.cp.svc
	}
	if s.comp != nil {
		cfg.Compensation = s.comp.svc
	}
	if s.rp != nil {
		cfg.Reports = s.rp
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = s.cfg.PublicURL
	}
	cfg.Secure = func(c *fiber.Ctx) bool { return strings.HasPrefix(s.baseURL(c), "https://") }
	// Live streams count with the status page's and end with the request.
	cfg.AcquireStream = func(c *fiber.Ctx) (func(), error) { return s.streams.acquire(c, s.client(c)) }
	cfg.WatchClose = watchClose
	cfg.Done = s.done
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = s.cfg.HeartbeatInterval
	}
	heartbeat := cfg.Heartbeat
	cfg.KeepWriting = func(c *fiber.Ctx) func() { return s.keepWriting(c, heartbeat) }
	if cfg.Log == nil {
		cfg.Log = s.log
	}
	cs, err := console.New(cfg)
	if err != nil {
		return err
	}
	cs.Mount(s.app)
	s.console = cs
	return nil
}

// Console returns the mounted console, or nil.
func (s *Server) Console() *console.Console { return s.console }

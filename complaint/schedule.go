package complaint

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"
)

// sweepLease is the lease name of the sweep; a lease outlives one period
// so that the holder keeps it from run to run while it lives.
const (
	sweepLease    = "complaint.sweep"
	sweepLeaseFor = 90 * time.Second
)

// schedule runs the sweep on SweepSpec with robfig/cron until ctx ends or
// the returned stop is called. A run sweeps only on the node that holds
// the lease; the others skip it.
func (s *Service) schedule(ctx context.Context, holder string) (stop func()) {
	c := cron.New(cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	_, err := c.AddFunc(SweepSpec, func() {
		if ctx.Err() != nil {
			return
		}
		now := s.now()
		ok, err := s.Store.Lease(ctx, sweepLease, holder, now, now.Add(sweepLeaseFor))
		if err != nil {
			s.Log.Warn("complaint sweep lease", "err", err)
			return
		}
		if !ok {
			return
		}
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("complaint sweep", "err", err)
		}
	})
	if err != nil { // SweepSpec is a constant; say so loudly rather than sweep never
		s.Log.Error("complaint sweep not scheduled", "spec", SweepSpec, "err", err)
	}
	c.Start()
	return func() { <-c.Stop().Done() }
}

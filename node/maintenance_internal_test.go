package node

import (
	"context"
	"errors"
	"github.com/heraldhq/herald/internal/syncbuf"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/quietlog"
)

// downIncidents is a store whose reads fail as they do while Redis is
// unreachable; it signals each failed read on tried. Only FindIncidents is
// called by AdvanceMaintenances before it fails.
type downIncidents struct {
	incident.Store
	tried chan struct{}
}

func (d *downIncidents) FindIncidents(context.Context, incident.IncidentFilter) ([]*incident.Incident, int, error) {
	select {
	case d.tried <- struct{}{}:
	default:
	}
	return nil, 0, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
}

// TestAdvanceMaintenancesLogQuiet: while the store is unreachable every
// tick fails; the ticker says so once per quietlog.Every, with how many it
// left out, instead of a warning per tick.
func TestAdvanceMaintenancesLogQuiet(t *testing.T) {
	var out syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	st := &downIncidents{tried: make(chan struct{})}
	svc := incident.NewService(st, nil, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); advanceMaintenances(ctx, svc, log, time.Millisecond) }()
	const ticks = 40
	for range ticks {
		select {
		case <-st.tried:
		case <-time.After(20 * time.Second):
			t.Fatal("the ticker stopped")
		}
	}
	cancel()
	<-done
	elapsed := time.Since(start)
	lines := strings.Count(out.String(), `msg="advance maintenances"`)
	if most := 1 + int(elapsed/quietlog.Every); lines < 1 || lines > most {
		t.Errorf("%d \"advance maintenances\" lines for %d failed ticks in %v, want 1 to %d:\n%s", lines, ticks, elapsed, most, out.String())
	}
}

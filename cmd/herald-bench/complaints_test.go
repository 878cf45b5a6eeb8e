package main

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestComplaintsShort is the complaints scenario at a size the normal
// test run affords: 200 recipients on SQLite, a fan-out held to 150 SMS/s
// so that it lasts, and 200 complaints during it (200/s for 1 s), half by
// inbound SMS and half through the API. Every accepted complaint must be stored and
// acknowledged exactly once at the sandbox. The figures against the
// targets are `go run ./cmd/herald-bench complaints`.
func TestComplaintsShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a herald node and a complaint storm: not under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opt := defaultComplaints
	opt.Recipients, opt.Engine = 200, "sqlite"
	opt.StartRate, opt.StepRate, opt.MaxRate, opt.Duration = 200, 200, 200, time.Second
	opt.Window, opt.Conns, opt.Drain, opt.FanoutRate, opt.ProviderRate = 200*time.Millisecond, 32, 20*time.Second, 150, 0
	var stdout, stderr bytes.Buffer
	res, err := benchComplaints(ctx, opt, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	t.Log("\n" + stdout.String())
	if len(res) != 1 {
		t.Fatalf("%d runs, want 1", len(res))
	}
	r := res[0]
	switch {
	case r.Requests == 0 || r.Complaints == 0:
		t.Fatalf("nothing accepted: %d requests, %d complaints", r.Requests, r.Complaints)
	case r.lost() != 0:
		t.Fatalf("lost %d: %d senders without a complaint, %d messages not stored, %d complaints without an acknowledgement",
			r.lost(), r.NoComplaint, r.MissingMessages, r.MissingAcks)
	case r.DuplicateAcks != 0:
		t.Fatalf("%d duplicate acknowledgements", r.DuplicateAcks)
	case len(r.Acks) != r.Complaints:
		t.Fatalf("%d acknowledgements timed for %d complaints", len(r.Acks), r.Complaints)
	}
}

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
	// Two rounds: the acknowledgements under sms_rate with the fan-out,
	// then from their own sender (sms_reply_from) under a limit of their own.
	opt.Window, opt.Conns, opt.Drain, opt.FanoutRate, opt.ProviderRate = 200*time.Millisecond, 32, 20*time.Second, 150, 150
	opt.ReplyFrom, opt.ReplyRate = "+15005550009", 1000
	var stdout, stderr bytes.Buffer
	res, err := benchComplaints(ctx, opt, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	t.Log("\n" + stdout.String())
	if len(res) != 2 {
		t.Fatalf("%d runs, want 2", len(res))
	}
	for i, r := range res {
		switch {
		case r.Requests == 0 || r.Complaints == 0:
			t.Fatalf("%s: nothing accepted: %d requests, %d complaints", r.Label, r.Requests, r.Complaints)
		case r.lost() != 0:
			t.Fatalf("%s: lost %d: %d senders without a complaint, %d messages not stored, %d complaints without an acknowledgement",
				r.Label, r.lost(), r.NoComplaint, r.MissingMessages, r.MissingAcks)
		case r.DuplicateAcks != 0:
			t.Fatalf("%s: %d duplicate acknowledgements", r.Label, r.DuplicateAcks)
		case len(r.Acks) != r.Complaints:
			t.Fatalf("%s: %d acknowledgements timed for %d complaints", r.Label, len(r.Acks), r.Complaints)
		case i == 0 && r.ReplyFrom != "":
			t.Fatalf("%s: the first round has a reply sender", r.Label)
		case i == 1 && (r.ReplyFrom != opt.ReplyFrom || r.FromReply != r.Complaints):
			t.Fatalf("%s: %d of %d acknowledgements from the reply sender %q", r.Label, r.FromReply, r.Complaints, r.ReplyFrom)
		case r.StormCPU <= 0:
			t.Fatalf("%s: no CPU measured", r.Label)
		case r.StormRedisCPU != -1 || r.AloneRedisCPU != -1:
			t.Fatalf("%s: a Redis server's CPU on SQLite: %v alone, %v in the storm", r.Label, r.AloneRedisCPU, r.StormRedisCPU)
		}
	}
}

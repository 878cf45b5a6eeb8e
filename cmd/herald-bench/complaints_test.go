package main

import (
	"bytes"
	"context"
	"io"
	"strings"
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
		case stepAcks(r) != len(r.Acks):
			t.Fatalf("%s: %d acknowledgements timed in the steps, %d in all", r.Label, stepAcks(r), len(r.Acks))
		case r.StormCPU <= 0:
			t.Fatalf("%s: no CPU measured", r.Label)
		case r.StormRedisCPU != -1 || r.AloneRedisCPU != -1:
			t.Fatalf("%s: a Redis server's CPU on SQLite: %v alone, %v in the storm", r.Label, r.AloneRedisCPU, r.StormRedisCPU)
		}
	}
}

func stepAcks(r *stormResult) int {
	n := 0
	for _, s := range r.Steps {
		n += len(s.Acked)
	}
	return n
}

// TestStepOf: an intake belongs to the step whose span holds it, one
// after the last step to the last, one before the first to none.
func TestStepOf(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	steps := []stepResult{{From: t0, To: t0.Add(time.Second)}, {From: t0.Add(time.Second), To: t0.Add(2 * time.Second)}}
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{-time.Millisecond, -1}, {0, 0}, {999 * time.Millisecond, 0}, {time.Second, 1}, {1999 * time.Millisecond, 1}, {3 * time.Second, 1}} {
		if got := stepOf(steps, t0.Add(c.at)); got != c.want {
			t.Errorf("stepOf(t0%+v) = %d, want %d", c.at, got, c.want)
		}
	}
}

// TestIsAcknowledgement: an acknowledgement names its complaint's
// reference, also when it quotes the incident's body and its marker; a
// broadcast SMS names none.
func TestIsAcknowledgement(t *testing.T) {
	for body, want := range map[string]bool{
		"Status (C-Q466MEBJ): köszönjük üzenetét! Ismert hiba, már javítjuk: Card payments failing. FANOUT2 We are investigating. http://x/i/a": true,
		"Status: thank you, we got your message (ref C-QI368XZD). Our team will answer you by 6 Dec 10:38 UTC.":                                 true,
		"Status (new problem): Card payments failing. FANOUT2 We are investigating failed card payments. Updates: http://x/i/abc":               false,
		"Status (new problem): C-suite payments failing. FANOUT1 http://x/i/abc":                                                                false,
	} {
		if got := isAcknowledgement(body); got != want {
			t.Errorf("isAcknowledgement(%q) = %v, want %v", body, got, want)
		}
	}
}

// TestSustainedJudgedWhenPaced: the storm's rate with the fan-out kept is
// a target where sms_rate paces the fan-out, and shown without a verdict
// where the fan-out is CPU-bound (no sms_rate), whose alone rate takes the
// whole machine.
func TestSustainedJudgedWhenPaced(t *testing.T) {
	t0 := time.Now()
	step := stepResult{Rate: 2000, From: t0, To: t0.Add(time.Second), Offered: 2000, Accepted: 2000, Fanout: 1000, FanoutRunning: true}
	for _, rate := range []float64{0, 3000} {
		r := &stormResult{Label: "x", Rate: rate, Alone: 3000, Steps: []stepResult{step}}
		rep := &report{out: io.Discard}
		r.report(rep)
		var found bool
		for _, f := range rep.figs {
			if !strings.Contains(f.name, "complaints/s sustained") {
				continue
			}
			found = true
			if f.info != (rate == 0) {
				t.Fatalf("sms_rate %v: judged %v, want judged only when paced: %+v", rate, !f.info, f)
			}
			if rate != 0 && f.pass {
				t.Fatalf("fan-out at 0.33 of alone passed: %+v", f)
			}
		}
		if !found {
			t.Fatalf("sms_rate %v: no sustained figure in %+v", rate, rep.figs)
		}
	}
}

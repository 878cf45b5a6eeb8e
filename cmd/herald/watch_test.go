package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

func progressAt(done int) *queue.Progress {
	open, failed := 100000-done, min(done, 12)
	return &queue.Progress{BroadcastID: "b0qjfl24znv5x", Kind: "declared", State: queue.PlanDone, Planned: 200000,
		Counts: map[channel.Kind]map[queue.DeliveryState]int{
			channel.SMS:   {queue.StatePending: open, queue.StateSent: done / 2, queue.StateDelivered: done - done/2 - failed, queue.StateFailed: failed},
			channel.Email: {queue.StatePending: open, queue.StateSent: done, queue.StateSuppressed: 0},
		},
		Reasons: map[channel.Kind]map[string]int{channel.SMS: {"21614 not a mobile number": 12}}}
}

// TestProgressFitsTheTerminal draws a broadcast's progress on a fake
// terminal 60 and 120 columns wide, as `declare --wait` does: no line may
// reach the last column (a wrapped line leaves the redraw's cursor-up
// short, which garbled the bars at 60 columns), each redraw goes back
// exactly the lines it drew, and each channel shows its rate and ETA.
func TestProgressFitsTheTerminal(t *testing.T) {
	for _, width := range []int{40, 60, 80, 120} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			var out bytes.Buffer
			now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			v := &progressView{w: &out, tty: true, width: func() int { return width }, now: func() time.Time { return now },
				rates: map[channel.Kind]*rateMeter{}}
			v.show(progressAt(0), false)
			now = now.Add(10 * time.Second)
			v.show(progressAt(20000), false) // 2 000 a second: 40 s left
			draws := strings.Split(out.String(), "\x1b[4A\r\x1b[J")
			if len(draws) != 2 || strings.Count(out.String(), "\x1b[") != 2 {
				t.Fatalf("the redraw does not go back the 4 lines drawn: %q", out.String())
			}
			last := draws[1]
			lines := strings.Split(strings.TrimSuffix(last, "\n"), "\n")
			if len(lines) != 4 {
				t.Fatalf("%d lines: %q", len(lines), last)
			}
			for _, l := range lines {
				if n := utf8.RuneCountInString(l); n >= width {
					t.Errorf("%d columns at width %d: %q", n, width, l)
				}
			}
			// The counts that matter come first, whole; a line that
			// cannot hold them all says so with "…".
			if !strings.Contains(lines[1], "failed 12") || !strings.Contains(lines[1], "delivered 9988") && !strings.HasSuffix(lines[1], "…") {
				t.Errorf("at width %d the SMS counts are cut silently: %q", width, lines[1])
			}
			if width >= 80 {
				for _, l := range []string{lines[1], lines[3]} {
					if !regexp.MustCompile(`\d+/s ETA 0:40`).MatchString(l) {
						t.Errorf("no rate and ETA at width %d: %q", width, l)
					}
				}
			}
			if width >= 120 && !strings.Contains(lines[1], "[") {
				t.Errorf("no bar at width %d: %q", width, lines[1])
			}
			if width >= 120 && (!strings.Contains(lines[1], "delivered") || !strings.Contains(lines[1], "failed 12")) {
				t.Errorf("at 120 columns the counts are missing: %q", lines[1])
			}
			t.Logf("width %d:\n%s", width, last)
		})
	}
}

// TestProgressCountsNeverCutSilently draws the small broadcasts a
// walkthrough makes at 40, 60, 80 and 120 columns: the bar shrinks (or
// goes) so that every count fits, failures, delivered and sent first; one
// that cannot fit ends the line in "…". At 60 columns "delivered 1" was cut with no
// mark, which read as no SMS sent, and at 80 "suppressed" and
// "collapsed".
func TestProgressCountsNeverCutSilently(t *testing.T) {
	p := &queue.Progress{BroadcastID: "l86b0jp6dzzn", Kind: "updated", State: queue.PlanDone, Planned: 9,
		Counts: map[channel.Kind]map[queue.DeliveryState]int{
			channel.SMS:   {queue.StateDelivered: 1},
			channel.Email: {queue.StateSent: 2, queue.StateSuppressed: 1, queue.StateCollapsed: 2, queue.StateCancelled: 1},
			channel.Slack: {queue.StateSent: 1, queue.StateUndelivered: 1},
		}}
	want := map[int][]string{
		1: {"1/1", "delivered 1", "failed 0"},
		2: {"6/6", "sent 2", "failed 0", "suppressed 1", "collapsed 2", "cancelled 1"},
		3: {"2/2", "failed 1", "sent 1"},
	}
	for _, width := range []int{40, 60, 80, 120} {
		lines := renderProgress(p, width, time.Now(), nil)
		t.Logf("width %d:\n%s", width, strings.Join(lines, "\n"))
		for i, words := range want {
			l := lines[i]
			if n := utf8.RuneCountInString(l); n >= width {
				t.Errorf("%d columns at width %d: %q", n, width, l)
			}
			if width >= 60 && i != 2 && !strings.Contains(l, "[") {
				t.Errorf("no bar at width %d: %q", width, l)
			}
			for _, w := range words {
				// A count shown is shown whole: "delivered 1", never "deliv…".
				if !regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(w) + `(\s|$)`).MatchString(l) {
					if width >= 80 || !strings.HasSuffix(l, "  …") {
						t.Errorf("width %d: %q is missing with no \"…\": %q", width, w, l)
					}
				}
			}
		}
	}
}

// TestSummaryAddsUpToPlanned: the line `broadcast watch` ends with
// accounts for every planned message; "5 planned" then "2 sent, 1
// delivered, 0 failed, 0 suppressed" left the 2 collapsed unsaid.
func TestSummaryAddsUpToPlanned(t *testing.T) {
	p := &queue.Progress{Planned: 5, Counts: map[channel.Kind]map[queue.DeliveryState]int{
		channel.Email: {queue.StateSent: 2, queue.StateCollapsed: 2},
		channel.SMS:   {queue.StateDelivered: 1},
	}}
	got := summaryCounts(p.Planned, totals(p))
	if want := "2 sent, 1 delivered, 0 failed, 0 suppressed, 2 collapsed (5 planned)"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

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
			if width >= 60 {
				for _, l := range []string{lines[1], lines[3]} {
					if !regexp.MustCompile(`\d+/s ETA 0:40`).MatchString(l) {
						t.Errorf("no rate and ETA at width %d: %q", width, l)
					}
				}
				if !strings.Contains(lines[1], "[") {
					t.Errorf("no bar at width %d: %q", width, lines[1])
				}
			}
			if width >= 120 && (!strings.Contains(lines[1], "delivered") || !strings.Contains(lines[1], "failed 12")) {
				t.Errorf("at 120 columns the counts are missing: %q", lines[1])
			}
			t.Logf("width %d:\n%s", width, last)
		})
	}
}

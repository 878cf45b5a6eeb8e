package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestStatuspageCeilingsShort runs the status page comparison briefly
// against a real node: herald and the three ceilings (plain, with
// herald's headers, with herald's headers and connection settings) are
// each measured every round, and the report names them.
func TestStatuspageCeilingsShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a herald node and four HTTP load runs: not under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := startNode(ctx, sqliteConfig(t.TempDir()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	opt := statuspageOptions{Duration: 200 * time.Millisecond, Warmup: 100 * time.Millisecond, Rounds: 2, Conns: 4}
	res, err := compareWithCeiling(ctx, n.URL+"/api/v2/summary.json", map[string]string{"Accept-Encoding": "gzip"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Headers < 3 {
		t.Fatalf("the probe saw %d headers, want herald's (at least 3)", res.Headers)
	}
	for _, runs := range [][]loadResult{res.Herald, res.Ceiling, res.HeadersOnly, res.Like} {
		if len(runs) != opt.Rounds {
			t.Fatalf("%d runs, want one a round (%d)", len(runs), opt.Rounds)
		}
		for _, r := range runs {
			if r.ReqPerSec <= 0 {
				t.Fatalf("a run answered nothing: %+v", r)
			}
		}
	}
	if len(res.HeadersRatios) != opt.Rounds || res.MedianHeaders <= 0 || res.MedianRatio <= 0 || res.MedianLike <= 0 {
		t.Fatalf("ratios not computed: %+v", res)
	}
	if out := res.String(); !strings.Contains(out, "what the headers alone cost") || !strings.Contains(out, "target ≥ 0.95") {
		t.Fatalf("report:\n%s", out)
	}
}

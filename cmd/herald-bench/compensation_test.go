package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
)

// TestCompensationShort is the compensation scenario at a size the normal
// test run affords (about 20 s under -race, 3 s without): 10 000
// customers on SQLite, 500 checks from one goroutine and from four, 50
// grants. It checks that every part ran and that the figures agree with
// each other, not how fast: the figures against the targets are
// `go run ./cmd/herald-bench compensation`.
func TestCompensationShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a herald node over 10 000 customers: not under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opt := defaultCompensation
	opt.Customers, opt.Engine, opt.Checks, opt.Grants = 10_000, "sqlite", 500, 50
	var stdout, stderr bytes.Buffer
	res, err := benchCompensation(ctx, opt, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	t.Log("\n" + stdout.String())
	if len(res) != 1 {
		t.Fatalf("%d runs, want 1", len(res))
	}
	r := res[0]
	for name, l := range map[string]latencies{"one goroutine": r.Single, "four goroutines": r.Concurrent} {
		if len(l) != opt.Checks {
			t.Errorf("%s: %d checks timed, want %d", name, len(l), opt.Checks)
		}
		for _, d := range l {
			if d <= 0 {
				t.Fatalf("%s: a check took %s", name, d)
			}
		}
	}
	tot, sms, email := r.Totals, r.DryRun.Recipients[channel.SMS], r.DryRun.Recipients[channel.Email]
	switch {
	case r.Grants != opt.Grants || tot.Grants != opt.Grants:
		t.Errorf("%d grants recorded, totals count %d; want %d", r.Grants, tot.Grants, opt.Grants)
	case tot.Customers != opt.Customers:
		t.Errorf("totals evaluated %d customers, want %d", tot.Customers, opt.Customers)
	case tot.Affected == 0 || tot.Affected == tot.Customers:
		t.Errorf("%d of %d customers affected: the timeline does not split them", tot.Affected, tot.Customers)
	case tot.Eligible == 0 || tot.Eligible >= tot.Affected:
		// The policy leaves out the unaffected, and its minute rules
		// some of the affected.
		t.Errorf("%d eligible of %d affected", tot.Eligible, tot.Affected)
	case sms != email:
		t.Errorf("%d SMS and %d email recipients: every customer has both", sms, email)
	case sms > tot.Eligible || sms < tot.Eligible-r.Grants:
		// Those told are the eligible not yet granted (or declined)
		// everything: each grant takes one customer off at most.
		t.Errorf("the announcement reaches %d customers; %d are eligible and %d grants were made", sms, tot.Eligible, r.Grants)
	case r.RSS <= 0 || r.HeapInuse == 0:
		t.Errorf("memory not read: VmRSS %d kB, heap in use %d B", r.RSS, r.HeapInuse)
	}
}

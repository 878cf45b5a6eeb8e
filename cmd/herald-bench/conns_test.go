package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be the conns scenario's herald: benchConns
// starts os.Executable() with the child's subcommand.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == connsChildCommand {
		if err := connsChild(context.Background(), os.Args[2:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestConnsShort is the conns scenario at a size the normal test run
// affords, with herald's open-file limit at 300 so that 400 idle
// connections are more than its budget: herald must shed the excess,
// stay up and keep /readyz answering 200 on the connections it holds.
// No latency is asserted here; the figures against the targets are `go
// run ./cmd/herald-bench conns` (README, Performance).
func TestConnsShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs herald in a child process and opens a thousand connections: not under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opt := defaultConns
	opt.Churn, opt.ChurnRate, opt.ChurnConns, opt.EventsEvery = 1000, 2000, 16, 5
	opt.Idle, opt.Hold, opt.After, opt.ServerNofile, opt.MemoryWait = 400, time.Second, time.Second, 300, time.Second
	var stdout, stderr bytes.Buffer
	if err := benchConns(ctx, opt, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Log(out)
	for _, want := range []string{"PASS  herald up", "PASS  /readyz, during the churn", "PASS  /readyz, holding the idle connections", "PASS  /readyz, after", "PASS  new visitors, after"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the report", want)
		}
	}
	m := regexp.MustCompile(`idle connections +(\d+) held, (\d+) shed`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no idle connections line")
	}
	held, _ := strconv.Atoi(m[1])
	shed, _ := strconv.Atoi(m[2])
	if shed == 0 || held > 300 {
		t.Errorf("%d held and %d shed of 400 with an open-file limit of 300: want the excess shed", held, shed)
	}
}

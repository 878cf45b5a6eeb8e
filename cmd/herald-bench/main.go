// Command herald-bench measures herald against the targets the issues set.
//
//	go run ./cmd/herald-bench statuspage [-rounds 10] [-duration 2s] [-conns 64] [-redis redis://127.0.0.1:6379/0]
//	go run ./cmd/herald-bench broadcast [-customers 1000000] [-rate 200] [-duration 20s] [-redis URL] [-skip-plan …]
//	go run ./cmd/herald-bench crash [-recipients 100000] [-engine sqlite|redis|both]
//	go run ./cmd/herald-bench chaos [-recipients 100000] [-topology sentinel|cluster|single|all] [-sms-rate 2000]
//	go run ./cmd/herald-bench complaints [-recipients 100000] [-engine sqlite|redis|both] [-duration 3s] [-start-rate 250] [-max-rate 3000] [-fanout-rate 0] [-provider-rate 3000]
//	go run ./cmd/herald-bench conns [-churn 50000] [-churn-rate 2500] [-idle 20000] [-hold 10s] [-server-nofile N]
//	go run ./cmd/herald-bench compensation [-customers 1000000] [-engine sqlite|redis|both] [-checks 20000]
//	go run ./cmd/herald-bench console [-customers 1000000] [-complaints 100000] [-engine sqlite|redis|both] [-requests 200] [-live 20]
//	go run ./cmd/herald-bench report [-deliveries 1000000] [-complaints 100000] [-engine sqlite|redis|both] [-reports 200] [-duration 60s]
//
// Every scenario starts what it measures on 127.0.0.1, in this process or
// (crash, the broadcast's memory part, conns) in a child process, and
// prints its figures; nothing leaves the machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "herald-bench:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage: herald-bench statuspage|broadcast|crash|chaos|complaints|conns|compensation|report|console [flags]  (herald-bench SCENARIO -h for flags)")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "statuspage":
		fs := flag.NewFlagSet("statuspage", flag.ContinueOnError)
		fs.SetOutput(stderr)
		opt := statuspageOptions{}
		fs.DurationVar(&opt.Duration, "duration", defaultStatuspage.Duration, "measured time per round, server and endpoint")
		fs.DurationVar(&opt.Warmup, "warmup", defaultStatuspage.Warmup, "warm-up time per endpoint (half of it before each round)")
		fs.IntVar(&opt.Rounds, "rounds", defaultStatuspage.Rounds, "rounds of herald and the ceilings taking turns, per endpoint")
		fs.IntVar(&opt.Conns, "conns", defaultStatuspage.Conns, "concurrent keep-alive connections")
		fs.IntVar(&opt.Declarations, "declarations", defaultStatuspage.Declarations, "declarations timed for declaration → visible")
		fs.StringVar(&opt.RedisURL, "redis", defaultStatuspage.RedisURL, "Redis for the Redis-engine latency run (\"\" skips it)")
		fs.StringVar(&opt.CPUProfile, "cpuprofile", "", "write a CPU profile of the run (herald, ceilings and client) to this file")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return benchStatuspage(ctx, opt, stdout, stderr)
	case "broadcast":
		opt, err := parseBroadcast(args[1:], stderr)
		if err != nil {
			return err
		}
		return benchBroadcast(ctx, opt, stdout, stderr)
	case "crash":
		opt, err := parseCrash(args[1:], stderr)
		if err != nil {
			return err
		}
		return benchCrash(ctx, opt, stdout, stderr)
	case "chaos":
		opt, err := parseChaos(args[1:], stderr)
		if err != nil {
			return err
		}
		return benchChaos(ctx, opt, stdout, stderr)
	case "complaints":
		opt, err := parseComplaints(args[1:], stderr)
		if err != nil {
			return err
		}
		_, err = benchComplaints(ctx, opt, stdout, stderr)
		return err
	case "conns":
		opt, err := parseConns(args[1:], stderr)
		if err != nil {
			return err
		}
		return benchConns(ctx, opt, stdout, stderr)
	case connsChildCommand:
		return connsChild(ctx, args[1:], stdout, stderr)
	case "compensation":
		opt, err := parseCompensation(args[1:], stderr)
		if err != nil {
			return err
		}
		_, err = benchCompensation(ctx, opt, stdout, stderr)
		return err
	case "console":
		opt, err := parseConsole(args[1:], stderr)
		if err != nil {
			return err
		}
		return benchConsole(ctx, opt, stdout, stderr)
	case "report":
		opt, err := parseReport(args[1:], stderr)
		if err != nil {
			return err
		}
		return benchReport(ctx, opt, stdout, stderr)
	case memoryChildCommand:
		return memoryChild(ctx, args[1:], stdout, stderr)
	}
	return errUsage
}

// cpuProfile starts a CPU profile of the whole process into path ("" does
// nothing) and returns what stops it and closes the file.
func cpuProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

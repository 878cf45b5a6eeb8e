package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/sandbox"
)

func (l latencies) sorted() latencies {
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

// memoryPlanWait bounds the wait for the measured declaration's plan.
const memoryPlanWait = 2 * time.Minute

// memoryChildCommand is the hidden subcommand benchMemory starts.
const memoryChildCommand = "broadcast-memory-child"

// benchMemory starts this binary again as a separate process that runs a
// herald node, as herald serve builds it, on the SQLite file holding the
// customers and with the sandbox's providers, and reads that process's
// VmRSS and VmHWM from /proc.
func benchMemory(ctx context.Context, dataDir, pageID string, opt broadcastOptions, rep *report) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// The providers' stand-in runs here, in the bench, as a provider runs
	// elsewhere: the child's memory is herald's alone (the sandbox keeps
	// its last 10 000 messages, bodies and all).
	sb, err := sandbox.Start(ctx, sandbox.Config{})
	if err != nil {
		return err
	}
	defer sb.Close()
	cmd := exec.CommandContext(ctx, exe, memoryChildCommand, "-data", dataDir, "-page", pageID,
		"-twilio-url", sb.TwilioURL(), "-smtp-addr", sb.SMTPAddr())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		// MEM phase rss_kB hwm_kB detail…
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[0] != "MEM" {
			continue
		}
		rss, _ := strconv.Atoi(f[2])
		hwm, _ := strconv.Atoi(f[3])
		detail := strings.Join(f[4:], " ")
		if f[1] == "sending" {
			// Counted here: the sandbox is this process's.
			detail = fmt.Sprintf("%d messages at the sandbox", sb.Count("")) + detail
		}
		name := map[string]string{
			"started": "RSS, started and page rendered",
			"dryrun":  "RSS, after a dry run of a declaration",
			"planned": "RSS, planning a declaration",
			"sending": "RSS, after 10 s of sending",
		}[f[1]]
		if name == "" {
			name = f[1]
		}
		if detail != "" {
			name += " (" + detail + ")"
		}
		mb := func(kb int) float64 { return float64(kb) / 1024 }
		rep.add(figure{name: name, value: fmt.Sprintf("VmRSS %.0f MB, VmHWM %.0f MB", mb(rss), mb(hwm)),
			target: "≤ 400 MB", pass: hwm <= 400*1024})
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("child: %w", err)
	}
	return nil
}

// memoryChild is the measured process (see benchMemory): a herald node
// on the SQLite file holding the customers, sending SMS and email to the
// bench's sandbox.
func memoryChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(memoryChildCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "", "data directory of the SQLite file")
	pageID := fs.String("page", "", "page ID")
	twilioURL := fs.String("twilio-url", "", "the sandbox's Twilio API")
	smtpAddr := fs.String("smtp-addr", "", "the sandbox's SMTP server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	cfg := withProviders(sqliteConfig(*dataDir), *twilioURL, *smtpAddr)
	cfg.PublicURL = benchURL
	n, err := node.New(ctx, cfg, node.Options{Log: log, Dispatch: []channel.Kind{channel.SMS, channel.Email}})
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Site.RenderPage(ctx, *pageID); err != nil {
		return err
	}
	w := &world{n: n, log: log}
	if w.page, err = n.Incidents.Page(ctx, *pageID); err != nil {
		return err
	}
	comps, err := n.Incidents.Components(ctx, *pageID)
	if err != nil {
		return err
	}
	for _, c := range comps {
		w.comps = append(w.comps, c.ID)
	}
	customers, err := w.store().CountCustomers(ctx, *pageID)
	if err != nil {
		return err
	}
	runtime.GC()
	printMem(stdout, "started", fmt.Sprintf("%d customers in the store", customers))
	// Declare before the node runs, so the dry run sees the whole
	// audience while nothing is planned yet.
	inc, bid, err := w.declare(ctx, "Memory")
	if err != nil {
		return err
	}
	dry, err := n.Notify.DryRun(ctx, *pageID, inc.ID, incident.BroadcastDeclared)
	if err != nil {
		return err
	}
	printMem(stdout, "dryrun", fmt.Sprintf("%d SMS + %d email recipients", dry.Recipients[channel.SMS], dry.Recipients[channel.Email]))
	start := time.Now()
	if err := n.Run(ctx); err != nil {
		return err
	}
	// Planning a million on a slow engine can take minutes: after
	// memoryPlanWait the figure is taken mid-plan, which the label says.
	p, err := w.waitPlanned(ctx, bid, memoryPlanWait)
	if p == nil {
		return err
	}
	state := "done"
	if err != nil {
		state = "still planning"
	}
	printMem(stdout, "planned", fmt.Sprintf("%d deliveries after %.1f s, plan %s, dispatch running", p.Planned, time.Since(start).Seconds(), state))
	time.Sleep(10 * time.Second)
	printMem(stdout, "sending", "")
	return nil
}

// printMem prints this process's VmRSS and VmHWM in kB, and in the
// detail how much of it the Go runtime holds (the rest is SQLite's C
// memory, through modernc's libc).
func printMem(w io.Writer, phase, detail string) {
	rss, hwm := procStatus("VmRSS"), procStatus("VmHWM")
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	goMB := (s[0].Value.Uint64() - s[1].Value.Uint64()) >> 20
	fmt.Fprintf(w, "MEM %s %d %d %s; Go runtime %d MB\n", phase, rss, hwm, detail, goMB)
}

func procStatus(key string) int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return -1
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/smtp"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/ratelimit"
	"github.com/heraldhq/herald/sandbox"
)

// benchDispatch runs parts 2 (throughput against the sandbox's ceiling)
// and 3 (a configured rate held against a sandbox limited to exactly it).
// Deliveries are planned first by a planner-only Service, so the timed
// runs measure sending alone.
func benchDispatch(ctx context.Context, dir string, opt broadcastOptions, log *slog.Logger, rep *report) error {
	sub := filepath.Join(dir, "dispatch")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return err
	}
	w, err := openSQLiteWorld(ctx, sub, log)
	if err != nil {
		return err
	}
	defer w.close()
	sb, err := sandbox.Start(ctx, sandbox.Config{})
	if err != nil {
		return err
	}
	defer sb.Close()
	// herald's provider client, counting the answers.
	hc := node.ProviderHTTP()
	ct := &countingTransport{base: hc.Transport}
	hc.Transport = ct
	toSandbox := func(c *node.Config) {
		*c = withSandbox(*c, sb)
		c.Broadcast.Workers = opt.Workers
	}
	if !opt.SkipDispatch {
		fmt.Fprintf(rep.out, "2. dispatch throughput: %d workers per channel, SQLite engine, vs. the sandbox alone driven by a tight client at the same concurrency\n",
			opt.Workers)
		if _, err := w.loadCustomers(ctx, 0, opt.Messages, true); err != nil {
			return err
		}
		// Two rounds. The target (≥ 0.9 of the sandbox's ceiling) is read
		// in the second, where the sandbox answers after a provider's
		// round trip: the sandbox is then the bottleneck, as a provider
		// is, and the ratio says whether herald keeps every connection
		// busy. In the first the sandbox answers at once, so herald, the
		// sandbox and the tight client share two CPUs and the ratio
		// only compares herald's CPU per message with a bare HTTP
		// loop's; it is reported with the CPU per message of both, with
		// no target (a durable, leased queue and twilio-go cannot cost
		// as little as a loop that only posts: see the README).
		type round struct {
			latency time.Duration
			n       int
		}
		rounds := []round{{0, opt.Messages}}
		if opt.ProviderLatency > 0 {
			// About five seconds of sending at the provider-bound ceiling.
			n := min(opt.Messages, int(5*time.Second/opt.ProviderLatency)*opt.Workers)
			rounds = append(rounds, round{opt.ProviderLatency, n})
		}
		for _, r := range rounds {
			if err := sb.SetFaults(sandbox.Faults{Latency: r.latency}); err != nil {
				return err
			}
			bid, err := planOnly(ctx, w, "Dispatch throughput")
			if err != nil {
				return err
			}
			for _, ch := range []channel.Kind{channel.SMS, channel.Email} {
				kind := string(ch)
				sb.Reset()
				// A node that sends on this channel alone.
				start, cpu0 := time.Now(), processCPU()
				if err := w.start(ctx, node.Options{HTTPClient: hc, Dispatch: []channel.Kind{ch}}, toSandbox); err != nil {
					return err
				}
				err = waitCount(ctx, sb, r.n, kind, 10*time.Minute)
				took, heraldCPU := time.Since(start), processCPU()-cpu0
				if ierr := w.idle(ctx); err == nil {
					err = ierr
				}
				if err != nil {
					return err
				}
				herald := float64(r.n) / took.Seconds()
				sample := sb.Messages(sandbox.Filter{Kind: kind, Limit: 1})
				if len(sample) == 0 {
					return errNoMessages
				}
				sb.Reset()
				var ceil float64
				cpu0 = processCPU()
				if ch == channel.SMS {
					ceil, err = twilioCeiling(ctx, sb, sample[0], r.n, opt.Workers)
				} else {
					ceil, err = smtpCeiling(ctx, sb, sample[0], r.n, opt.Workers)
				}
				ceilCPU := processCPU() - cpu0
				if err != nil {
					return fmt.Errorf("%s ceiling: %w", kind, err)
				}
				label := map[string]string{"sms": "SMS (notify/twilio → sandbox Twilio)", "email": "email (notify/smtp → sandbox SMTP)"}[kind]
				where := "sandbox answers at once (CPU-bound)"
				if r.latency > 0 {
					where = fmt.Sprintf("sandbox answers after %s (provider-bound)", r.latency)
				}
				rep.info(fmt.Sprintf("%s: herald %s", where, label), fmt.Sprintf("%.0f msgs/s (%d in %.2f s)", herald, r.n, took.Seconds()))
				rep.info(fmt.Sprintf("%s: sandbox ceiling, tight client", where), fmt.Sprintf("%.0f msgs/s", ceil))
				ratio := figure{name: fmt.Sprintf("ratio herald / ceiling, %s, %s", kind, where), value: fmt.Sprintf("%.2f", herald/ceil),
					target: "≥ 0.90", pass: herald/ceil >= 0.9}
				if r.latency == 0 {
					ratio.target, ratio.info = "", true
					ratio.value += " (no target: a CPU comparison, see the next line)"
				}
				rep.add(ratio)
				perMsg := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(r.n) }
				rep.info(fmt.Sprintf("%s: CPU per message, %s", where, kind), fmt.Sprintf("herald + sandbox %.0f µs, tight client + sandbox %.0f µs",
					perMsg(heraldCPU), perMsg(ceilCPU)))
			}
			// Whatever the round did not send must not leak into the next.
			if err := w.store().CancelPlan(ctx, bid, time.Now()); err != nil {
				return err
			}
		}
		if err := sb.SetFaults(sandbox.Faults{}); err != nil {
			return err
		}
		fmt.Fprintln(rep.out)
	}
	if !opt.SkipRate {
		fmt.Fprintf(rep.out, "3. configured limit: Rates[sms] = %.0f/s (burst 1), sandbox Twilio RatePerSecond = %.0f (its default burst), held for %s\n",
			opt.Rate, opt.Rate, opt.Duration)
		need := int(opt.Rate*opt.Duration.Seconds()*1.3) + 100
		have, err := w.store().CountCustomers(ctx, w.page.ID)
		if err != nil {
			return err
		}
		if need > have {
			if _, err := w.loadCustomers(ctx, have, need-have, true); err != nil {
				return err
			}
		}
		if _, err := planOnly(ctx, w, "Rate limit"); err != nil {
			return err
		}
		if err := sb.SetFaults(sandbox.Faults{RatePerSecond: opt.Rate}); err != nil {
			return err
		}
		sb.Reset()
		ct.tooMany.Store(0)
		ct.answered.Store(0)
		rate := func(c *node.Config) {
			toSandbox(c)
			c.Broadcast.SMSRate = opt.Rate
		}
		burst1 := func(c *notify.Config) { c.Rates[channel.SMS] = ratelimit.Limit{Rate: opt.Rate, Burst: 1} }
		if err := w.start(ctx, node.Options{HTTPClient: hc, Dispatch: []channel.Kind{channel.SMS}, AdjustNotify: burst1}, rate); err != nil {
			return err
		}
		stop := func() { _ = w.idle(ctx) }
		err = waitCount(ctx, sb, 1, "sms", time.Minute)
		if err != nil {
			stop()
			return err
		}
		t1, c1 := time.Now(), sb.Count("sms")
		select {
		case <-ctx.Done():
		case <-time.After(opt.Duration):
		}
		t2, c2 := time.Now(), sb.Count("sms")
		stop()
		if err := ctx.Err(); err != nil {
			return err
		}
		achieved := float64(c2-c1) / t2.Sub(t1).Seconds()
		rep.add(figure{name: fmt.Sprintf("achieved rate at R = %.0f/s", opt.Rate),
			value:  fmt.Sprintf("%.1f msgs/s = %.3f R (%d in %.1f s)", achieved, achieved/opt.Rate, c2-c1, t2.Sub(t1).Seconds()),
			target: "≥ 0.97 R", pass: achieved >= 0.97*opt.Rate})
		n429 := ct.tooMany.Load()
		rep.add(figure{name: "429 answers from the sandbox's Twilio", value: fmt.Sprintf("%d of %d requests", n429, ct.answered.Load()),
			target: "0", pass: n429 == 0})
		fmt.Fprintln(rep.out)
	}
	return nil
}

// planOnly declares an incident, waits until the world's idle node, which
// only plans, has queued all of its deliveries, and returns the
// broadcast's ID.
func planOnly(ctx context.Context, w *world, name string) (string, error) {
	_, bid, err := w.declare(ctx, name)
	if err != nil {
		return "", err
	}
	_, err = w.waitPlanned(ctx, bid, 10*time.Minute)
	return bid, err
}

func waitCount(ctx context.Context, sb *sandbox.Sandbox, n int, kind string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return sb.WaitFor(ctx, n, kind)
}

// driveCeiling runs conns workers that share n messages and returns the
// messages per second they achieved together. Each worker calls next before
// every message (false: none left, or ctx ended) and returns the first
// error it meets, which ends the run's figure.
func driveCeiling(ctx context.Context, n, conns int, worker func(next func() bool) error) (float64, error) {
	var left atomic.Int64
	left.Store(int64(n))
	next := func() bool { return left.Add(-1) >= 0 && ctx.Err() == nil }
	errs := make(chan error, conns)
	start := time.Now()
	for i := 0; i < conns; i++ {
		go func() { errs <- worker(next) }()
	}
	var firstErr error
	for i := 0; i < conns; i++ {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	took := time.Since(start)
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(n) / took.Seconds(), nil
}

// twilioCeiling drives the sandbox's Twilio Messages API alone: conns
// goroutines POST the same form twilio-go sends (To, From, Body of herald's
// message) over keep-alive connections, as fast as answers come back.
func twilioCeiling(ctx context.Context, sb *sandbox.Sandbox, sample sandbox.Message, n, conns int) (float64, error) {
	cfg := sb.Config()
	endpoint := sb.TwilioURL() + "/2010-04-01/Accounts/" + cfg.AccountSID + "/Messages.json"
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxIdleConns: conns}}
	form := url.Values{"To": {sample.To}, "From": {sample.From}, "Body": {sample.Body}}.Encode()
	return driveCeiling(ctx, n, conns, func(next func() bool) error {
		for next() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "application/json")
			req.SetBasicAuth(cfg.AccountSID, cfg.AuthToken)
			res, err := hc.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				return fmt.Errorf("status %d", res.StatusCode)
			}
		}
		return nil
	})
}

// smtpCeiling drives the sandbox's SMTP server alone with net/smtp: conns
// goroutines each keep one session open and send message after message on
// it (MAIL, RCPT, DATA, RSET), as herald's smtp channel reuses sessions,
// with a multipart body of herald's message.
func smtpCeiling(ctx context.Context, sb *sandbox.Sandbox, sample sandbox.Message, n, conns int) (float64, error) {
	addr := sb.SMTPAddr()
	raw := "From: Acme Status <status@acme.test>\r\nTo: " + sample.To + "\r\nSubject: " + sample.Subject +
		"\r\nMessage-ID: <bench@acme.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + crlf(sample.Body) +
		"\r\n--b1\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n" + crlf(sample.HTML) + "\r\n--b1--\r\n"
	return driveCeiling(ctx, n, conns, func(next func() bool) error {
		c, err := smtp.Dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Hello("bench.test"); err != nil {
			return err
		}
		for next() {
			if err := sendOne(c, sample.To, raw); err != nil {
				return err
			}
		}
		return c.Quit()
	})
}

// sendOne sends one message on an open session and resets it.
func sendOne(c *smtp.Client, to, raw string) error {
	if err := c.Mail("status@acme.test"); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	wc, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(wc, raw); err != nil {
		return err
	}
	if err := wc.Close(); err != nil {
		return err
	}
	return c.Reset()
}

// processCPU returns the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

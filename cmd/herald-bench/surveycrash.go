package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
)

// The surveys' crash case (issue 13): an incident is declared and
// resolved for N recipients; its surveys fall due (delay 20 s, any hour,
// any day, the sweep every second); herald is killed with SIGKILL once
// half the survey SMS are out, and restarted. Every recipient must get
// exactly one survey, but for the sends in flight at the kill. Survey SMS
// are told from the incident's own by counting each recipient's SMS before
// the surveys fall due.

// surveyCrashResult is what one engine's surveys run measured.
type surveyCrashResult struct {
	Engine        string
	Recipients    int
	SentAtKill    int // survey SMS out when the kill came
	Missing       int // recipients without a survey
	Duplicates    int // survey SMS beyond one per recipient
	InFlightBound int
	RestartToDone time.Duration
}

func (r surveyCrashResult) String() string {
	return fmt.Sprintf("surveys engine=%s recipients=%d sent_at_kill=%d missing=%d duplicates=%d (bound %d in flight) restart_to_done=%s",
		r.Engine, r.Recipients, r.SentAtKill, r.Missing, r.Duplicates, r.InFlightBound, r.RestartToDone.Round(time.Millisecond))
}

func surveyCrashRun(ctx context.Context, engine, dir string, opt crashOptions, stderr io.Writer) (surveyCrashResult, error) {
	res := surveyCrashResult{Engine: engine, Recipients: opt.Recipients}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	w, err := startCrashWorld(ctx, engine, dir, opt, 4*opt.Recipients+1000, []string{
		"HERALD_SURVEY_MODE=notified", "HERALD_SURVEY_DELAY=20s", "HERALD_SURVEY_DAYTIME=00:00-24:00",
		"HERALD_SURVEY_WEEKENDS=true", "HERALD_SURVEY_SWEEP=@every 1s"}, stderr)
	if err != nil {
		return res, err
	}
	defer w.close()
	sb, env, base, log, setup := w.sb, w.env, w.base, w.log, w.setup
	h, err := startHerald(ctx, opt.Herald, env, base, log)
	if err != nil {
		return res, err
	}
	defer func() {
		if h != nil {
			h.stop()
		}
	}()
	api := &crashAPI{base: base, token: setup.token, hc: &http.Client{Timeout: 30 * time.Second}}

	// Declare and resolve, each broadcast to its end.
	var inc struct {
		ID string `json:"id"`
	}
	body := map[string]any{"incident": map[string]any{"name": "Card payments fail", "body": "We are investigating.",
		"components": map[string]string{setup.componentID: "major_outage"}, "component_ids": []string{setup.componentID}}}
	if err := api.call(ctx, http.MethodPost, "/v1/pages/"+setup.pageID+"/incidents", body, &inc); err != nil {
		return res, err
	}
	waitBroadcasts := func(n int) error {
		for {
			var bs []queue.Progress
			if err := api.call(ctx, http.MethodGet, "/api/v1/pages/"+setup.pageID+"/incidents/"+inc.ID+"/broadcasts", nil, &bs); err != nil {
				return err
			}
			done := len(bs) == n
			for _, b := range bs {
				done = done && b.Finished() && b.Counts[channel.SMS][queue.StateSent] == 0
			}
			if done {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("broadcasts not done: %w", ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if err := waitBroadcasts(1); err != nil {
		return res, err
	}
	resolve := map[string]any{"incident": map[string]any{"status": "resolved", "body": "Card payments work again.",
		"components": map[string]string{setup.componentID: "operational"}}}
	if err := api.call(ctx, http.MethodPatch, "/v1/pages/"+setup.pageID+"/incidents/"+inc.ID, resolve, nil); err != nil {
		return res, err
	}
	if err := waitBroadcasts(2); err != nil {
		return res, err
	}
	before := sb.Count(sandbox.KindSMS)
	if before != 2*opt.Recipients {
		return res, fmt.Errorf("the incident's broadcasts sent %d SMS, want %d before the surveys", before, 2*opt.Recipients)
	}
	fmt.Fprintf(stderr, "crash: incident declared and resolved, %d SMS; waiting for its surveys\n", before)

	killAt := before + int(float64(opt.Recipients)*opt.KillAt)
	for sb.Count(sandbox.KindSMS) < killAt {
		select {
		case err := <-h.done:
			h = nil
			return res, fmt.Errorf("herald exited before the kill: %v", err)
		case <-ctx.Done():
			return res, fmt.Errorf("only %d survey SMS before the kill point: %w", sb.Count(sandbox.KindSMS)-before, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	h.kill()
	h = nil
	res.SentAtKill = sb.Count(sandbox.KindSMS) - before
	fmt.Fprintf(stderr, "crash: SIGKILL with %d survey SMS sent\n", res.SentAtKill)
	if h, err = startHerald(ctx, opt.Herald, env, base, log); err != nil {
		return res, fmt.Errorf("restart: %w", err)
	}
	restarted := time.Now()
	// Done when every survey is sent and the killed node's claims (held
	// for the lease) have been taken back and sent too.
	for {
		var r struct {
			Sent int `json:"sent"`
		}
		err := api.call(ctx, http.MethodGet, "/api/v1/pages/"+setup.pageID+"/incidents/"+inc.ID+"/survey", nil, &r)
		if err == nil && r.Sent == opt.Recipients && sb.Count(sandbox.KindSMS) >= before+opt.Recipients {
			break
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("surveys not all sent (%d, %v): %w", r.Sent, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	time.Sleep(opt.Lease + 2*time.Second) // the sends the kill left leased come back after the lease
	res.RestartToDone = time.Since(restarted)

	// Each recipient has the incident's two SMS and should have one survey.
	msgs := sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS})
	if len(msgs) != sb.Count(sandbox.KindSMS) {
		return res, fmt.Errorf("the sandbox dropped messages (%d kept of %d): raise its capacity", len(msgs), sb.Count(sandbox.KindSMS))
	}
	per := make(map[string]int, opt.Recipients)
	for _, m := range msgs {
		per[m.To]++
	}
	for i := range opt.Recipients {
		surveys := per[crashPhone(i)] - 2
		switch {
		case surveys < 0:
			return res, fmt.Errorf("recipient %s got %d SMS: fewer than the incident's two", crashPhone(i), per[crashPhone(i)])
		case surveys == 0:
			res.Missing++
		case surveys > 1:
			res.Duplicates += surveys - 1
		}
	}
	claim := max(128, 16*opt.Workers)
	res.InFlightBound = 2*claim + opt.Workers
	return res, nil
}

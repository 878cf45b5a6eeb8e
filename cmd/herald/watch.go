package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// Following a broadcast: `herald broadcast watch ID` and the --wait of
// declare, update and resolve read the server's SSE progress stream and
// draw one bar per channel on stderr; when the stream is unavailable they
// poll. Ctrl-C ends the watching only: the broadcast runs on the server.

// watchPoll is the polling interval when the event stream is unavailable.
const watchPoll = 500 * time.Millisecond

// broadcastFindTimeout is how long --wait looks for the broadcast that a
// declaration or update created (it is written with the change, so it
// normally shows at once).
const broadcastFindTimeout = 5 * time.Second

// tally is a broadcast's counts summed over its channels, or one channel's.
type tally struct {
	open, sent, delivered, failed, suppressed, cancelled, collapsed, total int
}

func tallyOf(byState map[queue.DeliveryState]int) tally {
	var t tally
	for st, n := range byState {
		t.total += n
		switch st {
		case queue.StatePending, queue.StateSending:
			t.open += n
		case queue.StateSent:
			t.sent += n
		case queue.StateDelivered:
			t.delivered += n
		case queue.StateFailed, queue.StateUndelivered:
			t.failed += n
		case queue.StateSuppressed:
			t.suppressed += n
		case queue.StateCancelled:
			t.cancelled += n
		case queue.StateCollapsed:
			t.collapsed += n
		}
	}
	return t
}

func totals(p *queue.Progress) tally {
	var sum tally
	for _, byState := range p.Counts {
		t := tallyOf(byState)
		sum.open += t.open
		sum.sent += t.sent
		sum.delivered += t.delivered
		sum.failed += t.failed
		sum.suppressed += t.suppressed
		sum.cancelled += t.cancelled
		sum.collapsed += t.collapsed
		sum.total += t.total
	}
	return sum
}

// progressView draws progress on w: redrawn in place on a terminal,
// otherwise one line per change at most every second, and the final state.
type progressView struct {
	w     io.Writer
	tty   bool
	lines int // lines drawn last time (tty)
	last  string
	at    time.Time
}

func newProgressView(w io.Writer) *progressView {
	v := &progressView{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			v.tty = true
		}
	}
	return v
}

const barWidth = 24

// render returns the lines describing p: a header, one bar per channel.
func renderProgress(p *queue.Progress) []string {
	lines := []string{fmt.Sprintf("broadcast %s (%s, %s): %d planned", p.BroadcastID, p.Kind, planWord(p.State), p.Planned)}
	kinds := make([]channel.Kind, 0, len(p.Counts))
	for k := range p.Counts {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return kindOrder(kinds[i]) < kindOrder(kinds[j]) })
	for _, k := range kinds {
		t := tallyOf(p.Counts[k])
		done := t.total - t.open
		fill := 0
		if t.total > 0 {
			fill = done * barWidth / t.total
		}
		bar := strings.Repeat("#", fill) + strings.Repeat(".", barWidth-fill)
		line := fmt.Sprintf("  %-7s [%s] %d/%d  sent %d  delivered %d  failed %d  suppressed %d", k, bar, done, t.total, t.sent, t.delivered, t.failed, t.suppressed)
		if t.cancelled > 0 {
			line += fmt.Sprintf("  cancelled %d", t.cancelled)
		}
		if t.collapsed > 0 {
			line += fmt.Sprintf("  collapsed %d", t.collapsed)
		}
		lines = append(lines, line)
		if reasons := p.Reasons[k]; len(reasons) > 0 {
			rs := make([]string, 0, len(reasons))
			for r, n := range reasons {
				rs = append(rs, fmt.Sprintf("%s ×%d", r, n))
			}
			sort.Strings(rs)
			lines = append(lines, "          why: "+oneLine(strings.Join(rs, "; "), 160))
		}
	}
	if len(kinds) == 0 && p.State == queue.PlanPending {
		lines = append(lines, "  planning…")
	}
	return lines
}

// planWord says where planning is: "done" would read as the broadcast's end.
func planWord(s queue.PlanState) string {
	switch s {
	case queue.PlanPending:
		return "planning"
	case queue.PlanDone:
		return "fully planned"
	}
	return string(s)
}

func kindOrder(k channel.Kind) int {
	for i, c := range channelKinds {
		if c == k {
			return i
		}
	}
	return len(channelKinds)
}

// show draws p; final forces a draw.
func (v *progressView) show(p *queue.Progress, final bool) {
	lines := renderProgress(p)
	text := strings.Join(lines, "\n")
	if text == v.last && !final {
		return
	}
	if v.tty {
		if v.lines > 0 {
			fmt.Fprintf(v.w, "\x1b[%dA", v.lines)
		}
		for _, l := range lines {
			fmt.Fprintf(v.w, "\r\x1b[2K%s\n", l)
		}
		v.lines, v.last = len(lines), text
		return
	}
	if !final && time.Since(v.at) < time.Second {
		return
	}
	if text == v.last {
		return
	}
	fmt.Fprintln(v.w, text)
	v.last, v.at = text, time.Now()
}

// watch follows broadcast id until it finishes or ctx ends, drawing its
// progress on stderr and printing a summary line on summary (stdout for
// `broadcast watch`; stderr after a write's --wait, whose stdout is the
// incident it printed, so `-q` and `--json` stay what they say).
func (a *app) watch(ctx context.Context, c *client, id string, summary io.Writer) error {
	v := newProgressView(a.stderr)
	var last *queue.Progress
	onProgress := func(p *queue.Progress) { last = p; v.show(p, false) }
	err := c.followSSE(ctx, id, onProgress)
	if err != nil && ctx.Err() == nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Code == incident.ENOTFOUND {
			return err
		}
		// The stream broke (a proxy, a restart): poll instead.
		err = c.pollProgress(ctx, id, onProgress)
	}
	if ctx.Err() != nil {
		if last != nil {
			v.show(last, true)
		}
		fmt.Fprintf(a.stderr, "stopped watching; broadcast %s goes on (herald broadcast watch %s)\n", id, id)
		return nil
	}
	if err != nil {
		return err
	}
	v.show(last, true)
	t := totals(last)
	fmt.Fprintf(summary, "broadcast %s %s: %d sent, %d delivered, %d failed, %d suppressed", id, doneWord(last), t.sent, t.delivered, t.failed, t.suppressed)
	if t.cancelled > 0 {
		fmt.Fprintf(summary, ", %d cancelled", t.cancelled)
	}
	fmt.Fprintln(summary)
	return nil
}

func doneWord(p *queue.Progress) string {
	if p.State == queue.PlanCancelled {
		return "cancelled"
	}
	return "done"
}

// followSSE reads /api/v1/broadcasts/{id}/events until its "done" event.
func (c *client) followSSE(ctx context.Context, id string, on func(*queue.Progress)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/broadcasts/"+url.PathEscape(id)+"/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// No overall timeout: the stream lasts as long as the broadcast; the
	// server's heartbeats keep it alive and ctx ends it.
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return c.transportError(http.MethodGet, "/api/v1/broadcasts/"+id+"/events", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var eb struct {
			Error struct{ Code, Message, Field string } `json:"error"`
		}
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			return &apiError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Field: eb.Error.Field}
		}
		return &apiError{Status: resp.StatusCode, Code: "http", Message: strings.TrimSpace(firstNonEmpty(snippet(b), resp.Status))}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var event string
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data.Len() > 0 && (event == "progress" || event == "done") {
				var p queue.Progress
				if err := json.Unmarshal([]byte(data.String()), &p); err != nil {
					return fmt.Errorf("broadcast events: %w", err)
				}
				on(&p)
				if event == "done" {
					return nil
				}
			}
			event = ""
			data.Reset()
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

// pollProgress asks for the progress every watchPoll until it finishes.
func (c *client) pollProgress(ctx context.Context, id string, on func(*queue.Progress)) error {
	t := time.NewTicker(watchPoll)
	defer t.Stop()
	for {
		var p queue.Progress
		if err := c.do(ctx, http.MethodGet, "/api/v1/broadcasts/"+url.PathEscape(id), nil, nil, &p, nil); err != nil {
			return err
		}
		on(&p)
		if p.Finished() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// broadcasts lists an incident's broadcasts, oldest first.
func (c *client) broadcasts(ctx context.Context, pageID, incidentID string) ([]queue.Progress, error) {
	var ps []queue.Progress
	err := c.do(ctx, http.MethodGet, pagePath(pageID)+"/incidents/"+url.PathEscape(incidentID)+"/broadcasts", nil, nil, &ps, nil)
	return ps, err
}

// findNewBroadcast waits for a broadcast of the incident that is not in
// before; "" when none appears (nothing was to be notified).
func (c *client) findNewBroadcast(ctx context.Context, pageID, incidentID string, before map[string]bool) (string, error) {
	deadline := time.Now().Add(broadcastFindTimeout)
	for {
		ps, err := c.broadcasts(ctx, pageID, incidentID)
		if err != nil {
			return "", err
		}
		for i := len(ps) - 1; i >= 0; i-- {
			if !before[ps[i].BroadcastID] {
				return ps[i].BroadcastID, nil
			}
		}
		if time.Now().After(deadline) {
			return "", nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitFor follows the broadcast a write created, for --wait.
func (a *app) waitFor(ctx context.Context, c *client, pageID, incidentID string, before map[string]bool) error {
	id, err := c.findNewBroadcast(ctx, pageID, incidentID, before)
	if err != nil {
		return err
	}
	if id == "" {
		fmt.Fprintln(a.stderr, "no broadcast: nobody is notified of this change")
		return nil
	}
	fmt.Fprintf(a.stderr, "following broadcast %s (Ctrl-C stops watching, not the broadcast)\n", id)
	return a.watch(ctx, c, id, a.stderr)
}

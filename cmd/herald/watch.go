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
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
// On a terminal every line is fitted to its width, read at each draw (a
// line that wrapped would leave the cursor-up short and garble the
// redraw), and each channel shows its rate and the time left.
type progressView struct {
	w     io.Writer
	tty   bool
	width func() int // the terminal's columns; 0 when unknown
	now   func() time.Time
	lines int // lines drawn last time (tty)
	last  string
	at    time.Time
	rates map[channel.Kind]*rateMeter
}

func newProgressView(w io.Writer, getenv func(string) string) *progressView {
	v := &progressView{w: w, now: time.Now, rates: map[channel.Kind]*rateMeter{}}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			v.tty = true
			v.width = func() int { return termWidth(f, getenv) }
		}
	}
	return v
}

// termWidth is the terminal's width in columns: the terminal's own, else
// $COLUMNS, else 80.
func termWidth(f *os.File, getenv func(string) string) int {
	if n := terminalColumns(f); n > 0 {
		return n
	}
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 80
}

// rateMeter measures one channel's messages finished per second since the
// watch began, for the rate and the time left.
type rateMeter struct {
	start     time.Time
	startDone int
}

// rate returns messages per second and the estimated time left; ok is
// false until there is something to measure.
func (m *rateMeter) rate(now time.Time, done, open int) (perSec float64, left time.Duration, ok bool) {
	el := now.Sub(m.start)
	if el < 500*time.Millisecond || done <= m.startDone {
		return 0, 0, false
	}
	perSec = float64(done-m.startDone) / el.Seconds()
	left = time.Duration(float64(open) / perSec * float64(time.Second))
	return perSec, left, true
}

// maxBar is the widest bar drawn; minBar the narrowest worth drawing.
const (
	maxBar = 24
	minBar = 6
)

// renderProgress returns the lines describing p, each at most width-1
// characters when width > 0 (the last column stays free, so no terminal
// wraps): a header, one bar per channel with its counts by importance
// (failures, then delivered and sent, the rate and time left, then
// suppressed, collapsed and cancelled; zero counts but failed's left out),
// as many as fit. The bar (one width for all channels) shrinks, then goes,
// before any count is left out; a line that still cannot hold every count
// ends in "…", so a count left out never reads as zero. rates may be nil.
func renderProgress(p *queue.Progress, width int, now time.Time, rates map[channel.Kind]*rateMeter) []string {
	limit := width - 1
	fit := func(s string) string {
		if limit > 0 && utf8.RuneCountInString(s) > limit {
			r := []rune(s)
			return string(r[:limit-1]) + "…"
		}
		return s
	}
	lines := []string{fit(fmt.Sprintf("broadcast %s (%s, %s): %d planned", p.BroadcastID, p.Kind, planWord(p.State), p.Planned))}
	kinds := make([]channel.Kind, 0, len(p.Counts))
	for k := range p.Counts {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return kindOrder(kinds[i]) < kindOrder(kinds[j]) })
	type row struct {
		k           channel.Kind
		t           tally
		done        int
		head, count string
		items       []string // after the count, most important first
		bar         int      // the widest bar that leaves every count room
	}
	// span is the width of a row's head, count and its first n items.
	span := func(r row, n int) int {
		w := utf8.RuneCountInString(r.head) + utf8.RuneCountInString(r.count)
		for _, it := range r.items[:n] {
			w += 2 + utf8.RuneCountInString(it)
		}
		return w
	}
	rows := make([]row, 0, len(kinds))
	barW := maxBar
	for _, k := range kinds {
		r := row{k: k, t: tallyOf(p.Counts[k]), bar: maxBar}
		t := r.t
		r.done = t.total - t.open
		var speed string
		if rates != nil {
			m := rates[k]
			if m == nil {
				m = &rateMeter{start: now, startDone: r.done}
				rates[k] = m
			}
			if perSec, left, ok := m.rate(now, r.done, t.open); ok && t.open > 0 {
				speed = fmt.Sprintf("%s/s ETA %s", rateText(perSec), clock(left))
			}
		}
		r.head = fmt.Sprintf("  %-7s ", k)
		r.count = fmt.Sprintf(" %d/%d", r.done, t.total)
		// The counts that matter, whole: failures first when there are
		// any; a zero count other than failed says nothing, and leaving
		// it out leaves room for the others.
		if t.failed > 0 {
			r.items = append(r.items, fmt.Sprintf("failed %d", t.failed))
		}
		for _, c := range []struct {
			n    int
			word string
		}{{t.delivered, "delivered"}, {t.sent, "sent"}} {
			if c.n > 0 {
				r.items = append(r.items, fmt.Sprintf("%s %d", c.word, c.n))
			}
		}
		if t.failed == 0 {
			r.items = append(r.items, "failed 0")
		}
		if speed != "" {
			r.items = append(r.items, speed)
		}
		for _, c := range []struct {
			n    int
			word string
		}{{t.suppressed, "suppressed"}, {t.collapsed, "collapsed"}, {t.cancelled, "cancelled"}} {
			if c.n > 0 {
				r.items = append(r.items, fmt.Sprintf("%s %d", c.word, c.n))
			}
		}
		if limit > 0 {
			// A count says more than the bar: it gives way to every
			// count and the rate ("[" and "]" take two). The bars share
			// one width, but a row with no room for minBar goes without
			// rather than taking the others' bars away.
			r.bar = limit - span(r, len(r.items)) - 2
			if r.bar >= minBar {
				barW = min(barW, r.bar)
			}
		}
		rows = append(rows, r)
	}
	for _, r := range rows {
		line := r.head
		if r.bar >= minBar {
			fill := 0
			if r.t.total > 0 {
				fill = r.done * barW / r.t.total
			}
			line += "[" + strings.Repeat("#", fill) + strings.Repeat(".", barW-fill) + "]"
		}
		n := len(r.items)
		if limit > 0 {
			used := utf8.RuneCountInString(line) - utf8.RuneCountInString(r.head)
			for n > 0 && used+span(r, n) > limit {
				n--
			}
			if n < len(r.items) {
				// Leave room for the "  …" that says counts are left out.
				for n > 0 && used+span(r, n)+3 > limit {
					n--
				}
			}
		}
		line += r.count
		for _, it := range r.items[:n] {
			line += "  " + it
		}
		if n < len(r.items) {
			line += "  …"
		}
		lines = append(lines, fit(line))
		if reasons := p.Reasons[r.k]; len(reasons) > 0 {
			rs := make([]string, 0, len(reasons))
			for reason, n := range reasons {
				rs = append(rs, fmt.Sprintf("%s ×%d", reason, n))
			}
			sort.Strings(rs)
			lines = append(lines, fit("          why: "+oneLine(strings.Join(rs, "; "), 160)))
		}
	}
	if len(kinds) == 0 && p.State == queue.PlanPending {
		lines = append(lines, "  planning…")
	}
	return lines
}

// rateText writes a rate with sensible precision.
func rateText(perSec float64) string {
	if perSec >= 10 {
		return strconv.Itoa(int(perSec + 0.5))
	}
	return strconv.FormatFloat(perSec, 'f', 1, 64)
}

// clock writes a duration as m:ss, or h:mm:ss from an hour.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
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
	width := 0
	if v.tty && v.width != nil {
		width = v.width()
	}
	var rates map[channel.Kind]*rateMeter
	if v.tty {
		rates = v.rates
	}
	lines := renderProgress(p, width, v.now(), rates)
	text := strings.Join(lines, "\n")
	if text == v.last && !final {
		return
	}
	if v.tty {
		if v.lines > 0 {
			// Back to the first line drawn, and clear everything below it.
			fmt.Fprintf(v.w, "\x1b[%dA\r\x1b[J", v.lines)
		}
		for _, l := range lines {
			fmt.Fprintf(v.w, "%s\n", l)
		}
		v.lines, v.last = len(lines), text
		return
	}
	if !final && v.now().Sub(v.at) < time.Second {
		return
	}
	if text == v.last {
		return
	}
	fmt.Fprintln(v.w, text)
	v.last, v.at = text, v.now()
}

// watch follows broadcast id until it finishes or ctx ends, drawing its
// progress on stderr and printing a summary line on summary (stdout for
// `broadcast watch`; stderr after a write's --wait, whose stdout is the
// incident it printed, so `-q` and `--json` stay what they say).
func (a *app) watch(ctx context.Context, c *client, id string, summary io.Writer) error {
	v := newProgressView(a.stderr, a.getenv)
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
	if h := last.Held; h != nil {
		// Nothing more goes out before h.Until: say so rather than wait.
		fmt.Fprintf(summary, "broadcast %s: %s\n%d %s held (%s) until %s; they go out then: herald broadcast watch %s\n",
			id, summaryCounts(last.Planned, t), h.Pending, messages(h.Pending), heldWhy(h.Reasons),
			a.at(h.Until), id)
		return nil
	}
	fmt.Fprintf(summary, "broadcast %s %s: %s\n", id, doneWord(last), summaryCounts(last.Planned, t))
	return nil
}

// summaryCounts writes a broadcast's counts for its summary line so that
// they add up to what was planned: sent, delivered, failed and suppressed
// always, then collapsed, cancelled and still open ones when there are
// any, and the planned total they make.
func summaryCounts(planned int, t tally) string {
	s := fmt.Sprintf("%d sent, %d delivered, %d failed, %d suppressed", t.sent, t.delivered, t.failed, t.suppressed)
	for _, c := range []struct {
		n    int
		word string
	}{{t.collapsed, "collapsed"}, {t.cancelled, "cancelled"}, {t.open, "not yet sent"}} {
		if c.n > 0 {
			s += fmt.Sprintf(", %d %s", c.n, c.word)
		}
	}
	known := t.sent + t.delivered + t.failed + t.suppressed + t.collapsed + t.cancelled + t.open
	if other := max(planned, t.total) - known; other > 0 {
		// A state this CLI does not know, or deliveries not yet written.
		s += fmt.Sprintf(", %d other", other)
	}
	return s + fmt.Sprintf(" (%d planned)", max(planned, t.total))
}

func messages(n int) string {
	if n == 1 {
		return "message"
	}
	return "messages"
}

// heldWhy names why messages wait: "quiet hours", "frequency cap", or a
// provider's retry, joined; "deferred" when no reason was recorded.
func heldWhy(reasons []string) string {
	var out []string
	for _, r := range reasons {
		if r = strings.TrimSpace(printable(r)); r != "" {
			out = append(out, oneLine(r, 60))
		}
	}
	if len(out) == 0 {
		return "deferred"
	}
	return strings.Join(out, ", ")
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
			if data.Len() > 0 && (event == "progress" || event == "done" || event == "held") {
				var p queue.Progress
				if err := json.Unmarshal([]byte(data.String()), &p); err != nil {
					return fmt.Errorf("broadcast events: %w", err)
				}
				on(&p)
				if event == "done" || event == "held" {
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

package slackapp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/livemsg"
	"github.com/heraldhq/herald/queue"
)

// The incident's live message. On each incident event, whichever node
// published it, the incident is marked; a marked incident's message is
// rendered and, if it differs from what the message shows, posted (the
// first time) or edited with chat.update — at most once per EditEvery per
// incident across every node. While a broadcast of the incident is going
// out, every node refreshes the message every EditEvery, so its progress
// moves on even when the node that made the change has died. Each update
// after the declaration is also replied in the message's thread.
//
// On Redis every node does this for every incident, so the message never
// depends on one node. What keeps them from posting twice or undoing each
// other is in the store (livemsg.Store): where the message is (channel,
// ts), a digest of what it last showed and when it was edited, and a
// lease. A node renders and sends only while it holds the incident's
// lease, and it reads the incident after taking it: two changes made at
// once on two nodes are rendered one after the other, and the render sent
// last is of the later state. The others find the digest the same and
// send nothing. A node that died between Slack's answer to the first post
// and recording it leaves a claim without a ts; the next node finds that
// message in the channel's history since the claim, by the metadata it
// carries and herald's bot having posted it, rather than posting a
// second one.

// staleClaim is how long a lease to send a message lasts (its holder died
// holding it), and how long a claim to post one holds for a node of an
// earlier version, which takes no lease: well beyond a Slack call's
// timeout (10 s).
const staleClaim = time.Minute

// metadataType is the event type of the metadata each incident message
// carries (with the incident's and its page's IDs, see liveMetadata): how
// a node finds, in the channel's history, a message another node posted
// and died before recording.
const metadataType = "herald_incident"

// historyPages bounds the look for such a message: the newest
// historyPages×200 messages of the channel since the claim, each page a
// conversations.history call (Slack allows about 50 a minute). A channel
// that moved on further than that since the claim is not read to its
// end: the look says so at Warn, and the message is posted again.
var historyPages = 25

// claimSkew is how long before a claim the look starts: the node's clock
// and Slack's may differ a little.
const claimSkew = time.Minute

// liveMetadata is the metadata of an incident's message.
func liveMetadata(inc *incident.Incident) channel.Metadata {
	return channel.Metadata{Type: metadataType, Payload: map[string]string{"incident_id": inc.ID, "page_id": inc.PageID}}
}

// tracked is what the keeper knows of one incident's message on this node.
type tracked struct {
	dirty    bool      // changed since the last render
	watching bool      // a broadcast is still going out
	lastTry  time.Time // when this node last rendered the message
	failures int
	nextTry  time.Time
}

// Run keeps incident messages current until ctx ends. It does nothing
// without an incident channel.
func (a *App) Run(ctx context.Context) {
	defer a.Close()
	if a.cfg.IncidentChannel == "" || a.events == nil {
		<-ctx.Done()
		return
	}
	evs, cancel := a.events.Subscribe()
	defer cancel()
	states := map[string]*tracked{}
	tick := time.NewTicker(a.cfg.EditEvery / 3)
	defer tick.Stop()
	mark := func(id string) {
		st := states[id]
		if st == nil {
			st = &tracked{}
			states[id] = st
		}
		st.dirty = true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-evs:
			if !ok {
				return
			}
			if ev.IncidentID == "" {
				continue
			}
			if ev.Type == incident.EventIncidentChanged || ev.Type == incident.EventBroadcastCreated {
				mark(ev.IncidentID)
			}
		case id := <-a.kick:
			mark(id)
		case <-tick.C:
		}
		now := a.now()
		for id, st := range states {
			if !st.dirty && !st.watching {
				delete(states, id)
				continue
			}
			if now.Sub(st.lastTry) < a.cfg.EditEvery || now.Before(st.nextTry) {
				continue
			}
			a.refresh(ctx, id, st, now)
		}
	}
}

// refresh renders one incident's message and sends it if it changed.
func (a *App) refresh(ctx context.Context, id string, st *tracked, now time.Time) {
	st.dirty, st.lastTry = false, now
	err := a.keep(ctx, id, st, now)
	var soon *tooSoon
	switch {
	case err == nil:
		st.failures, st.nextTry = 0, time.Time{}
	case errors.Is(err, errNotOurs):
		st.watching = false
	case errors.As(err, &soon):
		// Another node edited it a moment ago: edit once the pause is
		// over, with what is true then.
		st.dirty, st.lastTry, st.nextTry = true, time.Time{}, soon.until
	case errors.Is(err, errLeased):
		// Another node is sending it now, perhaps what it read before
		// this change: render again once it is done.
		st.dirty, st.lastTry, st.nextTry = true, time.Time{}, now.Add(a.cfg.EditEvery/3)
	case errors.Is(err, errPostedElsewhere):
		st.dirty, st.nextTry = true, now.Add(a.cfg.EditEvery)
	default:
		// Retried with backoff; the message stays as it was meanwhile.
		st.failures++
		st.dirty = true
		back := min(time.Duration(1<<min(st.failures, 6))*time.Second, time.Minute)
		st.nextTry = now.Add(back)
		if retry := channel.RetryAfter(err); retry > back {
			st.nextTry = now.Add(retry)
		}
		a.log.Warn("slack: incident message", "incident_id", id, "err", err, "failures", st.failures)
	}
}

var (
	// errNotOurs: an incident with no message to keep (a maintenance,
	// one deleted, one recorded already closed).
	errNotOurs = errors.New("no live message for this incident")
	// errPostedElsewhere: another node is posting the first message.
	errPostedElsewhere = errors.New("another node is posting the incident message")
	// errLeased: another node holds the incident's lease.
	errLeased = errors.New("another node is sending the incident message")
)

// tooSoon: the message was edited less than EditEvery ago (by any node);
// the edit waits until until.
type tooSoon struct{ until time.Time }

func (e *tooSoon) Error() string { return "the incident message was edited a moment ago" }

// keep brings one incident's message up to date, holding the incident's
// lease while it reads, renders and sends.
func (a *App) keep(ctx context.Context, id string, st *tracked, now time.Time) error {
	ok, err := a.store.LeaseLiveMessage(ctx, id, a.holder, now, now.Add(staleClaim))
	if err != nil {
		return err
	}
	if !ok {
		return errLeased
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := a.store.ReleaseLiveMessage(rctx, id, a.holder); err != nil {
			a.log.Warn("slack: release the incident message's lease", "incident_id", id, "err", err)
		}
	}()
	return a.keepLeased(ctx, id, st, now)
}

func (a *App) keepLeased(ctx context.Context, id string, st *tracked, now time.Time) error {
	inc, err := a.inc.Incident(ctx, "", id)
	if incident.ErrorCode(err) == incident.ENOTFOUND {
		return errNotOurs
	}
	if err != nil {
		return err
	}
	if inc.IsMaintenance() || inc.Backfilled {
		return errNotOurs
	}
	rec, err := a.store.FindLiveMessage(ctx, id)
	if incident.ErrorCode(err) == incident.ENOTFOUND {
		if inc.Status.Closed() && len(inc.Updates) <= 1 {
			return errNotOurs // recorded after the fact: nothing to follow
		}
		rec = &livemsg.Message{IncidentID: id, PageID: inc.PageID, Channel: a.cfg.IncidentChannel, ClaimedAt: now, UpdatedAt: now}
		ok, err := a.store.ClaimLiveMessage(ctx, rec, now.Add(-staleClaim))
		if err != nil {
			return err
		}
		if !ok {
			return errPostedElsewhere
		}
	} else if err != nil {
		return err
	} else if rec.TS == "" {
		// Claimed, and never said where it went: the node that claimed
		// it failed to post it, or died between Slack's answer and
		// recording it (nodes post only under the lease, which is now
		// ours). Slack may have it: look for it by its metadata since
		// the claim, and keep that one; post only if it is not there.
		ts, err := a.findPosted(ctx, inc, rec)
		if err != nil {
			return err
		}
		// Claimed anew: the next look starts here, as a post under
		// the earlier claim would have been found by this one.
		rec.ClaimedAt, rec.UpdatedAt = now, now
		if ts != "" {
			// Adopted: what it shows is unknown, so it is edited below.
			// As after a first post, the declaration is in the message
			// and the updates after it go to the thread: the node that
			// posted it replied nothing, as it records the ts first.
			rec.TS, rec.Rendered, rec.EditedAt = ts, "", time.Time{}
			if rec.Channel == "" {
				rec.Channel = a.cfg.IncidentChannel
			}
			if len(inc.Updates) > 0 {
				rec.Replied = inc.Updates[len(inc.Updates)-1].ID
			}
			a.log.Info("slack: incident message found in the channel, kept", "incident_id", id, "channel", rec.Channel, "ts", ts)
		} else {
			rec.Channel = a.cfg.IncidentChannel
		}
		if err := a.store.SaveLiveMessage(ctx, rec); err != nil {
			return err
		}
	}
	page, err := a.inc.Page(ctx, inc.PageID)
	if err != nil {
		return err
	}
	comps, err := a.inc.Components(ctx, inc.PageID)
	if err != nil {
		return err
	}
	progress, err := a.fan.Broadcasts(ctx, id)
	if err != nil {
		return err
	}
	st.watching = false
	for _, p := range progress {
		if !p.Finished() {
			st.watching = true
		}
	}
	outbox, err := a.inc.Store.FindBroadcasts(ctx, id)
	if err != nil {
		return err
	}
	msg, err := a.incidentMessage(page, inc, comps, latestProgress(inc, outbox, progress))
	if err != nil {
		return err
	}
	digest := renderedDigest(msg)
	if rec.TS != "" && digest == rec.Rendered {
		return a.replies(ctx, inc, rec, page)
	}
	if rec.TS != "" && now.Before(rec.EditedAt.Add(a.cfg.EditEvery)) {
		return &tooSoon{until: rec.EditedAt.Add(a.cfg.EditEvery)}
	}
	msg.To, msg.Replace = rec.Channel, rec.TS
	r, err := a.slack.Send(ctx, msg)
	if err != nil {
		return err
	}
	rec.Rendered, rec.EditedAt, rec.UpdatedAt = digest, now, now
	posted := r.ProviderID != "" && r.ProviderID != rec.TS
	if posted {
		// Posted (the first time, or anew because the old message was
		// deleted): the declaration is in the message, not the thread.
		first := rec.TS == ""
		rec.TS = r.ProviderID
		if first && len(inc.Updates) > 0 {
			rec.Replied = inc.Updates[len(inc.Updates)-1].ID
		}
	}
	// Sent: record it even when the node is stopping meanwhile, or the
	// next node posts the message again.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := a.store.SaveLiveMessage(sctx, rec); err != nil {
		return err
	}
	if posted {
		a.log.Info("slack: incident message posted", "incident_id", id, "channel", rec.Channel, "ts", rec.TS)
	}
	return a.replies(ctx, inc, rec, page)
}

// findPosted looks in rec's channel for the incident's message posted
// since rec was claimed (its metadata names the incident), and returns its
// ts, or "" when there is none. When Slack refuses the look (the app lacks
// channels:history or groups:history, the bot is not in the channel) it
// says so once at Warn and returns "": a message posted twice is better
// than none. Other failures (a timeout, a 429) are errors, retried.
func (a *App) findPosted(ctx context.Context, inc *incident.Incident, rec *livemsg.Message) (string, error) {
	ch := rec.Channel
	if ch == "" {
		ch = a.cfg.IncidentChannel
	}
	var since time.Time
	if !rec.ClaimedAt.IsZero() {
		since = rec.ClaimedAt.Add(-claimSkew)
	}
	ts, complete, err := a.slack.FindMessage(ctx, ch, since, liveMetadata(inc), historyPages)
	if err == nil && ts == "" && !complete {
		a.log.Warn("slack: the incident channel's history since the claim is longer than herald reads: an incident message whose post was never recorded is posted again, perhaps twice",
			"incident_id", inc.ID, "channel", ch, "since", since, "pages_read", historyPages)
	}
	if err == nil || !channel.IsPermanent(err) {
		return ts, err
	}
	code := "refused"
	var se *channel.SendError
	if errors.As(err, &se) && se.Code != "" {
		code = se.Code
	}
	if _, logged := a.historyWarned.LoadOrStore(code, true); !logged {
		fix := ""
		switch code {
		case "missing_scope":
			fix = "add the bot scopes channels:history and groups:history (private channels) to the Slack app and reinstall it"
		case "not_in_channel":
			fix = "invite herald to the incident channel (/invite @herald)"
		}
		a.log.Warn("slack: cannot read the incident channel's history: an incident message whose post was never recorded is posted again, perhaps twice",
			"incident_id", inc.ID, "channel", ch, "err", err, "fix", fix)
	}
	return "", nil
}

// replies posts the updates after rec.Replied, oldest first, in the
// message's thread, recording each as it goes.
func (a *App) replies(ctx context.Context, inc *incident.Incident, rec *livemsg.Message, page *incident.Page) error {
	// inc.Updates is newest first.
	var todo []*incident.Update
	for _, u := range inc.Updates {
		if u.ID == rec.Replied {
			break
		}
		todo = append(todo, u)
	}
	if len(todo) == len(inc.Updates) && rec.Replied != "" {
		return nil // the replied update was edited away: do not repost the history
	}
	lang := pageLang(page)
	for i := len(todo) - 1; i >= 0; i-- {
		u := todo[i]
		text := "*" + a.statusWord(lang, u.Status) + "* · " + u.DisplayAt.In(page.Location()).Format("2006-01-02 15:04 MST")
		if u.Body != "" {
			text += "\n" + escapeMrkdwn(u.Body)
		}
		if u.Status == incident.Postmortem {
			// The postmortem is on the incident's page, not in the update:
			// without the link the reply said only "Postmortem" and a time.
			text += "\n<" + page.URL + "/incidents/" + inc.ID + "?lang=" + lang + "#h-pm|" + escapeMrkdwn(a.text(lang, "ReadPostmortem")) + ">"
		}
		for _, ac := range u.AffectedComponents {
			text += "\n• " + escapeMrkdwn(ac.Name) + ": " + a.componentWord(lang, ac.OldStatus) + " → " + a.componentWord(lang, ac.NewStatus)
		}
		// Take the reply before posting it: another node that read the
		// same record (its own event, or its refresh of a broadcast's
		// progress) finds Replied moved on and leaves the reply to us.
		from := rec.Replied
		rec.Replied, rec.UpdatedAt = u.ID, a.now()
		ok, err := a.store.AdvanceLiveReply(ctx, rec, from)
		if err != nil || !ok {
			return err
		}
		if _, err := a.slack.Send(ctx, &channel.Message{Kind: channel.Slack, To: rec.Channel, ThreadTS: rec.TS, Text: text}); err != nil {
			// Give the reply back, so that the next try posts it.
			back := *rec
			back.Replied = from
			bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, err := a.store.AdvanceLiveReply(bctx, &back, u.ID)
			cancel()
			if err != nil {
				a.log.Warn("slack: give back a thread reply", "incident_id", inc.ID, "err", err)
			}
			rec.Replied = from
			return err
		}
	}
	return nil
}

// renderedDigest is what livemsg.Message.Rendered keeps of a rendered
// message: enough to tell whether it differs from what was last sent.
func renderedDigest(m *channel.Message) string {
	h := sha256.New()
	h.Write([]byte(m.Text))
	h.Write([]byte{0})
	h.Write(m.Blocks)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func pageLang(page *incident.Page) string {
	if len(page.Languages) > 0 {
		return page.Languages[0]
	}
	return "en"
}

// shownImpact is the impact to show for inc: once it is over, the worst it
// reached (as the status page and the reports keep it), not one lowered
// while the fix was watched.
func shownImpact(inc *incident.Incident) incident.Impact {
	if inc.Status.Closed() {
		return inc.PeakImpact()
	}
	return inc.Impact
}

// statusEmoji marks an incident's state at a glance.
func statusEmoji(inc *incident.Incident) string {
	switch {
	case inc.Status.Closed():
		return ":large_green_circle:"
	case inc.Impact == incident.ImpactCritical:
		return ":red_circle:"
	case inc.Impact == incident.ImpactMajor:
		return ":large_orange_circle:"
	}
	return ":large_yellow_circle:"
}

// incidentMessage renders the incident's live message in the page's
// language: status, components, the latest update, the broadcast's
// progress per channel, and the buttons.
func (a *App) incidentMessage(page *incident.Page, inc *incident.Incident, comps []*incident.Component, progress []*queue.Progress) (*channel.Message, error) {
	lang := pageLang(page)
	loc := page.Location()
	byID := map[string]*incident.Component{}
	for _, c := range comps {
		byID[c.ID] = c
	}
	title := inc.Name
	blocks := []slackgo.Block{slackgo.NewHeaderBlock(plain(clip(title, 150)))}
	fields := []*slackgo.TextBlockObject{
		mrkdwn("*" + a.text(lang, "StatusLabel") + "*\n" + statusEmoji(inc) + " " + a.statusWord(lang, inc.Status)),
		mrkdwn("*" + a.text(lang, "ImpactLabel") + "*\n" + a.impactWord(lang, shownImpact(inc))),
		mrkdwn("*" + a.text(lang, "SlackStarted") + "*\n" + inc.StartedAt.In(loc).Format("2006-01-02 15:04 MST")),
	}
	var compLines []string
	for _, id := range inc.ComponentIDs {
		if c := byID[id]; c != nil {
			compLines = append(compLines, "• "+escapeMrkdwn(c.Name)+": "+a.componentWord(lang, c.Status))
		}
	}
	if len(compLines) == 0 {
		compLines = []string{a.text(lang, "SlackNoComponents")}
	}
	fields = append(fields, mrkdwn("*"+a.text(lang, "Components")+"*\n"+clip(strings.Join(compLines, "\n"), 1900)))
	blocks = append(blocks, slackgo.NewSectionBlock(nil, fields, nil))
	if len(inc.Updates) > 0 {
		u := inc.Updates[0]
		body := escapeMrkdwn(u.Body)
		if body == "" {
			body = a.statusWord(lang, u.Status)
		}
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn("*"+a.text(lang, "SlackLatestUpdate")+"* · "+
			u.DisplayAt.In(loc).Format("15:04 MST")+"\n"+clip(body, 2800)), nil, nil))
	}
	blocks = append(blocks, slackgo.NewContextBlock("progress", mrkdwn("*"+a.text(lang, "SlackBroadcast")+"*: "+a.progressLine(lang, progress))))
	link := page.URL + "/incidents/" + inc.ID
	open := slackgo.NewButtonBlockElement(ActionOpen, inc.ID, plain(a.text(lang, "SlackButtonOpen")))
	open.URL = link
	// Post update stays once the incident is resolved: a note after the
	// all-clear (it stays resolved, as on Statuspage).
	upd := slackgo.NewButtonBlockElement(ActionUpdate, inc.ID, plain(a.text(lang, "SlackButtonUpdate")))
	buttons := []slackgo.BlockElement{upd}
	if !inc.Status.Closed() {
		upd.Style = slackgo.StylePrimary
		res := slackgo.NewButtonBlockElement(ActionResolve, inc.ID, plain(a.text(lang, "SlackButtonResolve")))
		res.Style = slackgo.StyleDanger
		buttons = append(buttons, res)
	}
	buttons = append(buttons, open)
	blocks = append(blocks, slackgo.NewActionBlock("incident", buttons...))
	b, err := json.Marshal(blocks)
	if err != nil {
		return nil, err
	}
	text := statusEmoji(inc) + " " + escapeMrkdwn(inc.Name) + " · " + a.statusWord(lang, inc.Status)
	md := liveMetadata(inc)
	return &channel.Message{Kind: channel.Slack, Text: text, Blocks: b, Language: lang, Metadata: &md}, nil
}

// latestProgress is the progress of the broadcasts that send the latest
// update: none when it was posted without telling customers, though an
// earlier update's messages went out.
func latestProgress(inc *incident.Incident, outbox []*incident.Broadcast, progress []*queue.Progress) []*queue.Progress {
	if len(inc.Updates) == 0 {
		return nil
	}
	latest := map[string]bool{}
	for _, b := range outbox {
		if b.UpdateID == inc.Updates[0].ID {
			latest[b.ID] = true
		}
	}
	var out []*queue.Progress
	for _, p := range progress {
		if latest[p.BroadcastID] {
			out = append(out, p)
		}
	}
	return out
}

// progressLine words the progress per channel of the latest update's
// broadcast: sent of total, and failures.
func (a *App) progressLine(lang string, progress []*queue.Progress) string {
	type tally struct{ sent, total, failed int }
	per := map[channel.Kind]*tally{}
	if len(progress) > 1 {
		progress = progress[len(progress)-1:] // oldest first
	}
	for _, p := range progress {
		for k, byState := range p.Counts {
			t := per[k]
			if t == nil {
				t = &tally{}
				per[k] = t
			}
			for s, n := range byState {
				switch s {
				case queue.StateSent, queue.StateDelivered:
					t.sent += n
				case queue.StateFailed, queue.StateUndelivered:
					t.failed += n
				case queue.StateCollapsed, queue.StateCancelled, queue.StateSuppressed:
					continue
				}
				t.total += n
			}
		}
	}
	var kinds []channel.Kind
	for k, t := range per {
		if t.total > 0 {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		if len(progress) > 0 && progress[0].State == queue.PlanPending {
			return a.text(lang, "SlackBroadcastPlanning")
		}
		return a.text(lang, "SlackBroadcastNone")
	}
	sort.Slice(kinds, func(i, j int) bool { return kindOrder(kinds[i]) < kindOrder(kinds[j]) })
	var parts []string
	for _, k := range kinds {
		t := per[k]
		s := a.text(lang, "SlackProgress", "Channel", a.channelWord(lang, k), "Sent", itoa(t.sent), "Total", itoa(t.total))
		if t.failed > 0 {
			s += ", " + a.text(lang, "SlackProgressFailed", "Failed", itoa(t.failed))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "  ·  ")
}

func kindOrder(k channel.Kind) int {
	for i, c := range channel.Kinds {
		if c == k {
			return i
		}
	}
	return len(channel.Kinds)
}

// Refresh asks for an incident's message to be brought up to date now
// (subject to the throttle); the event bus does this for every change.
func (a *App) Refresh(incidentID string) {
	select {
	case a.kick <- incidentID:
	default:
	}
}

// escapeMrkdwn escapes the three characters Slack's mrkdwn reserves, in
// text a person typed (an update, a name): "<@U…>" or "<https://…|…>" in
// an operator's text would otherwise mention someone or make a link, and
// a bare "&" or "<" can garble the message.
var escapeMrkdwn = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

package slackapp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/internal/syncbuf"
	"github.com/heraldhq/herald/livemsg"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/sandbox"
	"github.com/heraldhq/herald/slackapp"
)

// A node that dies between Slack accepting the incident message and
// recording its ts leaves a claim with no ts. The sandbox plays that
// crash (Faults.DropSlackPosts): it keeps the post, so the message is in
// the channel, and closes the connection instead of answering, so the
// node never learns the ts and records nothing. The node that takes the
// incident next (on SQLite the same one, on Redis either) used to post
// the message again: two copies, the first never edited again.

// topLevel returns herald's messages in the incident channel that are not
// thread replies or ephemeral, oldest first.
func topLevel(sb *sandbox.Sandbox) []sandbox.Message {
	var top []sandbox.Message
	for _, m := range sb.Messages(sandbox.Filter{Kind: sandbox.KindSlack, To: node.SandboxIncidentChannel}) {
		if m.Status != "ephemeral" && m.Headers["thread_ts"] == "" && m.BotID == sb.SlackIdentity().BotID {
			top = append(top, m)
		}
	}
	return top
}

// recordedTS waits until the incident's message record has a ts.
func recordedTS(t *testing.T, store livemsg.Store, incidentID string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec, err := store.FindLiveMessage(context.Background(), incidentID)
		if err == nil && rec.TS != "" {
			return rec.TS
		}
		if err != nil && incident.ErrorCode(err) != incident.ENOTFOUND {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the incident message was never recorded (record %+v, %v)", rec, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkKeptOnce checks, after a crashed first post of inc's message, that
// the channel holds that one message, recorded, and that a later update
// edits it rather than posting another. update makes the change through
// a node.
func checkKeptOnce(t *testing.T, sb *sandbox.Sandbox, store livemsg.Store, inc *incident.Incident, update func(body string)) {
	t.Helper()
	ts := recordedTS(t, store, inc.ID)
	top := topLevel(sb)
	if len(top) != 1 {
		t.Fatalf("%d incident messages in the channel after the crashed post, want 1 (the crashed post kept): %v", len(top), ids(top))
	}
	if top[0].ID != ts {
		t.Fatalf("the record says %s, the channel holds %s", ts, top[0].ID)
	}
	const body = "Payments are back for most cards."
	update(body)
	deadline := time.Now().Add(30 * time.Second)
	for {
		top = topLevel(sb)
		if len(top) != 1 {
			t.Fatalf("%d incident messages in the channel after an update, want 1: %v", len(top), ids(top))
		}
		if strings.Contains(string(top[0].Blocks), body) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kept message never showed the update: %s", top[0].Blocks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if top[0].ID != ts || top[0].Edits == 0 {
		t.Errorf("the update went to %s (%d edits), want an edit of %s", top[0].ID, top[0].Edits, ts)
	}
}

func ids(ms []sandbox.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// TestCrashedPostIsKept (SQLite): the message posted before the crash is
// found in the channel's history by its metadata, recorded, and edited.
func TestCrashedPostIsKept(t *testing.T) {
	d := startDoor(t)
	if err := d.n.Sandbox.SetFaults(sandbox.Faults{DropSlackPosts: 1}); err != nil {
		t.Fatal(err)
	}
	inc := d.declare()
	d.n.Slack.Refresh(inc.ID)
	checkKeptOnce(t, d.n.Sandbox, d.n.Engine.LiveMessages, inc, func(body string) {
		d.update(inc, incident.IncidentInput{Body: &body})
	})
}

// TestCrashedPostKeepsTheThread: an update made between the crashed post
// and the node finding it goes into the found message's thread, as it
// would after a first post: the crashed node replied nothing, as it
// records the ts before it replies.
func TestCrashedPostKeepsTheThread(t *testing.T) {
	d := startDoor(t)
	inc := crashFirstPost(t, d, sandbox.Faults{DropSlackPosts: 1})
	// The node retries after a backoff of seconds: the update lands
	// before it looks.
	body := "We found the faulty card gateway."
	d.update(inc, incident.IncidentInput{Body: &body})
	if rec, err := d.n.Engine.LiveMessages.FindLiveMessage(context.Background(), inc.ID); err != nil || rec.TS != "" {
		t.Fatalf("the record before the node looked again: %+v, %v; want a claim without ts", rec, err)
	}
	ts := recordedTS(t, d.n.Engine.LiveMessages, inc.ID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var thread []string
		for _, m := range d.n.Sandbox.Messages(sandbox.Filter{Kind: sandbox.KindSlack, To: node.SandboxIncidentChannel}) {
			if m.Headers["thread_ts"] == ts {
				thread = append(thread, m.Body+string(m.Blocks))
			}
		}
		if len(thread) == 1 && strings.Contains(thread[0], body) {
			break
		}
		if len(thread) > 1 || time.Now().After(deadline) {
			t.Fatalf("the found message's thread holds %d replies, want the one update: %q", len(thread), thread)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(topLevel(d.n.Sandbox)); n != 1 {
		t.Errorf("%d incident messages in the channel, want 1", n)
	}
}

// TestCrashedPostIsKeptOnRedis: the same across two nodes on Redis,
// where either may be the one that finds the message.
func TestCrashedPostIsKeptOnRedis(t *testing.T) {
	c := startCluster(t, 0)
	if err := c.sb.SetFaults(sandbox.Faults{DropSlackPosts: 1}); err != nil {
		t.Fatal(err)
	}
	name, body, off := "Card payments failing", "Card payments fail.", false
	inc, _, err := c.nodes[0].Incidents.CreateIncident(c.as(), c.pageID, incident.IncidentInput{Name: &name, Body: &body, DeliverNotifications: &off}, "")
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[0].Slack.Refresh(inc.ID)
	checkKeptOnce(t, c.sb, c.nodes[1].Engine.LiveMessages, inc, func(body string) {
		if _, err := c.nodes[1].Incidents.UpdateIncident(c.as(), c.pageID, inc.ID, incident.IncidentInput{Body: &body, DeliverNotifications: &off}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCrashedPostWithoutHistoryScope: an app installed without
// channels:history cannot look; the message is posted again (two copies
// rather than none kept current), and the log says once, at Warn, which
// scopes to add, however many incidents it happens to.
func TestCrashedPostWithoutHistoryScope(t *testing.T) {
	var log syncbuf.Buffer
	d := startDoorLogging(t, &log)
	if err := d.n.Sandbox.SetFaults(sandbox.Faults{DropSlackPosts: 2, SlackHistory: "missing_scope"}); err != nil {
		t.Fatal(err)
	}
	var incs []*incident.Incident
	for range 2 {
		inc := d.declare()
		d.n.Slack.Refresh(inc.ID)
		incs = append(incs, inc)
	}
	for _, inc := range incs {
		recordedTS(t, d.n.Engine.LiveMessages, inc.ID)
	}
	if n := len(topLevel(d.n.Sandbox)); n != 4 {
		t.Errorf("%d incident messages, want 4 (each incident's posted again)", n)
	}
	warns := warnLines(&log, "history")
	if len(warns) != 1 || !strings.Contains(warns[0], "channels:history") || !strings.Contains(warns[0], "groups:history") {
		t.Errorf("want one Warn naming the scopes to add; got %q", warns)
	}
}

// otherApp installs another app in the sandbox's workspace and returns a
// client posting as its bot.
func otherApp(t *testing.T, sb *sandbox.Sandbox) *slackgo.Client {
	t.Helper()
	if err := sb.AddSlackToken("xoxb-otherapp", sandbox.SlackIdentity{UserID: "U0OTHERBOT", BotID: "B0OTHERAPP", AppID: "A0OTHERAPP", Name: "otherapp"}); err != nil {
		t.Fatal(err)
	}
	return slackgo.New("xoxb-otherapp", slackgo.OptionAPIURL(sb.SlackURL()))
}

// TestCrashedPostIgnoresOtherApps: anyone can post a message with metadata,
// herald's event type and the incident's IDs included. The look after a
// crashed post keeps only a message herald's own bot posted: another
// app's, older than herald's within the look (its start allows for clock
// skew), used to be the one kept. herald could not edit it, posted the
// message again, and the crashed post stayed, never edited: two copies.
func TestCrashedPostIgnoresOtherApps(t *testing.T) {
	d := startDoor(t)
	sb := d.n.Sandbox
	// Recorded when it was over: no message until it changes.
	name, body, resolved, off := "Card payments failed", "Card payments failed for an hour.", incident.Resolved, false
	inc, _, err := d.n.Incidents.CreateIncident(d.as(), d.n.Page.ID, incident.IncidentInput{Name: &name, Body: &body, Status: &resolved, DeliverNotifications: &off}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, foreign, err := otherApp(t, sb).PostMessage(node.SandboxIncidentChannel, slackgo.MsgOptionText("Not herald's", false),
		slackgo.MsgOptionMetadata(slackgo.SlackMetadata{EventType: "herald_incident", EventPayload: map[string]any{"incident_id": inc.ID, "page_id": inc.PageID}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.SetFaults(sandbox.Faults{DropSlackPosts: 1}); err != nil {
		t.Fatal(err)
	}
	note := "Refunds for the failed payments are on their way."
	d.update(inc, incident.IncidentInput{Body: &note})
	d.n.Slack.Refresh(inc.ID)
	checkKeptOnce(t, sb, d.n.Engine.LiveMessages, inc, func(body string) {
		d.update(inc, incident.IncidentInput{Body: &body})
	})
	for _, m := range sb.Messages(sandbox.Filter{Kind: sandbox.KindSlack, To: node.SandboxIncidentChannel}) {
		if m.ID == foreign && (m.Edits != 0 || m.Body != "Not herald's") {
			t.Errorf("the other app's message was edited: %+v", m)
		}
		if m.Headers["thread_ts"] == foreign {
			t.Errorf("herald replied in the other app's thread: %+v", m)
		}
	}
}

// chatter has a person post n messages in the incident channel, as a busy
// channel moves on.
func chatter(t *testing.T, sb *sandbox.Sandbox, n int) {
	t.Helper()
	if err := sb.AddSlackToken("xoxp-alice", sandbox.SlackIdentity{UserID: "U0ALICE", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	alice := slackgo.New("xoxp-alice", slackgo.OptionAPIURL(sb.SlackURL()))
	for i := range n {
		if _, _, err := alice.PostMessage(node.SandboxIncidentChannel, slackgo.MsgOptionText("Anyone else seeing card declines? "+itoa(i), false)); err != nil {
			t.Fatal(err)
		}
	}
}

// crashBeforeLook makes the first post of an incident's message crash, and
// holds the node's look for it (conversations.history fails, and is
// retried) until the returned function is called: the test moves the
// channel on meanwhile.
func crashBeforeLook(t *testing.T, d *door) (inc *incident.Incident, look func()) {
	t.Helper()
	inc = crashFirstPost(t, d, sandbox.Faults{DropSlackPosts: 1, SlackHistory: "internal_error"})
	return inc, func() {
		if err := d.n.Sandbox.SetFaults(sandbox.Faults{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashedPostFoundPastManyMessages: the look reads the channel's
// history since the claim to its end, a page at a time, however many
// messages came after the crashed post. It used to read 3 pages (600
// messages), newest first: in a busy channel the crashed post, the
// oldest, was past them, and the message was posted twice.
func TestCrashedPostFoundPastManyMessages(t *testing.T) {
	d := startDoor(t)
	inc, look := crashBeforeLook(t, d)
	chatter(t, d.n.Sandbox, 650)
	look()
	checkKeptOnce(t, d.n.Sandbox, d.n.Engine.LiveMessages, inc, func(body string) {
		d.update(inc, incident.IncidentInput{Body: &body})
	})
}

// TestCrashedPostBeyondTheLook: the look is bounded (historyPages); a
// channel that moved on further since the claim is not read to its end.
// The message is posted again, and the log says why at Warn.
func TestCrashedPostBeyondTheLook(t *testing.T) {
	slackapp.SetHistoryPages(t, 1)
	var log syncbuf.Buffer
	d := startDoorLogging(t, &log)
	inc, look := crashBeforeLook(t, d)
	chatter(t, d.n.Sandbox, 250)
	look()
	recordedTS(t, d.n.Engine.LiveMessages, inc.ID)
	if n := len(topLevel(d.n.Sandbox)); n != 2 {
		t.Errorf("%d incident messages, want 2 (posted again)", n)
	}
	warns := warnLines(&log, "longer than herald reads")
	if len(warns) != 1 || !strings.Contains(warns[0], "incident_id="+inc.ID) || !strings.Contains(warns[0], "pages_read=1") {
		t.Errorf("want one Warn that the history was not read to its end; got %q", warns)
	}
}

// warnLines are the lines of log logged at Warn that contain sub.
func warnLines(log *syncbuf.Buffer, sub string) []string {
	var warns []string
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, sub) {
			warns = append(warns, line)
		}
	}
	return warns
}

// crashFirstPost declares an incident under faults (a post Slack takes
// and herald never hears of, DropSlackPosts) and returns it once that
// first post is in the channel.
func crashFirstPost(t *testing.T, d *door, faults sandbox.Faults) *incident.Incident {
	t.Helper()
	if err := d.n.Sandbox.SetFaults(faults); err != nil {
		t.Fatal(err)
	}
	inc := d.declare()
	d.n.Slack.Refresh(inc.ID)
	deadline := time.Now().Add(30 * time.Second)
	for len(topLevel(d.n.Sandbox)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first post never reached the channel")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return inc
}

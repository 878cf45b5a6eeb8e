package slack_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/notify/slack"
	"github.com/heraldhq/herald/sandbox"
)

// TestAgainstSandbox posts through herald's own Slack stand-in, both routes.
func TestAgainstSandbox(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Config{Faults: sandbox.Faults{FailTo: map[string]string{"C_GONE": "channel_not_found"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ch, err := slack.New(slack.Config{Token: sandbox.DefaultSlackToken, APIURL: sb.SlackURL(), AllowPrivate: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		to   string
		code string
	}{
		{"chat.postMessage", "C_AGENTS", ""},
		{"incoming webhook", sb.SlackWebhookURL("T1/B1/secret"), ""},
		{"channel_not_found is permanent", "C_GONE", "channel_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ch.Send(ctx, &channel.Message{Kind: channel.Slack, To: tt.to, Text: "INC-1: Login outage",
				Blocks: []byte(`[{"type":"section","text":{"type":"mrkdwn","text":"*Identified*"}}]`)})
			if tt.code != "" {
				var se *channel.SendError
				if !errors.As(err, &se) || !se.Permanent || se.Code != tt.code {
					t.Fatalf("Send = %v, want permanent %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
		})
	}
	if n := sb.Count(sandbox.KindSlack); n != 2 {
		t.Fatalf("sandbox counted %d slack messages, want 2", n)
	}
}

// TestEditInPlace edits a posted message with chat.update (Message.Replace),
// and posts anew when the message to edit is gone.
func TestEditInPlace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ch, err := slack.New(slack.Config{Token: sandbox.DefaultSlackToken, APIURL: sb.SlackURL(), AllowPrivate: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := ch.Send(ctx, &channel.Message{Kind: channel.Slack, To: "C0AGENTS01", Text: "coming"})
	if err != nil || first.ProviderID == "" {
		t.Fatalf("post: %+v %v", first, err)
	}
	edit, err := ch.Send(ctx, &channel.Message{Kind: channel.Slack, To: "C0AGENTS01", Text: "decided", Replace: first.ProviderID})
	if err != nil || edit.ProviderID != first.ProviderID || edit.Status != "updated" {
		t.Fatalf("edit: %+v %v", edit, err)
	}
	ms := sb.Messages(sandbox.Filter{Kind: sandbox.KindSlack})
	if len(ms) != 1 || ms[0].Body != "decided" || ms[0].Edits != 1 {
		t.Fatalf("after the edit the sandbox holds %+v", ms)
	}
	// A message someone deleted (or another channel's) cannot be edited:
	// the state is posted anew.
	again, err := ch.Send(ctx, &channel.Message{Kind: channel.Slack, To: "C0AGENTS01", Text: "amended", Replace: "1.000000"})
	if err != nil || again.ProviderID == first.ProviderID || again.Status != "sent" {
		t.Fatalf("edit of a missing message: %+v %v", again, err)
	}
	if n := sb.Count(sandbox.KindSlack); n != 2 {
		t.Fatalf("sandbox counted %d slack messages, want 2", n)
	}
}

// TestFindMessage: a message herald posted with metadata is found again in
// the channel's history by that metadata, among others (another app's and
// a person's with the same metadata are not herald's), from a time before
// it; not when it is older than that time or beyond the pages read; and
// Slack's refusal of the history comes back as a permanent SendError.
func TestFindMessage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ch, err := slack.New(slack.Config{Token: sandbox.DefaultSlackToken, APIURL: sb.SlackURL(), AllowPrivate: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := func(inc string) *channel.Metadata {
		return &channel.Metadata{Type: "herald_incident", Payload: map[string]string{"incident_id": inc, "page_id": "p1"}}
	}
	post := func(text string, m *channel.Metadata) string {
		t.Helper()
		r, err := ch.Send(ctx, &channel.Message{Kind: channel.Slack, To: "C0INCIDENT1", Text: text, Metadata: m})
		if err != nil {
			t.Fatal(err)
		}
		return r.ProviderID
	}
	since := time.Now().Add(-time.Second)
	post("other incident", md("i2"))
	// Anyone can post metadata: another app's message and a person's,
	// with the same, are not herald's.
	for token, id := range map[string]sandbox.SlackIdentity{
		"xoxb-otherapp": {UserID: "U0OTHERBOT", BotID: "B0OTHERAPP", AppID: "A0OTHERAPP", Name: "otherapp"},
		"xoxp-alice":    {UserID: "U0ALICE", Name: "alice"},
	} {
		if err := sb.AddSlackToken(token, id); err != nil {
			t.Fatal(err)
		}
		other, err := slack.New(slack.Config{Token: token, APIURL: sb.SlackURL(), AllowPrivate: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Send(ctx, &channel.Message{Kind: channel.Slack, To: "C0INCIDENT1", Text: "not herald's", Metadata: md("i1")}); err != nil {
			t.Fatal(err)
		}
	}
	want := post("ours", md("i1"))
	// Edited without metadata, it is still found by it.
	if _, err := ch.Send(ctx, &channel.Message{Kind: channel.Slack, To: "C0INCIDENT1", Text: "ours, edited", Replace: want}); err != nil {
		t.Fatal(err)
	}
	for range 250 { // the channel moves on: more than one page
		post("chatter", nil)
	}
	find := func(since time.Time, pages int) (string, bool) {
		t.Helper()
		ts, complete, err := ch.FindMessage(ctx, "C0INCIDENT1", since, *md("i1"), pages)
		if err != nil {
			t.Fatal(err)
		}
		return ts, complete
	}
	if got, complete := find(since, 3); got != want || !complete {
		t.Errorf("FindMessage = %q, complete %v; want %q, complete", got, complete, want)
	}
	if got, complete := find(since, 1); got != "" || complete {
		t.Errorf("FindMessage on one page = %q, complete %v; want none, incomplete", got, complete)
	}
	if got, complete := find(time.Now().Add(time.Minute), 3); got != "" || !complete {
		t.Errorf("FindMessage since a minute from now = %q, complete %v; want none, complete", got, complete)
	}
	if err := sb.SetFaults(sandbox.Faults{SlackHistory: "missing_scope"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = ch.FindMessage(ctx, "C0INCIDENT1", since, *md("i1"), 3)
	var se *channel.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Code != "missing_scope" {
		t.Errorf("FindMessage without the scope = %v, want permanent missing_scope", err)
	}
}

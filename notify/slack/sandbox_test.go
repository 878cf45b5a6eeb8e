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

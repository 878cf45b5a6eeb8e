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

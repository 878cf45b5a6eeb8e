package webhook_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/notify/webhook"
	"github.com/heraldhq/herald/sandbox"
)

// TestAgainstSandbox posts to herald's own webhook sink (on loopback, so
// AllowPrivate is needed).
func TestAgainstSandbox(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Config{Faults: sandbox.Faults{FailTo: map[string]string{"gone": "410"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ch, err := webhook.New(webhook.Config{Secret: "s", AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"meta":{"unsubscribe":"https://status.example.com/u/x"},"page":{"id":"p1","status_indicator":"major"}}`)
	if _, err := ch.Send(ctx, &channel.Message{DeliveryID: "d1", To: sb.WebhookURL("ops"), Payload: payload}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := sb.Messages(sandbox.Filter{Kind: sandbox.KindWebhook})
	if len(got) != 1 || got[0].Body != string(payload) {
		t.Fatalf("sandbox inbox = %+v", got)
	}
	_, err = ch.Send(ctx, &channel.Message{DeliveryID: "d2", To: sb.WebhookURL("gone"), Payload: payload})
	var se *channel.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Code != "HTTP 410" {
		t.Fatalf("Send to gone = %v, want permanent HTTP 410", err)
	}
}

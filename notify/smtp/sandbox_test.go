package smtp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/notify/smtp"
	"github.com/heraldhq/herald/sandbox"
)

// TestAgainstSandbox sends through herald's own SMTP stand-in.
func TestAgainstSandbox(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Config{Faults: sandbox.Faults{FailTo: map[string]string{"gone@example.org": "550 5.1.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ch, err := smtp.New(smtp.Config{Addr: sb.SMTPAddr(), From: "Herald Status <status@example.com>", TLS: smtp.TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(to string) *channel.Message {
		return &channel.Message{DeliveryID: "d-" + to, Kind: channel.Email, To: to, Subject: "Szolgáltatáskiesés",
			Text: "Dolgozunk rajta.", HTML: "<p>Dolgozunk rajta.</p>", UnsubscribeURL: "https://status.example.com/u/tok"}
	}
	rc, err := ch.Send(ctx, msg("customer@example.org"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := sb.WaitFor(ctx, 1, sandbox.KindEmail); err != nil {
		t.Fatal(err)
	}
	got := sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail})
	if len(got) != 1 || got[0].Subject != "Szolgáltatáskiesés" || got[0].HTML == "" || got[0].Body == "" {
		t.Fatalf("sandbox inbox = %+v (receipt %+v)", got, rc)
	}

	if rp := got[0].Headers["Return-Path"]; rp != "<status@example.com>" {
		t.Errorf("a broadcast's Return-Path %q, want the configured <status@example.com>", rp)
	}

	// An automatic reply goes with the null sender, which the sandbox takes.
	auto := msg("anna@example.org")
	auto.UnsubscribeURL, auto.AutoReply = "", true
	if _, err := ch.Send(ctx, auto); err != nil {
		t.Fatalf("Send auto-reply: %v", err)
	}
	if err := sb.WaitFor(ctx, 2, sandbox.KindEmail); err != nil {
		t.Fatal(err)
	}
	got = sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: "anna@example.org"})
	if len(got) != 1 || got[0].Headers["Return-Path"] != "<>" || got[0].Headers["Auto-Submitted"] != "auto-replied" || got[0].Body == "" {
		t.Fatalf("the auto-reply in the sandbox = %+v", got)
	}

	_, err = ch.Send(ctx, msg("gone@example.org"))
	var se *channel.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Code != "550 5.1.1" {
		t.Fatalf("Send to a failing address = %v, want permanent 550 5.1.1", err)
	}
}

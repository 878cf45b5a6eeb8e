package twilio_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/notify/twilio"
	"github.com/heraldhq/herald/sandbox"
)

// TestAgainstSandbox sends through herald's own Twilio stand-in.
func TestAgainstSandbox(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Config{Faults: sandbox.Faults{FailTo: map[string]string{"+36209999999": "21211"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ch, err := twilio.New(twilio.Config{
		AccountSID: sandbox.DefaultAccountSID, AuthToken: sandbox.DefaultAuthToken,
		From: "+15005550006", APIURL: sb.TwilioURL(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		to   string
		code string
	}{
		{"accepted", "+36201234567", ""},
		{"21211 from the sandbox is permanent", "+36209999999", "21211"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := ch.Send(ctx, &channel.Message{Kind: channel.SMS, To: tt.to, Text: "Áramszünet: dolgozunk rajta."})
			if tt.code != "" {
				var se *channel.SendError
				if !errors.As(err, &se) || !se.Permanent || se.Code != tt.code {
					t.Fatalf("Send = %v, want permanent %s", err, tt.code)
				}
				return
			}
			if err != nil || rc.ProviderID == "" {
				t.Fatalf("Send = %+v, %v", rc, err)
			}
			msgs := sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: tt.to})
			if len(msgs) != 1 || msgs[0].ID != rc.ProviderID || msgs[0].Body != "Áramszünet: dolgozunk rajta." {
				t.Fatalf("sandbox inbox = %+v", msgs)
			}
		})
	}
}

// BenchmarkSendAgainstSandbox is one Send through the loopback sandbox,
// herald's side and the sandbox's together (go test -run '^$' -bench
// SendAgainstSandbox -benchmem ./notify/twilio/; read the CPU with
// -cpuprofile, the machine being shared).
func BenchmarkSendAgainstSandbox(b *testing.B) {
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Config{Capacity: b.N + 10})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	ch, err := twilio.New(twilio.Config{AccountSID: sandbox.DefaultAccountSID, AuthToken: sandbox.DefaultAuthToken,
		From: "+15005550006", APIURL: sb.TwilioURL()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	m := &channel.Message{Kind: channel.SMS, To: "+36201234567", Text: "Köszönjük, megkaptuk (H-4F2K). A kártyás fizetés hibáját javítjuk: https://status.example/i/1"}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := ch.Send(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

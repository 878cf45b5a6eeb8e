package sandbox

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail"
)

func mailClient(t *testing.T, sb *Sandbox, opts ...mail.Option) *mail.Client {
	t.Helper()
	host, port, err := net.SplitHostPort(sb.SMTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	opts = append([]mail.Option{mail.WithPort(p), mail.WithTLSPolicy(mail.NoTLS), mail.WithTimeout(5 * time.Second)}, opts...)
	c, err := mail.NewClient(host, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func apology(t *testing.T, to string) *mail.Msg {
	t.Helper()
	m := mail.NewMsg()
	if err := m.From("status@herald.example"); err != nil {
		t.Fatal(err)
	}
	if err := m.To(to); err != nil {
		t.Fatal(err)
	}
	m.Subject("Przepraszamy: awaria płatności")
	m.SetMessageID()
	m.SetDate()
	m.SetGenHeader(mail.HeaderListUnsubscribe, "<https://status.example/u/TOK>, <mailto:unsub@herald.example?subject=TOK>")
	m.SetGenHeader(mail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	m.SetBodyString(mail.TypeTextPlain, "Payments are back. Płatności działają.")
	m.AddAlternativeString(mail.TypeTextHTML, "<p>Payments are <b>back</b>.</p>")
	return m
}

func TestSMTPSend(t *testing.T) {
	sb := start(t, Config{Faults: Faults{FailTo: map[string]string{"bad@example.com": "550 5.1.1", "full@example.com": "452 4.2.2 Mailbox full"}}})
	c := mailClient(t, sb)
	ctx := context.Background()

	t.Run("lands in inbox", func(t *testing.T) {
		if err := c.DialAndSendWithContext(ctx, apology(t, "anna@example.com")); err != nil {
			t.Fatalf("send: %v", err)
		}
		got := sb.Messages(Filter{Kind: KindEmail, To: "anna@example.com"})
		if len(got) != 1 {
			t.Fatalf("inbox = %+v", got)
		}
		m := got[0]
		if m.Subject != "Przepraszamy: awaria płatności" {
			t.Errorf("subject = %q", m.Subject)
		}
		if strings.TrimSpace(m.Body) != "Payments are back. Płatności działają." {
			t.Errorf("text = %q", m.Body)
		}
		if strings.TrimSpace(m.HTML) != "<p>Payments are <b>back</b>.</p>" {
			t.Errorf("html = %q", m.HTML)
		}
		if !strings.Contains(m.Headers["List-Unsubscribe"], "https://status.example/u/TOK") || m.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
			t.Errorf("headers = %v", m.Headers)
		}
		if m.ID == "" || !strings.Contains(m.From, "status@herald.example") {
			t.Errorf("id %q from %q", m.ID, m.From)
		}
	})

	errCases := []struct {
		name     string
		to       string
		code     int
		enhanced string
		temp     bool
	}{
		{"permanent bounce", "bad@example.com", 550, "5.1.1", false},
		{"mailbox full is temporary", "full@example.com", 452, "4.2.2", true},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			err := c.DialAndSendWithContext(ctx, apology(t, tt.to))
			var se *mail.SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want *mail.SendError", err, err)
			}
			if se.ErrorCode() != tt.code || se.EnhancedStatusCode() != tt.enhanced || se.IsTemp() != tt.temp {
				t.Errorf("code %d enhanced %q temp %v", se.ErrorCode(), se.EnhancedStatusCode(), se.IsTemp())
			}
		})
	}
	if n := sb.Count(KindEmail); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
}

func TestSMTPErrorRateIsTemporary(t *testing.T) {
	sb := start(t, Config{Faults: Faults{ErrorRate: 1}})
	err := mailClient(t, sb).DialAndSendWithContext(context.Background(), apology(t, "anna@example.com"))
	var se *mail.SendError
	if !errors.As(err, &se) || se.ErrorCode() != 451 || se.EnhancedStatusCode() != "4.3.0" || !se.IsTemp() {
		t.Fatalf("err = %v", err)
	}
	if sb.Count("") != 0 {
		t.Error("a refused message reached the inbox")
	}
}

func TestSMTPAuth(t *testing.T) {
	sb := start(t, Config{SMTPUsername: "herald", SMTPPassword: "s3cret"})
	tests := []struct {
		name string
		opts []mail.Option
		ok   bool
	}{
		{"right password", []mail.Option{mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername("herald"), mail.WithPassword("s3cret")}, true},
		{"wrong password", []mail.Option{mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername("herald"), mail.WithPassword("nope")}, false},
		{"no auth", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mailClient(t, sb, tt.opts...).DialAndSendWithContext(context.Background(), apology(t, "anna@example.com"))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestParseMailEncodings(t *testing.T) {
	raw := "From: a@x\r\nTo: b@y\r\nSubject: =?UTF-8?B?QsWCxIVk?=\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=OUT\r\n\r\n" +
		"--OUT\r\nContent-Type: multipart/alternative; boundary=IN\r\n\r\n" +
		"--IN\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nxYLEhWN6\r\nbm/Fm8SH\r\n" +
		"--IN\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>=C5=82=C4=85</p>\r\n" +
		"--IN--\r\n" +
		"--OUT\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=x.txt\r\n\r\nnot the body\r\n" +
		"--OUT--\r\n"
	m, err := parseMail([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Błąd" || m.Body != "łączność" || m.HTML != "<p>łą</p>" {
		t.Errorf("subject %q body %q html %q", m.Subject, m.Body, m.HTML)
	}
}

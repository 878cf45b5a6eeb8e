package smtp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/notify"
)

// received is one message the in-process server accepted.
type received struct {
	from string
	to   []string
	data []byte
	user string
}

// backend is an in-process SMTP server. Recipients steer its answers:
// bounce@ → 550 5.1.1 at RCPT, busy@ → 451 4.3.0 at RCPT,
// spam@ → 554 5.7.1 after DATA, slow@ → stalls at DATA.
type backend struct {
	mu       sync.Mutex
	msgs     []received
	password string // non-empty: AUTH PLAIN required with user "herald"
	conns    []*gosmtp.Conn
	// refuseNull: MAIL FROM:<> answers 550 5.7.1, as a submission
	// service that takes only its account's addresses.
	refuseNull bool
	nullTries  int // MAIL FROM:<> seen
}

func (b *backend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
	return &session{b: b}, nil
}

// sessions counts the connections the server has accepted.
func (b *backend) sessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// hangUp closes every connection from the server's side, as a relay does
// after its idle timeout.
func (b *backend) hangUp() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		_ = c.Conn().Close()
	}
}

func (b *backend) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

type session struct {
	b    *backend
	user string
	cur  received
}

func (s *session) AuthMechanisms() []string {
	if s.b.password == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != "herald" || password != s.b.password {
			return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if s.b.password != "" && s.user == "" {
		return &gosmtp.SMTPError{Code: 530, EnhancedCode: gosmtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	if from == "" {
		s.b.mu.Lock()
		s.b.nullTries++
		refuse := s.b.refuseNull
		s.b.mu.Unlock()
		if refuse {
			return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "sender address rejected"}
		}
	}
	s.cur = received{from: from, user: s.user}
	return nil
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "bounce@"):
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	case strings.HasPrefix(to, "busy@"):
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, to := range s.cur.to {
		switch {
		case strings.HasPrefix(to, "spam@"):
			return &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "message refused"}
		case strings.HasPrefix(to, "slow@"):
			time.Sleep(2 * time.Second) // longer than the client's per-step timeout
		}
	}
	s.cur.data = b
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

// startServer runs an in-process SMTP server on 127.0.0.1:0.
func startServer(t *testing.T, be *backend) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := gosmtp.NewServer(be)
	srv.Domain = "mx.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Addr: "smtp.example.com:587", From: "Herald Status <status@example.com>"}
	mod := func(f func(*Config)) Config { c := ok; f(&c); return c }
	tests := []struct {
		name  string
		cfg   Config
		valid bool
	}{
		{"minimal", ok, true},
		{"full", mod(func(c *Config) {
			c.Username, c.Password, c.TLS, c.HELO, c.Timeout, c.UnsubscribeMailto = "u", "p", TLSImplicit, "herald.example.com", time.Second, "unsub@example.com"
		}), true},
		{"plain auth to loopback", mod(func(c *Config) { c.Addr, c.TLS, c.Username, c.Password = "127.0.0.1:25", TLSNone, "u", "p" }), true},
		{"plain auth to a remote host", mod(func(c *Config) { c.TLS, c.Username, c.Password = TLSNone, "u", "p" }), false},
		{"no port", mod(func(c *Config) { c.Addr = "smtp.example.com" }), false},
		{"bad port", mod(func(c *Config) { c.Addr = "smtp.example.com:0" }), false},
		{"bad From", mod(func(c *Config) { c.From = "not an address" }), false},
		{"username without password", mod(func(c *Config) { c.Username = "u" }), false},
		{"unknown TLS mode", mod(func(c *Config) { c.TLS = "ssl" }), false},
		{"HELO with space", mod(func(c *Config) { c.HELO = "a b" }), false},
		{"negative timeout", mod(func(c *Config) { c.Timeout = -1 }), false},
		{"mailto with name", mod(func(c *Config) { c.UnsubscribeMailto = "Unsub <u@example.com>" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.valid {
				t.Fatalf("Validate() = %v, want valid=%v", err, tt.valid)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("%v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func testMessage(to string) *channel.Message {
	return &channel.Message{
		DeliveryID:     "upd1.email.abc123",
		Kind:           channel.Email,
		To:             to,
		Subject:        "Szolgáltatáskiesés: bejelentkezés",
		Text:           "Dolgozunk a hibán. Köszönjük a türelmét — a Herald csapat.\nTovábbi részletek: https://status.example.com/incidents/abc",
		HTML:           "<p>Dolgozunk a hibán. <strong>Köszönjük</strong> a türelmét.</p>",
		Headers:        map[string]string{"Reply-To": "support@example.com", "X-Herald-Incident": "abc"},
		UnsubscribeURL: "https://status.example.com/unsubscribe/tok123",
		Language:       "hu",
	}
}

func TestBuildMessage(t *testing.T) {
	cfg := Config{Addr: "127.0.0.1:25", From: "Herald Status <status@example.com>", UnsubscribeMailto: "unsubscribe@example.com"}
	msg, err := BuildMessage(cfg, testMessage("Ügyfél <customer@example.org>"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	raw := buf.String()
	in, err := ParseInbound(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("ParseInbound of our own message: %v\n%s", err, raw)
	}
	want := testMessage("")
	if in.Subject != want.Subject || in.From != "status@example.com" || len(in.To) != 1 || in.To[0] != "customer@example.org" {
		t.Errorf("envelope: %+v", in)
	}
	if in.MessageID != "upd1.email.abc123@example.com" {
		t.Errorf("Message-ID = %q", in.MessageID)
	}
	if strings.TrimSpace(in.Text) != want.Text || strings.TrimSpace(in.HTML) != want.HTML {
		t.Errorf("parts:\ntext %q\nhtml %q", in.Text, in.HTML)
	}
	for _, h := range []string{
		"List-Unsubscribe: <https://status.example.com/unsubscribe/tok123>, <mailto:unsubscribe@example.com?subject=unsubscribe>\r\n",
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
		"X-Herald-Delivery: upd1.email.abc123\r\n",
		"Content-Language: hu\r\n",
		"Reply-To: support@example.com\r\n",
		"X-Herald-Incident: abc\r\n",
		"Content-Type: multipart/alternative;",
	} {
		if !strings.Contains(raw, h) {
			t.Errorf("missing %q in\n%s", h, raw)
		}
	}
	if !strings.HasPrefix(raw, "Date: ") && !strings.Contains(raw, "\r\nDate: ") {
		t.Error("no Date header")
	}

	// Only text: a single text/plain part, no unsubscribe headers without a URL.
	msg, err = BuildMessage(Config{From: "status@example.com"}, &channel.Message{To: "a@example.org", Subject: "x", Text: "only text"})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	_, _ = msg.WriteTo(&buf)
	if s := buf.String(); strings.Contains(s, "multipart") || strings.Contains(s, "List-Unsubscribe") || !strings.Contains(s, "Message-ID: <") {
		t.Errorf("text-only message:\n%s", s)
	}

	refusals := []struct {
		name string
		msg  channel.Message
		code string
	}{
		{"bad recipient", channel.Message{To: "nobody", Text: "x"}, "invalid_address"},
		{"no body", channel.Message{To: "a@example.org", Subject: "x"}, "no_body"},
		{"header injection", channel.Message{To: "a@example.org", Text: "x", Headers: map[string]string{"X-A": "1\r\nBcc: evil@example.com"}}, "invalid_header"},
		{"reserved header", channel.Message{To: "a@example.org", Text: "x", Headers: map[string]string{"bcc": "evil@example.com"}}, "invalid_header"},
		{"bad header name", channel.Message{To: "a@example.org", Text: "x", Headers: map[string]string{"X A": "1"}}, "invalid_header"},
		{"mailto unsubscribe URL", channel.Message{To: "a@example.org", Text: "x", UnsubscribeURL: "mailto:u@example.com"}, "invalid_unsubscribe_url"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BuildMessage(cfg, &tt.msg)
			var se *channel.SendError
			if !errors.As(err, &se) || !se.Permanent || se.Code != tt.code {
				t.Fatalf("BuildMessage = %v, want permanent %s", err, tt.code)
			}
		})
	}
}

func TestSend(t *testing.T) {
	be := &backend{}
	addr := startServer(t, be)
	ch, err := New(Config{Addr: addr, From: "Herald Status <status@example.com>", TLS: TLSNone, HELO: "herald.test", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		to        string
		permanent bool
		code      string
		plain     bool
	}{
		{name: "delivered", to: "customer@example.org"},
		{name: "550 5.1.1 unknown user is permanent", to: "bounce@example.org", permanent: true, code: "550 5.1.1"},
		{name: "451 4.3.0 is transient", to: "busy@example.org", code: "451 4.3.0"},
		{name: "554 5.7.1 after DATA is permanent", to: "spam@example.org", permanent: true, code: "554 5.7.1"},
		{name: "stalled server hits the step timeout", to: "slow@example.org", plain: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(be.messages())
			rc, err := ch.Send(context.Background(), testMessage(tt.to))
			switch {
			case tt.code == "" && !tt.plain:
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if rc.ProviderID != "upd1.email.abc123@example.com" || rc.Status != "sent" || !strings.HasPrefix(rc.Reply, "250 2.0.0 ") {
					t.Fatalf("receipt = %+v", rc)
				}
				msgs := be.messages()
				if len(msgs) != before+1 {
					t.Fatalf("server has %d messages, want %d", len(msgs), before+1)
				}
				got := msgs[len(msgs)-1]
				if got.from != "status@example.com" || len(got.to) != 1 || got.to[0] != tt.to {
					t.Fatalf("envelope = %q → %q", got.from, got.to)
				}
				in, err := ParseInbound(bytes.NewReader(got.data))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(in.Text, "Köszönjük a türelmét") || !strings.Contains(in.HTML, "<strong>Köszönjük</strong>") {
					t.Fatalf("parts: %q / %q", in.Text, in.HTML)
				}
				for _, h := range []string{"List-Unsubscribe: <https://status.example.com/unsubscribe/tok123>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click", "X-Herald-Delivery: upd1.email.abc123"} {
					if !bytes.Contains(got.data, []byte(h)) {
						t.Errorf("server copy lacks %q", h)
					}
				}
			case tt.plain:
				var se *channel.SendError
				if err == nil || errors.As(err, &se) {
					t.Fatalf("err = %v, want a plain (transient) error", err)
				}
			default:
				var se *channel.SendError
				if !errors.As(err, &se) {
					t.Fatalf("err = %T %v, want *channel.SendError", err, err)
				}
				if se.Permanent != tt.permanent || se.Code != tt.code {
					t.Fatalf("SendError = %+v, want permanent=%v code=%s", se, tt.permanent, tt.code)
				}
				if len(be.messages()) != before {
					t.Fatal("a refused message was stored")
				}
			}
		})
	}
}

// TestSessionReuse: messages share a connection up to maxPerSession; a
// session the relay hung up on is replaced without losing or doubling the
// message; after a refusal the next message goes out on a fresh session.
func TestSessionReuse(t *testing.T) {
	be := &backend{}
	addr := startServer(t, be)
	ch, err := New(Config{Addr: addr, From: "status@example.com", TLS: TLSNone, HELO: "herald.test", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	send := func(to string) error {
		_, err := ch.Send(context.Background(), testMessage(to))
		return err
	}
	for i := 0; i < maxPerSession+1; i++ {
		if err := send("customer@example.org"); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if n, s := len(be.messages()), be.sessions(); n != maxPerSession+1 || s != 2 {
		t.Fatalf("%d messages over %d connections; want %d over 2", n, s, maxPerSession+1)
	}

	be.hangUp()
	if err := send("customer@example.org"); err != nil {
		t.Fatalf("after the relay hung up: %v", err)
	}
	if n, s := len(be.messages()), be.sessions(); n != maxPerSession+2 || s != 3 {
		t.Fatalf("after hang-up: %d messages over %d connections; want %d over 3", n, s, maxPerSession+2)
	}

	if err := send("bounce@example.org"); err == nil {
		t.Fatal("bounce@ was accepted")
	}
	if err := send("customer@example.org"); err != nil {
		t.Fatalf("after a refusal: %v", err)
	}
	if n, s := len(be.messages()), be.sessions(); n != maxPerSession+3 || s != 4 {
		t.Fatalf("after a refusal: %d messages over %d connections; want %d over 4 (no reuse after an error)", n, s, maxPerSession+3)
	}
}

func TestSendAuth(t *testing.T) {
	be := &backend{password: "hunter2"}
	addr := startServer(t, be)
	tests := []struct {
		name      string
		password  string
		permanent bool
	}{
		{"right password", "hunter2", false},
		{"wrong password is permanent 535", "wrong", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := New(Config{Addr: addr, From: "status@example.com", TLS: TLSNone, Username: "herald", Password: tt.password, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, err = ch.Send(context.Background(), &channel.Message{To: "a@example.org", Subject: "s", Text: "t"})
			if !tt.permanent {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if msgs := be.messages(); len(msgs) != 1 || msgs[0].user != "herald" {
					t.Fatalf("messages = %+v", msgs)
				}
				return
			}
			var se *channel.SendError
			if !errors.As(err, &se) || !se.Permanent || !strings.HasPrefix(se.Code, "535") {
				t.Fatalf("Send = %v, want permanent 535", err)
			}
		})
	}
}

func TestSendConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now
	ch, err := New(Config{Addr: addr, From: "status@example.com", TLS: TLSNone, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.Send(context.Background(), &channel.Message{To: "a@example.org", Text: "t"})
	var se *channel.SendError
	if err == nil || errors.As(err, &se) || channel.IsPermanent(err) {
		t.Fatalf("Send = %v, want a plain transient error", err)
	}
}

func TestParseInbound(t *testing.T) {
	multi := "From: =?UTF-8?Q?Kov=C3=A1cs_J=C3=A1nos?= <janos@example.hu>\r\n" +
		"To: Herald Support <support@example.com>, other@example.com\r\n" +
		"Subject: =?ISO-8859-2?Q?Re:_Szolg=E1ltat=E1skies=E9s?=\r\n" +
		"Message-ID: <reply-1@example.hu>\r\n" +
		"In-Reply-To: <upd1.email.abc123@example.com>\r\n" +
		"References: <root@example.com>\r\n <upd1.email.abc123@example.com>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" +
		"--outer\r\n" +
		"Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n" +
		"--inner\r\n" +
		"Content-Type: text/plain; charset=ISO-8859-2\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"M=E1r h=E1rom =F3r=E1ja nem m=FBk=F6dik a bejelentkez=E9s. Mikor lesz j=\r\n=F3?\r\n" +
		"--inner\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" +
		"PHA+TcOhciBow6Fyb20gw7Nyw6FqYTwvcD4=\r\n" +
		"--inner--\r\n" +
		"--outer\r\n" +
		"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n" +
		"--outer--\r\n"
	single := "From: zofia@example.pl\r\nTo: support@example.com\r\nSubject: plain\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"UHJ6ZXByYXN6YW0sIGN6eSBkemlhxYJhIGp1xbwgbG9nb3dhbmll\r\nPw==\r\n"
	tests := []struct {
		name string
		raw  string
		want InboundEmail
		err  bool
	}{
		{"nested multipart, QP latin-2 text, base64 html", multi, InboundEmail{
			From: "janos@example.hu", FromName: "Kovács János", To: []string{"support@example.com", "other@example.com"},
			Subject: "Re: Szolgáltatáskiesés", Text: "Már három órája nem működik a bejelentkezés. Mikor lesz jó?",
			HTML: "<p>Már három órája</p>", MessageID: "reply-1@example.hu", InReplyTo: "upd1.email.abc123@example.com",
			References: []string{"root@example.com", "upd1.email.abc123@example.com"},
		}, false},
		{"single base64 part", single, InboundEmail{
			From: "zofia@example.pl", To: []string{"support@example.com"}, Subject: "plain",
			Text: "Przepraszam, czy działa już logowanie?",
		}, false},
		{"no From", "To: a@example.com\r\n\r\nbody", InboundEmail{}, true},
		{"not a message", "\x00\x01", InboundEmail{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInbound(strings.NewReader(tt.raw))
			if tt.err {
				if !errors.Is(err, ErrInvalidMessage) {
					t.Fatalf("err = %v, want ErrInvalidMessage", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.From != tt.want.From || got.FromName != tt.want.FromName || strings.Join(got.To, ",") != strings.Join(tt.want.To, ",") ||
				got.Subject != tt.want.Subject || got.Text != tt.want.Text || got.HTML != tt.want.HTML ||
				got.MessageID != tt.want.MessageID || got.InReplyTo != tt.want.InReplyTo ||
				strings.Join(got.References, " ") != strings.Join(tt.want.References, " ") {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// Channel implements notify.Channel: the pipeline sends through it.
var _ notify.Channel = (*Channel)(nil)

// TestSendAutoReply: an automatic reply goes with the null envelope sender
// (MAIL FROM:<>, RFC 3834 §3.3), Auto-Submitted: auto-replied and its
// threading headers, to its one recipient; a broadcast before and after it
// on the same session goes from the configured address. A relay's refusal
// of a recipient keeps its code; a relay that refuses the null sender gets
// the reply from the configured address.
func TestSendAutoReply(t *testing.T) {
	be := &backend{}
	addr := startServer(t, be)
	ch, err := New(Config{Addr: addr, From: "Herald Status <status@example.com>", TLS: TLSNone, HELO: "herald.test", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	auto := func(to string) *channel.Message {
		return &channel.Message{DeliveryID: "ack1.email.abc", Kind: channel.Email, To: to, Subject: "Re: Nem működik",
			Text: "Megkaptuk, a hivatkozás: C-ABCD1234.", AutoReply: true, Language: "hu",
			Headers: map[string]string{"In-Reply-To": "<first@example.org>", "References": "<first@example.org>"}}
	}
	last := func() received {
		t.Helper()
		msgs := be.messages()
		if len(msgs) == 0 {
			t.Fatal("the server has no message")
		}
		return msgs[len(msgs)-1]
	}

	if _, err := ch.Send(context.Background(), testMessage("broadcast@example.org")); err != nil {
		t.Fatal(err)
	}
	if got := last(); got.from != "status@example.com" {
		t.Fatalf("broadcast envelope sender %q, want the configured status@example.com", got.from)
	}

	rc, err := ch.Send(context.Background(), auto("anna@example.org"))
	if err != nil {
		t.Fatalf("Send auto-reply: %v", err)
	}
	if rc.ProviderID != "ack1.email.abc@example.com" || rc.Status != "sent" || !strings.HasPrefix(rc.Reply, "250 2.0.0 ") {
		t.Errorf("receipt = %+v", rc)
	}
	got := last()
	if got.from != "" || len(got.to) != 1 || got.to[0] != "anna@example.org" {
		t.Fatalf("auto-reply envelope %q → %q, want the null sender to anna@example.org alone", got.from, got.to)
	}
	in, err := ParseInbound(bytes.NewReader(got.data))
	if err != nil {
		t.Fatal(err)
	}
	if in.Header.Get("Auto-Submitted") != "auto-replied" || in.InReplyTo != "first@example.org" ||
		strings.Join(in.References, " ") != "first@example.org" || in.From != "status@example.com" || len(in.To) != 1 {
		t.Errorf("auto-reply headers: Auto-Submitted %q, In-Reply-To %q, References %q, From %q, To %q",
			in.Header.Get("Auto-Submitted"), in.InReplyTo, in.References, in.From, in.To)
	}
	if strings.TrimSpace(in.Text) != "Megkaptuk, a hivatkozás: C-ABCD1234." {
		t.Errorf("auto-reply text %q", in.Text)
	}

	if _, err := ch.Send(context.Background(), testMessage("broadcast@example.org")); err != nil {
		t.Fatal(err)
	}
	if got := last(); got.from != "status@example.com" || bytes.Contains(got.data, []byte("Auto-Submitted")) {
		t.Fatalf("broadcast after an auto-reply: envelope sender %q (want status@example.com), Auto-Submitted present %v",
			got.from, bytes.Contains(got.data, []byte("Auto-Submitted")))
	}
	if n := be.sessions(); n != 1 {
		t.Errorf("%d connections for three messages, want 1 (the session is reused)", n)
	}

	before := len(be.messages())
	_, err = ch.Send(context.Background(), auto("bounce@example.org"))
	var se *channel.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Code != "550 5.1.1" {
		t.Fatalf("auto-reply to an unknown user = %v, want permanent 550 5.1.1", err)
	}
	_, err = ch.Send(context.Background(), auto("busy@example.org"))
	if !errors.As(err, &se) || se.Permanent || se.Code != "451 4.3.0" {
		t.Fatalf("auto-reply to a busy mailbox = %v, want transient 451 4.3.0", err)
	}
	if len(be.messages()) != before {
		t.Fatal("a refused auto-reply was stored")
	}

	// An idle session the relay hung up on is replaced, the reply sent once.
	be.hangUp()
	if _, err := ch.Send(context.Background(), auto("anna@example.org")); err != nil {
		t.Fatalf("auto-reply after the relay hung up: %v", err)
	}
	if got := last(); got.from != "" || len(be.messages()) != before+1 {
		t.Fatalf("after a hang-up: %d messages (want %d), envelope sender %q", len(be.messages()), before+1, got.from)
	}

	be.mu.Lock()
	be.refuseNull, be.nullTries = true, 0
	be.mu.Unlock()
	if _, err := ch.Send(context.Background(), auto("anna@example.org")); err != nil {
		t.Fatalf("auto-reply through a relay that refuses the null sender: %v", err)
	}
	got = last()
	be.mu.Lock()
	tries := be.nullTries
	be.mu.Unlock()
	if tries != 1 || got.from != "status@example.com" || !bytes.Contains(got.data, []byte("Auto-Submitted: auto-replied")) {
		t.Fatalf("relay refusing <>: %d null tries (want 1), envelope sender %q (want status@example.com), Auto-Submitted kept %v",
			tries, got.from, bytes.Contains(got.data, []byte("Auto-Submitted: auto-replied")))
	}
}

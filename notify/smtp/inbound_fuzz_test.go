package smtp

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// maxFuzzMessage caps the messages FuzzParseInbound reads: the SMTP server
// refuses bigger ones before they reach the parser, and the size limits
// inside ParseInbound are tested on their own below.
const maxFuzzMessage = 256 << 10

// FuzzParseInbound reads arbitrary messages. ParseInbound does not panic;
// a message it refuses wraps ErrInvalidMessage; one it reads has a From
// address, and every text it extracts (From, names, subject, bodies, IDs)
// is valid UTF-8 with no body larger than the part limit allows.
//
// The seeds in testdata/fuzz/FuzzParseInbound run with every go test;
// fuzz with
//
//	go test -run '^$' -fuzz '^FuzzParseInbound$' -fuzztime 60s -parallel 1 ./notify/smtp/
func FuzzParseInbound(f *testing.F) {
	for _, s := range []string{
		"From: =?UTF-8?Q?Kov=C3=A1cs_J=C3=A1nos?= <janos@example.hu>\r\nTo: Herald Support <support@example.com>, other@example.com\r\n" +
			"Subject: =?ISO-8859-2?Q?Re:_Szolg=E1ltat=E1skies=E9s?=\r\nMessage-ID: <reply-1@example.hu>\r\nIn-Reply-To: <upd1@example.com>\r\n" +
			"References: <root@example.com>\r\n <upd1@example.com>\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" +
			"--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n" +
			"--inner\r\nContent-Type: text/plain; charset=ISO-8859-2\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nM=E1r h=E1rom =F3r=E1ja\r\n" +
			"--inner\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+TcOhciBow6Fyb20gw7Nyw6FqYTwvcD4=\r\n--inner--\r\n" +
			"--outer\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--outer--\r\n",
		"From: zofia@example.pl\r\nTo: support@example.com\r\nSubject: plain\r\nContent-Type: text/plain; charset=utf-8\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\nUHJ6ZXByYXN6YW0sIGN6eSBkemlhxYJhIGp1xbwgbG9nb3dhbmll\r\nPw==\r\n",
		"To: a@example.com\r\n\r\nbody",
		"\x00\x01",
		"From: a@example.com\r\nContent-Type: text/plain; charset=windows-1250\r\n\r\nKov\xe1cs \xb3",
		"From: a@example.com\r\nContent-Type: multipart/mixed\r\n\r\n--\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if len(raw) > maxFuzzMessage {
			return
		}
		start := time.Now()
		in, err := ParseInbound(strings.NewReader(raw))
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("ParseInbound took %v on %d bytes", d, len(raw))
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("error %v does not wrap ErrInvalidMessage", err)
			}
			return
		}
		if in.From == "" {
			t.Fatalf("read a message without a From address: %+v", in)
		}
		fields := []string{in.From, in.FromName, in.Subject, in.Text, in.HTML, in.MessageID, in.InReplyTo}
		fields = append(append(fields, in.To...), in.References...)
		for i, v := range fields {
			if !utf8.ValidString(v) {
				t.Fatalf("field %d of %+v is not UTF-8: %q", i, in, v)
			}
		}
		// A legacy charset grows a byte to at most three in UTF-8.
		if len(in.Text) > 3*maxPartBytes || len(in.HTML) > 3*maxPartBytes {
			t.Fatalf("bodies of %d and %d bytes from a %d-byte message", len(in.Text), len(in.HTML), len(raw))
		}
	})
}

// TestParseInboundHostileSizes reads the messages a fuzzer is too small to
// write: a body far over the part limit, a deep nest of multiparts, many
// parts, and a huge header. Each is read quickly, within the limits.
func TestParseInboundHostileSizes(t *testing.T) {
	head := "From: a@example.com\r\n"
	var deep, many strings.Builder
	deep.WriteString(head + "Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
	const depth = 2000
	for i := 1; i <= depth; i++ {
		deep.WriteString("--b" + strconv.Itoa(i-1) + "\r\nContent-Type: multipart/mixed; boundary=b" + strconv.Itoa(i) + "\r\n\r\n")
	}
	deep.WriteString("--b" + strconv.Itoa(depth) + "\r\nContent-Type: text/plain\r\n\r\ndeep\r\n")
	many.WriteString(head + "Content-Type: multipart/mixed; boundary=x\r\n\r\n")
	for range 10000 {
		many.WriteString("--x\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n")
	}
	many.WriteString("--x\r\nContent-Type: text/plain\r\n\r\nlate\r\n--x--\r\n")
	tests := []struct {
		name, raw string
		check     func(InboundEmail) bool
	}{
		{"huge body", head + "\r\n" + strings.Repeat("a", 8<<20), func(in InboundEmail) bool { return len(in.Text) == maxPartBytes }},
		{"huge base64 body", head + "Content-Transfer-Encoding: base64\r\n\r\n" + strings.Repeat("QUFB", 2<<20),
			func(in InboundEmail) bool { return len(in.Text) <= maxPartBytes }},
		{"deep nesting", deep.String(), func(in InboundEmail) bool { return in.Text == "" }},
		{"many parts", many.String(), func(in InboundEmail) bool { return in.Text == "" }},
		{"huge subject", head + "Subject: " + strings.Repeat("=?UTF-8?Q?=C3=A1?= ", 50000) + "\r\n\r\nx",
			func(in InboundEmail) bool { return utf8.ValidString(in.Subject) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			in, err := ParseInbound(strings.NewReader(tt.raw))
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			if err != nil && !errors.Is(err, ErrInvalidMessage) {
				t.Fatal(err)
			}
			if err == nil && !tt.check(in) {
				t.Errorf("got text %d bytes (%.20q), html %d bytes, subject %d bytes", len(in.Text), in.Text, len(in.HTML), len(in.Subject))
			}
		})
	}
}

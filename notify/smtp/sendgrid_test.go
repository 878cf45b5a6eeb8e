package smtp

import (
	"testing"
)

func TestParseSendGrid(t *testing.T) {
	raw := "From: Kiss Anna <anna@example.org>\r\nTo: support@herald.example\r\nSubject: =?utf-8?q?Nem_m=C5=B1k=C3=B6dik?=\r\n" +
		"Message-ID: <m1@example.org>\r\nIn-Reply-To: <abc@herald.example>\r\nReferences: <x@a> <abc@herald.example>\r\n\r\nA kártya nem megy.\r\n"
	t.Run("raw mode", func(t *testing.T) {
		in, err := ParseSendGrid(map[string]string{"email": raw, "envelope": `{"to":["support@herald.example"],"from":"anna@example.org"}`}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if in.From != "anna@example.org" || in.FromName != "Kiss Anna" || in.Subject != "Nem működik" || in.MessageID != "m1@example.org" ||
			in.InReplyTo != "abc@herald.example" || len(in.References) != 2 || in.CustomerText() != "A kártya nem megy." {
			t.Errorf("parsed %+v", in)
		}
		if in.Envelope == nil || in.Envelope.From != "anna@example.org" {
			t.Errorf("envelope %+v", in.Envelope)
		}
	})
	t.Run("parsed mode", func(t *testing.T) {
		in, err := ParseSendGrid(map[string]string{
			"from":            "Kiss Anna <anna@example.org>",
			"to":              "support@herald.example",
			"subject":         "Nem m\xfbk\xf6dik", // ISO-8859-2, as charsets says
			"text":            "A k\xe1rtya nem megy.\r\n\r\nOn Mon, Herald wrote:\r\n> old",
			"headers":         "Message-ID: <m1@example.org>\nIn-Reply-To: <abc@herald.example>\nAuto-Submitted: no\n",
			"charsets":        `{"to":"UTF-8","subject":"iso-8859-2","text":"iso-8859-2","from":"UTF-8"}`,
			"envelope":        `{"to":["support@herald.example"],"from":"anna@example.org"}`,
			"attachment-info": `{"attachment1":{"filename":"shot.png","type":"image/png"}}`,
		}, map[string]int64{"attachment1": 2048})
		if err != nil {
			t.Fatal(err)
		}
		if in.From != "anna@example.org" || in.Subject != "Nem működik" || in.MessageID != "m1@example.org" || in.InReplyTo != "abc@herald.example" {
			t.Errorf("parsed %+v", in)
		}
		if got, want := in.CustomerText(), "A kártya nem megy.\n\n[attachments not kept: shot.png (image/png, 2 KiB)]"; got != want {
			t.Errorf("text %q, want %q", got, want)
		}
		if in.Automatic() != "" {
			t.Errorf("a person's mail is automatic: %s", in.Automatic())
		}
	})
	t.Run("html only", func(t *testing.T) {
		in, err := ParseSendGrid(map[string]string{"from": "anna@example.org", "html": "<p>Down <script>x()</script>again</p>"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := in.CustomerText(); got != "Down again" {
			t.Errorf("text %q", got)
		}
	})
	t.Run("From as mail programs write it", func(t *testing.T) {
		for _, tt := range []struct{ from, envelope, addr, name string }{
			{"Kovács, Anna <anna15@example.hu>", "", "anna15@example.hu", "Kovács, Anna"},
			{"anna8@example.hu <anna8@example.hu>", "", "anna8@example.hu", ""},
			{"=?UTF-8?Q?Kov=C3=A1cs=2C_Anna?= <anna@example.hu>", "", "anna@example.hu", "Kovács, Anna"},
			{"Anna (work) anna@example.hu", "", "anna@example.hu", ""},
			{"<<<", `{"from":"anna@example.hu","to":["support@herald.example"]}`, "anna@example.hu", ""},
		} {
			fields := map[string]string{"from": tt.from, "text": "x"}
			if tt.envelope != "" {
				fields["envelope"] = tt.envelope
			}
			in, err := ParseSendGrid(fields, nil)
			if err != nil || in.From != tt.addr || in.FromName != tt.name {
				t.Errorf("From %q: %q %q, %v; want %q %q", tt.from, in.From, in.FromName, err, tt.addr, tt.name)
			}
		}
		// Two different addresses and no brackets: no guess.
		if _, err := ParseSendGrid(map[string]string{"from": "a@example.org, b@example.org x", "text": "x"}, nil); err == nil {
			t.Error("a From with two addresses was read as one")
		}
	})
	bad := []struct {
		name   string
		fields map[string]string
		field  string
	}{
		{"no from", map[string]string{"text": "x"}, "from"},
		{"bad from", map[string]string{"from": "<<<", "text": "x"}, "from"},
		{"bad to", map[string]string{"from": "a@example.org", "to": "<<<"}, "to"},
		{"bad envelope", map[string]string{"from": "a@example.org", "envelope": "{"}, "envelope"},
		{"bad charsets", map[string]string{"from": "a@example.org", "charsets": "["}, "charsets"},
		{"unknown charset", map[string]string{"from": "a@example.org", "text": "x", "charsets": `{"text":"klingon-1"}`}, "charsets"},
		{"bad headers", map[string]string{"from": "a@example.org", "headers": "no colon here\n"}, "headers"},
		{"bad raw email", map[string]string{"email": "Subject: x\r\nFrom: <<<\r\n\r\nbody"}, "email"},
		{"bad attachment-info", map[string]string{"from": "a@example.org", "attachment-info": "x"}, "attachment-info"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSendGrid(tt.fields, nil)
			fe, ok := IsFieldError(err)
			if !ok || fe.Field != tt.field {
				t.Fatalf("err = %v, want a FieldError for %s", err, tt.field)
			}
		})
	}
}

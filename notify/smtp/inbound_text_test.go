package smtp

import (
	"strings"
	"testing"
)

func TestAutomatic(t *testing.T) {
	const own = "status@herald.example"
	tests := []struct {
		name string
		msg  string
		env  *Envelope
		want string
	}{
		{"a person", "From: anna@example.org\n", &Envelope{From: "anna@example.org"}, ""},
		{"Auto-Submitted: no", "From: anna@example.org\nAuto-Submitted: no\n", nil, ""},
		{"auto-replied", "From: anna@example.org\nAuto-Submitted: auto-replied\n", nil, "auto-submitted"},
		{"auto-generated", "From: anna@example.org\nAuto-Submitted: Auto-Generated; foo=bar\n", nil, "auto-submitted"},
		{"X-Autoreply", "From: anna@example.org\nX-Autoreply: yes\n", nil, "x-autoreply"},
		{"X-Autorespond", "From: anna@example.org\nX-Autorespond: 1\n", nil, "x-autoreply"},
		{"X-Auto-Response-Suppress", "From: anna@example.org\nX-Auto-Response-Suppress: DR, OOF\n", nil, "x-auto-response-suppress"},
		{"Precedence bulk", "From: anna@example.org\nPrecedence: bulk\n", nil, "precedence"},
		{"Precedence junk", "From: anna@example.org\nPrecedence: junk\n", nil, "precedence"},
		{"Precedence list", "From: anna@example.org\nPrecedence: List\n", nil, "precedence"},
		{"Precedence auto_reply", "From: anna@example.org\nPrecedence: auto_reply\n", nil, "precedence"},
		{"List-Id", "From: anna@example.org\nList-Id: <x.lists.example>\n", nil, "list"},
		{"List-Unsubscribe", "From: anna@example.org\nList-Unsubscribe: <mailto:u@example.org>\n", nil, "list"},
		{"Feedback-ID", "From: anna@example.org\nFeedback-ID: a:b:c\n", nil, "feedback-id"},
		{"a DSN", "From: anna@example.org\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\n", nil, "report"},
		{"Return-Path <>", "From: anna@example.org\nReturn-Path: <>\n", nil, "null sender"},
		{"null envelope sender", "From: anna@example.org\n", &Envelope{From: ""}, "null sender"},
		{"MAILER-DAEMON", "From: MAILER-DAEMON@mx.example.org\n", nil, "robot sender"},
		{"postmaster", "From: Postmaster <postmaster@example.org>\n", nil, "robot sender"},
		{"owner-", "From: owner-list@example.org\n", nil, "robot sender"},
		{"-request", "From: list-request@example.org\n", nil, "robot sender"},
		{"robot envelope sender", "From: anna@example.org\n", &Envelope{From: "bounces-request@example.org"}, "robot sender"},
		{"herald's own From", "From: Herald <STATUS@herald.example>\n", nil, "own address"},
		{"no sender", "Subject: x\n", nil, "no sender"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeaderBlock(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			in := InboundEmail{Header: h, Envelope: tt.env}
			if from := h.Get("From"); from != "" {
				in.From = from[strings.LastIndex(from, "<")+1:]
				in.From = strings.TrimSuffix(in.From, ">")
			}
			if got := in.Automatic(own); got != tt.want {
				t.Errorf("Automatic = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStripQuoted(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no quote", "Payments fail.\nPlease help.", "Payments fail.\nPlease help."},
		{"gmail", "Still broken.\n\nOn Mon, 1 Dec 2026 at 09:12, Herald <status@h.example> wrote:\n> We are investigating.\n", "Still broken."},
		{"gmail wrapped", "Still broken.\n\nOn Mon, 1 Dec 2026 at 09:12, Herald Status <\nstatus@h.example> wrote:\n> We are investigating.", "Still broken."},
		{"hungarian", "Még mindig nem megy.\n\n2026. dec. 1., h 9:12 keltezéssel Herald ezt írta:\n> Vizsgáljuk.", "Még mindig nem megy."},
		{"polish", "Nadal nie działa.\n\nW dniu 1.12.2026 o 09:12 Herald napisał:\n> Sprawdzamy.", "Nadal nie działa."},
		{"croatian", "I dalje ne radi.\n\nHerald je napisao/la:\n> Istražujemo.", "I dalje ne radi."},
		{"outlook", "Still down.\n\n-----Original Message-----\nFrom: Herald\nSent: Monday\nSubject: x\n\nWe are investigating.", "Still down."},
		{"outlook block", "Still down.\n\nFrom: Herald <status@h.example>\nSent: Monday, 1 December 2026 09:12\nTo: Anna\nSubject: x\n\nWe are investigating.", "Still down."},
		{"underscores", "Still down.\n________________________________\nFrom: Herald", "Still down."},
		{"signature", "Still down.\n-- \nAnna Kiss\nACME Ltd", "Still down."},
		{"inline quotes dropped", "> Is it fixed?\nNo, it is not.\n> Which card?\nVisa.", "No, it is not.\nVisa."},
		{"all quote is kept whole", "> only a quote\n> nothing else", "> only a quote\n> nothing else"},
		{"a wrote: at the top is kept", "On Monday my colleague wrote:", "On Monday my colleague wrote:"},
		{"from line without a block is kept", "From: the shop, nothing arrives.\nPlease check.", "From: the shop, nothing arrives.\nPlease check."},

		// Client shapes, cut as before.
		{"gmail, quote after a blank line", "Still broken.\n\nOn Mon, 1 Dec 2026 at 09:12, Herald <status@h.example> wrote:\n\n> We are investigating.\n>\n> Herald", "Still broken."},
		{"gmail, nested quotes", "Still broken.\n\nOn Mon, 1 Dec 2026 at 09:12, Herald <status@h.example> wrote:\n> Update.\n>\n>> Anna wrote before\n", "Still broken."},
		{"apple mail", "Still broken.\n\nSent from my iPhone\n\n> On 1 Dec 2026, at 09:12, Herald <status@h.example> wrote:\n> \n> We are investigating.", "Still broken.\n\nSent from my iPhone"},
		{"apple mail, header unquoted", "Still broken.\n\nOn 1 Dec 2026, at 09:12, Herald <status@h.example> wrote:\n\n> We are investigating.\n", "Still broken."},
		{"thunderbird", "Still broken.\n\nOn 12/1/26 09:12, Herald wrote:\n> We are investigating.\n-- \nHerald Status", "Still broken."},
		{"hungarian gmail wrapped", "Még mindig nem megy.\n\n2026. dec. 1., h 9:12 keltezéssel Herald Status <\nstatus@h.example> ezt írta:\n\n> Vizsgáljuk.", "Még mindig nem megy."},
		{"polish gmail", "Nadal nie działa.\n\npon., 1 gru 2026 o 09:12 Herald <status@h.example> napisał(a):\n\n> Sprawdzamy.", "Nadal nie działa."},
		{"polish thunderbird", "Nadal nie działa.\n\nW dniu 1.12.2026 o 09:12, Herald pisze:\n> Sprawdzamy.", "Nadal nie działa."},
		{"polish pisze: of the customer's own", "Dzień dobry,\n\nKsięgowa pisze:\nkarta obciążona dwa razy.", "Dzień dobry,\n\nKsięgowa pisze:\nkarta obciążona dwa razy."},
		{"croatian gmail", "I dalje ne radi.\n\npon, 1. pro 2026. u 09:12 Herald <status@h.example> napisao je:\n\n> Istražujemo.", "I dalje ne radi."},
		{"wrote: above an outlook block", "Still down.\n\nHerald wrote:\nFrom: Herald <status@h.example>\nSent: Monday\nSubject: x\n\nWe are investigating.", "Still down."},

		// A customer's own "… wrote:" is no reply header: their words stay.
		{"my accountant wrote", "Hello,\n\nMy accountant wrote:\nthe card was charged twice and I want a refund today.\nAnna",
			"Hello,\n\nMy accountant wrote:\nthe card was charged twice and I want a refund today.\nAnna"},
		{"my accountant wrote, after a blank line", "Hello,\n\nMy accountant wrote:\n\nthe card was charged twice. I want a refund today.",
			"Hello,\n\nMy accountant wrote:\n\nthe card was charged twice. I want a refund today."},
		{"a férjem ezt írta", "Jó napot,\n\nA férjem ezt írta:\nkétszer vonták le a kártyáról, visszatérítést kérek még ma.",
			"Jó napot,\n\nA férjem ezt írta:\nkétszer vonták le a kártyáról, visszatérítést kérek még ma."},
		{"mój księgowy napisał", "Dzień dobry,\n\nMój księgowy napisał:\nkarta została obciążona dwa razy.", "Dzień dobry,\n\nMój księgowy napisał:\nkarta została obciążona dwa razy."},
		{"wrote: at the end", "Hello,\n\nMy accountant wrote:", "Hello,\n\nMy accountant wrote:"},
		{"a quotation followed by the customer's words", "Hello,\n\nMy accountant wrote:\n> the card was charged twice\n\nI want a refund today.",
			"Hello,\n\nMy accountant wrote:\n\nI want a refund today."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripQuoted(tt.in); got != tt.want {
				t.Errorf("StripQuoted =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestHTMLToText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"paragraphs", "<p>Card payments fail.</p><p>Since <b>9:00</b>.</p>", "Card payments fail.\nSince 9:00."},
		{"scripts and styles dropped", "<html><head><title>t</title><style>p{}</style></head><body><script>alert(1)</script>Hello<br>there</body></html>", "Hello\nthere"},
		{"entities decoded, tags never kept", "Tom &amp; Jerry &lt;script&gt;", "Tom & Jerry <script>"},
		{"links", `See <a href="https://example.org/x">the page</a>.`, "See the page (https://example.org/x)."},
		{"javascript links dropped", `<a href="javascript:alert(1)">click</a>`, "click"},
		{"lists", "<ul><li>one</li><li>two</li></ul>", "- one\n- two"},
		{"quoted history marked", "<div>Still down.</div><blockquote><p>We are investigating.</p></blockquote>", "Still down.\n> We are investigating."},
		{"images by alt", `<img src="x.png" alt="screenshot"> broken`, "[screenshot] broken"},
		{"broken markup", "<p>unclosed <b>bold <i>text", "unclosed bold text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTMLToText(tt.in); got != tt.want {
				t.Errorf("HTMLToText =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestCustomerText(t *testing.T) {
	raw := strings.ReplaceAll(`From: anna@example.org
To: support@herald.example
Subject: broken
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: text/html; charset=iso-8859-2
Content-Transfer-Encoding: quoted-printable

<p>Nem m=F5k=F6dik a k=E1rtya.</p><blockquote>R=E9gi lev=E9l</blockquote>
--outer
Content-Type: image/png; name="=?utf-8?q?k=C3=A9perny=C5=91.png?="
Content-Disposition: attachment; filename="=?utf-8?q?k=C3=A9perny=C5=91.png?="
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==
--outer
Content-Type: text/plain; charset=utf-8
Content-Disposition: attachment; filename=log.txt

secret log lines
--outer--
`, "\n", "\r\n")
	in, err := ParseInbound(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := "Nem mőködik a kártya.\n\n[attachments not kept: képernyő.png (image/png, 70 B); log.txt (text/plain, 16 B)]"
	if got := in.CustomerText(); got != want {
		t.Errorf("CustomerText =\n%q\nwant\n%q", got, want)
	}
	if strings.Contains(in.Text, "secret") {
		t.Error("an attached text file became the body")
	}
}

package sms

import (
	"strings"
	"testing"
)

func TestSegments(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		enc      Encoding
		chars    int
		segments int
	}{
		{"empty", "", GSM7, 0, 0},
		{"ascii", "Hello", GSM7, 5, 1},
		{"gsm accents", "é É ö Ö ü Ü ä Ä à è ì ò ù Ç Ø ø Å å Æ æ ß Ñ ñ ¿ ¡ § £ ¥ ¤ Δ Φ Γ Λ Ω Π Ψ Σ Θ Ξ @ _", GSM7, 81, 1},
		{"extension counts two", "^{}\\[~]|€\f", GSM7, 20, 1},
		{"160 fits one", strings.Repeat("a", 160), GSM7, 160, 1},
		{"161 needs two", strings.Repeat("a", 161), GSM7, 161, 2},
		{"306 fits two", strings.Repeat("a", 306), GSM7, 306, 2},
		{"307 needs three", strings.Repeat("a", 307), GSM7, 307, 3},
		{"80 euros is 160 septets", strings.Repeat("€", 80), GSM7, 160, 1},
		// 152 plain + € would straddle 153: the pair moves to segment 2.
		{"escape pair not split", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), GSM7, 306, 3},
		{"escape pair fits exactly", strings.Repeat("a", 151) + "€" + strings.Repeat("a", 153), GSM7, 306, 2},
		{"hungarian ő", "Kedves ügyfelünk, a hiba elhárult: ő", UCS2, 36, 1},
		{"hungarian á", "á", UCS2, 1, 1},
		{"polish", "ąćęłńśźż", UCS2, 8, 1},
		{"croatian", "čćđšž", UCS2, 5, 1},
		{"lower c cedilla", "ç", UCS2, 1, 1},
		{"curly quote", "it’s", UCS2, 4, 1},
		{"ellipsis char", "…", UCS2, 1, 1},
		{"70 ucs2 fits one", strings.Repeat("ł", 70), UCS2, 70, 1},
		{"71 ucs2 needs two", strings.Repeat("ł", 71), UCS2, 71, 2},
		{"134 ucs2 fits two", strings.Repeat("ł", 134), UCS2, 134, 2},
		{"135 ucs2 needs three", strings.Repeat("ł", 135), UCS2, 135, 3},
		{"emoji counts two", "ok 👍", UCS2, 5, 1},
		{"35 emoji fit one", strings.Repeat("👍", 35), UCS2, 70, 1},
		// 66 units + a surrogate pair would straddle 67: the pair moves on.
		{"surrogate pair not split", strings.Repeat("ł", 66) + "👍" + strings.Repeat("ł", 66), UCS2, 134, 3},
		{"surrogate pair fits exactly", strings.Repeat("ł", 65) + "👍" + strings.Repeat("ł", 67), UCS2, 134, 2},
		{"dollar is gsm", "$5", GSM7, 2, 1},
		{"backtick is not gsm", "`", UCS2, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, chars, segs := Segments(tt.text)
			if enc != tt.enc || chars != tt.chars || segs != tt.segments {
				t.Errorf("Segments(%q) = %s, %d, %d; want %s, %d, %d", tt.text, enc, chars, segs, tt.enc, tt.chars, tt.segments)
			}
		})
	}
}

// TestGSM7Table checks every character of the default alphabet and the
// extension table, and the letters of our languages that are not in it.
func TestGSM7Table(t *testing.T) {
	in := "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f"
	for _, r := range in {
		if gsmSeptets(r) == 0 {
			t.Errorf("%q should be GSM-7", r)
		}
	}
	out := "őŐűŰáÁíÍóÓúÚąĄćĆęĘłŁńŃśŚźŹżŻčČđĐšŠžŽçêëâîôûÀÈÌÒÙ`\t…’“”–—\x1b"
	for _, r := range out {
		if gsmSeptets(r) != 0 {
			t.Errorf("%q should not be GSM-7", r)
		}
	}
	if got := len(gsmCost); got != 127+10 {
		t.Errorf("table holds %d characters, want 137 (128 basic minus ESC, plus 10 extension)", got)
	}
}

func TestFit(t *testing.T) {
	long := strings.Repeat("word ", 100) // 500 chars
	tests := []struct {
		name    string
		text    string
		max     int
		want    string // exact result, or "" to check only the budget
		suffix  string
		wantEnc Encoding
	}{
		{name: "fits unchanged", text: "short text", max: 1, want: "short text"},
		{name: "gsm cut uses dots", text: long, max: 1, suffix: "word...", wantEnc: GSM7},
		{name: "gsm two segments", text: long, max: 2, suffix: "word...", wantEnc: GSM7},
		{name: "ucs2 cut uses ellipsis", text: strings.Repeat("szó ", 50) + "ő", max: 1, suffix: "szó…", wantEnc: UCS2},
		// The non-GSM letter is in the part cut away: the rest is GSM-7 and
		// gets 160 septets rather than 70 units.
		{name: "cut removes the only ucs2 char", text: strings.Repeat("abc ", 60) + "ő", max: 1, suffix: "abc...", wantEnc: GSM7},
		{name: "no space cuts a word", text: strings.Repeat("x", 400), max: 1, suffix: "x...", wantEnc: GSM7},
		{name: "zero means one", text: long, max: 0, suffix: "...", wantEnc: GSM7},
		{name: "emoji kept whole", text: strings.Repeat("👍", 100), max: 1, suffix: "👍…", wantEnc: UCS2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Fit(tt.text, tt.max)
			if tt.want != "" && got != tt.want {
				t.Fatalf("Fit = %q, want %q", got, tt.want)
			}
			max := tt.max
			if max < 1 {
				max = 1
			}
			enc, _, segs := Segments(got)
			if segs > max {
				t.Errorf("Fit result takes %d segments, budget %d: %q", segs, max, got)
			}
			if tt.suffix != "" && !strings.HasSuffix(got, tt.suffix) {
				t.Errorf("Fit = %q, want suffix %q", got, tt.suffix)
			}
			if tt.wantEnc != "" && enc != tt.wantEnc {
				t.Errorf("encoding %s, want %s", enc, tt.wantEnc)
			}
			if tt.want == "" && segs < max {
				// A cut must use the room: adding the next word would not fit.
				if _, chars, _ := Segments(got); chars < 100*max {
					t.Errorf("cut wastes room: %d units in %d segments", chars, segs)
				}
			}
		})
	}
}

func TestFitSlotKeepsFixedParts(t *testing.T) {
	before, after := "Acme: ", " https://s.example/i/abc123"
	got := fitSlot(before, strings.Repeat("hosszú szöveg ", 40), after, 2)
	msg := before + got + after
	if _, _, n := Segments(msg); n > 2 {
		t.Fatalf("%d segments: %q", n, msg)
	}
	if !strings.HasSuffix(got, "…") {
		t.Errorf("want a UCS-2 ellipsis, got %q", got)
	}
	if got := fitSlot(strings.Repeat("a", 200), "text", strings.Repeat("b", 200), 2); got != "" {
		t.Errorf("fixed parts over budget: want empty slot, got %q", got)
	}
}

func TestTransliterate(t *testing.T) {
	tests := []struct {
		name, in, want string
		enc            Encoding
	}{
		{"apostrophe", "We’re on it", "We're on it", GSM7},
		{"quotes", "“Card payments” ‘fail’ „now”", `"Card payments" 'fail' "now"`, GSM7},
		{"dashes", "Payments – cards — all", "Payments - cards - all", GSM7},
		{"ellipsis", "Investigating…", "Investigating...", GSM7},
		{"no-break space", "10\u00a0%\u202fdown", "10 % down", GSM7},
		{"soft hyphen and zero width", "pay\u00adments\u200b", "payments", GSM7},
		{"hungarian letters stay", "Dolgozunk rajta – elnézést kérünk, ő…", "Dolgozunk rajta - elnézést kérünk, ő...", UCS2},
		{"polish letters stay", "Płatności’", "Płatności'", UCS2},
		{"plain unchanged", "Card payments fail.", "Card payments fail.", GSM7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Transliterate(tt.in)
			if got != tt.want {
				t.Errorf("Transliterate(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if enc, _, _ := Segments(got); enc != tt.enc {
				t.Errorf("Segments(%q) encoding = %s, want %s", got, enc, tt.enc)
			}
		})
	}
}

// TestFitAfterFullStop: a cut right after a full stop keeps it and adds
// no ellipsis ("Fizetés Zrt.", not "Fizetés Zrt.…" or "Zrt...").
func TestFitAfterFullStop(t *testing.T) {
	name := "Fizetés Zrt. Ügyfélszolgálat és Státusz"
	for _, after := range []string{strings.Repeat("x", 120), strings.Repeat("ő", 50)} {
		got := FitWith(name, 1, func(s string) string { return s + ": " + after })
		if strings.HasSuffix(got, ".…") || strings.HasSuffix(got, "....") || !strings.HasPrefix(name, strings.TrimRight(got, "….")) {
			t.Errorf("cut %q", got)
		}
	}
	if got := FitWith("Fizetés Zrt. Ügyfélszolgálat", 1, func(s string) string { return s + ": " + strings.Repeat("x", 140) }); got != "Fizetés Zrt." {
		t.Errorf("a cut after 'Zrt.' is %q, want it whole", got)
	}
}

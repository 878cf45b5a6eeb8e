package incident

import "testing"

func TestTextProblem(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
	}{
		{"Nem megy a kártyás fizetés.\nSince 9:12\tnothing works", ""},
		{"", ""},
		{"bad \xff byte", "is not valid UTF-8 text"},
		{"nul \x00 here", "must not contain NUL characters"},
		{"bell\a esc\x1b[31m", "must not contain control characters (U+0007 at byte 4)"},
		{"del \x7f", "must not contain control characters (U+007F at byte 4)"},
		{"refund\u202e001", "must not contain bidirectional overrides or isolates (U+202E at byte 6)"},
		{"\u200fשלום\u200e, right-to-left marks are text", ""},
	} {
		if got := TextProblem(tt.in); got != tt.want {
			t.Errorf("TextProblem(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanLine(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Anna Kovács", "Anna Kovács"},
		{"Anna\nKovács", "Anna Kovács"},
		{"Anna\u2028Kovács", "Anna Kovács"},
		{"\x1b[31mred\x1b[0m", "[31mred[0m"},
		{"bell\a and \x7fdel", "bell and del"},
		{"invoice\u202efdp.exe", "invoicefdp.exe"},
		{"bad \xff byte", "bad \ufffd byte"},
		{"\n  spaced  \r\n", "spaced"},
		{"Re:\r\nfizetés", "Re: fizetés"},
	} {
		got := CleanLine(tt.in)
		if got != tt.want {
			t.Errorf("CleanLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if p := LineProblem(got); p != "" {
			t.Errorf("CleanLine(%q) = %q still %s", tt.in, got, p)
		}
	}
}

func TestCleanText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"line one\nline two\ttab", "line one\nline two\ttab"},
		{"nul\x00gone", "nulgone"},
		{"bad \xff\x00 byte", "bad \ufffd byte"},
		{"crlf\r\nkept", "crlf\r\nkept"},
		{"\x1b[2J\x1b]0;pwned\x07cleared", "[2J]0;pwnedcleared"},
		{"back\bspace del\x7f c1\u009b", "backspace del c1"},
		{"refund\u202e001 and \u2066isolate\u2069", "refund001 and isolate"},
		{"שלום\u200f marks \u200e kept, עברית", "שלום\u200f marks \u200e kept, עברית"},
	} {
		got := CleanText(tt.in)
		if got != tt.want {
			t.Errorf("CleanText(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if p := TextProblem(got); p != "" {
			t.Errorf("CleanText(%q) = %q still %s", tt.in, got, p)
		}
	}
}

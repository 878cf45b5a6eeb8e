package incident

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// LineProblem says what makes s unfit for a single-line field (a name, an
// ID), or "" when nothing does: bytes that are not UTF-8, a line break or
// any other control character (ESC, which starts terminal escape
// sequences; BEL; BS; DEL; the C1 controls), the Unicode line and
// paragraph separators (U+2028, U+2029), and the bidirectional embeddings,
// overrides and isolates (U+202A–U+202E, U+2066–U+2069), which reorder
// what a reader sees ("invoice", U+202E, "fdp.exe" shows as
// "invoiceexe.pdf"). Every place that takes a single-line value from
// outside checks it, so names cannot rewrite an operator's terminal or
// disguise themselves on the page.
func LineProblem(s string) string {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return "is not valid UTF-8 text"
			}
		}
		if bad := forbiddenInLine(r); bad != "" {
			return fmt.Sprintf("must be a single line of text without %s (U+%04X at byte %d)", bad, r, i)
		}
	}
	return ""
}

func forbiddenInLine(r rune) string {
	switch {
	case r == '\n' || r == '\r':
		return "line breaks"
	case r == '\u2028' || r == '\u2029':
		return "line or paragraph separators"
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return "bidirectional overrides"
	case unicode.IsControl(r):
		return "control characters"
	}
	return ""
}

// TextProblem says what makes s unfit for a multi-line text (a message,
// a note), or "" when nothing does: bytes that are not UTF-8, a NUL,
// which ends a string in C and in many terminals, the other control
// characters that only act on whoever reads the text (ESC, BEL, BS, DEL:
// CleanText's) and the bidirectional overrides. Line breaks and tabs are
// what such a text is for.
func TextProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8 text"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL characters"
	}
	if i := strings.IndexFunc(s, droppedFromText); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		what := "control characters"
		if r >= '\u202a' {
			what = "bidirectional overrides or isolates"
		}
		return fmt.Sprintf("must not contain %s (U+%04X at byte %d)", what, r, i)
	}
	return ""
}

// CleanLine is s made fit for a single-line field, for what a provider
// delivers and herald must keep rather than refuse (an email's sender
// name, a Slack user's): line breaks (CRLF as one) and separators become
// spaces, the
// other characters LineProblem names are dropped, and bytes that are not
// UTF-8 become U+FFFD.
func CleanLine(s string) string {
	if LineProblem(s) == "" {
		return s
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\r\n", "\n")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			return ' '
		case forbiddenInLine(r) != "":
			return -1
		}
		return r
	}, s))
}

// CleanText is s made fit for a multi-line text (TextProblem) and safe to
// show, for what a customer sends through a provider (an SMS, an email,
// a Slack message, a form) and herald keeps: bytes that are not UTF-8
// become U+FFFD, and the characters that only act on whoever reads it
// are dropped: NUL, the other control characters but tab and line breaks
// (ESC, which starts terminal escape sequences; BEL; BS; DEL; the C1
// controls), and the bidirectional embeddings, overrides and isolates,
// which reorder what an agent sees ("refund", U+202E, "001" reads "refund100").
// Right-to-left text itself, and the invisible left-to-right and
// right-to-left marks it uses, are kept.
func CleanText(s string) string {
	if TextProblem(s) == "" && !strings.ContainsFunc(s, droppedFromText) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == 0 || droppedFromText(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// droppedFromText reports whether CleanText drops r.
func droppedFromText(r rune) bool {
	switch {
	case r == '\n' || r == '\r' || r == '\t':
		return false
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return unicode.IsControl(r)
}

package main

import (
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// safeWriter stands between the commands and standard output: text from
// the server (names, messages, customers' words) reaches the operator's
// terminal, where an ESC could rewrite the screen or the window title, BS
// or CR could hide what was printed, and a bidirectional override could
// reorder it. Every control character other than newline and tab, DEL, the
// C1 controls, U+2028/U+2029 and the bidirectional embeddings, overrides,
// isolates and marks are written as a visible \uXXXX; bytes that are not
// UTF-8 as U+FFFD. Inside JSON output such characters can only stand in
// strings, where \uXXXX means the same, so --json stays valid and equal.
type safeWriter struct {
	w     io.Writer
	carry []byte // an incomplete UTF-8 sequence at the end of the last Write
	buf   []byte
}

func newSafeWriter(w io.Writer) *safeWriter { return &safeWriter{w: w} }

// Write implements io.Writer; it reports len(p) when the underlying write
// succeeds.
func (s *safeWriter) Write(p []byte) (int, error) {
	in := p
	if len(s.carry) > 0 {
		in = append(s.carry, p...)
		s.carry = nil
	}
	out := s.buf[:0]
	for i := 0; i < len(in); {
		r, size := utf8.DecodeRune(in[i:])
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(in[i:]) && len(in)-i < utf8.UTFMax {
				s.carry = append([]byte(nil), in[i:]...) // the rest comes with the next Write
				break
			}
			out = append(out, "\ufffd"...)
			i++
			continue
		}
		if unsafeRune(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, in[i:i+size]...)
		}
		i += size
	}
	s.buf = out
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func unsafeRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case unicode.IsControl(r), r == '\u2028', r == '\u2029',
		r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f':
		return true
	}
	return false
}

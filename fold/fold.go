// Package fold folds text for matching as people type it: diacritics
// removed (á→a, ő→o, ł→l, đ→d, ć→c), compatibility forms folded (full-width
// ＳＴＯＰ is STOP), case kept. SMS keywords and complaint tagging both
// match words this way, so "leiratkozás", "LEIRATKOZAS" and "Leiratkozas"
// are one word.
package fold

import (
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Letters returns s with diacritics removed and compatibility forms folded
// (NFKD, marks dropped, NFC), plus the letters NFKD leaves alone (Ł, Đ).
func Letters(s string) string {
	if ascii(s) {
		return s // nothing to fold: NFKD, NFC and the map leave ASCII as it is
	}
	t := chains.Get().(transform.Transformer)
	out, _, err := transform.String(t, s) // resets t first
	chains.Put(t)
	if err != nil {
		out = s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case 'Ł':
			return 'L'
		case 'ł':
			return 'l'
		case 'Đ':
			return 'D'
		case 'đ':
			return 'd'
		}
		return r
	}, out)
}

// chains holds Letters' transformers: building one (the chain and its
// buffers) cost more than folding a word with it, and the tagger folds
// every word of a complaint. A chain is not safe for concurrent use, so
// each call takes its own.
var chains = sync.Pool{New: func() any {
	return transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Words returns the folded, lower-cased words of s: runs of letters and
// digits.
func Words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(Letters(s)), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// Package sms counts and fits SMS text: GSM-7 or UCS-2, characters and
// segments as a handset and Twilio count them, and cutting a text down to a
// segment budget without splitting a character or an escape pair. Standard
// library only.
package sms

import (
	"strings"
	"unicode"
)

// Encoding is the character set an SMS travels in.
type Encoding string

// SMS encodings. One character outside the GSM 03.38 default alphabet and its
// extension table turns the whole message into UCS-2.
const (
	GSM7 Encoding = "GSM-7"
	UCS2 Encoding = "UCS-2"
)

// Segment sizes: a single SMS carries 160 septets or 70 UTF-16 code units; a
// concatenated one loses room to its 6-byte user data header and carries 153
// or 67 per segment.
const (
	gsmSingle  = 160
	gsmMulti   = 153
	ucs2Single = 70
	ucs2Multi  = 67
)

// gsmBasic is the GSM 03.38 default alphabet, in table order (0x00–0x7F);
// 0x1B is the escape to the extension table and is not a character of its
// own. Note what is absent: á í ó ú ő ű (Hungarian), ą ć ę ł ń ś ź ż (Polish),
// č ć đ š ž (Croatian), and lower-case ç, ê, ë, â; 0x24 is ¤, $ is 0x02.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension holds the characters reached through the escape: each costs
// two septets.
const gsmExtension = "\f^{}\\[~]|€"

var gsmCost = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsmBasic {
		if r != 0x1b {
			m[r] = 1
		}
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// gsmSeptets returns how many septets r takes in GSM-7, 0 when it is not
// representable. ASCII letters and digits are answered without the map.
func gsmSeptets(r rune) int {
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ' ' {
		return 1
	}
	return gsmCost[r]
}

// IsGSM7 reports whether every character of s is in the GSM 03.38 default
// alphabet or its extension table.
func IsGSM7(s string) bool {
	for _, r := range s {
		if gsmSeptets(r) == 0 {
			return false
		}
	}
	return true
}

// Segments says how text travels as an SMS: its encoding, its length in
// that encoding's units (septets for GSM-7, an extension character counting
// two; UTF-16 code units for UCS-2, a character outside the BMP such as an
// emoji counting two) and the number of segments. Splitting follows the
// handsets' rule: an escape pair or a surrogate pair is never cut between two
// segments, so a multi-part message may need more segments than chars/153.
// An empty text has zero segments.
func Segments(text string) (enc Encoding, chars int, segments int) {
	if IsGSM7(text) {
		return GSM7, count(text, GSM7), segmentCount(text, GSM7)
	}
	return UCS2, count(text, UCS2), segmentCount(text, UCS2)
}

func unitCost(r rune, enc Encoding) int {
	if enc == GSM7 {
		return gsmSeptets(r)
	}
	if r >= 0x10000 {
		return 2
	}
	return 1
}

func count(text string, enc Encoding) int {
	n := 0
	for _, r := range text {
		n += unitCost(r, enc)
	}
	return n
}

func segmentCount(text string, enc Encoding) int {
	total := count(text, enc)
	single, multi := gsmSingle, gsmMulti
	if enc == UCS2 {
		single, multi = ucs2Single, ucs2Multi
	}
	switch {
	case total == 0:
		return 0
	case total <= single:
		return 1
	}
	segs, fill := 1, 0
	for _, r := range text {
		c := unitCost(r, enc)
		if fill+c > multi {
			segs++
			fill = 0
		}
		fill += c
	}
	return segs
}

// Fit returns text unchanged when it fits in maxSegments (less than 1
// means 1); otherwise it cuts it at a word boundary and ends it with an
// ellipsis: "…" when the kept text is UCS-2 anyway, "..." when it is GSM-7,
// because "…" alone would turn a GSM-7 message into UCS-2 and cut its room by
// more than half.
func Fit(text string, maxSegments int) string {
	return fitSlot("", text, "", maxSegments)
}

// Fits reports whether s fits in maxSegments segments.
func Fits(s string, maxSegments int) bool {
	_, _, n := Segments(s)
	return n <= maxSegments
}

// fitSlot returns the longest cut of text (whole, or at a word boundary with
// an ellipsis, or failing that at a character with an ellipsis, or empty) such
// that before+cut+after fits in maxSegments. before and after are never cut:
// they hold what the message cannot lose, such as the incident's link. When
// even before+after alone does not fit it returns "".
func fitSlot(before, text, after string, maxSegments int) string {
	return FitWith(text, maxSegments, func(cut string) string { return before + cut + after })
}

// FitWith is fitSlot for a message assembled by wrap, which may place the cut
// text more than once or tidy the result; the check is on wrap's output.
func FitWith(text string, maxSegments int, wrap func(string) string) string {
	if maxSegments < 1 {
		maxSegments = 1
	}
	if Fits(wrap(text), maxSegments) {
		return text
	}
	// No cut longer than the budget in characters can fit; scan only that far.
	limit := maxSegments*gsmSingle + 1
	var wordCuts, runeCuts []int // byte offsets where text may be cut
	n := 0
	for i, r := range text {
		if n > limit {
			break
		}
		n++
		if i > 0 {
			runeCuts = append(runeCuts, i)
			if unicode.IsSpace(r) {
				wordCuts = append(wordCuts, i)
			}
		}
	}
	try := func(cuts []int) (string, bool) {
		eval := func(i int) (string, bool) {
			kept := strings.TrimRightFunc(text[:cuts[i]], func(r rune) bool {
				return unicode.IsSpace(r) || strings.ContainsRune(",;:-–—(", r)
			})
			if kept == "" {
				return "", true // nothing kept: fits, but is no answer
			}
			cand := kept
			if !strings.HasSuffix(kept, ".") {
				// A cut right after a full stop ("Fizetés Zrt.", "… normally.")
				// reads whole; "Zrt.…" would not.
				cand += ellipsisFor(wrap(kept))
			}
			return cand, Fits(wrap(cand), maxSegments)
		}
		// Binary search for the longest fitting cut. Fitting is monotone in
		// length except at rare edges (the no-split rule, the ellipsis
		// changing with the encoding), where this may keep a word less than
		// the optimum; whatever it returns has been checked to fit.
		lo, hi := -1, len(cuts)
		for lo+1 < hi {
			mid := (lo + hi) / 2
			if _, ok := eval(mid); ok {
				lo = mid
			} else {
				hi = mid
			}
		}
		for i := lo; i >= 0; i-- {
			if cand, ok := eval(i); ok && cand != "" {
				return cand, true
			}
		}
		return "", false
	}
	if s, ok := try(wordCuts); ok {
		return s
	}
	if s, ok := try(runeCuts); ok {
		return s
	}
	return ""
}

func ellipsisFor(s string) string {
	if IsGSM7(s) {
		return "..."
	}
	return "…"
}

// gsmFold maps typographic punctuation that word processors and phones put
// into text to the GSM-7 characters that mean the same: one curly
// apostrophe would otherwise turn a whole English message into UCS-2 and
// cut each segment from 153 characters to 67. Letters are never folded
// (ő is not o), so a Hungarian text with ő stays UCS-2 as it must.
var gsmFold = map[rune]string{
	'\u2018': "'", '\u2019': "'", '\u201A': "'", '\u201B': "'", '\u2032': "'", // ‘ ’ ‚ ‛ ′
	'\u201C': `"`, '\u201D': `"`, '\u201E': `"`, '\u201F': `"`, '\u2033': `"`, '«': `"`, '»': `"`, // “ ” „ ‟ ″
	'\u2010': "-", '\u2011': "-", '\u2012': "-", '\u2013': "-", '\u2014': "-", '\u2015': "-", '\u2212': "-", // ‐ ‑ ‒ – — ― −
	'\u2026': "...",                                                                                         // …
	'\u00A0': " ", '\u2007': " ", '\u2009': " ", '\u200A': " ", '\u202F': " ", '\u2002': " ", '\u2003': " ", // no-break and thin spaces
	'\u00AD': "", '\u200B': "", '\u2060': "", '\uFEFF': "", // soft hyphen, zero-width space, word joiner, BOM
	'\u2022': "*", // •
}

// Transliterate replaces typographic punctuation (curly quotes and
// apostrophes, dashes, the ellipsis, non-breaking and thin spaces,
// invisible joiners) with its GSM-7 equivalent, so that text which is
// otherwise GSM-7 travels as GSM-7. Letters outside GSM-7 are kept.
func Transliterate(s string) string {
	fold := false
	for _, r := range s {
		if _, ok := gsmFold[r]; ok {
			fold = true
			break
		}
	}
	if !fold {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if rep, ok := gsmFold[r]; ok {
			b.WriteString(rep)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

package render

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/notify/sms"
)

// cutBody returns the operator's text whole when wrap(text) fits max
// segments, else the longest cut of it that fits and still says what it
// said, marked as cut:
//
//   - at a sentence end, the omission marked "(…)": "…nem terheltük meg. (…)";
//   - failing that (no whole sentence fits, or only a stub of one), at a
//     clause boundary (; , : or a dash), ended with "…":
//     "…komunikatem „odrzucono”…";
//   - failing that, at a word, but never inside a clause after its
//     negation ("karta nie…", "kartica nije…", "don't…" says the opposite
//     of what was meant): the cut goes back to before the negation.
//
// The marker is "..." rather than "…" when the message is GSM-7 (one "…"
// would make it UCS-2). What it keeps may be a stub (bodyStub); the
// caller decides whether a stub goes at all.
func cutBody(text string, max int, wrap func(string) string) string {
	fits := func(s string) bool { return sms.Fits(wrap(s), max) }
	if fits(text) {
		return text
	}
	ends := sentenceEnds(text)
	for i := len(ends) - 1; i >= 0; i-- {
		kept := text[:ends[i]]
		if bodyStub(kept) {
			break // the shorter ones are stubs too
		}
		if cand := kept + " (" + ellipsisIn(wrap(kept)) + ")"; fits(cand) {
			return cand
		}
	}
	clauses := clauseEnds(text)
	for i := len(clauses) - 1; i >= 0; i-- {
		kept := strings.TrimRightFunc(text[:clauses[i]], trailingPunct)
		if bodyStub(kept) {
			break
		}
		if cand := kept + ellipsisIn(wrap(kept)); fits(cand) {
			return cand
		}
	}
	// No boundary fits: a word cut, in the text's first clause.
	kept := withoutEllipsis(sms.FitWith(text, max, wrap))
	if kept == "" {
		return ""
	}
	words := strings.Fields(kept)
	for i, w := range words {
		if negation(w) {
			// "Most card payments do not…" would read as a statement; what
			// comes before the negation says no more than it did.
			kept = strings.Join(words[:i], " ")
			break
		}
	}
	kept = strings.TrimRightFunc(kept, func(r rune) bool { return trailingPunct(r) || r == '.' })
	if kept == "" {
		return ""
	}
	return kept + ellipsisIn(wrap(kept))
}

// sentenceEnds returns the byte offsets just after each sentence-ending
// stop (. ! ? or an ellipsis) that a space follows, in order. A stop after
// a digit ("12. 06.", Hungarian and Croatian dates and ordinals) or before
// a lower-case word ("pl. a", "np. karta", abbreviations) ends none.
func sentenceEnds(text string) []int {
	var ends []int
	for i, r := range text {
		if r != '.' && r != '!' && r != '?' && r != '…' {
			continue
		}
		after := i + utf8.RuneLen(r)
		if after >= len(text) || text[after] != ' ' {
			continue
		}
		prev, _ := utf8.DecodeLastRuneInString(text[:i])
		if r == '.' && unicode.IsDigit(prev) {
			continue
		}
		next, _ := utf8.DecodeRuneInString(strings.TrimLeft(text[after:], " "))
		if unicode.IsLower(next) {
			continue
		}
		ends = append(ends, after)
	}
	return ends
}

// clauseEnds returns the byte offsets of the clause boundaries in text:
// just after a ; , or : that a space follows, and before a dash standing
// between spaces (" – ", " — ", " - ").
func clauseEnds(text string) []int {
	var ends []int
	for i, r := range text {
		after := i + utf8.RuneLen(r)
		switch r {
		case ';', ',', ':':
			if after < len(text) && text[after] == ' ' {
				ends = append(ends, after)
			}
		case '–', '—', '-':
			if i > 0 && text[i-1] == ' ' && after < len(text) && text[after] == ' ' {
				ends = append(ends, i)
			}
		}
	}
	return ends
}

// trailingPunct is what a cut text does not end with before its marker.
func trailingPunct(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune(",;:-–—(", r)
}

// ellipsisIn is the cut marker for a message s: "…", or "..." when s is
// GSM-7 and "…" would make it UCS-2.
func ellipsisIn(s string) string {
	if sms.IsGSM7(s) {
		return "..."
	}
	return "…"
}

// negations are the words that turn a clause into its opposite, in the
// languages herald writes: a cut right after one ("karta nie…") leaves
// the customer a statement nobody made.
var negations = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
		not no never nor none nothing without cannot can't don't doesn't didn't won't isn't aren't wasn't weren't
		haven't hasn't hadn't shouldn't wouldn't couldn't mustn't
		nem ne sem se nincs nincsenek sincs soha semmi senki nélkül
		nie ani bez nigdy nic nikt żaden żadna żadne brak
		nije nisu nismo niste nisam nemojte nema nemamo neće nećemo nećete nikad nikada ni niti ništa nitko`) {
		m[w] = true
	}
	return m
}()

// negation reports whether word (with its punctuation, any case) is one
// of negations.
func negation(word string) bool {
	w := strings.ToLower(strings.TrimFunc(word, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '’' }))
	return negations[strings.ReplaceAll(w, "’", "'")]
}

// withoutEllipsis is a cut text without the ellipsis the cut added
// ("…", or "..." once folded to GSM-7).
func withoutEllipsis(kept string) string {
	kept = strings.TrimSpace(kept)
	kept = strings.TrimSuffix(strings.TrimSuffix(kept, "…"), "...")
	return strings.TrimSpace(kept)
}

// bodyStub reports whether what a cut kept of the operator's text is too
// little to say anything: fewer than four words or 30 characters.
func bodyStub(kept string) bool {
	kept = withoutEllipsis(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(kept), "(…)"), "(...)"))
	return len(strings.Fields(kept)) < 4 || utf8.RuneCountInString(kept) < 30
}

package surveys

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/fold"
)

// numberWords are the numbers one to ten written out in en, hu, pl and
// hr, lower case without diacritics (fold.Letters): "kilenc", "öt" (ot),
// "négy" (negy), "jedna", "dziesięć" (dziesiec), "četiri" (cetiri). Where
// a language has more than one form (pl jeden/jedna/jedno, dwa/dwie; hr
// jedan/jedna/jedno, dva/dvije; hu kettő/két) each is there.
var numberWords = map[string]int{
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
	"egy": 1, "ketto": 2, "ket": 2, "harom": 3, "negy": 4, "ot": 5, "hat": 6, "het": 7, "nyolc": 8, "kilenc": 9, "tiz": 10,
	"jeden": 1, "jedna": 1, "jedno": 1, "dwa": 2, "dwie": 2, "trzy": 3, "cztery": 4, "piec": 5, "szesc": 6, "siedem": 7,
	"osiem": 8, "dziewiec": 9, "dziesiec": 10,
	"jedan": 1, "dva": 2, "dvije": 2, "tri": 3, "cetiri": 4, "pet": 5, "sest": 6, "sedam": 7, "osam": 8, "devet": 9, "deset": 10,
}

// scaleWords are the forms a scale's number takes after its preposition
// and no number word has: Polish genitive "z pięciu", "z dziesięciu".
var scaleWords = map[string]int{"pieciu": 5, "dziesieciu": 10}

// spelledScore rewrites a reply whose score is written in words, or
// whose scale is ("kilenc a tízből", "nine out of ten", "cztery z pięciu",
// "četiri od pet", "9 a 10-ből"), in the digits ParseAnswer's rules read:
// "9/10", "4/5"; the words after the score are kept as they are. A number
// word counts only alone ("kilenc", "Öt!"), with a scale of 5 or 10, with
// a stars word ("öt csillag") or with a separator before words of its own
// ("négy, gyors volt"): "one of your drivers", "egy hete nem működik"
// (for a week…) or "jeden z kierowców" are words of their own. ok is
// false when nothing was rewritten.
func spelledScore(t string) (string, bool) {
	lead, rest := nextToken(t)
	n, suffixed, isWord, ok := numberValue(lead)
	if !ok || suffixed {
		return "", false
	}
	if m, tail, ok := scaleOf(rest); ok && (m == 5 || m == 10) {
		return strconv.Itoa(n) + "/" + strconv.Itoa(m) + tail, true
	}
	if !isWord {
		return "", false // digits without a spelled scale: the rules read them as they are
	}
	digits := strconv.Itoa(n)
	after := strings.TrimLeftFunc(rest, unicode.IsSpace)
	switch {
	case strings.Trim(rest, " \t\r\n.!?") == "":
		return digits + rest, true
	case starsWord.MatchString(digits + " " + after):
		return digits + " " + after, true
	case strings.ContainsRune(".,;!-–—", firstRune(rest)):
		return digits + rest, true
	}
	return "", false
}

// scaleOf reads the scale after a score: "/ 10", "out of ten", "of 5",
// "z pięciu", "na 5", "od deset", "a tízből", "az 5-ből", "tízből"; it
// returns the scale and the text after it.
func scaleOf(rest string) (int, string, bool) {
	tok, after := nextToken(rest)
	word := strings.ToLower(fold.Letters(tok))
	number := func(s string, wantSuffix bool) (int, string, bool) {
		tok, tail := nextToken(s)
		m, suffixed, _, ok := numberValue(tok)
		if !ok || suffixed != wantSuffix {
			return 0, "", false
		}
		return m, tail, true
	}
	switch word {
	case "/", "of", "z", "na", "od":
		return number(after, false)
	case "out":
		if of, tail := nextToken(after); strings.EqualFold(of, "of") {
			return number(tail, false)
		}
		return 0, "", false
	case "a", "az": // hu: "a tízből", "az ötből" (out of ten, of five)
		return number(after, true)
	}
	return number(rest, true) // hu: "kilenc tízből"
}

// numberValue reads one token as a number from 0 to 99 (digits) or a
// number word; suffixed when it carries the Hungarian "-ből"/"-ból" (out
// of: "tízből", "10-ből").
func numberValue(tok string) (n int, suffixed, isWord, ok bool) {
	w := strings.ToLower(fold.Letters(tok))
	if s, found := strings.CutSuffix(w, "bol"); found && s != "" {
		w, suffixed = strings.TrimSuffix(s, "-"), true
	}
	if w != "" && len(w) <= 2 && strings.Trim(w, "0123456789") == "" {
		n, _ = strconv.Atoi(w)
		return n, suffixed, false, true
	}
	if n, ok = numberWords[w]; ok {
		return n, suffixed, true, true
	}
	if n, ok = scaleWords[w]; ok && !suffixed {
		return n, false, true, true
	}
	return 0, false, false, false
}

// nextToken skips leading space and returns the next word (letters,
// digits, their marks, and a hyphen inside: "10-ből"), or a lone "/", and
// the text after it.
func nextToken(s string) (tok, rest string) {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if strings.HasPrefix(s, "/") {
		return "/", s[1:]
	}
	word := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) }
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '-' && i > 0 {
			if next, _ := utf8.DecodeRuneInString(s[i+size:]); word(next) {
				i += size
				continue
			}
		}
		if !word(r) {
			break
		}
		i += size
	}
	return s[:i], s[i:]
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

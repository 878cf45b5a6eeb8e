package surveys

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ReplyKind is what a text reply to a survey message is.
type ReplyKind int

// Reply kinds.
const (
	// NotAnAnswer: words of their own (a complaint, a question); the
	// caller treats them as it would without a survey.
	NotAnAnswer ReplyKind = iota
	// Scored: a score from 1 to 5, with the words after it.
	Scored
	// Unclear: meant as an answer, but with no score that can be read
	// honestly ("no", "10", "🙂"): ask again for a number; never a
	// complaint.
	Unclear
)

// How a reply is read (ParseAnswer), in this order:
//
//   - A leading score from 1 to 5 and the words after it: "4", "2 too
//     slow", "5. thanks", "5 - wszystko w porządku".
//   - "N stars" (or csillag, gwiazdki, zvjezdice, ★) counts N of 5; the
//     word is part of the score, not a comment.
//   - "N/5" and "N of 5" (z 5, na 5, od 5) are N; "N/10" (or of 10) is scaled to
//     the nearest half, rounded up: 9–10 → 5, 7–8 → 4, 5–6 → 3, 3–4 → 2,
//     0–2 → 1, so that "10/10" is 5 and "6/10" a middling 3.
//   - 👍 is 5 and 👎 is 1 (a thumb is the survey's best or worst); a row of
//     one to five ★ or ⭐ is that many.
//   - A score or its scale may be written in words, one to ten in en,
//     hu, pl and hr: "négy", "kilenc a tízből" (9/10), "nine out of ten",
//     "cztery z pięciu", "četiri od pet", "öt csillag"; a number word
//     alone or with a scale, stars or a separator only (spelledScore), so
//     "one of your drivers was rude" stays words of their own.
//   - A bare yes or no (en, hu, pl, hr), a bare number outside 1–5 (in
//     digits or words: "9", "kilenc"), a
//     score out of range ("7/5"), or emoji alone are Unclear: "no" to
//     "how satisfied are you?" maps to no score honestly.
//
// Anything else is NotAnAnswer: "my order 5 is late" is a complaint.

// leadScore is a digit 1–5 first, then words after a separator.
var leadScore = regexp.MustCompile(`(?s)^([1-5])(?:$|[\s.,:;!)\-–—]+(.*)$)`)

// starsWord follows a score that counts stars, in the four languages.
var starsWord = regexp.MustCompile(`(?is)^([0-9]{1,2})\s*(?:stars?|csillag\w*|gwiazd\w*|zvjezdic\w*|zvijezd\w*|[★⭐*])(?:$|[\s.,:;!)\-–—]+(.*)$)`)

// outOf is "N/5", "N of 10", "N z 5", "N od 10", "N out of 5".
var outOf = regexp.MustCompile(`(?is)^([0-9]{1,3})\s*(?:/|out of|of|z|na|od)\s*([0-9]{1,3})(?:$|[\s.,:;!)\-–—]+(.*)$)`)

// bareNumber is a number alone, with a sign or punctuation around it.
var bareNumber = regexp.MustCompile(`^[+\-]?[0-9]+(?:[.,][0-9]+)?[.!?]*$`)

// yesNo are the bare yes and no words of the four languages.
var yesNo = map[string]bool{
	"yes": true, "no": true, "yeah": true, "yep": true, "nope": true,
	"igen": true, "nem": true, "tak": true, "nie": true, "da": true, "ne": true,
}

// ParseAnswer reads a text reply to a survey: its score (1–5) and the
// words after it when it is Scored; for an Unclear one, the words after
// the score it could not read ("7/5 great service" → "great service"),
// "" when it was only that attempt ("10", "no", "🙂").
func ParseAnswer(text string) (score int, comment string, kind ReplyKind) {
	t := strings.TrimSpace(text)
	if t == "" || !utf8.ValidString(t) {
		return 0, "", NotAnAnswer
	}
	if spelled, ok := spelledScore(t); ok {
		t = spelled
	}
	words := func(s string) string { return strings.TrimSpace(s) }
	if m := outOf.FindStringSubmatch(t); m != nil {
		n, _ := strconv.Atoi(m[1])
		of, _ := strconv.Atoi(m[2])
		switch {
		case of == 5 && n <= 5:
			return max(n, 1), words(m[3]), Scored
		case of == 10 && n <= 10:
			return max((n+1)/2, 1), words(m[3]), Scored
		case of == 5 || of == 10:
			return 0, words(m[3]), Unclear
		}
		// "2 na 3 dni …" is no score out of anything: read on.
	}
	if m := starsWord.FindStringSubmatch(t); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > 5 {
			return 0, words(m[2]), Unclear
		}
		return n, words(m[2]), Scored
	}
	if m := leadScore.FindStringSubmatch(t); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, words(m[2]), Scored
	}
	if n, rest, ok := emojiScore(t); ok {
		return n, rest, Scored
	}
	low := strings.ToLower(strings.TrimRight(t, ".!?, "))
	if yesNo[low] || bareNumber.MatchString(t) || symbolsOnly(t) {
		return 0, "", Unclear
	}
	return 0, "", NotAnAnswer
}

// ParseDigit reads a survey answer from an SMS: the score and the words
// after it; ok false for any other text (ParseAnswer's Scored).
func ParseDigit(text string) (score int, comment string, ok bool) {
	score, comment, kind := ParseAnswer(text)
	return score, comment, kind == Scored
}

// emojiScore reads a leading thumb (👍 5, 👎 1) or a row of stars (★ or ⭐,
// one to five), skin tones and variation selectors aside, and the words
// after it.
func emojiScore(t string) (int, string, bool) {
	up, down, stars, i := 0, 0, 0, 0
scan:
	for i < len(t) {
		r, size := utf8.DecodeRuneInString(t[i:])
		switch {
		case r == '👍':
			up++
		case r == '👎':
			down++
		case r == '★' || r == '⭐':
			stars++
		case r == '\uFE0F' || r >= 0x1F3FB && r <= 0x1F3FF: // variation selector, skin tones
		default:
			break scan
		}
		i += size
	}
	rest := strings.TrimSpace(strings.TrimLeft(t[i:], " \t\r\n.,:;!-–—"))
	switch {
	case up > 0 && down == 0 && stars == 0:
		return 5, rest, true
	case down > 0 && up == 0 && stars == 0:
		return 1, rest, true
	case stars >= 1 && stars <= 5 && up == 0 && down == 0:
		return stars, rest, true
	}
	return 0, "", false
}

// symbolsOnly reports whether t has no letter and no digit: emoji,
// punctuation.
func symbolsOnly(t string) bool {
	for _, r := range t {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	return strings.TrimSpace(t) != ""
}

// Package keywords reads what an inbound SMS asks for: the carriers' and
// Twilio's opt-out, opt-in and help words (STOP, START, HELP) and their
// Hungarian, Polish and Croatian counterparts, YES confirming a sign-up, or
// a 6-digit confirmation code, with the language to answer in; and the
// answer itself. Anything else is no keyword: the pipeline routes it on to
// complaints.
package keywords

import (
	"strings"
	"unicode"

	"github.com/heraldhq/herald/fold"
	"github.com/heraldhq/herald/locale"
)

// Match is what an inbound SMS was read as: a keyword and the language
// of its word, or a confirmation code.
type Match struct {
	Keyword Keyword
	Lang    string // en, hu, pl or hr: the language to answer in
	Code    string // a 6-digit confirmation code; Keyword is None then
}

// Parse reads body, an SMS from the number from (E.164): only the whole
// message counts, folded (upper case, no diacritics, no surrounding
// punctuation or spaces). ok is false for anything that is no keyword and
// no code. POMOC is Polish and Croatian; from a Croatian number (+385) it
// is answered in Croatian.
func Parse(body, from string) (m Match, ok bool) {
	word := Fold(body)
	if IsCode(word) {
		return Match{Code: word}, true
	}
	k, ok := smsKeywords[word]
	if !ok {
		return Match{}, false
	}
	m = Match{Keyword: k.kw, Lang: k.lang}
	if word == "POMOC" && strings.HasPrefix(from, "+385") {
		m.Lang = "hr"
	}
	return m, true
}

// Reply is the answer to keyword k in lang (a code or a tag such as
// "hu-HU"), English when herald does not speak lang, "" for None. The words
// are the locale catalogue's SMSReply* messages; should the built-in
// catalogue not load, the answer is "" (render.New has then refused to
// start already).
func Reply(lang string, k Keyword) string {
	return ReplyFrom(lang, k, "")
}

// ReplyFrom is Reply naming the sender, page, as every SMS herald sends
// does (carriers expect the brand in opt-out and help answers): HELP's
// answer says whose alerts these are, every other answer starts with
// "page: ". Without a page name HELP's answer names "Status" and the others
// start with their words.
func ReplyFrom(lang string, k Keyword, page string) string {
	cat, err := locale.Default()
	if err != nil {
		return ""
	}
	l := cat.Lang(lang)
	if p := l.Pattern(replyIDs[k]); p != nil && p.Uses("Page") {
		if page == "" {
			page = "Status"
		}
		return p.Fill("Page", page)
	}
	text := l.Text(replyIDs[k])
	if page = strings.TrimSpace(page); page != "" && text != "" {
		return page + ": " + text
	}
	return text
}

// Keyword is what an inbound SMS asks for.
type Keyword int

// Keywords.
const (
	None Keyword = iota
	Stop
	Start
	Help
	Yes
	// StartNoSubscription is no keyword, only START's reply when the
	// number follows no page: its messages may flow again, but it is not
	// "subscribed again" (a customer's number, say, or a stranger's).
	StartNoSubscription
	// YesSubscribed and YesNothingPending are no keywords, only YES's
	// replies when no sign-up waits for it: the number follows a page by
	// SMS already (its code was typed on the page, or YES came twice), or
	// it follows none.
	YesSubscribed
	YesNothingPending
)

// smsKeywords maps a whole message, upper-cased with diacritics removed, to
// what it asks and the language to answer in. Sources: Twilio's default
// opt-out, opt-in and help words (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
// QUIT, REVOKE, OPTOUT; START, UNSTOP; HELP, INFO), and the usual words of
// each language:
//   - hu: LEIRATKOZ/LEIRATKOZAS/LEIRATKOZOM ("unsubscribe", "I
//     unsubscribe"), LEMOND ("cancel"), ALLJ ("stop"); FELIRATKOZ/
//     FELIRATKOZAS ("subscribe"), INDIT/INDITAS ("start"); SEGITSEG, SUGO
//     ("help"); IGEN ("yes");
//   - pl: STOP, WYPISZ ("unsubscribe me"), REZYGNUJE/REZYGNACJA ("I
//     resign"); START, ZAPISZ ("subscribe me"); POMOC ("help"); TAK;
//   - hr: STOP, ODJAVA/ODJAVI ("unsubscribe"), PREKID ("stop"); START,
//     PRIJAVA/PRIJAVI ("subscribe"); POMOC ("help", POMOĆ); DA.
//
// A few whole-message phrases stop too, as people write them (the gaps
// inside are one space after Fold, whatever spaces, hyphens or commas
// were typed): en STOP ALL, OPT OUT (Twilio's STOPALL and OPTOUT, spaced);
// hu LEMONDOM ("I cancel"), NEM KÉREK TÖBB SMS-T ("I want no more
// SMS"); pl WYPISZ MNIE ("unsubscribe me"), STOP SMS; hr ODJAVI ME
// ("unsubscribe me"). Like the single words they count only as the
// whole message: "Wypisz mnie, bo znowu nie działa" is a complaint.
//
// YES is not an opt-in word here: it confirms a pending sign-up. NIE
// (Polish "no") is no opt-out word: a customer answering a question of
// herald's (a survey, a compensation choice) or of a person with "Nie"
// must not lose every outage alert for it; it reaches complaints, where
// a person reads it. A message such as "NIE dziala" (Polish "does not
// work") is no keyword either: only the whole message counts, as with
// Twilio's own matching.
var smsKeywords = map[string]struct {
	kw   Keyword
	lang string
}{
	"STOP": {Stop, "en"}, "STOPALL": {Stop, "en"}, "UNSUBSCRIBE": {Stop, "en"}, "CANCEL": {Stop, "en"},
	"END": {Stop, "en"}, "QUIT": {Stop, "en"}, "REVOKE": {Stop, "en"}, "OPTOUT": {Stop, "en"},
	"STOP ALL": {Stop, "en"}, "OPT OUT": {Stop, "en"},
	"START": {Start, "en"}, "UNSTOP": {Start, "en"},
	"HELP": {Help, "en"}, "INFO": {Help, "en"},
	"YES": {Yes, "en"}, "Y": {Yes, "en"},

	"LEIRATKOZ": {Stop, "hu"}, "LEIRATKOZAS": {Stop, "hu"}, "LEIRATKOZOM": {Stop, "hu"}, "LEMOND": {Stop, "hu"}, "ALLJ": {Stop, "hu"},
	"LEMONDOM": {Stop, "hu"}, "NEM KEREK TOBB SMS T": {Stop, "hu"}, "NEM KEREK TOBB SMST": {Stop, "hu"},
	"FELIRATKOZ": {Start, "hu"}, "FELIRATKOZAS": {Start, "hu"}, "INDIT": {Start, "hu"}, "INDITAS": {Start, "hu"},
	"SEGITSEG": {Help, "hu"}, "SUGO": {Help, "hu"},
	"IGEN": {Yes, "hu"},

	"WYPISZ": {Stop, "pl"}, "REZYGNUJE": {Stop, "pl"}, "REZYGNACJA": {Stop, "pl"},
	"WYPISZ MNIE": {Stop, "pl"}, "STOP SMS": {Stop, "pl"},
	"ZAPISZ": {Start, "pl"},
	"TAK":    {Yes, "pl"},

	"ODJAVA": {Stop, "hr"}, "ODJAVI": {Stop, "hr"}, "PREKID": {Stop, "hr"}, "ODJAVI ME": {Stop, "hr"},
	"PRIJAVA": {Start, "hr"}, "PRIJAVI": {Start, "hr"},
	"POMOC": {Help, "pl"}, // pl and hr (POMOĆ) share it; answered in Polish unless the number is Croatian
	"DA":    {Yes, "hr"},
}

// replyIDs are the catalogue's messages answering each keyword.
var replyIDs = map[Keyword]string{
	Stop: "SMSReplyStop", Start: "SMSReplyStart", Help: "SMSReplyHelp", Yes: "SMSReplyYes",
	StartNoSubscription: "SMSReplyStartNoSubscription",
	YesSubscribed:       "SMSReplyYesSubscribed", YesNothingPending: "SMSReplyYesNothingPending",
}

// Fold upper-cases s, strips diacritics and surrounding punctuation, and
// makes each run of spaces and punctuation inside one space, so that
// "Wypisz,  mnie!" is WYPISZ MNIE and "SMS-t" SMS T. NFKD also folds
// compatibility forms: full-width "ＳＴＯＰ", which some phone keyboards
// type, is STOP.
func Fold(s string) string {
	// Invalid bytes are U+FFFD first, as ToUpper would make them later:
	// folded before, "\xf2Ć" kept its Ć, and folding the answer again
	// gave another word.
	out := fold.Letters(strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD")))
	gap := func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) }
	out = strings.Join(strings.FieldsFunc(out, gap), " ")
	return strings.ToUpper(out)
}

// IsCode reports whether s is a 6-digit confirmation code.
func IsCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

package complaint

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/fold"
	"github.com/heraldhq/herald/incident"
)

// DefaultThreshold is the confidence from which a complaint is tagged
// automatically; below it, it waits in triage with the best guess as a
// suggestion.
const DefaultThreshold = 0.5

// Evidence is what the tagger reads about a complaint.
type Evidence struct {
	At         time.Time      // when it came in
	Text       string         // the subject and the customer's words
	Components []string       // the customer's component IDs (from the customer record), or those the sender named
	Named      bool           // Components are what the sender named (the report form's pick), not a record's
	ReplyTo    string         // the incident of the herald message it answers; "" when none
	Location   *time.Location // the page's time zone, for the reasons; nil: UTC
}

// The weights of each kind of evidence. A reply to an incident's message
// settles it; a customer of an affected component during the outage is
// enough on its own; words and timing support the rest.
const (
	weightReply     = 0.95
	weightComponent = 0.5
	// weightComponentPlanned is a component's weight for a maintenance
	// that has completed: planned work customers were told of in advance
	// is seldom what they complain about once it is over, and an incident
	// on the same component (the usual subject) must win over it.
	weightComponentPlanned = 0.3
	weightWord             = 0.2 // per distinct word, up to two
	weightOpen             = 0.15
	weightJustEnded        = 0.1 // resolved at most justEnded before
	weightRecent           = 0.05
	weightOnlyOpen         = 0.2
	justEnded              = 2 * time.Hour
	maxWordsCounted        = 2
	maxConfidence          = 0.99
	minWordLen             = 4
	maxReasonMentions      = 3
)

// weightNamesOpen is added when the text names a component an open
// incident affects ("the checkout page is blank"): what the customer says
// is wrong now outweighs which components their record says they use of
// an incident that has just ended (weightComponent + weightJustEnded <
// weightWord + weightNamesOpen + weightOpen), but one such word does not
// outweigh their component in another open incident (weightWord +
// weightNamesOpen < weightComponent).
const weightNamesOpen = 0.28

// Suggest scores every candidate incident (open, or resolved within the
// last 72 hours) for a complaint and returns the best as a Tag with a
// confidence and a reason a person can read; nil when nothing points to
// any. Callers tag the complaint when the confidence reaches their
// threshold. It is a pure function of its arguments.
func Suggest(ev Evidence, incidents []*incident.Incident, comps []*incident.Component) *Tag {
	loc := ev.Location
	if loc == nil {
		loc = time.UTC
	}
	names := map[string]string{}
	for _, c := range comps {
		names[c.ID] = c.Name
	}
	var cands []*incident.Incident
	open := 0
	for _, inc := range incidents {
		if candidate(inc, ev.At) {
			cands = append(cands, inc)
			if inc.Open() && !inc.IsMaintenance() {
				open++
			}
		}
	}
	words := textWords(ev.Text)
	var best *Tag
	var bestAt time.Time
	for _, inc := range cands {
		score, reasons, why := scoreIncident(ev, inc, names, words, open, loc)
		if score <= 0 {
			continue
		}
		t := &Tag{IncidentID: inc.ID, Confidence: min(score, maxConfidence), Reason: strings.Join(reasons, "; "), Why: why, By: "auto", At: ev.At, Ended: endedBy(inc, ev.At)}
		if best == nil || t.Confidence > best.Confidence || t.Confidence == best.Confidence && inc.StartedAt.After(bestAt) {
			best, bestAt = t, inc.StartedAt
		}
	}
	return best
}

// scoreIncident adds up the evidence that the complaint is about inc, and
// says why, strongest first: in English, and as codes (Why).
func scoreIncident(ev Evidence, inc *incident.Incident, names map[string]string, words []word, open int, loc *time.Location) (float64, []string, []Why) {
	var score float64
	var reasons []string
	var why []Why
	if ev.ReplyTo == inc.ID {
		score += weightReply
		reasons = append(reasons, fmt.Sprintf("reply to a message about %q", inc.Name))
		why = append(why, Why{Code: WhyReply, Args: map[string]string{"incident": inc.Name}})
	}
	if r, w, ok := componentReason(ev, inc, names, loc); ok {
		if inc.IsMaintenance() && !inc.Open() {
			score += weightComponentPlanned
		} else {
			score += weightComponent
		}
		reasons, why = append(reasons, r), append(why, w)
	}
	if hits := mentions(words, incidentWords(inc, names)); len(hits) > 0 {
		score += weightWord * float64(min(len(hits), maxWordsCounted))
		if len(hits) > maxReasonMentions {
			hits = hits[:maxReasonMentions]
		}
		reason := "text mentions " + quoteAll(hits)
		if name := namedComponent(words, inc, names); name != "" && inc.Open() {
			score += weightNamesOpen
			reason += fmt.Sprintf(" (names %s, which it affects)", name)
		}
		reasons = append(reasons, reason)
		why = append(why, Why{Code: WhyMentions, Args: map[string]string{"words": quoteAll(hits)}})
	}
	if score == 0 && !(open == 1 && inc.Open()) {
		return 0, nil, nil // timing alone says nothing
	}
	switch {
	case inc.Open():
		score += weightOpen
		if open == 1 && !inc.IsMaintenance() {
			score += weightOnlyOpen
			reasons = append(reasons, fmt.Sprintf("%q is the only open incident", inc.Name))
			why = append(why, Why{Code: WhyOnlyOpen, Args: map[string]string{"incident": inc.Name}})
		}
	case inc.ResolvedAt != nil && ev.At.Sub(*inc.ResolvedAt) <= justEnded:
		score += weightJustEnded
		ago := ev.At.Sub(*inc.ResolvedAt)
		reasons = append(reasons, fmt.Sprintf("%q was resolved %s before", inc.Name, roundDuration(ago)))
		why = append(why, Why{Code: WhyResolvedBefore, Args: map[string]string{"incident": inc.Name, "minutes": strconv.Itoa(int(ago.Round(time.Minute) / time.Minute))}})
	default:
		score += weightRecent
	}
	return score, reasons, why
}

// componentReason says whether the customer uses a component the incident
// affects, and how to say so: "customer uses Payments, which has had a
// major outage since 09:12 CET".
func componentReason(ev Evidence, inc *incident.Incident, names map[string]string, loc *time.Location) (string, Why, bool) {
	for _, id := range ev.Components {
		if !inc.Affects(id) {
			continue
		}
		name := names[id]
		if name == "" {
			name = id
		}
		// "which has had a major outage" / "which has been under
		// maintenance" (and "had" / "was" once it has ended).
		// The worst the incident made it, as reports and the page keep
		// it: a critical outage whose impact was lowered before the
		// fix, or whose component is operational again, is still one.
		has, had, what, code := "has had", "had", "an incident", "incident"
		if st, ok := worstStatusFor(inc, id); ok && st != incident.Operational {
			code = string(st)
			switch st {
			case incident.UnderMaintenance:
				has, had, what = "has been", "was", "under maintenance"
			case incident.DegradedPerformance:
				what = "degraded performance"
			default:
				what = "a " + strings.ReplaceAll(string(st), "_", " ")
			}
		} else if inc.IsMaintenance() {
			what, code = "maintenance", "maintenance"
		} else if im := inc.PeakImpact(); im != "" && im != incident.ImpactNone {
			what, code = "a "+string(im)+" incident", "impact_"+string(im)
		}
		since := startOf(inc).In(loc).Format("15:04 MST")
		// The instants too, so that a reader shows them in the page's zone
		// as it is then (a zone set after the tagging moves them).
		w := Why{Code: WhyUses, Args: map[string]string{"component": name, "what": code, "since": since,
			"since_at": startOf(inc).UTC().Format(time.RFC3339)}}
		who := "customer uses"
		if ev.Named {
			// Someone on the form picked it: no record says they use it.
			who = "the sender named"
			w.Args["named"] = "1"
		}
		if inc.Open() {
			return fmt.Sprintf("%s %s, which %s %s since %s", who, name, has, what, since), w, true
		}
		until := inc.StartedAt
		if inc.ResolvedAt != nil {
			until = *inc.ResolvedAt
		}
		w.Args["until"] = until.In(loc).Format("15:04 MST")
		w.Args["until_at"] = until.UTC().Format(time.RFC3339)
		return fmt.Sprintf("%s %s, which %s %s from %s to %s", who, name, had, what, since, until.In(loc).Format("15:04 MST")), w, true
	}
	return "", Why{}, false
}

// worstStatusFor is the worst status any of the incident's updates set
// for the component, and whether any named it.
func worstStatusFor(inc *incident.Incident, id string) (incident.ComponentStatus, bool) {
	var worst incident.ComponentStatus
	named := false
	for _, u := range inc.Updates {
		for _, ac := range u.AffectedComponents {
			if ac.Code == id && (!named || ac.NewStatus.Worse(worst)) {
				worst, named = ac.NewStatus, true
			}
		}
	}
	return worst, named
}

// startOf is when the incident began for its customers: a maintenance
// started by hand before its window starts then, not at scheduled_for
// (its StartedAt).
func startOf(inc *incident.Incident) time.Time {
	start := inc.StartedAt
	if inc.IsMaintenance() {
		for _, u := range inc.Updates {
			if u.Status == incident.InProgress && !u.CreatedAt.IsZero() && u.CreatedAt.Before(start) {
				start = u.CreatedAt
			}
		}
	}
	return start
}

// word is one word of the complaint: folded for matching, as written for
// the reason.
type word struct{ folded, shown string }

// textWords splits the complaint's text into words long enough to mean
// something, dropping the ones every outage shares.
func textWords(s string) []word {
	var out []word
	for _, shown := range strings.FieldsFunc(s, notWordRune) {
		for _, f := range fold.Words(shown) {
			if meaningful(f) {
				out = append(out, word{folded: f, shown: strings.ToLower(shown)})
			}
		}
	}
	return out
}

// notWordRune splits text into words as written.
func notWordRune(r rune) bool {
	return !(r == '-' || r == '\'' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r > 127 && !isSpaceOrPunct(r))
}

func isSpaceOrPunct(r rune) bool {
	return strings.ContainsRune(" \t\n\r\u00a0.,;:!?\"«»„“”‘’()[]{}<>/\\|…–—", r)
}

// meaningful reports whether a folded word can tell one incident from
// another: long enough and not generic, or one of the short words that
// name a component (sms, app, web).
func meaningful(f string) bool {
	return len([]rune(f)) >= minWordLen && !generic[f] || shortTerms[f]
}

// incidentWords are the folded words of the incident's name, its
// components' names (and their words in the four languages:
// componentWords) and its public updates.
func incidentWords(inc *incident.Incident, names map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	addWord := func(f string) {
		if meaningful(f) && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	add := func(s string) {
		for _, f := range fold.Words(s) {
			addWord(f)
		}
	}
	add(inc.Name)
	for _, name := range inc.Names {
		add(name) // a customer writes in their language
	}
	for _, id := range inc.ComponentIDs {
		for _, f := range componentWords(inc, id, names) {
			addWord(f)
		}
	}
	for _, u := range inc.Updates {
		add(u.Body)
		for _, m := range u.Messages {
			add(m) // the update as customers in that language read it
		}
	}
	return out
}

// namedComponent returns the name of the first of inc's components whose
// name the complaint's words name, inflections allowed; "" when none.
func namedComponent(text []word, inc *incident.Incident, names map[string]string) string {
	for _, id := range inc.ComponentIDs {
		if nw := componentWords(inc, id, names); len(nw) > 0 && len(mentions(text, nw)) > 0 {
			return names[id]
		}
	}
	return ""
}

// componentWords are the folded words that name component id of inc, as
// customers in the page's languages write them:
//   - the words of its name ("Card payments": card, payments);
//   - from the incident itself, when its name names the component ("Payments
//     down" on Payments): the words of its names in other languages (an
//     incident declared with --name-hr "Plaćanje ne radi" gives
//     placanje), since a component's name is usually English only;
//   - for a name word of a common concept (componentConcepts: payments,
//     card, checkout, login, app, website, email, SMS), that concept's
//     words in en, hu, pl and hr, for incidents declared in English alone.
func componentWords(inc *incident.Incident, id string, names map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		if meaningful(f) && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	own := fold.Words(names[id])
	for _, f := range own {
		add(f)
	}
	var nameWords []word
	for _, f := range fold.Words(inc.Name) {
		nameWords = append(nameWords, word{folded: f, shown: f})
	}
	if len(out) > 0 && len(mentions(nameWords, out)) > 0 {
		for _, name := range inc.Names {
			for _, f := range fold.Words(name) {
				add(f)
			}
		}
	}
	for _, concept := range componentConcepts {
		if conceptNamed(own, concept) {
			for _, f := range concept {
				add(f)
			}
		}
	}
	return out
}

// conceptNamed reports whether one of a component name's folded words is
// a form of one of the concept's words.
func conceptNamed(name []string, concept []string) bool {
	for _, f := range name {
		for _, c := range concept {
			if f == c || sameStem(f, c) {
				return true
			}
		}
	}
	return false
}

// componentConcepts are the things components are most often named for,
// each as its words in en, hu, pl and hr, folded (no diacritics, lower
// case); sameStem takes their inflections (płatności, karticom,
// kártyával). A component named by one of them is also named by the
// others, so "Ne radi plaćanje karticom" names "Payments". The list is
// kept short on purpose: an incident's own names in other languages
// (componentWords) are the better source; these cover incidents declared
// in English alone. Words that complaints about anything use (message,
// page, order) are left out.
var componentConcepts = [][]string{
	{"payment", "payments", "fizetes", "fizetesi", "platnosc", "platnosci", "placanje", "placanja", "uplata"},
	{"card", "cards", "kartya", "kartyas", "karta", "karty", "kartica", "kartice", "karticom"},
	{"checkout", "kassza", "penztar", "kasa", "koszyk", "blagajna", "naplata", "kosarica"},
	{"login", "logon", "bejelentkezes", "belepes", "logowanie", "logowania", "zalogowac", "prijava", "prijavom"},
	{"app", "apps", "application", "alkalmazas", "applikacio", "aplikacja", "aplikacji", "aplikacija", "aplikaciji"},
	{"website", "site", "web", "weboldal", "honlap", "webshop", "strona", "stronie", "strony", "stranica", "stranici", "stranicu"},
	{"email", "emails", "mail", "mails", "emailek", "levelek", "poczta", "mejl", "mailem", "posta"},
	{"sms", "smsek", "smsy", "smsa", "smsove"},
}

// shortTerms are words of componentConcepts shorter than minWordLen that
// still name a thing: the tagger reads them in a complaint too.
var shortTerms = map[string]bool{"sms": true, "app": true, "web": true}

// mentions returns the complaint's words (as written, each once) that
// match a word of the incident, inflections allowed.
func mentions(text []word, inc []string) []string {
	var hits []string
	seen := map[string]bool{}
	for _, w := range text {
		if seen[w.shown] {
			continue
		}
		for _, iw := range inc {
			if w.folded == iw || sameStem(w.folded, iw) {
				seen[w.shown] = true
				hits = append(hits, w.shown)
				break
			}
		}
	}
	return hits
}

// sameStem reports whether two folded words are forms of one word: they
// share a prefix that leaves at most one letter of the shorter word
// unmatched (two when it is longer than six letters). That takes the
// endings of Hungarian, Polish and Croatian (fizetés/fizetéssel,
// płatność/płatności, plaćanje/plaćanja) and English plurals, without
// matching words that only start alike (server/service, login/logout).
func sameStem(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	n := min(len(ra), len(rb))
	p := 0
	for p < n && ra[p] == rb[p] {
		p++
	}
	need := n - 1
	if n > 6 {
		need = n - 2
	}
	return p >= minWordLen && p >= need
}

// generic words appear in complaints about any outage, in the four
// languages, and so say nothing about which one.
var generic = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`outage outages down failing failed fails failure working works service services
		problem problems issue issues error errors incident incidents degraded status please help still again
		there this that with from have your what when will would could should about since today
		some them they their were been more than just very into only over also here after
		hiba hibas hibat nem mukodik mukodott problema szolgaltatas leallas kerem miert mert vagy mikor
		awaria awarii dziala dzialaja problem problemy usluga uslugi prosze dlaczego kiedy jest nadal
		greska greske kvar radi rade problem usluga usluge molim zasto kada jos uvijek`) {
		m[w] = true
	}
	return m
}()

// quoteAll quotes words for a reason: 'card', 'payment'.
func quoteAll(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = "'" + w + "'"
	}
	sort.Strings(q)
	return strings.Join(q, ", ")
}

// roundDuration says a duration the way a person would: "25 min", "2 h".
func roundDuration(d time.Duration) string {
	if d < time.Hour {
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	}
	return fmt.Sprintf("%d h", int(d.Round(time.Hour)/time.Hour))
}

// Package locale is herald's one catalogue of words: every word the status
// page shows and every message herald sends (labels, footers, greetings,
// time layouts, SMS keyword replies), in each of herald's languages, with
// CLDR plural rules.
//
// The words live in translations/<lang>.toml, one go-i18n file per language,
// embedded in the binary. Every file has exactly the same keys
// (TestCatalogueComplete), a plural message has exactly the CLDR categories
// its language uses, and a message's {{.Field}}s are those of its English
// original. Default fails rather than serve a catalogue that breaks these.
//
// Lookups are made for hot paths: messages without data are plain strings
// prepared at load (Text, Static); messages with data are Patterns, filled
// by concatenation rather than by executing a template; a plural's form is
// chosen by golang.org/x/text's CLDR rules. Format runs go-i18n for callers
// that prefer its template data.
package locale

import (
	"embed"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

//go:embed translations/*.toml
var translations embed.FS

// Languages are the languages herald speaks, Fallback first. They equal
// incident.Languages (a test holds them together).
var Languages = []string{"en", "hu", "pl", "hr"}

// Fallback is the language of an unknown language code, and the one whose
// messages define the catalogue's keys.
const Fallback = "en"

// Catalogue is every message in every language. It is read-only once made,
// so it is safe for concurrent use.
type Catalogue struct {
	langs map[string]*Lang
	ids   []string // every message ID, sorted
}

// Lang is one language's messages, prepared for lookups.
type Lang struct {
	code   string
	tag    language.Tag
	loc    *i18n.Localizer
	static map[string]string      // messages without fields or plural forms
	pats   map[string]*Pattern    // messages without plural forms
	plural map[string][6]*Pattern // plural messages, by form index (formNames)
}

// Override replaces some of a language's messages, as an operator's
// templates folder may: Data is a go-i18n TOML file with catalogue IDs;
// Name names it in errors.
type Override struct {
	Lang string
	Name string
	Data []byte
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalogue
	defaultErr  error
)

// Default returns the built-in catalogue, parsed once per process.
func Default() (*Catalogue, error) {
	defaultOnce.Do(func() { defaultCat, defaultErr = New() })
	return defaultCat, defaultErr
}

// New parses the built-in catalogue and lays the overrides over it. The
// built-in files must be complete; an override may replace any subset of a
// language's messages, but no message the catalogue lacks, and each must
// keep the shape of the original (plural forms, fields).
func New(overrides ...Override) (*Catalogue, error) {
	msgs := map[string]map[string]*i18n.Message{}
	for _, code := range Languages {
		name := "translations/" + code + ".toml"
		b, err := translations.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("locale: %w", err)
		}
		m, err := parse(b)
		if err != nil {
			return nil, fmt.Errorf("locale: %s: %w", name, err)
		}
		msgs[code] = m
	}
	base := msgs[Fallback]
	var errs []error
	for _, code := range Languages {
		for id := range base {
			if msgs[code][id] == nil {
				errs = append(errs, fmt.Errorf("locale: translations/%s.toml lacks %s", code, id))
			}
		}
		errs = append(errs, check(code, "translations/"+code+".toml", msgs[code], base)...)
	}
	for _, o := range overrides {
		m, err := parse(o.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("locale: %s: %w", o.Name, err))
			continue
		}
		if msgs[o.Lang] == nil {
			errs = append(errs, fmt.Errorf("locale: %s: herald does not speak %q (languages %s)", o.Name, o.Lang, strings.Join(Languages, ", ")))
			continue
		}
		if e := check(o.Lang, o.Name, m, base); len(e) > 0 {
			errs = append(errs, e...)
			continue
		}
		for id, msg := range m {
			msgs[o.Lang][id] = msg
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	bundle := i18n.NewBundle(language.English)
	c := &Catalogue{langs: map[string]*Lang{}}
	for id := range base {
		c.ids = append(c.ids, id)
	}
	sort.Strings(c.ids)
	for _, code := range Languages {
		tag := language.Make(code)
		list := make([]*i18n.Message, 0, len(msgs[code]))
		for _, m := range msgs[code] {
			list = append(list, m)
		}
		if err := bundle.AddMessages(tag, list...); err != nil {
			return nil, fmt.Errorf("locale: %s: %w", code, err)
		}
		l := &Lang{code: code, tag: tag, static: map[string]string{}, pats: map[string]*Pattern{}, plural: map[string][6]*Pattern{}}
		for id, m := range msgs[code] {
			switch forms := formTexts(m); {
			case isPlural(m):
				var p [6]*Pattern
				for i, text := range forms {
					if text != "" {
						p[i] = compile(text)
					}
				}
				l.plural[id] = p
			default:
				l.pats[id] = compile(m.Other)
				if len(fields(m.Other)) == 0 {
					l.static[id] = m.Other
				}
			}
		}
		c.langs[code] = l
	}
	for _, l := range c.langs {
		l.loc = i18n.NewLocalizer(bundle, l.code, Fallback)
	}
	return c, nil
}

func parse(b []byte) (map[string]*i18n.Message, error) {
	list, err := i18n.ParseMessageBytes(b, toml.Unmarshal)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*i18n.Message, len(list))
	for _, m := range list {
		out[m.ID] = m
	}
	return out, nil
}

// check holds a language's messages to their English originals: no
// message English lacks, plural where English is plural and with exactly
// the CLDR forms of the language, no other template action than {{.Field}},
// no field English lacks, and the same printf verbs.
func check(code, name string, msgs, base map[string]*i18n.Message) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("locale: %s: "+format, append([]any{name}, args...)...))
	}
	want := PluralForms(code)
	ids := make([]string, 0, len(msgs))
	for id := range msgs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m, en := msgs[id], base[id]
		if en == nil {
			fail("%s is no message of herald's (a key of translations/%s.toml)", id, Fallback)
			continue
		}
		if isPlural(en) != isPlural(m) {
			fail("%s must be plural exactly when the English one is", id)
			continue
		}
		enFields := map[string]bool{}
		for _, t := range formTexts(en) {
			for _, f := range fields(t) {
				enFields[f] = true
			}
		}
		if !isPlural(m) && strings.TrimSpace(m.Other) == "" {
			fail("%s is empty", id)
		}
		for i, t := range formTexts(m) {
			has := strings.TrimSpace(t) != ""
			if isPlural(m) && has != slices.Contains(want, formNames[i]) {
				if has {
					fail("%s has the plural form %q, which %s does not use (it uses %s)", id, formNames[i], code, strings.Join(want, ", "))
				} else {
					fail("%s lacks the plural form %q (%s uses %s)", id, formNames[i], code, strings.Join(want, ", "))
				}
			}
			if !has {
				continue
			}
			if strings.Contains(fieldAction.ReplaceAllString(t, ""), "{{") {
				fail("%s: only {{.Field}} may stand in a message: %q", id, t)
			}
			for _, f := range fields(t) {
				if !enFields[f] {
					fail("%s uses {{.%s}}, which its English original does not", id, f)
				}
			}
			if v, ev := verbs(t), verbs(en.Other); v != ev {
				fail("%s has the verbs %q, its English original %q", id, v, ev)
			}
		}
	}
	return errs
}

// formNames are the CLDR plural categories, in the order formTexts lists
// them.
var formNames = [6]string{"zero", "one", "two", "few", "many", "other"}

func formTexts(m *i18n.Message) [6]string {
	return [6]string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other}
}

func isPlural(m *i18n.Message) bool {
	return m.Zero != "" || m.One != "" || m.Two != "" || m.Few != "" || m.Many != ""
}

var (
	fieldAction = regexp.MustCompile(`\{\{-?\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}`)
	printfVerb  = regexp.MustCompile(`%[0-9]*[sdvqxf]`)
)

// fields lists the {{.Field}}s of a message text, in order.
func fields(text string) []string {
	var out []string
	for _, m := range fieldAction.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// verbs lists a text's printf verbs, sorted, as one string.
func verbs(text string) string {
	v := printfVerb.FindAllString(text, -1)
	sort.Strings(v)
	return strings.Join(v, " ")
}

// PluralForms lists the CLDR plural categories ("one", "few", "many",
// "other", …) that lang's cardinal numbers take, from golang.org/x/text's
// CLDR data: en and hu use one/other, pl one/few/many/other, hr
// one/few/other. "other" is always listed: CLDR defines it for every
// language (in Polish it is the form of fractions), and go-i18n falls back
// to it.
func PluralForms(lang string) []string {
	tag := language.Make(lang)
	seen := map[string]bool{"other": true}
	for n := 0; n <= 1000; n++ {
		seen[formName(plural.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0))] = true
	}
	var out []string
	for _, f := range formNames {
		if seen[f] {
			out = append(out, f)
		}
	}
	return out
}

func formName(f plural.Form) string { return formNames[formIndex(f)] }

func formIndex(f plural.Form) int {
	switch f {
	case plural.Zero:
		return 0
	case plural.One:
		return 1
	case plural.Two:
		return 2
	case plural.Few:
		return 3
	case plural.Many:
		return 4
	}
	return 5
}

// Languages lists the catalogue's languages, Fallback first.
func (c *Catalogue) Languages() []string { return slices.Clone(Languages) }

// IDs lists every message ID, sorted.
func (c *Catalogue) IDs() []string { return slices.Clone(c.ids) }

// Lang returns a language's messages: code is a language herald speaks
// ("hu") or a tag of one ("hu-HU"); anything else gets Fallback's.
func (c *Catalogue) Lang(code string) *Lang {
	if l, ok := c.langs[code]; ok {
		return l
	}
	if tag, err := language.Parse(code); err == nil {
		base, _ := tag.Base()
		if l, ok := c.langs[base.String()]; ok {
			return l
		}
	}
	return c.langs[Fallback]
}

// Code is the language's code ("pl").
func (l *Lang) Code() string { return l.code }

// Text returns a message that takes no data and has no plural forms, ""
// for any other ID.
func (l *Lang) Text(id string) string { return l.static[id] }

// Lookup is Text, reporting whether id is such a message.
func (l *Lang) Lookup(id string) (string, bool) {
	s, ok := l.static[id]
	return s, ok
}

// Word names an enum value in the language: the message prefix +
// Camel(value) ("Impact" and "major" → ImpactMajor), or the value itself
// when the catalogue has no such message, so a value added later shows as
// it is rather than as nothing.
func (l *Lang) Word(prefix, value string) string {
	if s, ok := l.static[prefix+Camel(value)]; ok {
		return s
	}
	return value
}

// Camel turns an enum value into the catalogue's spelling of it:
// "major_outage" → "MajorOutage", "sms" → "Sms".
func Camel(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// Static returns every message that takes no data, by ID: a copy the
// caller may keep as its own table.
func (l *Lang) Static() map[string]string {
	out := make(map[string]string, len(l.static))
	for k, v := range l.static {
		out[k] = v
	}
	return out
}

// Pattern returns a message without plural forms, with or without fields
// (a translation may leave out a field its English original has), nil for
// any other ID.
func (l *Lang) Pattern(id string) *Pattern { return l.pats[id] }

// IsPlural reports whether id is a plural message.
func (l *Lang) IsPlural(id string) bool {
	_, ok := l.plural[id]
	return ok
}

// PluralForm names the CLDR category of the count n in the language.
func (l *Lang) PluralForm(n int) string { return formNames[l.formIndex(n)] }

func (l *Lang) formIndex(n int) int {
	if n < 0 {
		n = -n
	}
	return formIndex(plural.Cardinal.MatchPlural(l.tag, n, 0, 0, 0, 0))
}

// Plural renders plural message id for the count n: {{.Count}} is n, and
// the other fields are given as name, value pairs. An unknown ID gives the
// bare count.
func (l *Lang) Plural(id string, n int, kv ...string) string {
	forms, ok := l.plural[id]
	if !ok {
		return strconv.Itoa(n)
	}
	p := forms[l.formIndex(n)]
	if p == nil {
		p = forms[5] // "other": check requires it
	}
	return p.fill(strconv.Itoa(n), kv)
}

// Format renders message id with go-i18n: data holds its fields and, for a
// plural message, "Count" (an int) chooses the form. Hot paths use Text,
// Pattern and Plural, which give the same words without a template run.
func (l *Lang) Format(id string, data map[string]any) (string, error) {
	cfg := &i18n.LocalizeConfig{MessageID: id, TemplateData: data}
	if _, ok := l.plural[id]; ok {
		cfg.PluralCount = data["Count"]
	}
	s, err := l.loc.Localize(cfg)
	if err != nil {
		return "", fmt.Errorf("locale: %s %s: %w", l.code, id, err)
	}
	return s, nil
}

// Pattern is a message with fields, split once into literal text and the
// fields between, so that filling it in is concatenation.
type Pattern struct {
	lits   []string // len(fields)+1 pieces of literal text
	fields []string
}

func compile(text string) *Pattern {
	p := &Pattern{}
	at := 0
	for _, m := range fieldAction.FindAllStringSubmatchIndex(text, -1) {
		p.lits = append(p.lits, text[at:m[0]])
		p.fields = append(p.fields, text[m[2]:m[3]])
		at = m[1]
	}
	p.lits = append(p.lits, text[at:])
	return p
}

// Uses reports whether the message shows field; a translation may leave a
// field out (a greeting without the name, where the name would need its
// vocative).
func (p *Pattern) Uses(field string) bool { return slices.Contains(p.fields, field) }

// Fill renders the message with its fields given as name, value pairs; a
// field not given is left empty.
func (p *Pattern) Fill(kv ...string) string { return p.fill("", kv) }

func (p *Pattern) fill(count string, kv []string) string {
	if len(p.fields) == 0 {
		if len(p.lits) == 0 { // the zero Pattern
			return ""
		}
		return p.lits[0]
	}
	value := func(f string) string {
		if f == "Count" && count != "" {
			return count
		}
		for j := 0; j+1 < len(kv); j += 2 {
			if kv[j] == f {
				return kv[j+1]
			}
		}
		return ""
	}
	n := 0
	for i, f := range p.fields {
		n += len(p.lits[i]) + len(value(f))
	}
	var b strings.Builder
	b.Grow(n + len(p.lits[len(p.fields)]))
	for i, f := range p.fields {
		b.WriteString(p.lits[i])
		b.WriteString(value(f))
	}
	b.WriteString(p.lits[len(p.fields)])
	return b.String()
}

package locale

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"
)

func mustDefault(t *testing.T) *Catalogue {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawFiles reads the translation files as plain TOML, without go-i18n, so
// that the completeness test does not trust the loader it checks.
func rawFiles(t *testing.T) map[string]map[string]any {
	t.Helper()
	files := map[string]map[string]any{}
	for _, code := range Languages {
		b, err := translations.ReadFile("translations/" + code + ".toml")
		if err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		m := map[string]any{}
		if err := toml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		files[code] = m
	}
	return files
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestCatalogueComplete: every language has every key of English and no
// other, a message is plural in every language or in none, and a plural
// message has exactly the CLDR categories of its language.
func TestCatalogueComplete(t *testing.T) {
	files := rawFiles(t)
	en := files[Fallback]
	if len(en) < 100 {
		t.Fatalf("en has %d messages; the catalogue is not where it should be", len(en))
	}
	for _, code := range Languages {
		t.Run(code, func(t *testing.T) {
			m := files[code]
			for _, id := range sortedKeys(en) {
				if _, ok := m[id]; !ok {
					t.Errorf("%s lacks %s", code, id)
				}
			}
			for _, id := range sortedKeys(m) {
				if _, ok := en[id]; !ok {
					t.Errorf("%s has %s, which en lacks", code, id)
				}
			}
			want := PluralForms(code)
			for _, id := range sortedKeys(m) {
				table, plural := m[id].(map[string]any)
				if _, enPlural := en[id].(map[string]any); enPlural != plural {
					t.Errorf("%s is plural in en or in %s, not in both", id, code)
					continue
				}
				if !plural {
					if s, _ := m[id].(string); strings.TrimSpace(s) == "" {
						t.Errorf("%s is empty", id)
					}
					continue
				}
				var got []string
				for form, text := range table {
					if form == "description" {
						continue
					}
					if s, _ := text.(string); strings.TrimSpace(s) == "" {
						t.Errorf("%s: form %q is empty", id, form)
					}
					got = append(got, form)
				}
				sort.Slice(got, func(i, j int) bool {
					return slices.Index(formNames[:], got[i]) < slices.Index(formNames[:], got[j])
				})
				if !slices.Equal(got, want) {
					t.Errorf("%s has the forms %v; %s needs %v", id, got, code, want)
				}
			}
		})
	}
	if _, err := Default(); err != nil {
		t.Errorf("Default: %v", err)
	}
}

// TestPluralForms pins the CLDR categories derived from x/text: a change of
// CLDR data that moved them would need every translation looked at again.
func TestPluralForms(t *testing.T) {
	want := map[string]string{"en": "one,other", "hu": "one,other", "pl": "one,few,many,other", "hr": "one,few,other"}
	for _, code := range Languages {
		if got := strings.Join(PluralForms(code), ","); got != want[code] {
			t.Errorf("PluralForms(%s) = %s, want %s", code, got, want[code])
		}
	}
}

// TestPluralCounts renders counts whose forms differ in pl and hr.
func TestPluralCounts(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		lang, id string
		n        int
		want     string
	}{
		{"pl", "IncidentsCount", 1, "1 incydent"},
		{"pl", "IncidentsCount", 2, "2 incydenty"},
		{"pl", "IncidentsCount", 5, "5 incydentów"},
		{"pl", "IncidentsCount", 22, "22 incydenty"},
		{"pl", "IncidentsCount", 25, "25 incydentów"},
		{"pl", "Affects", 1, "Problem obejmuje 1 usługę"},
		{"pl", "Affects", 2, "Problem obejmuje 2 usługi"},
		{"pl", "Affects", 5, "Problem obejmuje 5 usług"},
		{"pl", "Affects", 22, "Problem obejmuje 22 usługi"},
		{"pl", "Affects", 25, "Problem obejmuje 25 usług"},
		{"pl", "DaysAgo", 1, "1 dzień temu"},
		{"pl", "DaysAgo", 22, "22 dni temu"},
		{"hr", "IncidentsCount", 1, "1 incident"},
		{"hr", "IncidentsCount", 2, "2 incidenta"},
		{"hr", "IncidentsCount", 5, "5 incidenata"},
		{"hr", "IncidentsCount", 22, "22 incidenta"},
		{"hr", "IncidentsCount", 25, "25 incidenata"},
		{"hr", "IncidentsCount", 21, "21 incident"},
		{"hr", "Affects", 1, "Problem zahvaća 1 uslugu"},
		{"hr", "Affects", 2, "Problem zahvaća 2 usluge"},
		{"hr", "Affects", 5, "Problem zahvaća 5 usluga"},
		{"hr", "Affects", 22, "Problem zahvaća 22 usluge"},
		{"hr", "Affects", 25, "Problem zahvaća 25 usluga"},
		{"hr", "DaysAgo", 1, "prije 1 dan"},
		{"hr", "DaysAgo", 25, "prije 25 dana"},
		{"hu", "Affects", 1, "A hiba 1 szolgáltatást érint"},
		{"hu", "Affects", 5, "A hiba 5 szolgáltatást érint"},
		{"en", "Affects", 1, "It affects 1 service"},
		{"en", "Affects", 2, "It affects 2 services"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%d", tt.lang, tt.id, tt.n), func(t *testing.T) {
			l := c.Lang(tt.lang)
			if got := l.Plural(tt.id, tt.n); got != tt.want {
				t.Errorf("Plural = %q, want %q", got, tt.want)
			}
			got, err := l.Format(tt.id, map[string]any{"Count": tt.n})
			if err != nil || got != tt.want {
				t.Errorf("Format = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestFastPathsMatchGoI18n: Text, Pattern and Plural give what go-i18n
// gives for every message, language and count up to 300, so the CLDR rules
// of x/text (Plural) and go-i18n (Format) agree.
func TestFastPathsMatchGoI18n(t *testing.T) {
	c := mustDefault(t)
	for _, code := range Languages {
		l := c.Lang(code)
		for _, id := range c.IDs() {
			switch {
			case l.IsPlural(id):
				// A plural's other fields are given too, as its callers do.
				var kv []string
				for _, p := range l.plural[id] {
					if p == nil {
						continue
					}
					for _, f := range p.fields {
						if f != "Count" && !slices.Contains(kv, f) {
							kv = append(kv, f, "<"+f+">")
						}
					}
				}
				for n := 0; n <= 300; n++ {
					data := map[string]any{"Count": n}
					for i := 0; i+1 < len(kv); i += 2 {
						data[kv[i]] = kv[i+1]
					}
					want, err := l.Format(id, data)
					if err != nil {
						t.Fatalf("%s %s %d: %v", code, id, n, err)
					}
					if got := l.Plural(id, n, kv...); got != want {
						t.Errorf("%s %s %d: Plural %q, go-i18n %q", code, id, n, got, want)
					}
				}
			case l.Text(id) == "":
				data := map[string]any{}
				var kv []string
				for _, f := range l.Pattern(id).fields {
					data[f] = "<" + f + ">"
					kv = append(kv, f, "<"+f+">")
				}
				want, err := l.Format(id, data)
				if err != nil {
					t.Fatalf("%s %s: %v", code, id, err)
				}
				if got := l.Pattern(id).Fill(kv...); got != want {
					t.Errorf("%s %s: Fill %q, go-i18n %q", code, id, got, want)
				}
			default:
				want, err := l.Format(id, nil)
				if err != nil {
					t.Fatalf("%s %s: %v", code, id, err)
				}
				if got, ok := l.Lookup(id); !ok || got != want {
					t.Errorf("%s %s: Text %q, go-i18n %q", code, id, got, want)
				}
			}
		}
	}
}

// optionalFields are fields a translation may leave out, with the reason.
var optionalFields = map[string]string{
	// Polish and Croatian greet formally without the name: with it, the
	// greeting would need the name's vocative and the recipient's gender.
	"GreetingNamed": "Name",
}

// TestFieldsAndVerbs: every translation of a message has the {{.Field}}s and
// printf verbs of its English original, in every plural form.
func TestFieldsAndVerbs(t *testing.T) {
	files := rawFiles(t)
	texts := func(v any) map[string]string {
		switch v := v.(type) {
		case string:
			return map[string]string{"other": v}
		case map[string]any:
			out := map[string]string{}
			for form, s := range v {
				if form != "description" {
					out[form], _ = s.(string)
				}
			}
			return out
		}
		return nil
	}
	set := func(list []string) string {
		seen := map[string]bool{}
		var out []string
		for _, s := range list {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	for _, id := range sortedKeys(files[Fallback]) {
		enOther := texts(files[Fallback][id])["other"]
		wantFields, wantVerbs := set(fields(enOther)), verbs(enOther)
		for _, code := range Languages {
			for form, text := range texts(files[code][id]) {
				got := set(fields(text))
				if got != wantFields {
					optional := optionalFields[id]
					if optional == "" || got != set(slices.DeleteFunc(strings.Split(wantFields, ","), func(f string) bool { return f == optional })) {
						t.Errorf("%s %s (%s): fields {%s}, English {%s}", code, id, form, got, wantFields)
					}
				}
				if v := verbs(text); v != wantVerbs {
					t.Errorf("%s %s (%s): verbs %q, English %q", code, id, form, v, wantVerbs)
				}
				if strings.Contains(fieldAction.ReplaceAllString(text, ""), "{{") {
					t.Errorf("%s %s (%s): a template action other than {{.Field}}: %q", code, id, form, text)
				}
			}
		}
	}
}

// TestTimeLayouts: the layout messages are Go time layouts that show the
// date (and the time and zone where they should).
func TestTimeLayouts(t *testing.T) {
	c := mustDefault(t)
	at := time.Date(2026, 3, 7, 13, 5, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		id   string
		want []string
	}{
		{"DateLayout", []string{"2026", "7"}},
		{"DateTimeLayout", []string{"2026", "7", "13:05", "CET"}},
		{"TimeLong", []string{"2026", "7", "13:05", "CET"}},
		{"TimeShort", []string{"7", "13:05", "CET"}},
	}
	for _, code := range Languages {
		for _, tt := range tests {
			got := at.Format(c.Lang(code).Text(tt.id))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s %s: %q lacks %q", code, tt.id, got, w)
				}
			}
		}
	}
}

func TestLangFallback(t *testing.T) {
	c := mustDefault(t)
	for code, want := range map[string]string{"hu": "hu", "hu-HU": "hu", "pl_PL": "pl", "de": "en", "": "en", "!!": "en", "hr-HR": "hr"} {
		if got := c.Lang(code).Code(); got != want {
			t.Errorf("Lang(%q) = %s, want %s", code, got, want)
		}
	}
	if got := c.Lang("pl").Text("NoSuchMessage"); got != "" {
		t.Errorf("unknown ID gave %q", got)
	}
	if got := c.Lang("pl").Plural("NoSuchMessage", 3); got != "3" {
		t.Errorf("unknown plural gave %q", got)
	}
	if _, err := c.Lang("pl").Format("NoSuchMessage", nil); err == nil {
		t.Error("Format of an unknown ID gave no error")
	}
}

func TestOverride(t *testing.T) {
	c, err := New(Override{Lang: "hu", Name: "hu/labels.toml", Data: []byte("Greeting = \"Szia!\"\nWhyCustomer = \"Ügyfelünk a(z) {{.Page}}.\"\n[Affects]\none = \"{{.Count}} szolgáltatás\"\nother = \"{{.Count}} szolgáltatás\"\n")})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Lang("hu").Text("Greeting"); got != "Szia!" {
		t.Errorf("hu Greeting = %q", got)
	}
	if got := c.Lang("hu").Pattern("WhyCustomer").Fill("Page", "Acme"); got != "Ügyfelünk a(z) Acme." {
		t.Errorf("hu WhyCustomer = %q", got)
	}
	if got := c.Lang("hu").Plural("Affects", 2); got != "2 szolgáltatás" {
		t.Errorf("hu Affects = %q", got)
	}
	if got, want := c.Lang("en").Text("Greeting"), mustDefault(t).Lang("en").Text("Greeting"); got != want {
		t.Errorf("override leaked into en: %q", got)
	}
	if got, want := c.Lang("hu").Text("Started"), mustDefault(t).Lang("hu").Text("Started"); got != want {
		t.Errorf("hu Started = %q, want the built-in %q", got, want)
	}

	broken := []struct {
		name string
		o    Override
		want string
	}{
		{"unknown key", Override{"hu", "hu/labels.toml", []byte(`Greting = "Szia"`)}, "Greting is no message"},
		{"missing plural form", Override{"pl", "pl/labels.toml", []byte("[Affects]\none = \"{{.Count}} usługa\"\nfew = \"{{.Count}} usługi\"\nother = \"{{.Count}} usługi\"\n")}, `lacks the plural form "many"`},
		{"form the language lacks", Override{"hu", "hu/labels.toml", []byte("[Affects]\none = \"a\"\nfew = \"b\"\nother = \"c\"\n")}, `"few", which hu does not use`},
		{"not plural", Override{"en", "en/labels.toml", []byte(`Affects = "It affects {{.Count}} services"`)}, "plural exactly when"},
		{"unknown field", Override{"en", "en/labels.toml", []byte(`Signoff = "Regards, {{.Team}}"`)}, "{{.Team}}"},
		{"template action", Override{"en", "en/labels.toml", []byte(`Signoff = "{{if .Page}}x{{end}}"`)}, "only {{.Field}}"},
		{"printf verb", Override{"en", "en/labels.toml", []byte(`Greeting = "Hello %s,"`)}, "verbs"},
		{"language", Override{"de", "de/labels.toml", []byte(`Greeting = "Hallo,"`)}, `does not speak "de"`},
		{"syntax", Override{"en", "en/labels.toml", []byte(`Greeting = `)}, "en/labels.toml"},
		{"empty", Override{"en", "en/labels.toml", []byte(`Greeting = " "`)}, "Greeting is empty"},
	}
	for _, tt := range broken {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func BenchmarkPlural(b *testing.B) {
	c, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	l := c.Lang("pl")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = l.Plural("Affects", i%30)
	}
}

// TestPublicPagesFormal: the words customers read on the public pages
// (the status page, its sign-up and report forms, the survey) and in
// herald's SMS answers address them formally throughout, as the rest of
// each language does: Polish with "Państwo" and "prosimy …" (a button
// or link keeps the imperative, as Polish interfaces do), Croatian with
// the plural "vi" (buttons included, lower case as on the rest of the
// pages), Hungarian with "Ön" verb forms. Mixing in the familiar form
// ("Spróbuj ponownie", "Pošalji", "próbáld újra") reads as careless.
func TestPublicPagesFormal(t *testing.T) {
	public := func(key string) bool {
		for _, p := range []string{"Form", "Survey", "SMSReply", "SMSSurvey", "ReportProblem", "SubscribeTo", "ConfirmSubscription",
			"NotFound", "Feeds", "ViewHistory", "ReadPostmortem", "FollowOnStatusPage", "AnswerSurvey"} {
			if strings.HasPrefix(key, p) {
				return true
			}
		}
		return false
	}
	// Familiar forms, as whole words (lower case; for hr, the whole value
	// of a button).
	familiar := map[string][]string{
		"pl": {"spróbuj", "sprawdź", "zasubskrybuj", "pozostaw", "otrzymasz", "możesz", "twój", "twoja", "twoje", "twojego", "ciebie", "cię", "wpisz", "odpowiedz", "kliknij", "naciśnij", "podaj"},
		"hr": {"tvoj", "tvoja", "tvoje", "ti", "tebi", "pokušaj", "provjeri", "unesi", "odgovori", "pritisni", "možeš", "primat ćeš"},
		"hu": {"te", "neked", "téged", "próbáld", "ellenőrizd", "írd", "add", "hagyd", "kattints", "nyomd", "válaszolj", "kapsz", "iratkozz"},
	}
	hrButtons := []string{"Pretplati se", "Potvrdi", "Odjavi se", "Pošalji", "Potvrdi pretplatu"}
	for lang, words := range familiar {
		raw, err := translations.ReadFile("translations/" + lang + ".toml")
		if err != nil {
			t.Fatal(err)
		}
		var msgs map[string]any
		if err := toml.Unmarshal(raw, &msgs); err != nil {
			t.Fatal(err)
		}
		for _, key := range sortedKeys(msgs) {
			v, ok := msgs[key].(string)
			if !ok || !public(key) {
				continue
			}
			if lang == "hr" && slices.Contains(hrButtons, v) {
				t.Errorf("%s %s = %q: a button in the familiar form", lang, key, v)
			}
			if lang == "hr" {
				for _, w := range []string{"Vam", "Vas", "Vaš", "Vaša", "Vašu", "Vašim", "Vaše"} {
					if strings.Contains(v, " "+w+" ") || strings.Contains(v, " "+w+".") {
						t.Errorf("%s %s = %q: %q upper case, unlike the rest of the pages", lang, key, v, w)
					}
				}
			}
			lower := " " + strings.Join(strings.FieldsFunc(strings.ToLower(v), func(r rune) bool {
				return !unicode.IsLetter(r) && r != ' '
			}), " ") + " "
			for _, w := range words {
				if strings.Contains(lower, " "+w+" ") {
					t.Errorf("%s %s = %q: the familiar %q among formal words", lang, key, v, w)
				}
			}
		}
	}
}

// TestPoliteForms: the words herald puts into its messages (the
// compensation lines of emails and SMS) address the customer as the
// message templates do: Croatian with a capitalised Vi, Vas, Vam, Vaš
// (the public pages and SMS answers keep the lower case,
// TestPublicPagesFormal), Polish with Państwo, never ty or twój.
func TestPoliteForms(t *testing.T) {
	c := mustDefault(t)
	plain := map[string]*regexp.Regexp{
		"hr": regexp.MustCompile(`(^|[^\p{L}])(vi|vas|vam|vaš\p{L}*)([^\p{L}]|$)`),
		"pl": regexp.MustCompile(`(?i)(^|[^\p{L}])(ty|tw(ój|oja|oje|oich|oim|ojej|ojego|ojemu)|ciebie|cię|tobie|tobą)([^\p{L}]|$)`),
	}
	for lang, re := range plain {
		l := c.Lang(lang)
		for _, id := range c.IDs() {
			if !strings.HasPrefix(id, "Comp") {
				continue
			}
			if s, ok := l.Lookup(id); ok && re.MatchString(s) {
				t.Errorf("%s %s addresses the customer plainly in a message: %q", lang, id, s)
			}
		}
	}
}

// TestHungarianStaffWordsFormal: the Hungarian words agents and managers
// read (the console, the agents' scripts and guidance, win-back tasks,
// herald's Slack answers) address them formally throughout, as most of
// the console did ("Kérje el…", "módosítsa parancssorból") and as
// Hungarian business software and herald's customer-facing words do.
// Mixing in the familiar form ("Kérj újat.", "Menj vissza, töltsd újra")
// switches voice from one line to the next.
func TestHungarianStaffWordsFormal(t *testing.T) {
	// Familiar forms, as whole words (lower case).
	familiar := []string{"te", "neked", "téged", "ígérj", "mondd", "mondj", "mondhatod", "mondhatsz", "kérj", "kérd", "ajánld", "ajánlj",
		"köszönd", "erőltesd", "rögzítsd", "felajánlasz", "nézd", "keresd", "hívd", "tokened", "illeszd", "próbáld", "menj", "töltsd",
		"szerepköröd", "értesítsd", "adj", "add", "másold", "erősítsd", "mentsd", "nyiss", "használj", "használd", "javítsd", "jelöld",
		"válassz", "jelents", "küldhetsz", "lezárhatod", "teheted", "fiókodnak", "megnyitottad", "zárd", "nyisd", "lásd", "írd", "bejelölöd"}
	raw, err := translations.ReadFile("translations/hu.toml")
	if err != nil {
		t.Fatal(err)
	}
	var msgs map[string]any
	if err := toml.Unmarshal(raw, &msgs); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, key := range sortedKeys(msgs) {
		v, ok := msgs[key].(string)
		if !ok || !staffKey(key) {
			continue
		}
		checked++
		lower := " " + strings.Join(strings.FieldsFunc(strings.ToLower(v), func(r rune) bool {
			return !unicode.IsLetter(r) && r != ' '
		}), " ") + " "
		for _, w := range familiar {
			if strings.Contains(lower, " "+w+" ") {
				t.Errorf("hu %s = %q: the familiar %q among formal words", key, v, w)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d staff keys checked: the prefixes no longer match the catalogue", checked)
	}
}

// TestCompensationWordsAgree: the console names a kind of offer with the
// word the offers agents read out and the customers' messages use, so an
// agent reads the word the customer was sent. A credit (on the next
// invoice) is hr "odobrenje" (not "Kredit", a loan), pl "bonifikata" (the
// reduction of an invoice granted for a fault, as utilities grant for an
// outage; not "rabat", a sales discount, nor "uznanie na koncie", a bank
// transfer in) and hu "jóváírás". A voucher (a code the customer redeems)
// is hr "vaučer", pl "voucher" ("kod vouchera", not "kod rabatowy", which
// promises a discount) and hu "kuponkód" (not "utalvány", a gift voucher).
func TestCompensationWordsAgree(t *testing.T) {
	files := rawFiles(t)
	credit := []string{"ConsoleOfferCredit", "AgentOfferCreditAmount", "AgentOfferCreditPercent", "AgentOfferCreditPercentOf", "CompCreditAmount", "CompCreditPercent", "CompTopUpCredit"}
	voucher := []string{"ConsoleOfferVoucher", "AgentOfferVoucher", "CompVoucher"}
	for _, tt := range []struct {
		lang, credit, voucher string
		not                   []string
	}{
		{"hr", "odobrenj", "vaučer", []string{"kredit", "popust"}},
		{"pl", "bonifikat", "voucher", []string{"rabat", "uznani", "kredyt"}},
		{"hu", "jóváírás", "kuponkód", []string{"utalvány"}},
	} {
		msgs := files[tt.lang]
		for _, c := range []struct {
			word string
			ids  []string
		}{{tt.credit, credit}, {tt.voucher, voucher}} {
			for _, id := range c.ids {
				if s, _ := msgs[id].(string); !strings.Contains(strings.ToLower(s), c.word) {
					t.Errorf("%s %s = %q: not %q, the word the other compensation texts use", tt.lang, id, s, c.word)
				}
			}
		}
		for _, id := range sortedKeys(msgs) {
			s, ok := msgs[id].(string)
			if !ok {
				continue
			}
			for _, w := range tt.not {
				if strings.Contains(strings.ToLower(s), w) {
					t.Errorf("%s %s = %q: %q, where the compensation texts say %q or %q", tt.lang, id, s, w, tt.credit, tt.voucher)
				}
			}
		}
	}
}

// TestManagerRoleWordsAgree: the staff words call herald's manager role
// what the console calls it (ConsoleRoleManager: hr "voditelj", pl
// "kierownik", hu "vezető"), so the Slack refusal names the role an
// admin sees on the console's tokens page; it said "herald menadžer",
// "menedżer herald" and "herald-menedzser".
func TestManagerRoleWordsAgree(t *testing.T) {
	files := rawFiles(t)
	for _, tt := range []struct {
		lang string
		not  []string
	}{
		{"hr", []string{"menadžer", "menedžer", "menedzer", "manager"}},
		{"pl", []string{"menedżer", "menadżer", "manager"}},
		{"hu", []string{"menedzser", "manager"}},
	} {
		msgs := files[tt.lang]
		role, _ := msgs["ConsoleRoleManager"].(string)
		if role == "" {
			t.Fatalf("%s has no ConsoleRoleManager", tt.lang)
		}
		if s, _ := msgs["SlackNeedsManager"].(string); !strings.Contains(strings.ToLower(s), role) {
			t.Errorf("%s SlackNeedsManager = %q: not %q, the console's word for the role", tt.lang, s, role)
		}
		for _, id := range sortedKeys(msgs) {
			s, ok := msgs[id].(string)
			if !ok || !staffKey(id) {
				continue
			}
			for _, w := range tt.not {
				if strings.Contains(strings.ToLower(s), w) {
					t.Errorf("%s %s = %q: %q, where the console says %q", tt.lang, id, s, w, role)
				}
			}
		}
	}
}

// staffKey reports whether a catalogue key is words agents and managers
// read: the console, the agents' scripts and guidance, win-back tasks and
// herald's Slack answers.
func staffKey(key string) bool {
	for _, p := range []string{"Console", "Agent", "Script", "WinBack", "Slack"} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// words splits a text into its lower-case words.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) })
}

// TestCroatianStaffWordsFormal: the Croatian words agents and managers
// read address them with the plural "vi" throughout, as most of the
// console did ("Zatražite novu.", "Kopirajte ga sada:") and as the
// Hungarian staff words do (TestHungarianStaffWordsFormal); the pronoun
// stays lower case, as on the rest of the console ("konzola vas zatim
// drži prijavljenima"). A mix of "ti" forms ("nazovi osobno", "promijeni
// je u CLI-ju", "tvoj Slack račun") switched voice from one line to the
// next. A command label (a button, link, menu item or Slack form title:
// no sentence, no placeholder, the verb first) keeps the short command
// form, as Croatian software labels its commands ("Spremi", "Otvori
// novu pritužbu").
func TestCroatianStaffWordsFormal(t *testing.T) {
	// "ti" imperatives that no other form of the verb spells the same.
	imperatives := []string{"nazovi", "piši", "pronađi", "pritisni", "inzistiraj", "upiši", "zapiši", "pokreni", "napiši", "pročitaj",
		"započni", "obećaj", "reci", "kopiraj", "odaberi", "unesi", "podnesi", "pogledaj", "dodaj"}
	// "ti" imperatives spelt as the verb's third person ("dok je netko ne
	// zatvori", "Neka herald označi"): familiar where they open a clause.
	clauseOpeners := regexp.MustCompile(`(^|[.:;,!?(]\s*)(provjeri|zatvori|otvori|promijeni|potvrdi|spremi|objavi|označi|odluči|prijavi|vrati|zahvali|javi|govori|zatraži|ponudi|upotrijebi|zamoli)([^\p{L}]|$)`)
	pronouns := []string{"ti", "tebi", "tebe", "tvoj", "tvoja", "tvoje", "tvog", "tvojeg", "tvojem", "tvoju", "tvojim", "tvojih"}
	// Words ending in -š that are not a "ti" verb form ("možeš", "označiš").
	notVerbs := []string{"još", "vaš", "naš", "baš"}
	hr := rawFiles(t)["hr"]
	checked := 0
	for _, key := range sortedKeys(hr) {
		v, ok := hr[key].(string)
		if !ok || !staffKey(key) {
			continue
		}
		checked++
		ws := words(v)
		label := len(ws) > 0 && !strings.ContainsAny(v, ".?!") && !strings.Contains(v, "{{") &&
			(slices.Contains(imperatives, ws[0]) || clauseOpeners.MatchString(ws[0]))
		for _, w := range ws {
			switch {
			case slices.Contains(pronouns, w):
				t.Errorf("hr %s = %q: the familiar %q among formal words", key, v, w)
			case strings.HasSuffix(w, "š") && !slices.Contains(notVerbs, w):
				t.Errorf("hr %s = %q: the familiar verb form %q among formal words", key, v, w)
			case !label && slices.Contains(imperatives, w):
				t.Errorf("hr %s = %q: the familiar imperative %q in a sentence to staff", key, v, w)
			}
		}
		if m := clauseOpeners.FindStringSubmatch(strings.ToLower(v)); !label && m != nil {
			t.Errorf("hr %s = %q: the familiar imperative %q in a sentence to staff", key, v, m[2])
		}
	}
	if checked < 100 {
		t.Fatalf("only %d staff keys checked: the prefixes no longer match the catalogue", checked)
	}
}

// TestPolishStaffWordsImpersonal: the Polish words agents and managers
// read address them impersonally throughout: "proszę" or "należy" with
// the infinitive for what to do ("Proszę zaproponować: …", "należy użyć
// herald import"), "można" for what may be done, no pronoun. Polish
// business software asks its user this way, and a formal "Pan/Pani"
// would need the reader's gender, which the console does not know; the
// customer-facing words are formal too (Państwo, "prosimy …"). A mix of
// "ty" ("Niczego nie obiecuj", "Co możesz powiedzieć", "Twoja rola")
// with "należy ją przeczytać" and "proszę mu to przekazać" switched
// voice from one line to the next. A command label (a button, link, menu
// item or Slack form title: no sentence, the verb first)
// keeps the imperative, as Polish interfaces do ("Zapisz", "Zgłoś
// incydent", "Przyznaj dopłatę {{.Amount}}"); a label quoted in a
// sentence stands in „…”.
func TestPolishStaffWordsImpersonal(t *testing.T) {
	imperatives := []string{"sprawdź", "poproś", "znajdź", "mów", "pisz", "obiecuj", "powiedz", "przeproś", "zaproponuj", "podziękuj",
		"nalegaj", "zapisz", "skopiuj", "wklej", "wróć", "odśwież", "spróbuj", "zaloguj", "podaj", "wpisz", "popraw", "zaznacz", "użyj",
		"wybierz", "otwórz", "naciśnij", "kliknij", "zamknij", "uruchom", "zacznij", "przeczytaj", "potwierdź", "zmień", "skontaktuj",
		"oddzwoń", "zadzwoń", "nadaj", "opublikuj", "zgłoś", "złóż", "dodaj", "napisz", "usuń", "pomiń", "wyślij", "poinformuj", "przyznaj",
		"przypisz", "wypisz", "rozwiąż", "przydziel", "przejmij", "anuluj", "edytuj", "importuj", "zaplanuj", "utwórz", "unieważnij"}
	pronouns := []string{"ty", "cię", "ciebie", "tobie", "tobą", "twój", "twoja", "twoje", "twojego", "twojej", "twoich", "twoim", "twoją", "twoimi"}
	// Words ending in -sz that are not a "ty" verb form ("możesz",
	// "napiszesz").
	notVerbs := []string{"wiersz", "nasz", "wasz"}
	quoted := regexp.MustCompile(`„[^”]*”`)
	placeholder := regexp.MustCompile(`\{\{[^}]*\}\}`)
	pl := rawFiles(t)["pl"]
	checked := 0
	for _, key := range sortedKeys(pl) {
		v, ok := pl[key].(string)
		if !ok || !staffKey(key) {
			continue
		}
		checked++
		ws := words(v)
		label := len(ws) > 0 && !strings.ContainsAny(placeholder.ReplaceAllString(v, ""), ".?!") && slices.Contains(imperatives, ws[0])
		for _, w := range words(quoted.ReplaceAllString(v, "")) {
			switch {
			case slices.Contains(pronouns, w):
				t.Errorf("pl %s = %q: the familiar %q among impersonal words", key, v, w)
			case slices.Contains(imperatives, w):
				if !label {
					t.Errorf("pl %s = %q: the familiar imperative %q in a sentence to staff", key, v, w)
				}
			case strings.HasSuffix(w, "sz") && !slices.Contains(notVerbs, w):
				t.Errorf("pl %s = %q: the familiar verb form %q among impersonal words", key, v, w)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d staff keys checked: the prefixes no longer match the catalogue", checked)
	}
}

// glossaryTerm is one concept of a language's glossary: the word its
// messages use (a stem, lower case) and the words they must not use for
// it (regular expressions over lower-case text, stems unless anchored).
type glossaryTerm struct {
	concept string
	use     string
	not     []string
	staff   bool     // only in what agents and managers read (staffKey)
	slack   bool     // only in herald's Slack words
	except  []string // keys where a banned word means another thing
}

// glossary holds each language to one word per concept, in the catalogue
// and in the default message templates, so that an agent new to the
// console, or a customer reading two messages, never meets two words for
// one thing (a "skarga" in the queue and a "reklamacja" on the
// complaint's page; a "kupac" beside a "korisnik").
//
// Polish: a complaint is "reklamacja", the word Polish customer service
// uses for a customer's complaint about a service; "skarga" is a
// grievance taken to an authority, and "zgłoszenie" already names the
// declaration of an incident ("Zgłoś incydent"), so a compensation claim
// is a "wniosek". Tagged to an incident is "przypisana", an agent
// "konsultant" (the role), an outage "awaria", an offer "oferta",
// maintenance "prace serwisowe" (the page's word; counted as "przerwy
// serwisowe", "prace" having no count), never "prace techniczne".
//
// Croatian: a customer is "korisnik" (korisnik usluge; "kupac" is a
// buyer), a complaint "pritužba" (everyday, not the legal "prigovor"),
// customers' too (not "prijava", which names the declaration), tagged
// "povezana", an outage "prekid" ("kvar" is the defect category), the
// status page "stranica statusa", an update "novost"; staff words name
// the agent "agent", the role (customers read "djelatnik").
//
// Hungarian: a complaint is "panasz" with its "ügyszám" (a "bejelentés"
// is the declaration), the status page "állapotoldal", a survey
// "kérdőív", compensation "kompenzáció", an untagged complaint
// "hozzárendeletlen"; staff words name the agent "ügyintéző", and Slack
// names an incident "incidens", as the console does.
var glossary = map[string][]glossaryTerm{
	"pl": {
		{concept: "complaint", use: "reklamacj", not: []string{"skarg", `numer\p{L}* zgłosze`}},
		{concept: "tagged", use: "przypisan", not: []string{"powiąz"}},
		{concept: "agent", use: "konsultant", not: []string{"pracowni"}},
		{concept: "outage", use: "awari", not: []string{"zakłóce"}},
		{concept: "offer", use: "ofert", not: []string{"propozycj"}},
		{concept: "maintenance", use: "prace serwisowe", not: []string{"techniczn"}},
		{concept: "compensation claim", use: "wnios", not: []string{"zgłoszenia do", "termin zgłosze", "zgłaszania rekompensat"}},
	},
	"hr": {
		{concept: "customer", use: "korisni", not: []string{"kupac", "kupc"}},
		{concept: "complaint", use: "pritužb", not: []string{"prigovor", "žalb", `(broj|vašu|vašom|vaše) prijav`}},
		{concept: "tagged", use: "povezan", not: []string{"neoznačen", "nerazvrstan", `^označeno$`}},
		{concept: "agent", use: "agent", not: []string{"djelatni"}, staff: true},
		{concept: "outage", use: "prekid", not: []string{"smetnj", "poremeć", "kvar"}, except: []string{"ConsoleCategoryDefect"}},
		{concept: "status page", use: "statusa", not: []string{"statusn"}},
		{concept: "update", use: "novost", not: []string{"ažuriranj"}, except: []string{"LastUpdated"}},
	},
	"hu": {
		{concept: "complaint", use: "panasz", not: []string{`bejelentés(ét|ével)`, "hivatkozási"}},
		{concept: "tagged", use: "hozzárendel", not: []string{"besorolatlan"}},
		{concept: "status page", use: "állapotoldal", not: []string{"státuszoldal"}},
		{concept: "survey", use: "kérdőív", not: []string{"felmérés"}},
		{concept: "compensation", use: "kompenzáci", not: []string{"kártalanít", "kártérít"}},
		{concept: "agent", use: "ügyintéző", not: []string{"munkatárs"}, staff: true},
		{concept: "incident", use: "incidens", not: []string{"hib"}, slack: true},
		{concept: "outage", use: "kiesés", not: []string{`(^|[^\p{L}])zavar(ra|ért|ról|t)?([^\p{L}]|$)`}},
	},
}

// glossaryTexts is every text of a language that glossary checks: the
// catalogue's messages (each plural form apart), by key, and the default
// message templates, by file name.
func glossaryTexts(t *testing.T, lang string, msgs map[string]any) map[string][]string {
	t.Helper()
	texts := map[string][]string{}
	for key, v := range msgs {
		switch v := v.(type) {
		case string:
			texts[key] = append(texts[key], v)
		case map[string]any:
			for form, s := range v {
				if s, ok := s.(string); ok && form != "description" {
					texts[key] = append(texts[key], s)
				}
			}
		}
	}
	files, err := filepath.Glob(filepath.Join("..", "configs", "templates", lang, "*.tmpl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no message templates found (%v)", lang, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts["template "+filepath.Base(f)] = []string{string(b)}
	}
	return texts
}

// TestGlossary: each language says one thing with one word (glossary):
// no text uses a word the glossary rules out for a concept, and each
// chosen word is in use.
func TestGlossary(t *testing.T) {
	files := rawFiles(t)
	for _, lang := range sortedKeys(glossary) {
		texts := glossaryTexts(t, lang, files[lang])
		for _, term := range glossary[lang] {
			used := false
			for _, key := range sortedKeys(texts) {
				if slices.Contains(term.except, key) {
					continue
				}
				template := strings.HasPrefix(key, "template ")
				if term.staff && (template || !staffKey(key)) || term.slack && !strings.HasPrefix(key, "Slack") {
					continue
				}
				for _, s := range texts[key] {
					low := strings.ToLower(s)
					used = used || strings.Contains(low, term.use)
					for _, not := range term.not {
						if regexp.MustCompile(not).MatchString(low) {
							t.Errorf("%s %s = %q: %q for %s, where the glossary says %q", lang, key, s, not, term.concept, term.use)
						}
					}
				}
			}
			if !used {
				t.Errorf("%s: no text says %q for %s: the glossary is out of date", lang, term.use, term.concept)
			}
		}
	}
}

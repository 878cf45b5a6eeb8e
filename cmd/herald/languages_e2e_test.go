package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/notify/sms"
)

// A declaration in several languages, end to end on each engine, as a
// team in Budapest runs it: customers from a Hungarian Excel "CSV"
// (semicolons, a byte-order mark, CRLF), a dry run that shows the first
// message per channel and language and declares nothing, then the
// declaration: each customer gets their language's text (the default
// where none was written), an English text typed with curly quotes
// travels as GSM-7, and the page shows a Hungarian viewer the Hungarian
// text.
func TestDeclareInLanguages(t *testing.T) {
	onEachEngine(t, testDeclareInLanguages)
}

func testDeclareInLanguages(t *testing.T, dir string, storeArgs []string) {
	n := startServe(t, nil, storeArgs...)
	token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
	mustCLI(t, env, "components", "create", "--name", "Card payments")
	// The page is rendered from the change's event: wait until it shows
	// the component, so that "the dry run changed nothing" below compares
	// against a page that had it.
	eventually(t, 5*time.Second, func() (bool, string) {
		s, body := summaryOf(t, n)
		return s.component("Card payments") == "operational", body
	})

	file := filepath.Join(dir, "ugyfelek.csv")
	csv := "\ufeffid;name;phone;email;language;components\r\n" +
		"hu-1;Kovács, Anna;+36 20 123 4567;anna@example.hu;hu;Card payments\r\n" +
		"pl-1;Jan Nowak;+48 601 234 567;;pl;Card payments\r\n" +
		"hr-1;Ivana;+385 91 234 5678;;hr;Card payments\r\n" +
		"en-1;John;+44 7911 123456;john@example.com;en;Card payments\r\n"
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := mustCLI(t, env, "import", "customers", file); !strings.Contains(r.stdout, "created 4, updated 0, invalid 0") {
		t.Fatalf("semicolon import printed %q", r.stdout)
	}

	en := "We’re looking into declined card payments – some, not all… More soon."
	hu := "Vizsgáljuk az elutasított kártyás fizetéseket."
	pl := "Sprawdzamy odrzucone płatności kartą."
	huName := "Hibás kártyás fizetés"
	declare := []string{"declare", "--name", "Card payments fail", "--name-hu", huName, "--component", "Card payments=major_outage",
		"--message", en, "--message-hu", hu, "--message-pl", pl}

	t.Run("dry run declares and sends nothing", func(t *testing.T) {
		r := mustCLI(t, env, append(declare, "--dry-run")...)
		for _, want := range []string{"sms\t", "--- sms, hu ---", hu, "--- sms, pl ---", pl, "--- sms, en ---", "We're looking into declined card payments - some, not all...",
			"--- email, hu ---", "segments, estimated cost", "Nothing was declared",
			"The samples' links carry NEW-INCIDENT where the incident's ID will be", "/i/NEW-INCIDENT/hu"} {
			if !strings.Contains(strings.ReplaceAll(r.stdout, "  ", "\t"), want) && !strings.Contains(r.stdout, want) {
				t.Errorf("dry run lacks %q:\n%s", want, r.stdout)
			}
		}
		if !strings.Contains(r.stdout, "GSM-7") {
			t.Errorf("the English SMS is not GSM-7:\n%s", r.stdout)
		}
		if s, body := summaryOf(t, n); len(s.Incidents) != 0 || s.component("Card payments") != "operational" {
			t.Errorf("the dry run declared: %s", body)
		}
		if ms := inbox(t, n); len(ms) != 0 {
			t.Errorf("the dry run sent %d messages: %+v", len(ms), ms)
		}
	})

	t.Run("each customer reads their language", func(t *testing.T) {
		mustCLI(t, env, append(declare, "-q", "--wait")...)
		ms := inbox(t, n)
		for phone, want := range map[string]string{"+36201234567": hu, "+48601234567": pl, "+385912345678": "We're looking into declined card payments - some, not all... More soon.",
			"+447911123456": "We're looking into declined card payments - some, not all... More soon."} {
			got := to(ms, "sms", phone)
			if len(got) != 1 || !strings.Contains(got[0].Body, want) {
				t.Errorf("SMS to %s: %+v, want one with %q", phone, got, want)
				continue
			}
			if phone == "+447911123456" {
				if enc, _, _ := sms.Segments(got[0].Body); enc != sms.GSM7 {
					t.Errorf("English SMS in %s: %q", enc, got[0].Body)
				}
			}
		}
		if got := to(ms, "email", "anna@example.hu"); len(got) != 1 || !strings.Contains(got[0].Body, hu) ||
			!strings.Contains(got[0].Subject, huName) || strings.Contains(got[0].Subject+got[0].Body, "Card payments fail") {
			t.Errorf("Hungarian email, named in Hungarian: %+v", got)
		}
		if got := to(ms, "email", "john@example.com"); len(got) != 1 || !strings.Contains(got[0].Subject, "Card payments fail") {
			t.Errorf("English email, named in English: %+v", got)
		}
		if got := to(ms, "email", "john@example.com"); len(got) != 1 || !strings.Contains(got[0].Body, en) {
			t.Errorf("English email keeps the typography: %+v", got)
		}
		// The page is rendered from the declaration's event: wait for it
		// to list the incident at all, then read it.
		var page string
		eventually(t, 5*time.Second, func() (bool, string) {
			_, page = get(t, n.url+"/?lang=hu")
			return strings.Contains(page, hu), page
		})
		if !strings.Contains(page, huName) || strings.Contains(page, "Card payments fail") {
			t.Errorf("the Hungarian page does not name the incident in Hungarian")
		}
		if !strings.Contains(page, hu) || strings.Contains(page, pl) {
			t.Errorf("the Hungarian page does not show the Hungarian text only")
		}
		_, page = get(t, n.url+"/?lang=hr")
		if !strings.Contains(page, "looking into declined card payments") {
			t.Errorf("the Croatian page does not show the default text")
		}
	})
}

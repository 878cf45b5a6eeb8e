package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFeedsAndJSONInReadersLanguage: the v2 JSON documents and the
// RSS/Atom feeds carry the operator's text in the reader's language,
// chosen as the HTML page chooses it (?lang=, the herald_lang cookie,
// Accept-Language), falling back to the default text for a language
// without one; a client that asks for no language gets the default text,
// byte for byte the document it got before the translation existed
// in every other respect (same ETag on every such request), and no Vary
// on language for the JSON of a page without translations (the feeds
// vary all the same: their labels, times and title are the reader's).
func TestFeedsAndJSONInReadersLanguage(t *testing.T) {
	onEachEngine(t, func(t *testing.T, dir string, storeArgs []string) {
		n := startServe(t, nil, storeArgs...)
		token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
		env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
		mustCLI(t, env, "components", "create", "--name", "Card payments")

		fetch := func(path string, headers ...string) (*http.Response, string) {
			t.Helper()
			req, _ := http.NewRequest("GET", n.url+path, nil)
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			resp, err := testHTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp, readAll(t, resp)
		}
		paths := []string{"/api/v2/summary.json", "/api/v2/incidents.json", "/api/v2/incidents/unresolved.json", "/history.rss", "/history.atom"}

		// One language only: the documents do not vary by language.
		id0 := strings.TrimSpace(mustCLI(t, env, "declare", "-q", "--name", "Search slow", "--message", "Searching takes long.").stdout)
		eventually(t, 5*time.Second, func() (bool, string) {
			_, b := fetch("/history.rss")
			return strings.Contains(b, "Searching takes long."), b
		})
		// The JSON then does not vary by language; the feeds do, as their
		// own words (labels, times, title) are the reader's.
		for _, p := range paths {
			resp, body := fetch(p, "Accept-Language", "hu")
			want, feed := "Accept-Encoding", strings.HasPrefix(p, "/history.")
			if feed {
				want = "Accept-Encoding, Accept-Language, Cookie"
				if !strings.Contains(body, "Vizsgálat alatt") || !strings.Contains(body, "Searching takes long.") {
					t.Errorf("%s in Hungarian without translations: no Hungarian label beside the default text:\n%.600s", p, body)
				}
			}
			if v := resp.Header.Get("Vary"); v != want {
				t.Errorf("%s without translations: Vary %q, want %q", p, v, want)
			}
		}
		mustCLI(t, env, "resolve", id0, "--message", "Fast again.")

		en, hu, pl := "Card payments fail for some.", "Néhány kártyás fizetés sikertelen.", "Część płatności kartą nie działa."
		mustCLI(t, env, "declare", "-q", "--name", "Card payments fail", "--component", "Card payments=major_outage",
			"--message", en, "--message-hu", hu, "--message-pl", pl)
		eventually(t, 5*time.Second, func() (bool, string) {
			_, b := fetch("/api/v2/summary.json")
			return strings.Contains(b, en), b
		})

		etags := map[string]string{}
		for _, p := range paths {
			for _, tc := range []struct {
				name    string
				query   string
				headers []string
				want    string
			}{
				{"no language asked", "", nil, en},
				{"?lang=hu", "?lang=hu", nil, hu},
				{"cookie", "", []string{"Cookie", "herald_lang=pl"}, pl},
				{"Accept-Language", "", []string{"Accept-Language", "hu-HU,hu;q=0.9,en;q=0.5"}, hu},
				{"a language without a text", "?lang=hr", nil, en},
				{"a language the page lacks", "?lang=de", nil, en},
			} {
				resp, body := fetch(p+tc.query, tc.headers...)
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, tc.want) {
					t.Errorf("%s, %s: %d, want the text %q:\n%.400s", p, tc.name, resp.StatusCode, tc.want, body)
					continue
				}
				for _, other := range []string{en, hu, pl} {
					if other != tc.want && strings.Contains(body, other) {
						t.Errorf("%s, %s: has %q too", p, tc.name, other)
					}
				}
				if v := resp.Header.Get("Vary"); !strings.Contains(v, "Accept-Language") || !strings.Contains(v, "Cookie") {
					t.Errorf("%s, %s: Vary %q, want Accept-Language and Cookie", p, tc.name, v)
				}
				if tc.query == "" && tc.headers == nil {
					etags[p] = resp.Header.Get("ETag")
				}
				if tc.want != en && resp.Header.Get("ETag") == etags[p] {
					t.Errorf("%s, %s: the same ETag as the default document", p, tc.name)
				}
			}
		}
		// The default document is one rendered asset, the same every time.
		for _, p := range paths {
			resp, _ := fetch(p)
			if e := resp.Header.Get("ETag"); e == "" || e != etags[p] {
				t.Errorf("%s: ETag %q, then %q", p, etags[p], e)
			}
		}
		// The JSON and feeds set no language cookie.
		if resp, _ := fetch("/api/v2/summary.json?lang=hu"); resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("summary.json?lang=hu set a cookie: %s", resp.Header.Get("Set-Cookie"))
		}
	})
}

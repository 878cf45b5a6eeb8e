package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSMSLinkCarriesLanguage: the incident link in an SMS carries the
// recipient's language, as the email's link does, so the page it opens
// speaks the message's language whatever the phone's browser asks for; a
// link with a language the page does not know still opens the incident.
func TestSMSLinkCarriesLanguage(t *testing.T) {
	onEachEngine(t, func(t *testing.T, dir string, storeArgs []string) {
		n := startServe(t, nil, storeArgs...)
		token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
		env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
		mustCLI(t, env, "components", "create", "--name", "Card payments")
		file := filepath.Join(dir, "c.csv")
		csv := "id,name,phone,email,language,components\n" +
			"hu-1,Anna,+36 20 123 4567,anna@example.hu,hu,Card payments\n" +
			"pl-1,Jan,+48 601 234 567,,pl,Card payments\n" +
			"en-1,John,+44 7911 123456,,en,Card payments\n"
		if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		mustCLI(t, env, "import", "customers", file)
		hu, pl, en := "Vizsgáljuk a kártyás fizetést.", "Sprawdzamy płatności kartą.", "We are looking into card payments."
		id := strings.TrimSpace(mustCLI(t, env, "declare", "-q", "--wait", "--name", "Card payments fail", "--component", "Card payments=major_outage",
			"--message", en, "--message-hu", hu, "--message-pl", pl).stdout)

		ms := inbox(t, n)
		link := regexp.MustCompile(`https?://\S+/i/\S+`)
		for phone, want := range map[string]struct{ lang, text string }{
			"+36201234567": {"hu", hu}, "+48601234567": {"pl", pl}, "+447911123456": {"en", en},
		} {
			got := to(ms, "sms", phone)
			if len(got) != 1 {
				t.Fatalf("SMS to %s: %+v", phone, got)
			}
			l := link.FindString(got[0].Body)
			if l == "" {
				t.Fatalf("no incident link in the SMS to %s: %q", phone, got[0].Body)
			}
			u, err := url.Parse(l)
			if err != nil {
				t.Fatal(err)
			}
			if u.Path != "/i/"+id+"/"+want.lang {
				t.Errorf("SMS to %s links %s, want the path /i/%s/%s", phone, l, id, want.lang)
			}
			// Followed on this server, whatever the browser prefers.
			req, _ := http.NewRequest("GET", n.url+u.RequestURI(), nil)
			req.Header.Set("Accept-Language", "hr")
			resp, err := testHTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page := readAll(t, resp)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<html lang="`+want.lang+`"`) || !strings.Contains(page, want.text) {
				t.Errorf("SMS link %s opened %d, want the incident in %s with %q:\n%.300s", l, resp.StatusCode, want.lang, want.text, page)
			}
		}
		// An email's link already carries it (?lang=); it must stay so.
		if got := to(ms, "email", "anna@example.hu"); len(got) != 1 || !strings.Contains(got[0].Body, "/incidents/"+id+"?lang=hu") {
			t.Errorf("the Hungarian email's link: %+v", got)
		}
		// A language the page does not know: the incident all the same.
		resp, err := testHTTP.Get(n.url + "/i/" + id + "/xx")
		if err != nil {
			t.Fatal(err)
		}
		if page := readAll(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Card payments fail") {
			t.Errorf("/i/%s/xx: %d", id, resp.StatusCode)
		}
	})
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	return b.String()
}

package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/sandbox"
)

// TestLanguageKept: a language chosen with ?lang= holds across every page,
// form and email link, whatever the browser's Accept-Language says. It
// was lost at the first click, and the subscription was confirmed in
// English.
func TestLanguageKept(t *testing.T) {
	b := newBroadcastEnv(t, true)
	english := []string{"Accept", "text/html", "Accept-Language", "en-US,en;q=0.9"}
	with := func(h ...string) []string { return append(append([]string{}, english...), h...) }

	r := b.mustDo(t, http.StatusOK, "GET", "/?lang=hu", "", "", english...)
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == langCookie {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != "hu" || cookie.Path != "/" || cookie.MaxAge <= 0 {
		t.Fatalf("?lang=hu set no lasting cookie: %v", r.header.Values("Set-Cookie"))
	}
	jar := langCookie + "=hu"

	t.Run("a page reached without ?lang keeps the chosen language", func(t *testing.T) {
		r := b.mustDo(t, http.StatusOK, "GET", "/", "", "", with("Cookie", jar)...)
		if !strings.Contains(r.String(), "magyar") {
			t.Errorf("GET / with the cookie: %s", r.body)
		}
		if v := r.header.Get("Vary"); !strings.Contains(v, "Cookie") {
			t.Errorf("Vary %q: a cache would serve one visitor's language to another", v)
		}
		if r := b.mustDo(t, http.StatusOK, "GET", "/", "", "", english...); strings.Contains(r.String(), "magyar") {
			t.Error("without the cookie, Accept-Language en got Hungarian")
		}
		if r := b.mustDo(t, http.StatusOK, "GET", "/?lang=en", "", "", with("Cookie", jar)...); strings.Contains(r.String(), "magyar") {
			t.Error("?lang=en did not win over the cookie")
		}
		// A link built from a browser's locale names a region.
		for _, q := range []string{"hu-HU", "HU_hu", "hu-Latn-HU"} {
			if r := b.mustDo(t, http.StatusOK, "GET", "/?lang="+q, "", "", english...); !strings.Contains(r.String(), "magyar") {
				t.Errorf("?lang=%s did not answer in Hungarian", q)
			}
		}
		if r := b.mustDo(t, http.StatusOK, "GET", "/?lang=xx-HU", "", "", english...); strings.Contains(r.String(), "magyar") {
			t.Error("?lang=xx-HU answered in Hungarian")
		}
	})

	t.Run("subscribe form, its answer, the email's link and the confirmation", func(t *testing.T) {
		form := b.mustDo(t, http.StatusOK, "GET", "/subscribe", "", "", with("Cookie", jar)...)
		if !strings.Contains(form.String(), `<html lang="hu"`) || !strings.Contains(form.String(), `action="/subscribe?lang=hu"`) {
			t.Fatalf("the form is not in Hungarian or its action drops the language: %s", form.body)
		}
		// The form posted to a bare /subscribe (an old page, a client that
		// drops the query): the cookie still answers in Hungarian.
		r := b.form(t, "/subscribe", url.Values{"channel": {"email"}, "address": {"anna@example.hu"}, "language": {"hu"}, "csrf": {csrfOf(t, form)}},
			with("Cookie", jar, "Origin", "http://status.example.com")...)
		if r.status != http.StatusOK || !strings.Contains(r.String(), "Nézze meg a leveleit") {
			t.Fatalf("POST /subscribe: %d %s", r.status, r.body)
		}
		b.waitSandbox(t, 1, sandbox.KindEmail)
		body := b.lastTo(t, sandbox.KindEmail, "anna@example.hu").Body
		m := regexp.MustCompile(`https://status\.example\.com(/subscriptions/confirm/[A-Za-z0-9_-]+\?lang=hu)\b`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("the confirm link does not carry the language: %q", body)
		}
		// Opened in another browser: no cookie, English Accept-Language.
		page := b.mustDo(t, http.StatusOK, "GET", m[1], "", "", english...)
		if !strings.Contains(page.String(), "Erősítse meg a feliratkozását") || !strings.Contains(page.String(), `action="`+m[1]+`"`) {
			t.Fatalf("confirm page: %s", page.body)
		}
		done := b.mustDo(t, http.StatusOK, "POST", m[1], "", "", with("Origin", "http://status.example.com")...)
		if !strings.Contains(done.String(), "Feliratkozott") {
			t.Errorf("the confirmation came back in another language: %s", done.body)
		}
	})

	t.Run("short link keeps ?lang", func(t *testing.T) {
		r := b.mustDo(t, http.StatusFound, "GET", "/i/abcdef123456?lang=hu", "", "")
		if loc := r.header.Get("Location"); loc != "/incidents/abcdef123456?lang=hu" {
			t.Errorf("Location %q", loc)
		}
	})
}

// TestSubscribeToIncident: the incident page's "subscribe to this
// incident" opens a form that follows that incident only.
func TestSubscribeToIncident(t *testing.T) {
	b := newBroadcastEnv(t, false)
	ctx := context.Background()
	name, body := "Card payments fail", "Some card payments fail."
	inc, _, err := b.svc.CreateIncident(ctx, b.page.ID, incident.IncidentInput{Name: &name, Body: &body,
		Components: map[string]incident.ComponentStatus{b.compA.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	html := []string{"Accept", "text/html"}
	form := b.mustDo(t, http.StatusOK, "GET", "/subscribe?incident="+inc.ID+"&lang=en", "", "", html...)
	if !strings.Contains(form.String(), `<input type="hidden" name="incident" value="`+inc.ID+`">`) ||
		!strings.Contains(form.String(), "<strong>Card payments fail</strong>") || strings.Contains(form.String(), `name="components"`) {
		t.Fatalf("form: %s", form.body)
	}
	r := b.form(t, "/subscribe?lang=en", url.Values{"channel": {"email"}, "address": {"follower@example.com"}, "incident": {inc.ID},
		"csrf": {csrfOf(t, form)}}, "Accept", "text/html", "Origin", "http://status.example.com")
	if r.status != http.StatusOK {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	subs, err := b.n.Subscribers(ctx, audience.SubscriberFilter{PageID: b.page.ID, IncidentID: inc.ID, Following: true})
	if err != nil || len(subs) != 1 || subs[0].Address != "follower@example.com" {
		t.Fatalf("followers %+v %v", subs, err)
	}

	t.Run("unknown or closed incident", func(t *testing.T) {
		plain := b.mustDo(t, http.StatusOK, "GET", "/subscribe?incident=nosuchinc123", "", "", html...)
		if strings.Contains(plain.String(), `name="incident"`) {
			t.Error("an unknown incident made a following form")
		}
		r := b.form(t, "/subscribe", url.Values{"channel": {"email"}, "address": {"x@example.com"}, "incident": {"nosuchinc123"},
			"csrf": {csrfOf(t, plain)}}, "Accept", "application/json", "Origin", "http://status.example.com")
		if r.status != http.StatusBadRequest || r.errorOf(t).Field != "incident" {
			t.Errorf("unknown incident: %d %s", r.status, r.body)
		}
	})
}

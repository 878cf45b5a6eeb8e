package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/statuspage"
)

// newRealSiteEnv is newEnv with the real statuspage.Site, rendering in the
// background from the same Service and event bus.
func newRealSiteEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	site := statuspage.New(e.svc, e.events, statuspage.Options{Registerer: e.reg})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = site.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e.srv = New(Config{PublicURL: "https://status.example.com", HeartbeatInterval: 100 * time.Millisecond}, e.svc, site, e.reg, nil)
	poll(t, "site ready", func() bool { return site.Ready() })
	return e
}

// poll waits up to 10 s for ok.
func poll(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRealSite(t *testing.T) {
	e := newRealSiteEnv(t)
	e.mustDo(t, http.StatusOK, "GET", "/readyz", "", "")

	t.Run("eight v2 endpoints and feeds with CORS, HEAD, ETag, gzip", func(t *testing.T) {
		for _, p := range []string{"/api/v2/summary.json", "/api/v2/status.json", "/api/v2/components.json", "/api/v2/incidents.json",
			"/api/v2/incidents/unresolved.json", "/api/v2/scheduled-maintenances.json", "/api/v2/scheduled-maintenances/upcoming.json",
			"/api/v2/scheduled-maintenances/active.json", "/history.rss", "/history.atom"} {
			r := e.mustDo(t, http.StatusOK, "GET", p, "", "")
			wantHeader(t, r, "Access-Control-Allow-Origin", "*")
			etag := r.header.Get("ETag")
			if etag == "" || len(r.body) == 0 {
				t.Fatalf("%s: no ETag or body", p)
			}
			h := e.mustDo(t, http.StatusOK, "HEAD", p, "", "")
			if len(h.body) != 0 || h.header.Get("ETag") != etag {
				t.Errorf("HEAD %s: body %d bytes, ETag %q", p, len(h.body), h.header.Get("ETag"))
			}
			e.mustDo(t, http.StatusNotModified, "GET", p, "", "", "If-None-Match", etag)
			gz := e.mustDo(t, http.StatusOK, "GET", p, "", "", "Accept-Encoding", "gzip")
			wantHeader(t, gz, "Content-Encoding", "gzip")
		}
	})

	t.Run("home page CSP allows exactly its inline code", func(t *testing.T) {
		r := e.mustDo(t, http.StatusOK, "GET", "/", "", "", "Accept-Language", "hu-HU,hu;q=0.9")
		csp := r.header.Get("Content-Security-Policy")
		if strings.Contains(csp, "unsafe-inline") {
			t.Fatalf("CSP allows unsafe-inline: %s", csp)
		}
		for _, tag := range []string{"script", "style"} {
			m := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`).FindSubmatch(r.body)
			if m == nil {
				continue
			}
			sum := sha256.Sum256(m[1])
			if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
				t.Errorf("CSP lacks the hash of the inline %s", tag)
			}
		}
		if !bytes.Contains(r.body, []byte(`lang="hu"`)) {
			t.Errorf("Accept-Language hu did not pick the Hungarian page")
		}
	})

	t.Run("declared incident: page, short link, SSE update", func(t *testing.T) {
		e.serve(t) // the stream needs the socket: app.Test buffers the whole answer
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/events", nil)
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		lines := make(chan string, 1000)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		waitLine := func(what string, ok func(string) bool) {
			t.Helper()
			deadline := time.After(10 * time.Second)
			for {
				select {
				case l, open := <-lines:
					if !open {
						t.Fatalf("stream closed before %s", what)
					}
					if ok(l) {
						return
					}
				case <-deadline:
					t.Fatalf("no %s", what)
				}
			}
		}
		waitLine("initial summary", func(l string) bool { return strings.HasPrefix(l, `data: {`) })

		var inc wire.V1Incident
		e.mustDo(t, http.StatusCreated, "POST", "/v1/pages/"+e.page.ID+"/incidents", e.manager,
			`{"incident":{"name":"Payments are failing","status":"investigating","body":"Looking."}}`).json(t, &inc)
		waitLine("update with the incident", func(l string) bool {
			return strings.HasPrefix(l, "data: ") && strings.Contains(l, "Payments are failing")
		})
		e.mustDo(t, http.StatusOK, "GET", "/incidents/"+inc.ID, "", "")
		loc := e.mustDo(t, http.StatusFound, "GET", "/i/"+inc.ID, "", "").header.Get("Location")
		if loc != "/incidents/"+inc.ID {
			t.Errorf("short link → %q", loc)
		}
		r := e.mustDo(t, http.StatusOK, "GET", "/api/v2/incidents/unresolved.json", "", "")
		if !strings.Contains(string(r.body), fmt.Sprintf("%q", inc.ID)) {
			t.Errorf("unresolved.json lacks the incident")
		}
	})

	t.Run("unknown incident is a 404 page", func(t *testing.T) {
		e.mustDo(t, http.StatusNotFound, "GET", "/incidents/zzzzzzzzzzzz", "", "", "Accept", "text/html")
		e.mustDo(t, http.StatusNotFound, "GET", "/api/v2/nothing.json", "", "").errorOf(t)
	})
}

// TestIncidentPageAheadOfRender: a message's link followed before the
// render the declaration started (here the site renders nothing by
// itself) opens the incident, not a 404; an unknown incident renders
// nothing, and a known one renders once however often it is asked for.
func TestIncidentPageAheadOfRender(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	site := statuspage.New(e.svc, nil, statuspage.Options{Registerer: e.reg})
	if err := site.RenderPage(ctx, e.page.ID); err != nil {
		t.Fatal(err)
	}
	e.srv = New(Config{PublicURL: "https://status.example.com"}, e.svc, site, e.reg, nil)
	renders := func() float64 {
		mfs, err := e.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0.0
		for _, mf := range mfs {
			if mf.GetName() == "herald_statuspage_renders_total" {
				for _, m := range mf.GetMetric() {
					n += m.GetCounter().GetValue()
				}
			}
		}
		return n
	}
	name, body := "Card payments fail", "We are looking into it."
	inc, _, err := e.svc.CreateIncident(ctx, e.page.ID, incident.IncidentInput{Name: &name, Body: &body}, "")
	if err != nil {
		t.Fatal(err)
	}
	before := renders()
	e.mustDo(t, http.StatusNotFound, "GET", "/incidents/zzzzzzzzzzzz", "", "")
	if got := renders(); got != before {
		t.Errorf("an unknown incident rendered the page (%v → %v renders)", before, got)
	}
	for range 3 {
		r := e.mustDo(t, http.StatusOK, "GET", "/incidents/"+inc.ID, "", "")
		if !strings.Contains(string(r.body), name) {
			t.Fatalf("the incident page does not name the incident:\n%.300s", r.body)
		}
	}
	if got := renders(); got != before+1 {
		t.Errorf("%v renders for three visits, want 1", got-before)
	}
}

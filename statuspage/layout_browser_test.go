package statuspage

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/incident"
)

// chromiumPath finds the Debian chromium (apt-get install chromium; .ci/run
// installs it when missing). Without it the browser test skips on a
// developer's machine and fails under CI=true: CI must never pass by
// skipping.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (CI=true, so this fails): apt-get install -y chromium, or run .ci/run")
	}
	t.Skip("SKIPPING: chromium is not installed; apt-get install -y chromium to run the status page's browser test")
	return ""
}

// TestContentClearsTheHeader: on the front page, an incident's page and
// the history, at a desktop and a phone width, the first thing in main
// (the banner, a card, a heading) stands clear of the header, as main's
// padding-top asks, rather than touching its bottom border: .wrap's
// padding once overrode main's (a class beats an element).
func TestContentClearsTheHeader(t *testing.T) {
	exe := chromiumPath(t)
	e := newEnv(t, scenarioNow)
	ctx := context.Background()
	p, c := acmePage(t, e, "Login", "en")
	name, body := "Login fails", "We are looking into it."
	inc, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &name, Body: &body,
		Components: map[string]incident.ComponentStatus{c.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := e.site.Lookup("status.acme.test", r.URL.Path, r.URL.Query().Get("lang"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.ContentType)
		w.Write(a.Body)
	}))
	t.Cleanup(srv.Close)

	// The gap, in CSS pixels, between the header's bottom edge and the top
	// of main's first element.
	const gap = `(() => {
		const h = document.querySelector("header").getBoundingClientRect().bottom;
		const first = document.querySelector("main").firstElementChild;
		return first.getBoundingClientRect().top - h;
	})()`
	for _, width := range []int{1280, 390} {
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
			chromedp.Flag("disable-gpu", true), chromedp.WindowSize(width, 900), chromedp.UserDataDir(t.TempDir()))
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		if err := chromedp.Do(bctx); err != nil {
			bcancel()
			acancel()
			t.Fatalf("start chromium: %v", err)
		}
		for _, path := range []string{"/", "/incidents/" + inc.ID, "/history"} {
			// The deadline ends a hung browser; it asserts no timing.
			tctx, cancel := context.WithTimeout(bctx, 20*time.Second)
			if _, err := chromedp.Run(tctx, chromedp.Navigate(srv.URL+path)); err != nil {
				cancel()
				t.Fatalf("%d px %s: %v", width, path, err)
			}
			got, err := chromedp.Run(tctx, chromedp.Evaluate[float64](gap))
			cancel()
			if err != nil {
				t.Fatalf("%d px %s: %v", width, path, err)
			}
			if got < 16 {
				t.Errorf("%d px %s: main's first element is %s px below the header, want at least 16 (main's padding-top, 1.5rem)", width, path, fmt.Sprint(got))
			}
		}
		bcancel()
		acancel()
	}
}

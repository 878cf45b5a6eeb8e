package statuspage

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/internal/browsertest"
)

// TestContentClearsTheHeader: on the front page, an incident's page and
// the history, at a desktop and a phone width, the first thing in main
// (the banner, a card, a heading) stands clear of the header, as main's
// padding-top asks, rather than touching its bottom border: .wrap's
// padding once overrode main's (a class beats an element).
func TestContentClearsTheHeader(t *testing.T) {
	exe := browsertest.Require(t)
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

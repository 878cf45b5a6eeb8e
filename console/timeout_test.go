package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/console"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/store/sqlite"
)

// clock is a settable clock for the console and the service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestIdleTimeoutAndMaxAge: a session unused for the idle timeout ends; a
// used one is extended, but never past the maximum age.
func TestIdleTimeoutAndMaxAge(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	clk := &clock{now: time.Now().UTC()}
	svc := incident.NewService(db, incident.NewLocalEvents(), nil)
	svc.Now = clk.Now
	if _, err := svc.EnsureDefaultPage(ctx, "http://status.test"); err != nil {
		t.Fatal(err)
	}
	words, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := console.New(console.Config{Incidents: svc, Sessions: db, Words: words, Events: incident.NewLocalEvents(),
		IdleTimeout: 30 * time.Minute, MaxAge: 2 * time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	cs.Mount(app)
	secret, _, err := svc.CreateToken(ctx, "Mia", incident.RoleManager)
	if err != nil {
		t.Fatal(err)
	}
	cookies := map[string]string{}
	do := func(method, path string, form url.Values) int {
		t.Helper()
		var req *http.Request
		if form != nil {
			req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(method, path, nil)
		}
		for k, v := range cookies {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		res, err := app.Test(req, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ck := range res.Cookies() {
			if ck.Value == "" {
				delete(cookies, ck.Name)
			} else {
				cookies[ck.Name] = ck.Value
			}
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	do("GET", "/console/signin", nil)
	if st := do("POST", "/console/signin", url.Values{"_csrf": {cookies["herald_console_pre"]}, "token": {secret}}); st != http.StatusSeeOther {
		t.Fatalf("sign in: %d", st)
	}
	session := cookies["herald_console"]
	// Used every 20 minutes, the session lives on past the idle timeout...
	for range 5 {
		clk.add(20 * time.Minute)
		if st := do("GET", "/console/tokens", nil); st == http.StatusSeeOther {
			t.Fatalf("a session used every 20 minutes ended after %v", 20*time.Minute)
		}
	}
	// ...but not past the maximum age.
	clk.add(25 * time.Minute) // 125 minutes after sign-in
	if st := do("GET", "/console/", nil); st != http.StatusSeeOther {
		t.Errorf("a session past its maximum age: %d, want 303 to sign-in", st)
	}

	// A fresh session unused for longer than the idle timeout ends.
	cookies = map[string]string{}
	do("GET", "/console/signin", nil)
	do("POST", "/console/signin", url.Values{"_csrf": {cookies["herald_console_pre"]}, "token": {secret}})
	if cookies["herald_console"] == "" || cookies["herald_console"] == session {
		t.Fatal("no new session")
	}
	clk.add(31 * time.Minute)
	if st := do("GET", "/console/", nil); st != http.StatusSeeOther {
		t.Errorf("a session idle for 31 minutes: %d, want 303 to sign-in", st)
	}
}

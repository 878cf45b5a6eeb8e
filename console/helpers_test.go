package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/console"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/server"
)

// env is one running herald node (SQLite, sandbox providers) with a page
// of two components and a few customers.
type env struct {
	n        *node.Node
	base     string
	page     *incident.Page
	payments *incident.Component
	checkout *incident.Component
}

const customersCSV = "id,name,phone,email,slack,language,time_zone,plan,region,components\n" +
	"c1,Anna Kovács,+36201111111,anna@example.com,,hu,Europe/Budapest,gold,eu,Payments\n" +
	"c2,Bob Smith,+36202222222,bob@example.com,,en,,silver,eu,Payments\n" +
	"c3,Csilla Nagy,+36203333333,csilla@example.com,,hu,,silver,eu,Checkout\n"

func startEnv(t *testing.T, customers string) *env {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	e := startNode(t, cfg)
	e.seed(t, customers)
	return e
}

// startNode runs a node with cfg on 127.0.0.1:0; adjust, when given,
// changes the HTTP server's settings.
func startNode(t testing.TB, cfg node.Config, adjust ...func(*server.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Addr, cfg.LogLevel = "127.0.0.1:0", "warn"
	cfg.Broadcast.SMSRate, cfg.Broadcast.EmailRate = 8, 8 // progress a person can watch move
	opt := node.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if len(adjust) > 0 {
		opt.AdjustServer = adjust[0]
	}
	n, err := node.New(ctx, cfg, opt)
	if err != nil {
		cancel()
		t.Fatalf("node.New: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = n.Close()
	})
	if err := n.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return &env{n: n, base: n.URL, page: n.Page}
}

// seed adds the components Payments and Checkout, and customers (CSV).
func (e *env) seed(t testing.TB, customers string) {
	t.Helper()
	n := e.n
	actx := e.as(incident.RoleAdmin)
	for _, name := range []string{"Payments", "Checkout"} {
		nm := name
		c, err := n.Incidents.CreateComponent(actx, e.page.ID, incident.ComponentInput{Name: &nm})
		if err != nil {
			t.Fatal(err)
		}
		if name == "Payments" {
			e.payments = c
		} else {
			e.checkout = c
		}
	}
	if customers != "" {
		if _, err := n.Notify.ImportCustomers(actx, e.page.ID, strings.NewReader(customers), "csv", false); err != nil {
			t.Fatalf("import customers: %v", err)
		}
	}
}

// as is a context acting with role, for setting things up through the services.
func (e *env) as(role incident.Role) context.Context {
	return incident.WithActor(context.Background(), incident.Actor{Name: "test-" + string(role), Role: role})
}

// link returns a one-time sign-in link's path for a new token.
func (e *env) link(t testing.TB, role incident.Role, name string) string {
	t.Helper()
	secret, _, _, err := console.CreateSignInLink(context.Background(), e.n.Incidents, e.n.Engine.Sessions, name, role, 0)
	if err != nil {
		t.Fatal(err)
	}
	return console.Prefix + "/link/" + secret
}

// declare declares an incident on Payments through the service.
func (e *env) declare(t *testing.T, name string, notify bool) *incident.Incident {
	t.Helper()
	body, st := "Card payments fail.", incident.Investigating
	inc, _, err := e.n.Incidents.CreateIncident(e.as(incident.RoleManager), e.page.ID, incident.IncidentInput{Name: &name, Body: &body, Status: &st,
		DeliverNotifications: &notify, ComponentIDs: []string{e.payments.ID},
		Components: map[string]incident.ComponentStatus{e.payments.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// client is a cookie-keeping HTTP client for the console, in memory
// (fiber's app.Test), as a browser without JavaScript would use it.
type client struct {
	t       testing.TB
	e       *env
	cookies map[string]string
}

func (e *env) client(t testing.TB) *client {
	return &client{t: t, e: e, cookies: map[string]string{}}
}

func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := c.e.n.Server.App().Test(req, 10_000)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return res, string(b)
}

var csrfRx = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf reads the anti-forgery token from a console page.
func (c *client) csrf(path string) string {
	c.t.Helper()
	_, body := c.do("GET", path, nil)
	m := csrfRx.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s:\n%s", path, body)
	}
	return m[1]
}

// signIn follows a one-time link.
func (c *client) signIn(role incident.Role, name string) {
	c.t.Helper()
	link := c.e.link(c.t, role, name)
	tok := c.csrf(link)
	res, _ := c.do("POST", console.Prefix+"/link", url.Values{"_csrf": {tok}, "secret": {link[strings.LastIndex(link, "/")+1:]}})
	if res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign in: status %d", res.StatusCode)
	}
}

// waitFor polls cond (a condition on the system, not a timer standing in
// for one) until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
)

// DefaultURL is where the API commands look for a server.
const DefaultURL = "http://127.0.0.1:8080"

// clientTimeout bounds every API call: a CLI that hangs on a dead server
// helps nobody in an outage.
const clientTimeout = 30 * time.Second

// client calls a running herald's management API (Statuspage v1 shapes,
// under /v1) and its public API (/api/v2).
type client struct {
	base  string // e.g. http://127.0.0.1:8080, no trailing slash
	token string
	http  *http.Client
	// urlFlag is the flag that gives the server's address in this
	// command: --url, or --server where --url means something else.
	urlFlag string
	// baseFrom says where base came from: the flag, "HERALD_URL" or
	// "the default".
	baseFrom string
}

// clientFlags registers --url and --token on fs.
type clientFlags struct {
	url, token string
	urlFlag    string // "--url", or "--server" (addServerFlags)
}

func addClientFlags(fs *flag.FlagSet) *clientFlags {
	cf := &clientFlags{urlFlag: "--url"}
	fs.StringVar(&cf.url, "url", "", "server `URL` (env HERALD_URL, default "+DefaultURL+")")
	fs.StringVar(&cf.token, "token", "", "API `TOKEN` (env HERALD_TOKEN)")
	return cf
}

// addServerFlags is addClientFlags for a command whose own --url means
// something else (`pages set --url`, the page's public address): the
// server's URL is --server there.
func addServerFlags(fs *flag.FlagSet) *clientFlags {
	cf := &clientFlags{urlFlag: "--server"}
	fs.StringVar(&cf.url, "server", "", "server `URL` (env HERALD_URL, default "+DefaultURL+")")
	fs.StringVar(&cf.token, "token", "", "API `TOKEN` (env HERALD_TOKEN)")
	return cf
}

func (cf *clientFlags) client(getenv func(string) string) (*client, error) {
	from := "the default"
	switch {
	case cf.url != "":
		from = cf.urlFlag
	case getenv("HERALD_URL") != "":
		from = "HERALD_URL"
	}
	base, err := serverURL(firstNonEmpty(cf.url, getenv("HERALD_URL"), DefaultURL), from)
	if err != nil {
		return nil, err
	}
	return &client{
		base:     base,
		token:    firstNonEmpty(cf.token, getenv("HERALD_TOKEN")),
		http:     &http.Client{Timeout: clientTimeout},
		urlFlag:  cf.urlFlag,
		baseFrom: from,
	}, nil
}

// serverURL checks a server's base URL (from: --url, --server or
// HERALD_URL) and returns it without a trailing slash.
func serverURL(base, from string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usageErrorf("%s: want http(s)://HOST[:PORT], got %q", from, base)
	}
	return strings.TrimRight(base, "/"), nil
}

// pageFlags are the flags of a command about one page: the client flags and
// --page.
type pageFlags struct {
	client *clientFlags
	page   *string
}

func addPageFlags(fs *flag.FlagSet) *pageFlags {
	return &pageFlags{client: addClientFlags(fs), page: fs.String("page", "", "page `ID` or name (default: the first page)")}
}

// addIncidentPageFlags is addPageFlags for a command about one incident,
// whose page --page may leave out (see openIncident).
func addIncidentPageFlags(fs *flag.FlagSet) *pageFlags {
	return &pageFlags{client: addClientFlags(fs), page: fs.String("page", "", "page `ID` or name (default: the page that has the incident)")}
}

// open makes the client and looks up the page.
func (f *pageFlags) open(ctx context.Context, getenv func(string) string) (*client, wire.Page, error) {
	c, err := f.client.client(getenv)
	if err != nil {
		return nil, wire.Page{}, err
	}
	p, err := c.page(ctx, *f.page)
	return c, p, err
}

// openIncident makes the client and finds incident id and its page.
func (f *pageFlags) openIncident(ctx context.Context, getenv func(string) string, id string) (*client, wire.Page, wire.V1Incident, error) {
	c, err := f.client.client(getenv)
	if err != nil {
		return nil, wire.Page{}, wire.V1Incident{}, err
	}
	p, inc, err := c.findIncident(ctx, *f.page, id)
	return c, p, inc, err
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// apiError is an error answer from the server, `{"error":{...}}`.
type apiError struct {
	Status  int
	Code    string
	Message string
	Field   string
	Body    []byte // the whole answer, for errors that carry more (an import's bad rows)
}

func (e *apiError) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	fmt.Fprintf(&b, " (%s, HTTP %d)", e.Code, e.Status)
	switch e.Code {
	case incident.EUNAUTHORIZED:
		b.WriteString("\nhint: pass a token with --token or HERALD_TOKEN; create one with `herald token create --role manager`")
	case incident.EFORBIDDEN:
		b.WriteString("\nhint: this needs a token with a stronger role")
	}
	return b.String()
}

// do sends a request with a JSON body (when in is not nil) and decodes a
// 2xx answer into out (when not nil). raw, when not nil, receives the body.
func (c *client) do(ctx context.Context, method, path string, hdr http.Header, in, out any, raw *[]byte) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	return c.send(ctx, c.http, method, path, hdr, ct, body, out, raw)
}

// send is do with any body, streamed as it is read (a customer import),
// through hc (a client with a longer timeout, or none for a stream).
func (c *client) send(ctx context.Context, hc *http.Client, method, path string, hdr http.Header, contentType string, body io.Reader, out any, raw *[]byte) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "herald-cli/"+strings.Fields(version())[0])
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return c.transportError(method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Field   string `json:"field"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			return &apiError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Field: eb.Error.Field, Body: b}
		}
		return &apiError{Status: resp.StatusCode, Code: "http", Message: strings.TrimSpace(firstNonEmpty(snippet(b), resp.Status)), Body: b}
	}
	if raw != nil {
		*raw = b
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
		}
	}
	return nil
}

// transportError explains a request that got no answer.
func (c *client) transportError(method, path string, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && !ne.Timeout() || strings.Contains(err.Error(), "connection refused") {
		flag := firstNonEmpty(c.urlFlag, "--url")
		hint := fmt.Sprintf("is `herald serve` running? Point %s or HERALD_URL at it", flag)
		if flag != "--url" {
			// pages set: --url there is the page's public address.
			hint += " (--url here is the page's public address, not the server's)"
		}
		return fmt.Errorf("cannot reach herald at %s (from %s): %w\nhint: %s", c.base, firstNonEmpty(c.baseFrom, "--url"), err, hint)
	}
	return fmt.Errorf("%s %s: %w", method, path, err)
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func (c *client) pages(ctx context.Context) ([]wire.Page, error) {
	var ps []wire.Page
	return ps, c.do(ctx, http.MethodGet, "/v1/pages", nil, nil, &ps, nil)
}

// page resolves --page: an ID, a page name, or "" for the first page.
func (c *client) page(ctx context.Context, want string) (wire.Page, error) {
	ps, err := c.pages(ctx)
	if err != nil {
		return wire.Page{}, err
	}
	if len(ps) == 0 {
		return wire.Page{}, errors.New("the server has no page yet")
	}
	if want == "" {
		return ps[0], nil
	}
	for _, p := range ps {
		if p.ID == want {
			return p, nil
		}
	}
	for _, p := range ps {
		if strings.EqualFold(p.Name, want) {
			return p, nil
		}
	}
	return wire.Page{}, fmt.Errorf("no page %q (see `herald pages`)", want)
}

func (c *client) components(ctx context.Context, pageID string) ([]wire.V1Component, error) {
	var cs []wire.V1Component
	return cs, c.do(ctx, http.MethodGet, "/v1/pages/"+url.PathEscape(pageID)+"/components", nil, nil, &cs, nil)
}

// componentSpecs is a repeatable --component NAME=STATUS flag.
type componentSpecs []string

func (s *componentSpecs) String() string { return strings.Join(*s, ",") }

// Set implements flag.Value.
func (s *componentSpecs) Set(v string) error {
	name, st, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(st) == "" {
		return fmt.Errorf("want NAME=STATUS (e.g. payments=major_outage), got %q", v)
	}
	if !incident.ComponentStatus(strings.TrimSpace(st)).Valid() {
		return fmt.Errorf("unknown component status %q (want %s)", st, componentStatusList())
	}
	*s = append(*s, v)
	return nil
}

func componentStatusList() string {
	var names []string
	for _, s := range incident.ComponentStatuses {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// resolve maps each NAME=STATUS to component ID → status, accepting a
// component's ID or its name (case-insensitive).
func (c *client) resolveComponents(ctx context.Context, pageID string, specs componentSpecs) (map[string]string, []string, error) {
	if len(specs) == 0 {
		return nil, nil, nil
	}
	comps, err := c.components(ctx, pageID)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]string{}
	var ids []string
	for _, spec := range specs {
		name, st, _ := strings.Cut(spec, "=")
		name, st = strings.TrimSpace(name), strings.TrimSpace(st)
		id, err := findComponentID(comps, name)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := out[id]; !dup {
			ids = append(ids, id)
		}
		out[id] = st
	}
	return out, ids, nil
}

func findComponentID(comps []wire.V1Component, name string) (string, error) {
	for _, c := range comps {
		if c.ID == name && !c.Group {
			return c.ID, nil
		}
	}
	var match []wire.V1Component
	for _, c := range comps {
		if strings.EqualFold(c.Name, name) && !c.Group {
			match = append(match, c)
		}
	}
	switch len(match) {
	case 1:
		return match[0].ID, nil
	case 0:
		var names []string
		for _, c := range comps {
			if !c.Group {
				names = append(names, c.Name)
			}
		}
		if len(names) == 0 {
			return "", fmt.Errorf("component %q: the page has no components yet (create one with `herald components create --name NAME`)", name)
		}
		return "", fmt.Errorf("component %q: no such component (have: %s)", name, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("component %q: %d components have that name; use the ID (see `herald components`)", name, len(match))
}

// openPage is pf.open that also takes the page's time zone for the times
// the command prints (a.at).
func (a *app) openPage(ctx context.Context, pf *pageFlags) (*client, wire.Page, error) {
	c, p, err := pf.open(ctx, a.getenv)
	if err == nil {
		a.usePage(p)
	}
	return c, p, err
}

// openIncident is pf.openIncident that also takes the page's time zone.
func (a *app) openIncident(ctx context.Context, pf *pageFlags, id string) (*client, wire.Page, wire.V1Incident, error) {
	c, p, inc, err := pf.openIncident(ctx, a.getenv, id)
	if err == nil {
		a.usePage(p)
	}
	return c, p, inc, err
}

// usePage makes p's time zone the one the command's times are printed
// in, as the README promises and as the server's own words (a complaint
// tag's "major outage since 12:16 CET") already are.
func (a *app) usePage(p wire.Page) {
	if p.TimeZone == "" {
		return
	}
	if loc, err := time.LoadLocation(p.TimeZone); err == nil {
		a.loc = loc
	}
}

// at writes t to the minute in the page's time zone (UTC until a page is
// known), the zone named: "2026-12-06 12:16 CET".
func (a *app) at(t time.Time) string {
	return t.In(a.zone()).Format("2006-01-02 15:04 MST")
}

// atSecond is at to the second, for lists of messages.
func (a *app) atSecond(t time.Time) string {
	return t.In(a.zone()).Format("2006-01-02 15:04:05 MST")
}

func (a *app) zone() *time.Location {
	if a.loc == nil {
		return time.UTC
	}
	return a.loc
}

package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestConsoleLink: `herald console link` prints a link that signs its
// holder in to a running herald's console once.
func TestConsoleLink(t *testing.T) {
	dir := t.TempDir()
	n := startServe(t, nil, "--data", dir)
	out := mustCLI(t, nil, "console", "link", "--role", "agent", "--name", "Ana", "--data", dir, "--public-url", n.url)
	link := out.lastLine()
	if !strings.HasPrefix(link, n.url+"/console/link/") {
		t.Fatalf("link %q, want %s/console/link/…\n%s", link, n.url, out.stdout)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signIn := func() int {
		res, err := c.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("the link page has no form:\n%s", b)
		}
		res, err = c.PostForm(n.url+"/console/link", url.Values{"_csrf": {m[1]}, "secret": {link[strings.LastIndex(link, "/")+1:]}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := signIn(); st != http.StatusSeeOther {
		t.Fatalf("first use: %d, want 303", st)
	}
	res, err := c.Get(n.url + "/console/queue")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "Ana") {
		t.Fatalf("the queue after sign-in: %d", res.StatusCode)
	}
	if st := signIn(); st != http.StatusUnauthorized {
		t.Errorf("second use: %d, want 401", st)
	}
	// A second link for Ana as agent signs her in with the same token:
	// one token a person, whose "last used" counts her console work.
	out = mustCLI(t, nil, "console", "link", "--role", "agent", "--name", "Ana", "--data", dir, "--public-url", n.url)
	if !strings.Contains(out.stdout, `link for "Ana"'s agent token`) {
		t.Errorf("a second link for Ana:\n%s", out.stdout)
	}
	list := mustCLI(t, nil, "token", "list", "--data", dir).stdout
	var ana []string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == "Ana" {
			ana = append(ana, line)
		}
	}
	if len(ana) != 1 || strings.Contains(ana[0], "never") || !strings.Contains(ana[0], time.Now().UTC().Format("2006-01-02")) {
		t.Errorf("Ana's tokens after two links and a console visit (want one, used today):\n%s", list)
	}
	// As a manager she gets a token of that role.
	out = mustCLI(t, nil, "console", "link", "--role", "manager", "--name", "Ana", "--data", dir)
	if !strings.HasPrefix(out.stdout, "Created manager token") {
		t.Errorf("a manager link for Ana:\n%s", out.stdout)
	}
	if r := cli(t, nil, "console", "link", "--role", "root", "--name", "X", "--data", dir); r.code != 2 {
		t.Errorf("a bad role: exit %d, want 2", r.code)
	}
}

// TestConsoleLinkURL: without --public-url, the link points where the
// server is reached: --url or HERALD_URL when given, else the URL the
// server gave its page, not the default 127.0.0.1:8080.
func TestConsoleLinkURL(t *testing.T) {
	dir := t.TempDir()
	n := startServe(t, nil, "--data", dir)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"the page's URL", map[string]string{"HERALD_DATA_DIR": dir}, nil, n.url},
		{"HERALD_URL", map[string]string{"HERALD_DATA_DIR": dir, "HERALD_URL": "http://127.0.0.1:35999/"}, nil, "http://127.0.0.1:35999"},
		{"--url over HERALD_URL", map[string]string{"HERALD_DATA_DIR": dir, "HERALD_URL": "http://127.0.0.1:35999"}, []string{"--url", n.url}, n.url},
		{"--public-url", map[string]string{"HERALD_DATA_DIR": dir}, []string{"--public-url", "https://status.example.com/"}, "https://status.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustCLI(t, tt.env, append([]string{"console", "link", "--role", "manager", "--name", "Mia"}, tt.args...)...)
			if link := out.lastLine(); !strings.HasPrefix(link, tt.want+"/console/link/") {
				t.Errorf("link %q, want %s/console/link/…", link, tt.want)
			}
		})
	}
	if r := cli(t, map[string]string{"HERALD_DATA_DIR": dir}, "console", "link", "--role", "agent", "--name", "Ana", "--url", "ftp://x"); r.code != 2 {
		t.Errorf("--url ftp://x: exit %d, want 2\n%s", r.code, r.stderr)
	}
}

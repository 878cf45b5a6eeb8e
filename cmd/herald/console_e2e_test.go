package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
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
	if r := cli(t, nil, "console", "link", "--role", "root", "--name", "X", "--data", dir); r.code != 2 {
		t.Errorf("a bad role: exit %d, want 2", r.code)
	}
}

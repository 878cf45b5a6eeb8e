package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSandboxEmailReply: a newcomer tries the email door from the sandbox
// alone, as the README shows: the customer answers herald's first email
// from the inbox (POST /sandbox/reply with channel=email, a manager's
// token), and the answer is a complaint tagged to the incident that email
// was about (threaded by In-Reply-To), acknowledged by email. Without the
// token, or with no text, nothing is filed.
func TestSandboxEmailReply(t *testing.T) {
	dir := t.TempDir()
	n := startServe(t, nil, "--data", dir)
	token := mustCLI(t, nil, "token", "create", "--role", "manager", "--data", dir).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
	mustCLI(t, env, "components", "create", "--name", "Payments")
	file := filepath.Join(dir, "c.csv")
	if err := os.WriteFile(file, []byte("id,name,email,language,components\nc1,John,john@example.com,en,Payments\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, env, "import", "customers", file)
	inc := strings.TrimSpace(mustCLI(t, env, "declare", "-q", "--name", "Card payments fail", "--component", "Payments=major_outage",
		"--message", "Card payments fail for some customers.").stdout)
	var first inboxMessage
	eventually(t, 10*time.Second, func() (bool, string) {
		ms := to(inbox(t, n), "email", "john@example.com")
		if len(ms) == 0 {
			return false, "no email to john yet"
		}
		first = ms[len(ms)-1]
		return true, ""
	})

	post := func(form url.Values, bearer string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, n.url+"/sandbox/reply", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := testHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, readAll(t, res)
	}
	reply := url.Values{"channel": {"email"}, "from": {"john@example.com"}, "subject": {"Re: " + first.Subject},
		"in_reply_to": {first.ID}, "body": {"My card was charged but the order failed."}}
	if code, _ := post(reply, ""); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("an emailed reply without a manager's token: %d, want refused", code)
	}
	empty := url.Values{"channel": {"email"}, "from": {"john@example.com"}, "body": {"  "}}
	if code, body := post(empty, token); code != http.StatusBadRequest {
		t.Errorf("an emailed reply with no text: %d %s, want 400", code, body)
	}
	if out := mustCLI(t, env, "complaints", "-q").stdout; strings.TrimSpace(out) != "" {
		t.Fatalf("complaints filed by refused replies: %q", out)
	}
	if code, body := post(reply, token); code != http.StatusOK {
		t.Fatalf("an emailed reply: %d %s", code, body)
	}
	ref := strings.TrimSpace(mustCLI(t, env, "complaints", "-q").stdout)
	if ref == "" || strings.Contains(ref, "\n") {
		t.Fatalf("complaints after one emailed reply: %q, want one", ref)
	}
	show := mustCLI(t, env, "complaints", "show", ref).stdout
	if !strings.Contains(show, "email") || !strings.Contains(show, inc) || !strings.Contains(show, "My card was charged") {
		t.Errorf("the emailed complaint, shown:\n%s\nwant the email channel, incident %s and the customer's words", show, inc)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		for _, m := range to(inbox(t, n), "email", "john@example.com") {
			if strings.Contains(m.Subject+m.Body, ref) {
				return true, ""
			}
		}
		return false, "no acknowledgement naming " + ref
	})
}

package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald/notify/twilio"
	"github.com/heraldhq/herald/sandbox"
)

// TestReply posts a texted reply as Twilio would: herald's own signature
// check accepts it, the form carries the customer's number and words, and
// the inbox's form and the JSON API both work; bad input and cross-origin
// posts are refused without posting anything.
func TestReply(t *testing.T) {
	var mu sync.Mutex
	var got []url.Values
	var target string
	herald := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if !twilio.VerifySignature(sandbox.DefaultAuthToken, target, r.PostForm, r.Header.Get(twilio.HeaderSignature)) {
			http.Error(w, "forged", http.StatusForbidden)
			return
		}
		mu.Lock()
		got = append(got, r.PostForm)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if r.PostForm.Get("Body") == "HELP" {
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>Acme alerts: reply STOP to end &amp; START to resume.</Message></Response>`)
			return
		}
		io.WriteString(w, "<Response></Response>")
	}))
	defer herald.Close()
	target = herald.URL + "/webhooks/twilio/sms"
	sb, err := sandbox.Start(t.Context(), sandbox.Config{Addr: "127.0.0.1:0", SMTPAddr: "127.0.0.1:0", InboundSMSURL: target})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	inbox := httptest.NewServer(sb.GuardedHandler())
	defer inbox.Close()

	post := func(form url.Values, header ...string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, inbox.URL+"/sandbox/reply", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := post(url.Values{"from": {"+36201234567"}, "body": {"A kártyás fizetés nem megy"}})
	var rep sandbox.Reply
	if err := json.NewDecoder(res.Body).Decode(&rep); err != nil || res.StatusCode != 200 || rep.Status != 200 || !strings.HasPrefix(rep.MessageSid, "SM") {
		t.Fatalf("reply = %d %+v, %v", res.StatusCode, rep, err)
	}
	if res := post(url.Values{"from": {"+36201234567"}, "to": {"+15005550006"}, "body": {"again"}}, "Accept", "text/html", "Origin", inbox.URL); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the inbox's form: %d, want a redirect back", res.StatusCode)
	}
	for name, form := range map[string]url.Values{
		"no number":    {"body": {"x"}},
		"not E.164":    {"from": {"0620123"}, "body": {"x"}},
		"empty":        {"from": {"+36201234567"}, "body": {"  "}},
		"cross-origin": {"from": {"+36201234567"}, "body": {"x"}},
	} {
		h := []string{}
		if name == "cross-origin" {
			h = []string{"Origin", "https://evil.example"}
		}
		if res := post(form, h...); res.StatusCode < 400 {
			t.Errorf("%s: %d, want refused", name, res.StatusCode)
		}
	}
	for name, tc := range map[string]struct {
		form   url.Values
		status int
		field  string
	}{
		"a channel it does not have": {url.Values{"channel": {"fax"}, "from": {"+36201234567"}, "body": {"x"}}, http.StatusBadRequest, "channel"},
		"larger than 64 KiB":         {url.Values{"from": {"+36201234567"}, "body": {strings.Repeat("x", 70<<10)}}, http.StatusRequestEntityTooLarge, ""},
	} {
		res := post(tc.form)
		var p struct {
			Error struct{ Code, Message, Field string } `json:"error"`
		}
		if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != tc.status || p.Error.Message == "" || p.Error.Field != tc.field {
			t.Errorf("%s: %d %+v (%v); want %d naming %q in herald's error shape", name, res.StatusCode, p, err, tc.status, tc.field)
		}
	}
	if sb.Count(sandbox.KindSMS) != 0 {
		t.Fatalf("an empty TwiML answer put %d SMS in the inbox", sb.Count(sandbox.KindSMS))
	}
	post(url.Values{"from": {"+36201234567"}, "body": {"HELP"}})
	sent := sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: "+36201234567"})
	if len(sent) != 1 || sent[0].Body != "Acme alerts: reply STOP to end & START to resume." || sent[0].From != sandbox.DefaultFrom {
		t.Errorf("the TwiML answer to HELP in the inbox: %+v", sent)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("%d posts reached herald, want 3", len(got))
	}
	f := got[0]
	if f.Get("From") != "+36201234567" || f.Get("To") != sandbox.DefaultFrom || f.Get("Body") != "A kártyás fizetés nem megy" || f.Get("MessageSid") != rep.MessageSid {
		t.Errorf("form %v", f)
	}
}

// TestReplyRefusesNonForm: herald's own webhook and Slack posts (JSON)
// may reach the sandbox's listener, to a URL a subscriber chose (its
// address is exempt from herald's SSRF rules so that its sinks work), so
// a reply written in the query of a post that is not a form must not
// speak to herald as a customer.
func TestReplyRefusesNonForm(t *testing.T) {
	var posts atomic.Int32
	herald := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		io.WriteString(w, "<Response></Response>")
	}))
	defer herald.Close()
	sb, err := sandbox.Start(t.Context(), sandbox.Config{Addr: "127.0.0.1:0", SMTPAddr: "127.0.0.1:0", InboundSMSURL: herald.URL + "/webhooks/twilio/sms"})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	q := url.Values{"from": {"+36209999999"}, "body": {"STOP"}}
	post := func(ct, body string) int {
		req, _ := http.NewRequest(http.MethodPost, sb.TwilioURL()+"/sandbox/reply?"+q.Encode(), strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "multipart/form-data; boundary=x", "text/plain", "nonsense;;"} {
		if status := post(ct, `{"incident":{"name":"x"}}`); status != http.StatusUnsupportedMediaType {
			t.Errorf("a %s body with the reply in the query: %d, want 415", ct, status)
		}
	}
	if n := posts.Load(); n != 0 {
		t.Fatalf("%d posts reached herald", n)
	}
	// A form, or no body with the fields in the query, still works.
	if status := post("application/x-www-form-urlencoded", ""); status != http.StatusOK {
		t.Errorf("an empty form with the reply in the query: %d", status)
	}
	if status := post("", ""); status != http.StatusOK {
		t.Errorf("no body, the reply in the query: %d", status)
	}
	if n := posts.Load(); n != 2 {
		t.Errorf("%d posts reached herald, want 2", n)
	}
}

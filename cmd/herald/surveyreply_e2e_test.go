package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/surveys"
)

// TestSurveyReplyWithoutScore: replies to the survey that give no score,
// on each engine, through the sandbox's SMTP and Twilio. Sam answers the
// survey email "no": his words are kept with the survey (no complaint),
// and one email thanks him and asks for a number from 1 to 5, as an
// automatic reply (Auto-Submitted) in his thread; his next reply without
// a score ("10") gets no second request; his "4" to the request is the
// score and takes his words. Éva answers in words of her own: a
// complaint, acknowledged, and the survey's comment without a score.
// Anna's SMS "nem" is asked for a number once; her second gets an empty
// answer. The results count the comments, none of them as a score.
func TestSurveyReplyWithoutScore(t *testing.T) {
	onEachEngine(t, testSurveyReplyWithoutScore)
}

func testSurveyReplyWithoutScore(t *testing.T, dir string, storeArgs []string) {
	n := startServe(t, nil, storeArgs...)
	token := mustCLI(t, nil, append([]string{"token", "create", "--role", "manager"}, storeArgs...)...).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
	mustCLI(t, env, "components", "create", "--name", "Payments")
	file := filepath.Join(dir, "customers.csv")
	if err := os.WriteFile(file, []byte("id,name,phone,email,language,plan,components\n"+
		"hu-1,Anna,+36201234567,,hu,gold,Payments\n"+
		"en-1,Sam,,sam@example.com,en,silver,Payments\n"+
		"hu-2,Éva,,eva@example.hu,hu,gold,Payments\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, env, "import", "customers", file)
	id := strings.TrimSpace(mustCLI(t, env, "declare", "-q", "--name", "Card payments fail", "--component", "Payments=major_outage",
		"--message", "Investigating.", "--wait").stdout)
	mustCLI(t, env, "resolve", id, "--message", "Fixed.", "--wait")
	if r := mustCLI(t, env, "surveys", "send", id); !strings.Contains(r.stdout, "3 surveys sent") {
		t.Fatalf("surveys send: %s", r.stdout)
	}
	survey := func(addr string) inboxMessage {
		var m inboxMessage
		eventually(t, 15*time.Second, func() (bool, string) {
			for _, x := range to(inbox(t, n), "email", addr) {
				if surveyLink.MatchString(x.Body) && !strings.Contains(x.Subject, "reply") {
					m = x
					return true, ""
				}
			}
			return false, "no survey email to " + addr
		})
		return m
	}
	reply := func(from string, inReplyTo inboxMessage, body string) {
		t.Helper()
		form := url.Values{"channel": {"email"}, "from": {from}, "subject": {"Re: " + inReplyTo.Subject}, "in_reply_to": {inReplyTo.ID}, "body": {body}}
		req, _ := http.NewRequest(http.MethodPost, n.url+"/sandbox/reply", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := testHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, res); res.StatusCode != http.StatusOK {
			t.Fatalf("emailed reply %q: %d %s", body, res.StatusCode, body)
		}
	}
	asks := func(addr, subject string) []inboxMessage {
		var out []inboxMessage
		for _, m := range to(inbox(t, n), "email", addr) {
			if strings.Contains(m.Subject, subject) {
				out = append(out, m)
			}
		}
		return out
	}

	sam := survey("sam@example.com")
	reply("sam@example.com", sam, "no")
	var ask inboxMessage
	eventually(t, 15*time.Second, func() (bool, string) {
		as := asks("sam@example.com", "Thank you for your reply")
		if len(as) == 0 {
			return false, "no request for a score"
		}
		ask = as[0]
		return true, ""
	})
	if !strings.Contains(ask.Body, "a number from 1 (poor) to 5 (excellent)") || !surveyLink.MatchString(ask.Body) {
		t.Errorf("the request for a score:\n%s", ask.Body)
	}
	if ask.Headers["Auto-Submitted"] != "auto-replied" || !strings.Contains(ask.Headers["In-Reply-To"], "@sandbox.herald.localhost") || ask.Headers["Return-Path"] != "<>" {
		t.Errorf("the request's headers: %v; want Auto-Submitted: auto-replied, In-Reply-To Sam's email, Return-Path <>", ask.Headers)
	}
	// In Sam's thread (RFC 5322 §3.6.4): his reply's References (the
	// survey), then his reply.
	if refs := strings.Fields(ask.Headers["References"]); len(refs) != 2 || refs[0] != "<"+sam.ID+">" || refs[1] != ask.Headers["In-Reply-To"] {
		t.Errorf("the request's References %q; want the survey's Message-ID <%s>, then Sam's reply %s", ask.Headers["References"], sam.ID, ask.Headers["In-Reply-To"])
	}
	// A second reply without a score is kept, and never asked about again.
	reply("sam@example.com", sam, "10")
	// Éva's words of her own: a complaint, acknowledged by email.
	reply("eva@example.hu", survey("eva@example.hu"), "Nagyon lassan javították, senki nem hívott vissza.")
	eventually(t, 15*time.Second, func() (bool, string) {
		cs := complaintsOf(t, env)
		return len(cs) == 1 && cs[0].Tag != nil && cs[0].Tag.IncidentID == id, "no complaint of Éva's"
	})
	ref := complaintsOf(t, env)[0].Ref
	eventually(t, 15*time.Second, func() (bool, string) {
		return len(asks("eva@example.hu", ref)) == 1, "no acknowledgement of Éva's complaint"
	})
	if len(asks("eva@example.hu", "Köszönjük a válaszát")) != 0 {
		t.Errorf("Éva's complaint was asked for a score as well")
	}
	// Sam's "4", answering the request, is the score, with no words: his
	// "no" and "10" only tried to give it. It is thanked by email, once,
	// as an automatic reply in his thread: his "4" again, or a changed
	// score, is the same thanks, so no back and forth can start.
	reply("sam@example.com", ask, "4")
	var thanks inboxMessage
	eventually(t, 15*time.Second, func() (bool, string) {
		ts := asks("sam@example.com", "Thank you for your rating")
		if len(ts) == 0 {
			return false, "no thanks for Sam's score"
		}
		thanks = ts[0]
		return true, ""
	})
	if !strings.Contains(thanks.Body, "we have recorded your score") || !surveyLink.MatchString(thanks.Body) {
		t.Errorf("the thanks for the score:\n%s", thanks.Body)
	}
	if thanks.Headers["Auto-Submitted"] != "auto-replied" || !strings.Contains(thanks.Headers["In-Reply-To"], "@sandbox.herald.localhost") ||
		thanks.Headers["List-Unsubscribe"] != "" || thanks.Headers["Return-Path"] != "<>" {
		t.Errorf("the thanks' headers: %v; want Auto-Submitted: auto-replied, In-Reply-To Sam's email, no List-Unsubscribe, Return-Path <>", thanks.Headers)
	}
	reply("sam@example.com", thanks, "4")
	reply("sam@example.com", ask, "3")
	reply("sam@example.com", thanks, "4")

	// Anna's SMS without a score: asked once, then an empty answer.
	code, body := postSMS(t, n, n.twilioToken, "SM"+strings.Repeat("a", 32), "+36201234567", "nem")
	if code != http.StatusOK || !strings.Contains(body, "<Message>Status: Kérjük, válaszoljon 1-től (rossz) 5-ig (kiváló).</Message>") {
		t.Fatalf("Anna's first SMS without a score: %d %s", code, body)
	}
	code, body = postSMS(t, n, n.twilioToken, "SM"+strings.Repeat("b", 32), "+36201234567", "nem")
	if code != http.StatusOK || strings.Contains(body, "<Message>") {
		t.Fatalf("Anna's second SMS without a score: %d %s, want no answer", code, body)
	}
	if cs := complaintsOf(t, env); len(cs) != 1 {
		t.Errorf("replies without a score became complaints: %+v", cs)
	}

	var r surveys.Results
	if err := json.Unmarshal([]byte(mustCLI(t, env, "surveys", "results", id, "--json").stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Sent != 3 || r.Answered != 3 || r.Scored != 1 || r.Scores["4"] != 1 || r.CSAT == nil || *r.CSAT != 1 || len(r.Comments) != 2 || r.Summary.Comments != 2 {
		t.Errorf("results: sent %d answered %d scored %d scores %v csat %v commented %d comments %+v", r.Sent, r.Answered, r.Scored, r.Scores, r.CSAT, r.Summary.Comments, r.Comments)
	}
	for _, c := range r.Comments {
		if c.Score != nil {
			t.Errorf("words without a score show a score, or Sam's 4 took his attempts at it as its words: %+v", c)
		}
	}
	if got := len(asks("sam@example.com", "Thank you for your reply")); got != 1 {
		t.Errorf("Sam was asked for a score %d times, want once", got)
	}
	if got := len(asks("sam@example.com", "Thank you for your rating")); got != 1 {
		t.Errorf("Sam was thanked for his score %d times, want once", got)
	}
	out := mustCLI(t, env, "surveys", "results", id).stdout
	if strings.Contains(out, "4/5 (email, en)") {
		t.Errorf("Sam's 4 is listed with words:\n%s", out)
	}
	for _, want := range []string{"no score (email, hu): Nagyon lassan javították", "no score (sms, hu): nem"} {
		if !strings.Contains(out, want) {
			t.Errorf("results lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "0/5") {
		t.Errorf("a comment without a score reads as 0/5:\n%s", out)
	}
	html := mustCLI(t, env, "report", id, "--format", "html").stdout
	if !strings.Contains(html, "no score</td>") || strings.Contains(html, ">0/5<") {
		t.Errorf("the report's comments do not say \"no score\" where there is none")
	}
}

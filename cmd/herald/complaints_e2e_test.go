package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/notify/twilio"
	"github.com/heraldhq/herald/sandbox"
)

// The complaint loop end to end, as a customer and an agent meet it:
// `herald serve` in sandbox mode, a customer imported, an incident
// declared on their component, an SMS from the customer's phone to
// herald's Twilio webhook (signed as Twilio signs it), the complaint
// tagged with its reason and acknowledged in the customer's language at
// the sandbox, and `herald resolve` answering it.

// postSMS posts an inbound SMS to herald's Twilio webhook, signed with
// token (the sandbox's, which a sandbox-mode herald checks).
func postSMS(t *testing.T, n *instance, token, sid, from, body string) (int, string) {
	t.Helper()
	form := url.Values{"MessageSid": {sid}, "AccountSid": {sandbox.DefaultAccountSID}, "From": {from}, "To": {"+15005550006"},
		"Body": {body}, "NumMedia": {"0"}, "SmsStatus": {"received"}}
	u := n.url + "/webhooks/twilio/sms"
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.HeaderSignature, sandbox.TwilioSignature(token, u, form))
	return send(t, req)
}

// complaintsOf lists the page's complaints through the CLI.
func complaintsOf(t *testing.T, env map[string]string, args ...string) []wire.Complaint {
	t.Helper()
	var cs []wire.Complaint
	if err := json.Unmarshal([]byte(mustCLI(t, env, append([]string{"complaints", "list", "--json"}, args...)...).stdout), &cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestComplaintsEndToEnd(t *testing.T) {
	onEachEngine(t, testComplaints)
}

func testComplaints(t *testing.T, dir string, storeArgs []string) {
	n := startServe(t, nil, storeArgs...)
	token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
	mustCLI(t, env, "components", "create", "--name", "Payments")
	mustCLI(t, env, "components", "create", "--name", "Search")
	const phone = "+36201234567"
	file := filepath.Join(dir, "customers.csv")
	if err := os.WriteFile(file, []byte("id,name,phone,email,slack,language,time_zone,plan,region,components\n"+
		"hu-1,Anna,+36 20 123 4567,anna@example.hu,,hu,Europe/Budapest,gold,eu,Payments\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, env, "import", "customers", file)
	id := strings.TrimSpace(mustCLI(t, env, "declare", "-q", "--name", "Card payments fail", "--component", "Payments=major_outage",
		"--message", "Investigating.", "--wait").stdout)
	smsBefore := len(to(inbox(t, n), "sms", phone))

	t.Run("a forged SMS writes nothing", func(t *testing.T) {
		code, body := postSMS(t, n, "not-the-token", "SM"+strings.Repeat("f", 32), phone, "hello?")
		if code != http.StatusForbidden {
			t.Fatalf("forged: %d %s", code, body)
		}
		if cs := complaintsOf(t, env); len(cs) != 0 {
			t.Fatalf("%d complaints after a forged SMS", len(cs))
		}
	})

	var cp wire.Complaint
	t.Run("an SMS becomes a tagged complaint", func(t *testing.T) {
		sid := "SM" + strings.Repeat("a", 32)
		for range 2 { // Twilio retrying files it once
			code, body := postSMS(t, n, n.twilioToken, sid, phone, "Nem megy a kártyás fizetés!")
			if code != http.StatusOK || strings.Contains(body, "<Message>") {
				t.Fatalf("inbound SMS: %d %s", code, body)
			}
		}
		cs := complaintsOf(t, env)
		if len(cs) != 1 {
			t.Fatalf("%d complaints, want 1", len(cs))
		}
		cp = cs[0]
		if cp.Channel != "sms" || cp.Contact.CustomerID != "hu-1" || cp.Language != "hu" || cp.Tag == nil || cp.Tag.IncidentID != id ||
			!strings.Contains(cp.Tag.Reason, "Payments") {
			t.Fatalf("complaint %+v, tag %+v", cp, cp.Tag)
		}
		show := mustCLI(t, env, "complaints", "show", cp.ID)
		for _, want := range []string{cp.Ref, "Payments", "Nem megy a kártyás fizetés!", "message_in (sms)"} {
			if !strings.Contains(show.stdout, want) {
				t.Errorf("complaints show lacks %q:\n%s", want, show.stdout)
			}
		}
		// The reference the customer quotes finds the same complaint, in
		// any case; an agent can act on it by the reference too.
		for _, ref := range []string{cp.Ref, strings.ToLower(cp.Ref)} {
			if byRef := mustCLI(t, env, "complaints", "show", ref); !strings.Contains(byRef.stdout, "complaint:   "+cp.ID) && !strings.Contains(byRef.stdout, cp.ID+" ("+cp.Ref+")") {
				t.Errorf("complaints show %s:\n%s", ref, byRef.stdout)
			}
		}
		mustCLI(t, env, "complaints", "note", cp.Ref, "noted by reference")
		if again := mustCLI(t, env, "complaints", "show", cp.ID); !strings.Contains(again.stdout, "noted by reference") {
			t.Errorf("a note by reference is not on the complaint:\n%s", again.stdout)
		}
		if r := cli(t, env, "complaints", "show", "C-00000000"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
			t.Errorf("an unknown reference: exit %d, %q", r.code, r.stderr)
		}
		// The customer's components by name, as people know them.
		if line := lineWith(show.stdout, "components:"); !strings.Contains(line, "Payments") || len(cp.Components) != 1 || strings.Contains(line, cp.Components[0]) {
			t.Errorf("components line %q, want Payments, not the ID (%v)", line, cp.Components)
		}
	})
	if cp.ID == "" {
		t.FailNow()
	}

	t.Run("the acknowledgement reaches the sandbox in Hungarian", func(t *testing.T) {
		var ack inboxMessage
		eventually(t, 15*time.Second, func() (bool, string) {
			got := to(inbox(t, n), "sms", phone)
			if len(got) > smsBefore {
				ack = got[0] // newest first
				return true, ""
			}
			return false, "no acknowledgement SMS yet"
		})
		// The SMS acknowledgement of a known outage names the incident and
		// its page (the reference is in the email and every later answer).
		if !strings.Contains(ack.Body, "Card payments") || !hungarian(ack.Body) {
			t.Errorf("acknowledgement %q: want the incident, in Hungarian", ack.Body)
		}
	})

	t.Run("resolve answers the complaint", func(t *testing.T) {
		before := len(to(inbox(t, n), "sms", phone))
		mustCLI(t, env, "resolve", id, "--message", "A kártyás fizetés újra működik.", "--wait")
		eventually(t, 15*time.Second, func() (bool, string) {
			cs := complaintsOf(t, env, "--state", "resolved")
			return len(cs) == 1 && cs[0].Remedy == "apology", "complaint not resolved yet"
		})
		// One SMS: the complaint's answer, which tells the resolution with
		// the reference; the broadcast's message to her phone is collapsed
		// into it (--wait returned once the broadcast had finished, so no
		// later broadcast SMS can come).
		eventually(t, 15*time.Second, func() (bool, string) {
			got := to(inbox(t, n), "sms", phone)
			if len(got) < before+1 {
				return false, "want the answer"
			}
			if m := got[0]; !strings.Contains(m.Body, cp.Ref) || !strings.Contains(m.Body, "újra működik") {
				return false, fmt.Sprintf("no answer naming %s: %v", cp.Ref, got[0])
			}
			return true, ""
		})
		if got := to(inbox(t, n), "sms", phone); len(got) != before+1 {
			t.Errorf("%d SMS after the resolution, want 1 (the complaint's answer): %v", len(got)-before, got[:len(got)-before])
		}
	})

	t.Run("CLI", func(t *testing.T) {
		r := mustCLI(t, env, "complaints", "record", "--phone", "+36 30 999 9999", "--name", "Walk-in", "--text", "The app logs me out", "--category", "defect")
		if !strings.Contains(r.stdout, "recorded complaint") {
			t.Errorf("record: %s", r.stdout)
		}
		newID := complaintsOf(t, env, "--open")[0].ID
		// Dora is an agent; a misspelt name is refused with the names
		// there are, and the complaint keeps its owner (who recorded it).
		mustCLI(t, nil, append([]string{"token", "create", "--role", "agent", "--name", "dora"}, storeArgs...)...)
		recorder := complaintsOf(t, env, "--open")[0].Owner
		if r := cli(t, env, "complaints", "assign", newID, "dorra"); r.code == 0 || !strings.Contains(r.stderr, `no agent is named "dorra"`) || !strings.Contains(r.stderr, "dora") {
			t.Errorf("assign to a misspelt name: exit %d, stderr %s", r.code, r.stderr)
		}
		if c := complaintsOf(t, env, "--open")[0]; c.ID != newID || c.Owner != recorder || recorder == "" {
			t.Errorf("after a refused assign: %s owned by %q", c.ID, c.Owner)
		}
		mustCLI(t, env, "complaints", "assign", newID, "Dora")
		if c := complaintsOf(t, env, "--open")[0]; c.Owner != "dora" {
			t.Errorf("assigned to Dora: owner %q, want the agent's name as written, dora", c.Owner)
		}
		mustCLI(t, env, "complaints", "note", newID, "called back, no answer")
		mustCLI(t, env, "complaints", "tag", newID, id)
		mustCLI(t, env, "complaints", "untag", newID)
		mustCLI(t, env, "complaints", "resolve", newID, "--remedy", "fix", "--outcome", "Fixed in 2.3.1")
		if l := mustCLI(t, env, "complaints", "list"); !strings.Contains(l.stdout, newID) || !strings.Contains(l.stdout, "resolved") {
			t.Errorf("list:\n%s", l.stdout)
		}
		csv := mustCLI(t, env, "complaints", "stats", "--format", "csv")
		if !strings.Contains(csv.stdout, "total,,2") || !strings.Contains(csv.stdout, "by_channel,sms,1") {
			t.Errorf("stats csv:\n%s", csv.stdout)
		}
		if s := mustCLI(t, env, "complaints", "stats"); !strings.Contains(s.stdout, "total:") || !strings.Contains(s.stdout, "Card payments fail") {
			t.Errorf("stats (incidents by name):\n%s", s.stdout)
		}
		if l := mustCLI(t, env, "complaints", "list"); !strings.Contains(l.stdout, "Card payments fail") {
			t.Errorf("list (incidents by name):\n%s", l.stdout)
		}
		if r := cli(t, env, "complaints", "record", "--email", "nope", "--text", "x"); r.code != 1 || !strings.Contains(r.stderr, "contact.email") {
			t.Errorf("bad email: exit %d, %s", r.code, r.stderr)
		}
		// A call recorded after it was taken keeps its time.
		past := mustCLI(t, env, "complaints", "record", "--name", "Caller", "--text", "rang at lunch", "--at", "-3h", "--json")
		var pc wire.Complaint
		if err := json.Unmarshal([]byte(past.stdout), &pc); err != nil {
			t.Fatalf("record --json: %v\n%s", err, past.stdout)
		}
		if ago := time.Since(pc.CreatedAt.Time()); ago < 3*time.Hour-time.Minute || ago > 3*time.Hour+time.Minute {
			t.Errorf("record --at -3h: created_at %s, %s ago", pc.CreatedAt.Time(), ago)
		}
		if r := cli(t, env, "complaints", "record", "--name", "Caller", "--text", "x", "--at", "lunchtime"); r.code != 2 || !strings.Contains(r.stderr, "--at") {
			t.Errorf("record --at lunchtime: exit %d, %s", r.code, r.stderr)
		}
		if r := cli(t, env, "complaints", "record", "--name", "Caller", "--text", "x", "--at", "2h"); r.code != 1 || !strings.Contains(r.stderr, "at") || !strings.Contains(r.stderr, "future") {
			t.Errorf("record --at 2h: exit %d, %s", r.code, r.stderr)
		}
		if r := cli(t, env, "complaints", "resolve", newID); r.code != 2 {
			t.Errorf("resolve without --remedy: exit %d, want 2", r.code)
		}
		if r := cli(t, env, "complaints", "show", "nope"); r.code != 1 {
			t.Errorf("show of a missing complaint: exit %d, want 1", r.code)
		}
	})

	t.Run("the list fits the terminal", func(t *testing.T) {
		checkFits(t, env, "complaints")
	})
}

// hungarian reports whether s reads as Hungarian: letters only Hungarian
// uses among herald's languages.
func hungarian(s string) bool {
	return strings.ContainsAny(s, "őűŐŰ") || strings.Contains(s, "ügy") || strings.Contains(s, "köszön") || strings.Contains(s, "Köszön")
}

// A reply sender of its own (sms_reply_from, sms_reply_rate): while a
// broadcast crawls under a tight sms_rate, a complaint's acknowledgement
// goes out at once from the reply number, and every broadcast SMS still
// from the broadcasts' sender.
func TestComplaintReplySender(t *testing.T) {
	onEachEngine(t, testComplaintReplySender)
}

func testComplaintReplySender(t *testing.T, dir string, storeArgs []string) {
	const replyFrom, customers = "+15005550009", 20
	n := startServe(t, map[string]string{"HERALD_SMS_RATE": "2", "HERALD_SMS_REPLY_FROM": replyFrom, "HERALD_SMS_REPLY_RATE": "50"}, storeArgs...)
	token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
	mustCLI(t, env, "components", "create", "--name", "Payments")
	var csv strings.Builder
	csv.WriteString("id,name,phone,language,components\n")
	for i := range customers {
		fmt.Fprintf(&csv, "c-%d,Customer %d,+3620123%04d,en,Payments\n", i, i, i)
	}
	file := filepath.Join(dir, "customers.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, env, "import", "customers", file)
	mustCLI(t, env, "declare", "-q", "--name", "Card payments fail", "--component", "Payments=major_outage", "--message", "Investigating.")
	// The broadcast is under way (20 SMS at 2 a second: about 10 s).
	eventually(t, 15*time.Second, func() (bool, string) {
		return countKind(inbox(t, n), "sms") > 0, "no broadcast SMS yet"
	})
	const phone = "+36201230007"
	atPost := countKind(inbox(t, n), "sms")
	if code, body := postSMS(t, n, n.twilioToken, "SM"+strings.Repeat("b", 32), phone, "Card payment does not work"); code != http.StatusOK {
		t.Fatalf("inbound SMS: %d %s", code, body)
	}
	var ack inboxMessage
	broadcastSoFar := 0
	eventually(t, 15*time.Second, func() (bool, string) {
		ms := inbox(t, n)
		broadcastSoFar = 0
		for _, m := range ms {
			if m.Kind != "sms" {
				continue
			}
			if m.From == replyFrom {
				ack = m
			} else {
				broadcastSoFar++
			}
		}
		return ack.To != "", "no SMS from the reply sender yet"
	})
	if ack.To != phone || !strings.Contains(ack.Body, "Card payments") {
		t.Errorf("acknowledgement %+v: want one to %s about the incident", ack, phone)
	}
	// Claimed at once in the replies' lane, which the enqueue wakes, not
	// when the broadcast's lane (all 20 claimed, sending 2 a second) has
	// room for a claim again (2.5 s, 5 more broadcast SMS), let alone
	// after the broadcast.
	if broadcastSoFar > atPost+3 {
		t.Errorf("the acknowledgement came after %d more broadcast SMS (%d, then %d): it waited for the broadcast's lane", broadcastSoFar-atPost, atPost, broadcastSoFar)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		c := 0
		for _, m := range inbox(t, n) {
			if m.Kind == "sms" && m.From != replyFrom {
				if m.From != sandbox.DefaultFrom {
					return false, "a broadcast SMS from " + m.From
				}
				c++
			}
		}
		return c == customers, fmt.Sprintf("%d of %d broadcast SMS", c, customers)
	})
}

// lineWith returns the first line of out that starts with prefix, or "".
func lineWith(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/heraldhq/herald/internal/syncbuf"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
)

// The broadcast loop end to end, as a newcomer runs it: `herald serve` with
// no provider settings (sandbox mode), customers imported from a CSV with
// the CLI, a declaration with --wait, and every message checked at the
// sandbox's inbox over HTTP (/sandbox/messages). Once on SQLite, once on
// Redis.

// inboxMessage is the part of a sandbox message the tests read.
type inboxMessage struct {
	Kind    string            `json:"kind"`
	From    string            `json:"from"`
	To      string            `json:"to"`
	Subject string            `json:"subject"`
	Body    string            `json:"body"`
	Status  string            `json:"status"`
	ID      string            `json:"id"`
	Blocks  json.RawMessage   `json:"blocks"`
	Edits   int               `json:"edits"`
	Headers map[string]string `json:"headers"`
}

// inbox reads the sandbox's messages through herald's /sandbox mount.
func inbox(t *testing.T, n *instance) []inboxMessage {
	t.Helper()
	code, body := get(t, n.url+"/sandbox/messages")
	if code != http.StatusOK {
		t.Fatalf("/sandbox/messages: %d %s", code, body)
	}
	var out struct {
		Messages []inboxMessage `json:"messages"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("/sandbox/messages: %v", err)
	}
	return out.Messages
}

// to returns the messages of kind sent to addr.
func to(ms []inboxMessage, kind, addr string) []inboxMessage {
	var out []inboxMessage
	for _, m := range ms {
		if m.Kind == kind && m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

// countKind counts the messages of kind.
func countKind(ms []inboxMessage, kind string) int {
	n := 0
	for _, m := range ms {
		if m.Kind == kind {
			n++
		}
	}
	return n
}

// sandboxBase reads the in-process sandbox's API address from serve's log
// ("sandbox started … http=http://127.0.0.1:PORT").
func sandboxBase(t *testing.T, n *instance) string {
	t.Helper()
	m := regexp.MustCompile(`msg="sandbox started".* http=(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(n.log.String())
	if m == nil {
		t.Fatalf("no sandbox address in the log:\n%s", n.log)
	}
	return m[1]
}

// recipient is one imported customer and what it should get.
type recipient struct {
	id, phone, email, slack, lang string
	affected                      bool
}

// Words that only the given language's templates use.
var (
	ackSMSWord      = map[string]string{"en": "(new problem)", "hu": "(hiba történt)", "pl": "(awaria)", "hr": "imamo problem"}
	ackSubjectWord  = map[string]string{"en": "We are investigating", "hu": "Hibát vizsgálunk", "pl": "Badamy problem", "hr": "Istražujemo problem"}
	resolvedSMSWord = map[string]string{"en": "fixed", "hu": "(megoldva)", "pl": "(naprawiono)", "hr": "(otklonjeno)"}
)

func TestBroadcastEndToEnd(t *testing.T) {
	onEachEngine(t, testBroadcast)
}

func testBroadcast(t *testing.T, dir string, storeArgs []string) {
	n := startServe(t, nil, storeArgs...)
	if want := "sandbox mode: messages go to the inbox at " + n.url + "/sandbox"; !strings.Contains(n.log.String(), want) {
		t.Fatalf("serve did not say %q:\n%s", want, n.log)
	}
	token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
	mustCLI(t, env, "components", "create", "--name", "Payments")
	mustCLI(t, env, "components", "create", "--name", "Search")

	// Phones written as people write them in Hungary, Poland and Croatia;
	// the last customer uses only Search, which the incident leaves alone.
	people := []recipient{
		{"hu-1", "+36201234567", "anna@example.hu", "", "hu", true},
		{"pl-1", "+48601234567", "piotr@example.pl", "", "pl", true},
		{"hr-1", "+385912345678", "ivana@example.hr", "U0123ABCD", "hr", true},
		{"en-1", "", "John@example.com", "", "en", true}, // the domain is lower-cased, the local part kept
		{"hu-2", "+36301234567", "bela@example.hu", "", "hu", false},
	}
	good := "id,name,phone,email,slack,language,time_zone,plan,region,components\n" +
		"hu-1,Anna,+36 20 123 4567,anna@example.hu,,hu,Europe/Budapest,gold,eu,Payments\n" +
		"pl-1,Piotr,+48 601-234-567,piotr@example.pl,,pl,Europe/Warsaw,silver,eu,Payments\n" +
		"hr-1,Ivana,+385 91 234 5678,ivana@example.hr,U0123ABCD,hr,Europe/Zagreb,gold,eu,Payments;Search\n" +
		"en-1,John,,John@Example.com,,en,Europe/London,free,uk,payments\n" +
		"hu-2,Béla,+36 30 123 4567,bela@example.hu,,hu,Europe/Budapest,gold,eu,Search\n"
	bad := good + "xx-1,Broken,12345,not-an-email,,en,,gold,eu,Payments\n" +
		"ll-1,Landline,+36 1 234 5678,office@example.hu,,hu,Europe/Budapest,gold,eu,Payments\n"
	badFile, goodFile := filepath.Join(dir, "bad.csv"), filepath.Join(dir, "good.csv")
	for path, text := range map[string]string{badFile: bad, goodFile: good} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a bad row imports nothing", func(t *testing.T) {
		r := cli(t, env, "import", "customers", badFile)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "line 7: phone:") || !strings.Contains(r.stderr, "nothing was imported") {
			t.Fatalf("the bad row is not reported by line and field:\n%s", r.stderr)
		}
		// The landline beside an email would be left out, once the file
		// imports: said after the errors, not as if it had been.
		bad, note := strings.Index(r.stderr, "line 7: phone:"), strings.Index(r.stderr, "line 8: phone: note, once imported:")
		if note < 0 || note < bad {
			t.Errorf("the landline's note is missing, or comes before the error, or reads as done:\n%s", r.stderr)
		}
		if l := mustCLI(t, env, "customers", "--json"); strings.TrimSpace(l.stdout) != "[]" {
			t.Fatalf("customers after a failed import: %s", l.stdout)
		}
	})
	t.Run("the fixed file imports", func(t *testing.T) {
		r := mustCLI(t, env, "import", "customers", goodFile)
		if !strings.Contains(r.stdout, "created 5, updated 0, invalid 0") {
			t.Fatalf("import printed %q", r.stdout)
		}
		// Re-importing upserts.
		if r := mustCLI(t, env, "import", "customers", goodFile); !strings.Contains(r.stdout, "created 0, updated 5") {
			t.Fatalf("re-import printed %q", r.stdout)
		}
		var cs []audience.Customer
		if err := json.Unmarshal([]byte(mustCLI(t, env, "customers", "--json").stdout), &cs); err != nil {
			t.Fatal(err)
		}
		for _, p := range people {
			found := false
			for _, c := range cs {
				if c.ID == p.id {
					found = true
					if c.Phone != p.phone || c.Email != p.email || c.Language != p.lang {
						t.Errorf("customer %s stored as %s %s %s, want %s %s %s", p.id, c.Phone, c.Email, c.Language, p.phone, p.email, p.lang)
					}
				}
			}
			if !found {
				t.Errorf("customer %s missing", p.id)
			}
		}
	})

	// A subscriber of Payments, and a Slack incoming webhook at the sandbox.
	mustCLI(t, env, "subscribers", "add", "--email", "watcher@example.org", "--component", "Payments")
	slackHook := sandboxBase(t, n) + "/services/T000/B000/e2e"
	mustCLI(t, env, "subscribers", "add", "--slack", slackHook)
	if l := mustCLI(t, env, "subscribers"); !strings.Contains(l.stdout, "watcher@example.org") || !strings.Contains(l.stdout, "slack") {
		t.Fatalf("subscribers list: %s", l.stdout)
	}

	var id string
	t.Run("declare --wait", func(t *testing.T) {
		r := mustCLI(t, env, "declare", "-q", "--name", "Card payments fail", "--component", "Payments=major_outage",
			"--message", "Investigating.", "--wait")
		// -q: stdout is the ID alone, so INCIDENT=$(herald declare -q --wait ...) works.
		id = strings.TrimSpace(r.stdout)
		if !regexp.MustCompile(`^[0-9a-z]+\n$`).MatchString(r.stdout) {
			t.Fatalf("declare -q --wait printed more than the ID on stdout:\n%s", r.stdout)
		}
		if !regexp.MustCompile(`broadcast \w+ done: \d+ sent, \d+ delivered, 0 failed`).MatchString(r.stderr) {
			t.Fatalf("declare --wait did not end with the broadcast's summary:\n%s\n%s", r.stdout, r.stderr)
		}
		for _, want := range []string{"following broadcast", "sms", "email", "slack", "[########################]"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("progress on stderr lacks %q:\n%s", want, r.stderr)
			}
		}
		ms := inbox(t, n)
		for _, p := range people {
			sms, mail := 0, 0
			if p.phone != "" {
				got := to(ms, "sms", p.phone)
				sms = len(got)
				if p.affected && sms == 1 && !strings.Contains(got[0].Body, ackSMSWord[p.lang]) {
					t.Errorf("%s: SMS not in %s: %q", p.id, p.lang, got[0].Body)
				}
			}
			got := to(ms, "email", p.email)
			mail = len(got)
			if p.affected && mail == 1 && !strings.Contains(got[0].Subject, ackSubjectWord[p.lang]) {
				t.Errorf("%s: email not in %s: %q", p.id, p.lang, got[0].Subject)
			}
			wantSMS, wantMail := 0, 0
			if p.affected {
				wantMail = 1
				if p.phone != "" {
					wantSMS = 1
				}
			}
			if sms != wantSMS || mail != wantMail {
				t.Errorf("%s (affected %v): %d SMS and %d emails, want %d and %d", p.id, p.affected, sms, mail, wantSMS, wantMail)
			}
		}
		if got := to(ms, "slack", "U0123ABCD"); len(got) != 1 {
			t.Errorf("Slack member of an affected customer got %d messages, want 1", len(got))
		}
		if got := to(ms, "email", "watcher@example.org"); len(got) != 1 {
			t.Errorf("the Payments subscriber got %d emails, want 1", len(got))
		}
		// The incident channel's live message is herald's own, not the customers'.
		if got := countKind(ms, "slack") - len(to(ms, "slack", node.SandboxIncidentChannel)); got != 2 {
			t.Errorf("%d Slack messages, want 2 (a member and an incoming webhook)", got)
		}
	})
	if id == "" {
		t.FailNow()
	}

	t.Run("progress counts", func(t *testing.T) {
		var ps []queue.Progress
		if err := json.Unmarshal([]byte(mustCLI(t, env, "broadcast", "list", id, "--json").stdout), &ps); err != nil {
			t.Fatal(err)
		}
		if len(ps) != 1 {
			t.Fatalf("%d broadcasts, want 1", len(ps))
		}
		p := ps[0]
		want := map[channel.Kind]int{channel.SMS: 3, channel.Email: 5, channel.Slack: 2}
		for k, n := range want {
			c := tallyOf(p.Counts[k])
			if got := c.sent + c.delivered; got != n || c.open != 0 || c.failed != 0 {
				t.Errorf("%s: %d sent or delivered, %d open, %d failed; want %d, 0, 0 (%v)", k, got, c.open, c.failed, n, p.Counts)
			}
		}
		if l := mustCLI(t, env, "broadcast", "list", id); !strings.Contains(l.stdout, "declared") ||
			!strings.HasPrefix(l.stdout, `"Card payments fail" (`+id+", investigating): 1 broadcast\n") ||
			!regexp.MustCompile(`declared +done +.* 10: (3 delivered, 7 sent|10 sent)\n`).MatchString(l.stdout) {
			t.Errorf("broadcast list does not name the incident, or its counts do not add up:\n%s", l.stdout)
		}
		checkFits(t, env, "broadcast", "list", id)
		// The first message has one word in both lists: "declared".
		d := mustCLI(t, env, "customers", "deliveries", "hu-1")
		if strings.Count(d.stdout, " declared ") != 2 || strings.Contains(d.stdout, " ack ") {
			t.Errorf("hu-1's deliveries should list the declared SMS and email:\n%s", d.stdout)
		}
		checkFits(t, env, "customers", "deliveries", "hu-1")
		// At 60 columns the kind of message stays (it tells the rows
		// apart), not the provider's word for a success ("250 2.0.0 OK").
		narrow := mustCLI(t, map[string]string{"HERALD_URL": env["HERALD_URL"], "HERALD_TOKEN": env["HERALD_TOKEN"], "COLUMNS": "60"}, "customers", "deliveries", "hu-1").stdout
		if !strings.Contains(narrow, "KIND") || strings.Contains(narrow, "250 ") {
			t.Errorf("hu-1's deliveries at 60 columns: want KIND kept and no SMTP success text:\n%s", narrow)
		}
		// Components by name, not ID.
		if show := mustCLI(t, env, "customers", "show", "hr-1").stdout; !regexp.MustCompile(`components:\s+Payments, Search`).MatchString(show) {
			t.Errorf("customers show: %s", show)
		}
		if l := mustCLI(t, env, "subscribers").stdout; !strings.Contains(l, "Payments") {
			t.Errorf("subscribers lists components by ID:\n%s", l)
		}
	})

	t.Run("update is email only", func(t *testing.T) {
		before := inbox(t, n)
		mustCLI(t, env, "update", id, "--status", "identified", "--message", "A bad deploy; rolling back.", "--wait")
		after := inbox(t, n)
		if got := countKind(after, "sms") - countKind(before, "sms"); got != 0 {
			t.Errorf("an update sent %d SMS; the default policy sends none", got)
		}
		if got := countKind(after, "email") - countKind(before, "email"); got != 5 {
			t.Errorf("an update sent %d emails, want 5", got)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		r := mustCLI(t, env, "broadcast", "dry-run", id, "--kind", "resolved")
		for _, want := range []string{"sms      3", "email    5", "estimated cost", "--- sms, hu ---", "--- email, pl ---"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("dry run lacks %q:\n%s", want, r.stdout)
			}
		}
		// The help lists the kinds the server takes, compensation too.
		help := mustCLI(t, env, "broadcast", "dry-run", "-h")
		if want := "declared, updated, resolved, scheduled, started, completed, compensation\n"; !strings.Contains(help.stdout+help.stderr, want) {
			t.Errorf("dry-run -h does not list the kinds %q:\n%s", want, help.stdout+help.stderr)
		}
	})

	t.Run("an unknown broadcast is called a broadcast", func(t *testing.T) {
		for _, verb := range []string{"watch", "cancel"} {
			r := cli(t, env, "broadcast", verb, "nosuch")
			if r.code != 1 || !strings.Contains(r.stderr, `broadcast "nosuch" not found`) || strings.Contains(r.stderr, "plan") {
				t.Errorf("broadcast %s nosuch: exit %d\n%s", verb, r.code, r.stderr)
			}
		}
	})

	t.Run("resolve --wait apologises", func(t *testing.T) {
		before := inbox(t, n)
		r := mustCLI(t, env, "resolve", id, "--message", "Payments work again.", "--wait")
		if !strings.Contains(r.stderr, "done") {
			t.Fatalf("resolve --wait: %s", r.stderr)
		}
		after := inbox(t, n)
		if got := countKind(after, "sms") - countKind(before, "sms"); got != 3 {
			t.Errorf("resolve sent %d SMS, want 3", got)
		}
		if got := countKind(after, "email") - countKind(before, "email"); got != 5 {
			t.Errorf("resolve sent %d emails, want 5", got)
		}
		for _, p := range people {
			if !p.affected || p.phone == "" {
				continue
			}
			got := to(after, "sms", p.phone)
			if len(got) != 2 || !strings.Contains(got[0].Body, resolvedSMSWord[p.lang]) { // newest first
				t.Errorf("%s: want the ack and an apology in %s, got %v", p.id, p.lang, got)
			}
		}
		if got := to(after, "sms", "+36301234567"); len(got) != 0 {
			t.Errorf("the unaffected customer got %d SMS", len(got))
		}
	})

	t.Run("cancelling a broadcast that has gone out says so", func(t *testing.T) {
		last := strings.TrimSpace(mustCLI(t, env, "broadcast", "list", "-q", id).stdout)
		last = last[strings.LastIndex(last, "\n")+1:]
		if r := mustCLI(t, env, "broadcast", "cancel", last); !strings.Contains(r.stdout, "nothing left to cancel") || strings.Contains(r.stdout, "cancelled ") {
			t.Errorf("broadcast cancel %s: %q", last, r.stdout)
		}
	})

	t.Run("resolving again is refused and sends nothing", func(t *testing.T) {
		before := inbox(t, n)
		r := cli(t, env, "resolve", id, "--message", "Still fine.")
		if r.code != 1 || !strings.Contains(r.stderr, "already resolved") || !strings.Contains(r.stderr, "herald update "+id) {
			t.Fatalf("a second resolve: exit %d, stderr %q; want 1, naming update", r.code, r.stderr)
		}
		if after := inbox(t, n); len(after) != len(before) {
			t.Errorf("a refused resolve sent %d messages", len(after)-len(before))
		}
	})
}

// TestConfiguredProviders runs serve with only Twilio configured, pointed
// at a sandbox the test runs (as a production herald points at Twilio):
// SMS goes there, email (no SMTP configured) fails at once with a reason
// that names the settings, and no inbox is served.
func TestConfiguredProviders(t *testing.T) {
	sb, err := sandbox.Start(context.Background(), sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	dir := t.TempDir()
	env := map[string]string{"HERALD_TWILIO_API_URL": sb.TwilioURL(), "HERALD_TWILIO_ACCOUNT_SID": sb.Config().AccountSID,
		"HERALD_TWILIO_AUTH_TOKEN": sb.Config().AuthToken, "HERALD_TWILIO_FROM": "+15005550006"}
	n := startServe(t, env, "--data", dir)
	if strings.Contains(n.log.String(), "sandbox mode") {
		t.Fatalf("sandbox mode with Twilio configured:\n%s", n.log)
	}
	if code, _ := get(t, n.url+"/sandbox/messages"); code != http.StatusNotFound {
		t.Errorf("/sandbox/messages: %d, want 404 with real providers", code)
	}
	token := mustCLI(t, nil, "token", "create", "--role", "admin", "--data", dir).lastLine()
	cenv := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
	mustCLI(t, cenv, "components", "create", "--name", "Payments")
	file := filepath.Join(dir, "c.json")
	if err := os.WriteFile(file, []byte(`[{"id":"a","phone":"+36201234567","email":"a@example.com","language":"hu","components":"Payments"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, cenv, "import", "customers", file)
	r := mustCLI(t, cenv, "declare", "--name", "Down", "--component", "Payments=major_outage", "--wait")
	if !strings.Contains(r.stderr, "1 failed") || !strings.Contains(r.stderr, "no email provider configured") {
		t.Errorf("the email without a provider should fail with a reason:\n%s\n%s", r.stdout, r.stderr)
	}
	if got := sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: "+36201234567"}); len(got) != 1 {
		t.Errorf("the configured Twilio got %d SMS, want 1", len(got))
	}
	var ds []queue.Delivery
	if err := json.Unmarshal([]byte(mustCLI(t, cenv, "customers", "deliveries", "a", "--json").stdout), &ds); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Kind == channel.Email && (d.State != queue.StateFailed || d.ErrorCode != "not_configured" || !strings.Contains(d.Reason, "HERALD_SMTP_ADDR")) {
			t.Errorf("email delivery: %s %s %q", d.State, d.ErrorCode, d.Reason)
		}
	}
}

func TestSandboxCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"herald", "sandbox", "--addr", "127.0.0.1:0", "--smtp", "127.0.0.1:0", "--fail-rate", "0"},
			envMap(nil), strings.NewReader(""), out, errOut)
	}()
	var vars map[string]string
	eventually(t, 10*time.Second, func() (bool, string) {
		vars = map[string]string{}
		for _, l := range strings.Split(out.String(), "\n") {
			if k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "="); ok && strings.HasPrefix(l, "export ") {
				vars[k] = strings.Trim(v, "'")
			}
		}
		return vars["HERALD_SLACK_TOKEN"] != "", out.String() + errOut.String()
	})
	for _, k := range []string{"HERALD_TWILIO_API_URL", "HERALD_TWILIO_ACCOUNT_SID", "HERALD_TWILIO_AUTH_TOKEN", "HERALD_TWILIO_FROM",
		"HERALD_SMTP_ADDR", "HERALD_SMTP_TLS", "HERALD_SLACK_API_URL", "HERALD_SLACK_TOKEN"} {
		if vars[k] == "" {
			t.Errorf("herald sandbox did not print %s:\n%s", k, out)
		}
	}
	// The printed variables make a valid configured-provider setup.
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	if _, err := newConfigFlags(fs).load(envMap(vars)); err != nil {
		t.Errorf("the printed environment does not load: %v", err)
	}
	code, _ := get(t, vars["HERALD_TWILIO_API_URL"]+"/sandbox/messages")
	if code != http.StatusOK {
		t.Errorf("the sandbox inbox answers %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("herald sandbox returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("herald sandbox did not stop")
	}
}

// TestLostReceiptsReconciled: Twilio's final status callbacks never come
// (the sandbox drops them all), so every SMS would stay "sent"; herald
// looks the messages up at Twilio once reconcile_after has passed and
// ends them delivered, on each engine.
func TestLostReceiptsReconciled(t *testing.T) {
	onEachEngine(t, func(t *testing.T, dir string, storeArgs []string) {
		sb, err := sandbox.Start(context.Background(), sandbox.Config{Faults: sandbox.Faults{DropReceipts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sb.Close() })
		env := map[string]string{"HERALD_TWILIO_API_URL": sb.TwilioURL(), "HERALD_TWILIO_ACCOUNT_SID": sb.Config().AccountSID,
			"HERALD_TWILIO_AUTH_TOKEN": sb.Config().AuthToken, "HERALD_TWILIO_FROM": "+15005550006", "HERALD_RECONCILE_AFTER": "1s"}
		n := startServe(t, env, storeArgs...)
		token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
		cenv := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
		mustCLI(t, cenv, "components", "create", "--name", "Payments")
		var csv strings.Builder
		csv.WriteString("id,phone,language,components\n")
		const customers = 20
		for i := range customers {
			fmt.Fprintf(&csv, "c%d,+3620555%04d,hu,Payments\n", i, i)
		}
		file := filepath.Join(dir, "c.csv")
		if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		mustCLI(t, cenv, "import", "customers", file)
		id := strings.TrimSpace(mustCLI(t, cenv, "declare", "-q", "--name", "Down", "--component", "Payments=major_outage", "--wait").stdout)
		var list []struct {
			ID string `json:"broadcast_id"`
		}
		var pages []struct {
			ID string `json:"id"`
		}
		if code, _ := apiDo(t, n, token, "GET", "/v1/pages", nil, &pages); code != 200 || len(pages) != 1 {
			t.Fatalf("GET /v1/pages: %d", code)
		}
		if code, _ := apiDo(t, n, token, "GET", "/api/v1/pages/"+pages[0].ID+"/incidents/"+id+"/broadcasts", nil, &list); code != 200 || len(list) != 1 {
			t.Fatalf("broadcasts: %d %v", code, list)
		}
		eventually(t, 20*time.Second, func() (bool, string) {
			var p struct {
				Counts map[string]map[string]int `json:"counts"`
			}
			code, _ := apiDo(t, n, token, "GET", "/api/v1/broadcasts/"+list[0].ID, nil, &p)
			return code == 200 && p.Counts["sms"]["delivered"] == customers, fmt.Sprintf("%d %v", code, p.Counts)
		})
		if !strings.Contains(n.log.String(), "SMS statuses reconciled from the provider") {
			t.Errorf("the log does not say the statuses were looked up:\n%s", n.log)
		}
	})
}

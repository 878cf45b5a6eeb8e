package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/node"
)

// The compensation loop end to end, as the issue walks it: an incident
// declared; management says compensation is coming, and the agents' Slack
// channel (the sandbox's) and the agents' live feed both hear it; the
// policy is decided and the same Slack message is edited in place; agents
// check customers and record grants; the incident resolves and each
// customer's apology carries their line in their language; the billing
// export lists exactly the grants.

// feed reads the agents' server-sent events into events, until the test ends.
func feed(t *testing.T, url, token string) <-chan [2]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/agent/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent events: %d", resp.StatusCode)
	}
	out := make(chan [2]string, 64)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		name := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				select {
				case out <- [2]string{name, strings.TrimPrefix(line, "data: ")}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// next returns the next event of the feed named name, skipping others.
func next(t *testing.T, evs <-chan [2]string, name string) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev := <-evs:
			if ev[0] == name {
				return ev[1]
			}
		case <-timeout:
			t.Fatalf("no %q event on the agents' feed within 15s", name)
		}
	}
}

func agentsMessages(t *testing.T, n *instance) []inboxMessage {
	return to(inbox(t, n), "slack", node.SandboxAgentChannel)
}

func TestCompensationEndToEnd(t *testing.T) {
	onEachEngine(t, testCompensation)
}

func testCompensation(t *testing.T, dir string, storeArgs []string) {
	n := startServe(t, nil, storeArgs...)
	admin := mustCLI(t, nil, append([]string{"token", "create", "--role", "manager", "--name", "Mia"}, storeArgs...)...).lastLine()
	agentToken := mustCLI(t, nil, append([]string{"token", "create", "--role", "agent", "--name", "Ana"}, storeArgs...)...).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": admin}
	agent := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": agentToken}
	mustCLI(t, env, "components", "create", "--name", "Payments")
	mustCLI(t, env, "components", "create", "--name", "Search")
	file := filepath.Join(dir, "customers.csv")
	if err := os.WriteFile(file, []byte("id,name,phone,email,language,plan,region,components\n"+
		"hu-1,Anna,+36201234567,anna@example.hu,hu,gold,eu,Payments\n"+
		"pl-1,Jan,+48601234567,jan@example.pl,pl,silver,eu,Payments\n"+
		"en-1,Sam,+14155550100,sam@example.com,en,bronze,us,Payments\n"+
		"hr-1,Ivo,+385911234567,ivo@example.hr,hr,gold,eu,Search\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, env, "import", "customers", file)
	id := strings.TrimSpace(mustCLI(t, env, "declare", "-q", "--name", "Card payments fail", "--component", "Payments=major_outage",
		"--message", "Investigating.", "--wait").stdout)
	evs := feed(t, n.url, agentToken)
	if snap := next(t, evs, "snapshot"); !strings.Contains(snap, `"decisions":[]`) {
		t.Errorf("snapshot before any decision: %s", snap)
	}

	t.Run("an agent cannot decide", func(t *testing.T) {
		r := cli(t, agent, "compensation", "decide", id, "--state", "coming")
		if r.code != 1 || !strings.Contains(r.stderr, "forbidden") {
			t.Fatalf("agent decide: exit %d, %s", r.code, r.stderr)
		}
	})

	var ts string
	t.Run("coming reaches the agents' Slack channel and their feed", func(t *testing.T) {
		mustCLI(t, env, "compensation", "decide", id, "--state", "coming", "--reason", "Decision by 18:00 today")
		var ev struct {
			IncidentID string                `json:"incident_id"`
			Decision   compensation.Decision `json:"decision"`
			Summary    string                `json:"summary"`
		}
		if err := json.Unmarshal([]byte(next(t, evs, "compensation")), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.IncidentID != id || ev.Decision.State != compensation.Coming || !strings.Contains(ev.Summary, "none_yet → coming") {
			t.Errorf("feed event %+v", ev)
		}
		eventually(t, 15*time.Second, func() (bool, string) {
			ms := agentsMessages(t, n)
			if len(ms) != 1 {
				return false, "want one message in the agents' channel"
			}
			ts = ms[0].ID
			return strings.Contains(string(ms[0].Blocks), "COMING") && strings.Contains(string(ms[0].Blocks), "Decision by 18:00 today"), string(ms[0].Blocks)
		})
	})

	t.Run("an update says compensation is being decided", func(t *testing.T) {
		mustCLI(t, env, "update", id, "--status", "identified", "--message", "A faulty deploy.", "--wait")
		eventually(t, 15*time.Second, func() (bool, string) {
			got := to(inbox(t, n), "email", "sam@example.com")
			if len(got) == 0 || !strings.Contains(got[0].Body, "A faulty deploy.") {
				return false, "no update email yet"
			}
			return strings.Contains(got[0].Body, "Compensation for this disruption is being decided"), got[0].Body
		})
		// The manager is reminded that customers now wait to hear what.
		if out := mustCLI(t, env, "compensation", "show", id).stdout; !strings.Contains(out, "customers: told compensation is coming (") {
			t.Errorf("show after an update told customers compensation is coming:\n%s", out)
		}
	})

	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"currency": "EUR",
	  "plan_fees": {"gold": {"amount": 4999, "currency": "EUR"}, "silver": {"amount": 1999, "currency": "EUR"}},
	  "offers": [{"id": "credit10", "kind": "credit", "percent_bp": 1000},
	             {"id": "refund", "kind": "refund", "amount": {"amount": 500, "currency": "EUR"}},
	             {"id": "day", "kind": "free_period", "days": 1}],
	  "choices": [{"id": "sorry", "offers": ["refund", "day"]}],
	  "rules": [{"id": "paying", "plans": ["gold", "silver"], "components": ["Payments"], "give": ["credit10"]},
	            {"id": "all", "components": ["Payments"], "give": ["sorry"]}],
	  "exclude": ["not_affected"]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("the decided policy edits the same Slack message", func(t *testing.T) {
		out := mustCLI(t, env, "compensation", "decide", id, "--state", "decided", "--policy", policy)
		if !strings.Contains(out.stdout, "rule paying") || !strings.Contains(out.stdout, "affected on Payments") ||
			!strings.Contains(out.stdout, "state changed: COMING: being decided → DECIDED") || strings.Contains(out.stdout, "coming →") {
			t.Errorf("decide printed:\n%s", out.stdout)
		}
		if ev := next(t, evs, "compensation"); !strings.Contains(ev, `"state":"decided"`) || !strings.Contains(ev, "offer credit10 added") {
			t.Errorf("feed: %s", ev)
		}
		eventually(t, 15*time.Second, func() (bool, string) {
			ms := agentsMessages(t, n)
			if len(ms) != 1 {
				return false, "want still one message in the agents' channel"
			}
			return ms[0].ID == ts && ms[0].Edits == 1 && strings.Contains(string(ms[0].Blocks), "DECIDED") &&
				strings.Contains(string(ms[0].Blocks), "What changed"), string(ms[0].Blocks)
		})
	})

	var grants []string
	t.Run("agents check customers and record grants", func(t *testing.T) {
		out := mustCLI(t, agent, "compensation", "check", id, "hu-1", "--lang", "hu")
		for _, want := range []string{"eligible:", "yes", "5.00 EUR", "Ajánlja fel", "havidíja 10%-ának (5,00 EUR) megfelelő jóváírást"} {
			if !strings.Contains(out.stdout, want) {
				t.Errorf("check hu-1 lacks %q:\n%s", want, out.stdout)
			}
		}
		if out := mustCLI(t, agent, "compensation", "check", id, "--phone", "+385 91 123 4567"); !strings.Contains(out.stdout, "no: excluded (not affected)") {
			t.Errorf("check hr-1 by phone:\n%s", out.stdout)
		}
		g := mustCLI(t, agent, "compensation", "grant", id, "hu-1", "--offer", "credit10", "--json")
		var ans struct {
			Grant   compensation.Grant `json:"grant"`
			Created bool               `json:"created"`
		}
		if err := json.Unmarshal([]byte(g.stdout), &ans); err != nil || !ans.Created || ans.Grant.Amount != (compensation.Money{Amount: 500, Currency: "EUR"}) {
			t.Fatalf("grant: %v %s", err, g.stdout)
		}
		grants = append(grants, ans.Grant.ID)
		// A retried request grants once, and says who recorded it and when.
		if again := mustCLI(t, agent, "compensation", "grant", id, "hu-1", "--offer", "credit10"); !strings.Contains(again.stdout, "nothing new") ||
			!strings.Contains(again.stdout, "already recorded by "+ans.Grant.By+" at "+ans.Grant.At.UTC().Format("2006-01-02 15:04")) || ans.Grant.By == "" {
			t.Errorf("retried grant: %s", again.stdout)
		}
		if r := cli(t, agent, "compensation", "grant", id, "hr-1", "--offer", "sorry", "--choice", "day"); r.code != 1 || !strings.Contains(r.stderr, "not_affected") {
			t.Errorf("grant to an unaffected customer: exit %d %s", r.code, r.stderr)
		}
		d := mustCLI(t, agent, "compensation", "grant", id, "pl-1", "--offer", "sorry", "--declined", "--json")
		if err := json.Unmarshal([]byte(d.stdout), &ans); err != nil || !ans.Grant.Declined {
			t.Fatalf("decline: %v %s", err, d.stdout)
		}
		grants = append(grants, ans.Grant.ID)
	})

	t.Run("the apology carries each customer's line in their language", func(t *testing.T) {
		mustCLI(t, env, "resolve", id, "--message", "Payments work again.", "--wait")
		want := map[string]string{
			"anna@example.hu": "Bocsánatkérésünk jeléül",                      // hu-1: credit granted already; the choice remains
			"jan@example.pl":  "10% miesięcznej opłaty (2,00 EUR)",            // pl-1: declined the choice; the credit remains
			"sam@example.com": "you may choose a refund of 5.00 EUR or 1 day", // en-1, bronze: the choice only
		}
		eventually(t, 20*time.Second, func() (bool, string) {
			ms := inbox(t, n)
			for addr, line := range want {
				got := to(ms, "email", addr)
				if len(got) == 0 || !strings.Contains(got[0].Body, line) {
					return false, addr + " has no resolution email with " + line
				}
			}
			hr := to(ms, "email", "ivo@example.hr")
			for _, m := range hr {
				if strings.Contains(m.Body, "Naknada") || strings.Contains(m.Body, "naknad") {
					return false, "the unaffected customer's email speaks of compensation: " + m.Body
				}
			}
			return true, ""
		})
		if hu := to(inbox(t, n), "email", "anna@example.hu")[0].Body; strings.Contains(hu, "jóváírás") {
			t.Errorf("the granted credit is announced again:\n%s", hu)
		}
	})

	t.Run("export lists exactly the grants", func(t *testing.T) {
		out := mustCLI(t, env, "compensation", "export", id)
		rows, err := csv.NewReader(strings.NewReader(out.stdout)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1+len(grants) || rows[0][0] != "grant_id" {
			t.Fatalf("export:\n%s", out.stdout)
		}
		byID := map[string][]string{}
		for _, row := range rows[1:] {
			byID[row[0]] = row
		}
		for _, gid := range grants {
			if byID[gid] == nil {
				t.Errorf("grant %s is not in the export", gid)
			}
		}
		if row := byID[grants[0]]; row == nil || row[2] != "hu-1" || row[7] != "5.00" || row[9] != "EUR" || !strings.HasPrefix(row[15], "Ana") {
			t.Errorf("hu-1's row %v", row)
		}
		if r := cli(t, agent, "compensation", "export", id); r.code != 1 || !strings.Contains(r.stderr, "forbidden") {
			t.Errorf("an agent exports: exit %d %s", r.code, r.stderr)
		}
		tot := mustCLI(t, env, "compensation", "totals", id, "--json")
		var totals compensation.Totals
		if err := json.Unmarshal([]byte(tot.stdout), &totals); err != nil {
			t.Fatal(err)
		}
		if totals.Customers != 4 || totals.Affected != 3 || totals.Eligible != 3 || totals.Declined != 1 || totals.Cost["EUR"] != 500 {
			t.Errorf("totals %+v", totals)
		}
	})

	t.Run("a decision after the apology is announced on its own", func(t *testing.T) {
		amended := strings.Replace(mustRead(t, policy), `"give": ["sorry"]}`, `"give": ["sorry", "week"]}`, 1)
		amended = strings.Replace(amended, `{"id": "day", "kind": "free_period", "days": 1}]`,
			`{"id": "day", "kind": "free_period", "days": 1}, {"id": "week", "kind": "free_period", "days": 7}]`, 1)
		if !strings.Contains(amended, `"week"`) {
			t.Fatalf("the amendment did not apply:\n%s", amended)
		}
		if err := os.WriteFile(policy, []byte(amended), 0o600); err != nil {
			t.Fatal(err)
		}
		if out := mustCLI(t, env, "compensation", "show", id).stdout; !strings.Contains(out, "customers: told of this decision (in the all-clear message") {
			t.Errorf("show before the amendment does not say the all-clear told customers:\n%s", out)
		}
		mustCLI(t, env, "compensation", "decide", id, "--state", "decided", "--policy", policy)
		if out := mustCLI(t, env, "compensation", "show", id).stdout; !strings.Contains(out, "not of the change since: herald compensation announce "+id) {
			t.Errorf("show after the amendment does not say customers have not heard of it:\n%s", out)
		}
		dry := mustCLI(t, env, "compensation", "announce", id, "--dry-run")
		// hu-1, pl-1 and en-1 are owed the week; hr-1 was not affected.
		if !emailRecipients.MatchString(dry.stdout) || !strings.Contains(dry.stdout, "7 days of service free of charge") {
			t.Errorf("dry run:\n%s", dry.stdout)
		}
		m := regexp.MustCompile(`This is decision version (\d+)\. To send exactly it: herald compensation announce ` + id + ` --version (\d+)`).FindStringSubmatch(dry.stdout)
		if m == nil || m[1] != m[2] {
			t.Fatalf("the dry run does not name the version it shows:\n%s", dry.stdout)
		}
		// A version the manager did not read is refused, and sends nothing.
		before := len(to(inbox(t, n), "email", "sam@example.com"))
		if r := cli(t, env, "compensation", "announce", id, "--version", "1"); r.code != 1 || !strings.Contains(r.stderr, "the decision is at version "+m[1]+", not the version 1 you read") {
			t.Errorf("announcing a stale version: exit %d %s", r.code, r.stderr)
		}
		mustCLI(t, env, "compensation", "announce", id, "--version", m[1])
		eventually(t, 20*time.Second, func() (bool, string) {
			got := to(inbox(t, n), "email", "sam@example.com")
			if len(got) <= before {
				return false, "no announcement email yet"
			}
			return strings.Contains(got[0].Subject, `Compensation for the disruption "Card payments fail"`) && strings.Contains(got[0].Body, "7 days of service free of charge"), got[0].Subject + "\n" + got[0].Body
		})
		// The amended offer replaces the earlier one; Anna, granted a
		// credit already, is told she keeps it; Sam, granted nothing, is not.
		if got := to(inbox(t, n), "email", "sam@example.com")[0].Body; !strings.Contains(got, "This replaces any earlier offer") || strings.Contains(got, "stays yours") {
			t.Errorf("Sam's announcement:\n%s", got)
		}
		eventually(t, 20*time.Second, func() (bool, string) {
			got := to(inbox(t, n), "email", "anna@example.hu")
			if len(got) == 0 {
				return false, "no email to Anna"
			}
			return strings.Contains(got[0].Body, "az Öné marad"), "Anna's newest email: " + got[0].Body
		})
		if out := mustCLI(t, env, "compensation", "show", id).stdout; !strings.Contains(out, "customers: told of this decision (announced") {
			t.Errorf("show after the announcement:\n%s", out)
		}
		if r := cli(t, env, "compensation", "announce", id); r.code != 1 || !strings.Contains(r.stderr, "already announced") {
			t.Errorf("announcing the same version twice: exit %d %s", r.code, r.stderr)
		}
		eventually(t, 15*time.Second, func() (bool, string) {
			ms := agentsMessages(t, n)
			return len(ms) == 1 && ms[0].Edits == 2 && strings.Contains(string(ms[0].Blocks), "offer week added"),
				fmt.Sprintf("the agents' channel after the amendment: %+v", ms)
		})
	})
}

// emailRecipients finds "email  3  0" in a dry run's table.
var emailRecipients = regexp.MustCompile(`(?m)^email\s+3\s+0\s*$`)

func mustRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCompensationAmendmentThatLowers is the walk with the CLI: version 2
// gives 10 % and a choice of a 5.00 EUR refund or a day, capped at 10 EUR;
// Őrs is granted the 10 %; the all-clear tells both. Version 3 gives 15 %:
// decide refuses it, saying the refund falls to 2.50 EUR because of the
// cap, until --accept-lower; then decide and the announcement's dry run
// list it and Őrs's top-up, and check tells the agent he is owed it.
func TestCompensationAmendmentThatLowers(t *testing.T) {
	dir := t.TempDir()
	n := startServe(t, nil, "--data", dir)
	token := mustCLI(t, nil, "token", "create", "--role", "manager", "--name", "Mia", "--data", dir).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
	mustCLI(t, env, "components", "create", "--name", "Payments")
	file := filepath.Join(dir, "customers.csv")
	if err := os.WriteFile(file, []byte("id,name,phone,email,language,plan,region,components\n"+
		"john,John,+36207654321,john@example.com,en,gold,eu,Payments\n"+
		"ors,Őrs,+36201234567,ors@example.hu,en,gold,eu,Payments\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, env, "import", "customers", file)
	id := strings.TrimSpace(mustCLI(t, env, "declare", "-q", "--name", "Payments are failing", "--component", "Payments=major_outage",
		"--message", "Investigating.", "--wait").stdout)
	policy := func(percent string) string {
		name := filepath.Join(dir, "policy"+percent+".json")
		if err := os.WriteFile(name, []byte(`{"currency": "EUR", "plan_fees": {"gold": {"amount": 5000, "currency": "EUR"}},
 "offers": [{"id": "credit10", "kind": "credit", "percent_bp": `+percent+`},
            {"id": "refund", "kind": "refund", "amount": {"amount": 500, "currency": "EUR"}},
            {"id": "day", "kind": "free_period", "days": 1}],
 "choices": [{"id": "sorry", "offers": ["refund", "day"]}],
 "rules": [{"id": "paying", "plans": ["gold"], "components": ["Payments"], "give": ["credit10"]},
           {"id": "everyone", "components": ["Payments"], "give": ["sorry"]}],
 "cap": {"amount": 1000, "currency": "EUR"}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	mustCLI(t, env, "compensation", "decide", id, "--state", "decided", "--policy", policy("1000"))
	mustCLI(t, env, "compensation", "grant", id, "ors", "--offer", "credit10")
	mustCLI(t, env, "resolve", id, "--message", "Payments work again.")

	lowered := "refund for 2 customers falls 5.00 → 2.50 EUR because of the cap (told in the all-clear message, version 1): john, ors"
	r := cli(t, env, "compensation", "decide", id, "--state", "decided", "--policy", policy("1500"))
	if r.code != 1 || !strings.Contains(r.stdout, lowered) || !strings.Contains(r.stderr, "--accept-lower") {
		t.Fatalf("an amendment that lowers the refund: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if out := mustCLI(t, env, "compensation", "show", id).stdout; !strings.Contains(out, "version:         1,") {
		t.Errorf("the refused amendment was saved:\n%s", out)
	}
	topUp := "credit10 (credit) for 1 customer already granted 5.00 EUR: owed a top-up of 2.50 EUR (now 7.50 EUR): ors"
	out := mustCLI(t, env, "compensation", "decide", id, "--state", "decided", "--policy", policy("1500"), "--accept-lower").stdout
	if !strings.Contains(out, lowered) || !strings.Contains(out, topUp) {
		t.Errorf("decide --accept-lower does not say what it did:\n%s", out)
	}
	dry := mustCLI(t, env, "compensation", "announce", id, "--dry-run").stdout
	if !strings.Contains(dry, lowered) || !strings.Contains(dry, topUp) || !strings.Contains(dry, "a further credit of 2.50 EUR") &&
		!strings.Contains(dry, "15 % of your monthly fee (7.50 EUR)") {
		t.Errorf("the dry run does not list the effects:\n%s", dry)
	}
	orsCheck := mustCLI(t, env, "compensation", "check", id, "ors").stdout
	if !strings.Contains(orsCheck, "[granted 5.00 EUR; owed a top-up of 2.50 EUR]") ||
		!strings.Contains(orsCheck, "Owed a top-up of 2.50 EUR") {
		t.Errorf("check does not tell the agent of Őrs's top-up:\n%s", orsCheck)
	}
	// check says the command that records what was read out: the top-up,
	// at the version and the amount it shows.
	if want := "herald compensation grant " + id + ` ors --offer credit10 --version 2 --amount "2.50 EUR"`; !strings.Contains(orsCheck, want) {
		t.Errorf("check does not say %s:\n%s", want, orsCheck)
	}
	// An agent who read version 1 out to the customer records nothing at
	// version 2's amount.
	if r := cli(t, env, "compensation", "grant", id, "john", "--offer", "credit10", "--version", "1"); r.code != 1 ||
		!strings.Contains(r.stderr, "the decision is at version 2, not the version 1") {
		t.Errorf("a grant read at version 1: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, env, "compensation", "grant", id, "john", "--offer", "credit10", "--version", "-1"); r.code != 2 {
		t.Errorf("--version -1: exit %d, want 2\n%s", r.code, r.stderr)
	}
	// The command check prints for John's credit, run as printed.
	johnCheck := mustCLI(t, env, "compensation", "check", id, "john").stdout
	credit := grantCommand(t, johnCheck, "john --offer credit10 ")
	if want := []string{"--version", "2", "--amount", "7.50 EUR"}; !slices.Equal(credit[len(credit)-4:], want) {
		t.Errorf("check's command for John's credit %q, want it to end in %q:\n%s", credit, want, johnCheck)
	}
	for _, declined := range []string{"john --offer credit10 --declined --version 2", "john --offer sorry --declined --version 2"} {
		if !strings.Contains(johnCheck, declined) {
			t.Errorf("check does not say how to record %q:\n%s", declined, johnCheck)
		}
	}
	if out := mustCLI(t, env, append(credit, "--key", "call-1")...).stdout; !strings.Contains(out, "7.50 EUR") {
		t.Errorf("a grant read at version 2:\n%s", out)
	}
	// The key is that call's: for Őrs it records nothing.
	if r := cli(t, env, "compensation", "grant", id, "ors", "--offer", "credit10", "--key", "call-1"); r.code != 1 ||
		!strings.Contains(r.stderr, "another customer") || !strings.Contains(r.stderr, "idempotency_key, HTTP 422") {
		t.Errorf("a key reused for another customer: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(mustCLI(t, env, "compensation", "check", id, "john").stdout, "--offer credit10") {
		t.Errorf("check offers John's credit again once granted")
	}
	// An agent who read out a 5.00 EUR refund, when the credit has left
	// 2.50 EUR of the cap, records nothing and is told the amount in force.
	if r := cli(t, env, "compensation", "grant", id, "john", "--offer", "sorry", "--choice", "refund", "--version", "2", "--amount", "5.00 EUR"); r.code != 1 ||
		!strings.Contains(r.stderr, "would record 2.50 EUR, not the 5.00 EUR shown") {
		t.Errorf("a grant of the 5.00 EUR read out: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if out := mustCLI(t, env, "compensation", "export", id).stdout; strings.Count(out, ",john,") != 1 {
		t.Errorf("the refused refund was recorded:\n%s", out)
	}
	if r := cli(t, env, "compensation", "grant", id, "john", "--offer", "sorry", "--choice", "refund", "--amount", "2.50"); r.code != 2 || !strings.Contains(r.stderr, "--amount") {
		t.Errorf("--amount without a currency: exit %d, want 2\n%s", r.code, r.stderr)
	}
	if out := mustCLI(t, env, "compensation", "grant", id, "john", "--offer", "sorry", "--choice", "refund", "--version", "2", "--amount", "2.50 EUR").stdout; !strings.Contains(out, "refund of 2.50 EUR") {
		t.Errorf("a grant of the 2.50 EUR read out:\n%s", out)
	}
}

// grantCommand returns the arguments of the compensation grant command
// check printed with want in it (not a decline), as a POSIX shell would
// split it: the words, and "…" as one.
func grantCommand(t *testing.T, out, want string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "herald compensation grant ") || !strings.Contains(line, want) || strings.Contains(line, "--declined") {
			continue
		}
		var args []string
		for i, part := range strings.Split(strings.TrimPrefix(line, "herald "), `"`) {
			if i%2 == 1 {
				args = append(args, part)
			} else {
				args = append(args, strings.Fields(part)...)
			}
		}
		return args
	}
	t.Fatalf("check prints no grant command with %q:\n%s", want, out)
	return nil
}

package console_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/server"
)

// TestLiveEndsWithTheSession: an agent's open live stream ends once they
// sign out, at its next write, while another agent's stream hears the
// change.
func TestLiveEndsWithTheSession(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	open := func(name string) (*client, <-chan string) {
		c := e.client(t)
		c.signIn(incident.RoleAgent, name)
		req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/console/live", nil)
		req.AddCookie(&http.Cookie{Name: "herald_console", Value: c.cookies["herald_console"]})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("live: %d", res.StatusCode)
		}
		lines := make(chan string, 100)
		go func() {
			defer close(lines)
			defer res.Body.Close()
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		for l := range lines { // open once its first comment arrives
			if strings.HasPrefix(l, ": live") {
				break
			}
		}
		return c, lines
	}
	leaver, gone := open("Leaver")
	_, stays := open("Stayer")
	tok := leaver.csrf("/console/queue")
	if res, _ := leaver.do("POST", "/console/signout", map[string][]string{"_csrf": {tok}}); res.StatusCode >= 400 {
		t.Fatalf("sign out: %d", res.StatusCode)
	}
	if _, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "card declined"}); err != nil {
		t.Fatal(err)
	}
	heard := false
	for l := range stays {
		if strings.Contains(l, "complaint.changed") {
			heard = true
			break
		}
	}
	if !heard {
		t.Fatal("the other agent's stream never heard the complaint")
	}
	var after []string
	for l := range gone { // ends when the stream does, or at the test's timeout
		after = append(after, l)
	}
	if ctx.Err() != nil {
		t.Fatalf("the signed-out stream did not end: %q", after)
	}
	for _, l := range after {
		if strings.Contains(l, "complaint.changed") {
			t.Errorf("the signed-out stream carried the change: %q", after)
		}
	}
}

// TestTimelineInTheAgentsLanguage: the entries herald writes (tagged,
// acknowledged, a new owner) read in the console's language, incidents
// by name; the customer's own words stay as written.
func TestTimelineInTheAgentsLanguage(t *testing.T) {
	e := startEnv(t, customersCSV)
	inc := e.declare(t, "Card payments fail", false)
	c, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "Nem megy a kártyás fizetés"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.n.Incidents.CreateToken(context.Background(), "Tóth Péter", incident.RoleAgent); err != nil {
		t.Fatal(err)
	}
	if _, err := e.n.Complaints.Assign(e.as(incident.RoleAgent), e.page.ID, c.ID, "Tóth Péter"); err != nil {
		t.Fatal(err)
	}
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	a.cookies["herald_lang"] = "hu"
	_, page := a.do("GET", "/console/complaints/"+c.ID, nil)
	for _, want := range []string{"a herald incidenshez rendelte: Card payments fail", "Új → Visszaigazolva",
		"felelős: senki → Tóth Péter", "automatikus visszaigazolás elküldésre vár: amit az incidensről tudunk",
		"<strong>ügyfél</strong>", "Nem megy a kártyás fizetés"} {
		if !strings.Contains(page, want) {
			t.Errorf("the Hungarian timeline lacks %q", want)
		}
	}
	if !strings.Contains(page, "az ügyfél használja: Payments – teljes kiesés") || !strings.Contains(page, "„Card payments fail” az egyetlen nyitott incidens") {
		t.Error("why the complaint is tagged is not said in Hungarian")
	}
	if strings.Contains(page, "tagged to "+inc.ID) || strings.Contains(page, "new → acknowledged") || strings.Contains(page, "customer uses") {
		t.Error("the Hungarian timeline shows herald's English lines")
	}
}

// TestLiveOutlivesTheWriteTimeout: the live stream stays open past the
// server's write timeout (fasthttp sets one per response), heartbeat
// after heartbeat, and still tells the page about a change then.
func TestLiveOutlivesTheWriteTimeout(t *testing.T) {
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	e := startNode(t, cfg, func(s *server.Config) {
		s.WriteTimeout, s.HeartbeatInterval = 300*time.Millisecond, 100*time.Millisecond
	})
	e.seed(t, customersCSV)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := e.client(t)
	c.signIn(incident.RoleAgent, "Ana")
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/console/live", nil)
	req.AddCookie(&http.Cookie{Name: "herald_console", Value: c.cookies["herald_console"]})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// Lazy deadlines fire up to a second late: 3 s is well past the
	// 300 ms write timeout however they round.
	opened := time.Now()
	for time.Since(opened) < 3*time.Second {
		if _, ok := <-lines; !ok {
			t.Fatalf("the live stream ended after %s (write timeout 300 ms)", time.Since(opened).Round(time.Millisecond))
		}
	}
	if _, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "card declined"}); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		if strings.HasPrefix(l, "event: change") {
			return
		}
	}
	t.Fatal("the stream ended without telling of the new complaint")
}

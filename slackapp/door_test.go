package slackapp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/sandbox"
)

// The Slack door driven as Slack drives it (interaction payloads decoded
// from Slack's JSON), on a real node: SQLite in a temporary directory and
// the sandbox's Slack stand-in for views.open and the incident channel.

type door struct {
	t        *testing.T
	n        *node.Node
	payments *incident.Component
	search   *incident.Component
}

const manager = "U0MANAGER"

func startDoor(t *testing.T) *door {
	t.Helper()
	return startDoorLogging(t, io.Discard)
}

// startDoorLogging is startDoor with the node's log (Info and above)
// written to log.
func startDoorLogging(t *testing.T, log io.Writer) *door {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Addr, cfg.LogLevel = "127.0.0.1:0", "warn"
	cfg.Slack.Managers = manager
	n, err := node.New(ctx, cfg, node.Options{Log: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = n.Close()
	})
	if err := n.Run(ctx); err != nil {
		t.Fatal(err)
	}
	d := &door{t: t, n: n}
	for _, name := range []string{"Payments", "Search"} {
		nm := name
		c, err := n.Incidents.CreateComponent(d.as(), n.Page.ID, incident.ComponentInput{Name: &nm})
		if err != nil {
			t.Fatal(err)
		}
		if name == "Payments" {
			d.payments = c
		} else {
			d.search = c
		}
	}
	return d
}

func (d *door) as() context.Context {
	return incident.WithActor(context.Background(), incident.Actor{Name: "cli", Role: incident.RoleAdmin})
}

// declare declares "Card payments failing": Payments in major outage,
// Search degraded.
func (d *door) declare() *incident.Incident {
	d.t.Helper()
	name, body, off := "Card payments failing", "Card payments fail.", false
	inc, _, err := d.n.Incidents.CreateIncident(d.as(), d.n.Page.ID, incident.IncidentInput{Name: &name, Body: &body, DeliverNotifications: &off,
		Components: map[string]incident.ComponentStatus{d.payments.ID: incident.MajorOutage, d.search.ID: incident.DegradedPerformance}}, "")
	if err != nil {
		d.t.Fatal(err)
	}
	return inc
}

func (d *door) update(inc *incident.Incident, in incident.IncidentInput) {
	d.t.Helper()
	off := false
	in.DeliverNotifications = &off
	if _, err := d.n.Incidents.UpdateIncident(d.as(), d.n.Page.ID, inc.ID, in); err != nil {
		d.t.Fatal(err)
	}
}

func (d *door) incident(id string) *incident.Incident {
	d.t.Helper()
	inc, err := d.n.Incidents.Incident(context.Background(), d.n.Page.ID, id)
	if err != nil {
		d.t.Fatal(err)
	}
	return inc
}

func (d *door) component(id string) incident.ComponentStatus {
	d.t.Helper()
	cs, err := d.n.Incidents.Components(context.Background(), d.n.Page.ID)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == id {
			return c.Status
		}
	}
	d.t.Fatalf("no component %s", id)
	return ""
}

// interact hands the app an interaction payload as Slack's JSON.
func (d *door) interact(payload string) *slackgo.ViewSubmissionResponse {
	d.t.Helper()
	var in slackgo.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &in); err != nil {
		d.t.Fatalf("payload: %v\n%s", err, payload)
	}
	resp, handled := d.n.Slack.Interaction(context.Background(), in)
	if !handled {
		d.t.Fatalf("payload not handled: %s", payload)
	}
	return resp
}

// press presses an incident message's button and returns the modal it
// opened at the sandbox.
func (d *door) press(action, incidentID string) sandbox.View {
	d.t.Helper()
	before := len(d.n.Sandbox.Views())
	trigger := "trig-" + action + "-" + itoa(before)
	d.interact(`{"type":"block_actions","user":{"id":"` + manager + `","name":"mia"},"trigger_id":"` + trigger + `",
		"channel":{"id":"` + node.SandboxIncidentChannel + `"},
		"actions":[{"type":"button","action_id":"` + action + `","block_id":"incident","value":"` + incidentID + `"}]}`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if vs := d.n.Sandbox.Views(); len(vs) > before {
			return vs[len(vs)-1]
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s opened no modal", action)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// submit submits view v with the state values given (block → action → value).
func (d *door) submit(v sandbox.View, values map[string]any) *slackgo.ViewSubmissionResponse {
	d.t.Helper()
	payload, _ := json.Marshal(map[string]any{"type": "view_submission", "user": map[string]any{"id": manager, "name": "mia"},
		"view": map[string]any{"id": v.ID, "callback_id": v.CallbackID, "private_metadata": v.PrivateMetadata, "state": map[string]any{"values": values}}})
	return d.interact(string(payload))
}

func selected(block, value string) map[string]any {
	return map[string]any{block: map[string]any{"type": "static_select", "selected_option": map[string]any{"value": value}}}
}

func text(block, value string) map[string]any {
	return map[string]any{block: map[string]any{"type": "plain_text_input", "value": value}}
}

func ticked(block string, on bool) map[string]any {
	opts := []any{}
	if on {
		opts = append(opts, map[string]any{"value": "yes"})
	}
	return map[string]any{block: map[string]any{"type": "checkboxes", "selected_options": opts}}
}

// TestStaleUpdateFormIsRefused: an update modal opened before the CLI
// moved the incident on does not put back what the form was pre-filled
// with; the manager is told on the form what changed.
func TestStaleUpdateFormIsRefused(t *testing.T) {
	d := startDoor(t)
	inc := d.declare()
	v := d.press("herald_update", inc.ID)
	if !strings.Contains(v.PrivateMetadata, `"version":`) {
		t.Errorf("the update modal does not carry the version it was opened at: %s", v.PrivateMetadata)
	}
	mon, minor, msg := incident.Monitoring, incident.ImpactMinor, "Payments succeed again; watching."
	d.update(inc, incident.IncidentInput{Status: &mon, ImpactOverride: &minor, Body: &msg,
		Components: map[string]incident.ComponentStatus{d.payments.ID: incident.Operational}})
	resp := d.submit(v, map[string]any{
		"status":              selected("status", "investigating"),
		"cs_" + d.payments.ID: selected("status", "major_outage"),
		"cs_" + d.search.ID:   selected("status", "degraded_performance"),
		"body":                text("body", "Still looking into it."),
		"notify":              ticked("notify", true),
	})
	if resp == nil || resp.ResponseAction != slackgo.RAErrors {
		t.Fatalf("a stale update was accepted: %+v", resp)
	}
	got := strings.Join(values(resp.Errors), " ")
	for _, want := range []string{"changed since you opened this form", "status Investigating → Monitoring", "impact Critical → Minor",
		"Payments: Major outage → Operational"} {
		if !strings.Contains(got, want) {
			t.Errorf("the refusal %q does not say %q", got, want)
		}
	}
	if now := d.incident(inc.ID); now.Status != incident.Monitoring || len(now.Updates) != 2 {
		t.Errorf("the stale form changed the incident: %s, %d updates", now.Status, len(now.Updates))
	}
	if st := d.component(d.payments.ID); st != incident.Operational {
		t.Errorf("Payments went back to %s", st)
	}

	// A fresh form, its statuses left as shown: only what the manager
	// changed is posted; a component moved meanwhile by another door
	// (not the incident) keeps its status.
	v = d.press("herald_update", inc.ID)
	if _, err := d.n.Incidents.UpdateComponent(d.as(), d.n.Page.ID, d.search.ID, incident.ComponentInput{Status: ptr(incident.Operational)}); err != nil {
		t.Fatal(err)
	}
	if resp := d.submit(v, map[string]any{
		"status":              selected("status", "monitoring"),
		"cs_" + d.payments.ID: selected("status", "operational"),
		"cs_" + d.search.ID:   selected("status", "degraded_performance"),
		"body":                text("body", "Still watching."),
		"notify":              ticked("notify", false),
	}); resp != nil {
		t.Fatalf("a fresh update was refused: %+v", resp.Errors)
	}
	now := d.incident(inc.ID)
	if now.Updates[0].Body != "Still watching." || len(now.Updates[0].AffectedComponents) != 0 {
		t.Errorf("the update posted %q with %+v, want the message and no component change", now.Updates[0].Body, now.Updates[0].AffectedComponents)
	}
	if st := d.component(d.search.ID); st != incident.Operational {
		t.Errorf("Search, set operational meanwhile, was put back to %s by a status left as shown", st)
	}
}

func ptr[T any](v T) *T { return &v }

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestStaleResolveFormIsRefused: the CLI made the incident worse after
// the resolve modal opened; submitting it resolves nothing.
func TestStaleResolveFormIsRefused(t *testing.T) {
	d := startDoor(t)
	inc := d.declare()
	v := d.press("herald_resolve", inc.ID)
	idf, msg := incident.Identified, "Search is down too."
	d.update(inc, incident.IncidentInput{Status: &idf, Body: &msg, Components: map[string]incident.ComponentStatus{d.search.ID: incident.MajorOutage}})
	resp := d.submit(v, map[string]any{"operational": ticked("operational", true), "body": text("body", "All fixed."), "notify": ticked("notify", true)})
	if resp == nil || resp.ResponseAction != slackgo.RAErrors || !strings.Contains(resp.Errors["body"], "Search: Degraded performance → Major outage") {
		t.Fatalf("a stale resolve: %+v", resp)
	}
	if now := d.incident(inc.ID); now.Status != incident.Identified {
		t.Errorf("the stale resolve left the incident %s", now.Status)
	}
	// Opened again, it resolves.
	v = d.press("herald_resolve", inc.ID)
	if resp := d.submit(v, map[string]any{"operational": ticked("operational", true), "body": text("body", "All fixed."), "notify": ticked("notify", false)}); resp != nil {
		t.Fatalf("a fresh resolve: %+v", resp.Errors)
	}
	if now := d.incident(inc.ID); now.Status != incident.Resolved {
		t.Errorf("after resolving: %s", now.Status)
	}
}

// TestBlankMessageIsRefused: a message of spaces alone is not posted.
func TestBlankMessageIsRefused(t *testing.T) {
	d := startDoor(t)
	inc := d.declare()
	v := d.press("herald_update", inc.ID)
	resp := d.submit(v, map[string]any{"status": selected("status", "identified"), "body": text("body", "   \n "), "notify": ticked("notify", true)})
	if resp == nil || resp.ResponseAction != slackgo.RAErrors || !strings.Contains(resp.Errors["body"], "blank") {
		t.Fatalf("a blank message: %+v", resp)
	}
	if now := d.incident(inc.ID); now.Status != incident.Investigating || len(now.Updates) != 1 {
		t.Errorf("a blank message posted: %s, %d updates", now.Status, len(now.Updates))
	}
}

// TestNoteAfterResolution: the resolved incident's message keeps Post
// update; its modal posts a note that keeps the incident resolved and
// tells customers nothing unless asked.
func TestNoteAfterResolution(t *testing.T) {
	d := startDoor(t)
	inc := d.declare()
	res := incident.Resolved
	d.update(inc, incident.IncidentInput{Status: &res})
	v := d.press("herald_update", inc.ID)
	if strings.Contains(string(v.Blocks), `"action_id":"status"`) || strings.Contains(string(v.Blocks), "investigating") {
		t.Errorf("the note modal offers open statuses: %s", v.Blocks)
	}
	if !strings.Contains(string(v.Blocks), "stays resolved") {
		t.Errorf("the note modal does not say the incident stays resolved: %s", v.Blocks)
	}
	if resp := d.submit(v, map[string]any{"body": text("body", "The root cause was an expired certificate."), "notify": ticked("notify", false)}); resp != nil {
		t.Fatalf("a note after resolution: %+v", resp.Errors)
	}
	now := d.incident(inc.ID)
	if now.Status != incident.Resolved || now.Updates[0].Body != "The root cause was an expired certificate." || now.Updates[0].Status != incident.Resolved {
		t.Errorf("after the note: %s, latest %+v", now.Status, now.Updates[0])
	}
	// Resolving again from a button on a message not yet redrawn opens no form.
	before := len(d.n.Sandbox.Views())
	d.interact(`{"type":"block_actions","user":{"id":"` + manager + `","name":"mia"},"trigger_id":"trig-r2","channel":{"id":"` + node.SandboxIncidentChannel + `"},
		"actions":[{"type":"button","action_id":"herald_resolve","block_id":"incident","value":"` + inc.ID + `"}]}`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ms := d.n.Sandbox.Messages(sandbox.Filter{Kind: "slack", To: node.SandboxIncidentChannel}); hasEphemeral(ms, "already resolved") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the resolve button of a resolved incident said nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(d.n.Sandbox.Views()) != before {
		t.Error("the resolve button of a resolved incident opened a form")
	}
}

func hasEphemeral(ms []sandbox.Message, want string) bool {
	for _, m := range ms {
		if m.Status == "ephemeral" && strings.Contains(m.Body, want) {
			return true
		}
	}
	return false
}

// incidentMessage waits for the incident channel's message (not a thread
// reply) to satisfy ok, and returns its blocks.
func (d *door) incidentMessage(what string, ok func(blocks string) bool) string {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last := ""
	for {
		for _, m := range d.n.Sandbox.Messages(sandbox.Filter{Kind: "slack", To: node.SandboxIncidentChannel}) {
			if m.Status != "ephemeral" && m.Headers["thread_ts"] == "" {
				last = string(m.Blocks)
				if ok(last) {
					return last
				}
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("the incident message never %s: %s", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProgressIsTheLatestUpdates: the message counts the latest update's
// messages; a resolution posted without telling customers has none, and
// the declaration's email is not counted for it.
func TestProgressIsTheLatestUpdates(t *testing.T) {
	d := startDoor(t)
	if _, err := d.n.Notify.ImportCustomers(d.as(), d.n.Page.ID, strings.NewReader("id,name,email,components\nc1,Anna,anna@example.com,Payments\n"), "csv", false); err != nil {
		t.Fatal(err)
	}
	name, body, on := "Card payments failing", "Card payments fail.", true
	inc, _, err := d.n.Incidents.CreateIncident(d.as(), d.n.Page.ID, incident.IncidentInput{Name: &name, Body: &body, DeliverNotifications: &on,
		Components: map[string]incident.ComponentStatus{d.payments.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	// The keeper may subscribe to the events after this declaration
	// (the node has just started): asked directly, as the events ask.
	d.n.Slack.Refresh(inc.ID)
	d.incidentMessage("counted the declaration's email", func(b string) bool { return strings.Contains(b, "email 1/1 sent") })
	res, msg := incident.Resolved, "Fixed."
	d.update(inc, incident.IncidentInput{Status: &res, Body: &msg})
	b := d.incidentMessage("showed the resolution", func(b string) bool { return strings.Contains(b, "*Status*\\n:large_green_circle: Resolved") })
	if strings.Contains(b, "email 1/1") || !strings.Contains(b, "None: this update was not sent to customers.") {
		t.Errorf("the resolution, sent to nobody, is shown with the declaration's messages: %s", b)
	}
}

// TestCommandWords: a word /herald does not know is said to be unknown
// before the help; a user with no role is told plainly that nothing
// changed and what to do.
func TestCommandWords(t *testing.T) {
	d := startDoor(t)
	got, err := d.n.Slack.Command(context.Background(), slackgo.SlashCommand{Command: "/herald", Text: "bogus", UserID: manager})
	if err != nil || !strings.HasPrefix(got, "herald does not know “bogus”") || !strings.Contains(got, "/herald declare") {
		t.Errorf("/herald bogus: %q, %v", got, err)
	}
	if got, _ := d.n.Slack.Command(context.Background(), slackgo.SlashCommand{Command: "/herald", Text: "help", UserID: manager}); strings.Contains(got, "does not know") {
		t.Errorf("/herald help: %q", got)
	}
	got, _ = d.n.Slack.Command(context.Background(), slackgo.SlashCommand{Command: "/herald", Text: "declare", UserID: "U0STRANGER"})
	if got != "Sorry, you may not do that: your Slack account has no herald role, so nothing has been changed. Ask a herald admin to add you." {
		t.Errorf("the refusal reads %q", got)
	}
}

// TestCommandAnswersEscapeMrkdwn: /herald list and status, and what they
// say of a page they cannot find, carry names and words people typed:
// "<!channel>" or "<https://evil|label>" there must reach Slack as text,
// not as a mention or a link, as the incident message shows them.
func TestCommandAnswersEscapeMrkdwn(t *testing.T) {
	d := startDoor(t)
	name, body, on := "Pay <!channel> & <https://evil.example|login>", "Down.", false
	if _, _, err := d.n.Incidents.CreateIncident(d.as(), d.n.Page.ID, incident.IncidentInput{Name: &name, Body: &body, DeliverNotifications: &on,
		Components: map[string]incident.ComponentStatus{d.payments.ID: incident.MajorOutage}}, ""); err != nil {
		t.Fatal(err)
	}
	const want = "Pay &lt;!channel&gt; &amp; &lt;https://evil.example|login&gt;"
	for _, text := range []string{"list", "status"} {
		got, err := d.n.Slack.Command(context.Background(), slackgo.SlashCommand{Command: "/herald", Text: text, UserID: manager})
		if err != nil || !strings.Contains(got, want) || strings.Contains(got, "<!channel>") {
			t.Errorf("/herald %s: %q, %v; want the name as text: %s", text, got, err, want)
		}
	}
	for _, text := range []string{"status <!channel>", "<!here>"} {
		got, _ := d.n.Slack.Command(context.Background(), slackgo.SlashCommand{Command: "/herald", Text: text, UserID: manager})
		if strings.Contains(got, "<!") || !strings.Contains(got, "&lt;!") {
			t.Errorf("/herald %s: %q; want what was typed quoted as text", text, got)
		}
	}
}

// TestPostmortemReplyLinks: the thread reply for a published postmortem
// (an update with no text of its own) links to the postmortem on the
// incident's page; it said only "Postmortem" and a time.
func TestPostmortemReplyLinks(t *testing.T) {
	d := startDoor(t)
	inc := d.declare()
	d.n.Slack.Refresh(inc.ID)
	d.incidentMessage("was posted", func(string) bool { return true })
	res, fixed := incident.Resolved, "Fixed."
	d.update(inc, incident.IncidentInput{Status: &res, Body: &fixed})
	pm, md := incident.Postmortem, "## What happened\n\nA faulty deploy."
	d.update(inc, incident.IncidentInput{Status: &pm, PostmortemBody: &md})
	want := "/incidents/" + inc.ID + "?lang=en#h-pm|Read the postmortem>"
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, m := range d.n.Sandbox.Messages(sandbox.Filter{Kind: "slack", To: node.SandboxIncidentChannel}) {
			if m.Headers["thread_ts"] != "" && strings.Contains(m.Body, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, m := range d.n.Sandbox.Messages(sandbox.Filter{Kind: "slack", To: node.SandboxIncidentChannel}) {
				if m.Headers["thread_ts"] != "" {
					got = append(got, m.Body)
				}
			}
			t.Fatalf("no thread reply links to the postmortem (%s); replies: %q", want, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/node"
)

// Slack as a front door, end to end on each engine, with the shapes Slack
// sends (a form body for commands, a form field payload= holding JSON for
// interactions), signed as Slack signs them: /herald declare opens a modal
// (recorded at the sandbox), its submission declares the incident, and
// one message in the incident channel follows it; an update from the CLI
// edits that message; the Resolve button opens the resolve modal, whose
// submission resolves it. Forged and replayed requests, and a Slack user
// with no herald role, change nothing.

// slackSign posts body to path as Slack would, signed with secret at at.
func slackSign(t *testing.T, n *instance, path, body, secret string, at time.Time) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, n.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + stamp + ":" + body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	return send(t, req)
}

type sandboxView struct {
	ID              string          `json:"id"`
	CallbackID      string          `json:"callback_id"`
	PrivateMetadata string          `json:"private_metadata"`
	Blocks          json.RawMessage `json:"blocks"`
	Updates         int             `json:"updates"`
}

func sandboxViews(t *testing.T, n *instance) []sandboxView {
	t.Helper()
	code, body := get(t, n.url+"/sandbox/views")
	if code != http.StatusOK {
		t.Fatalf("/sandbox/views: %d %s", code, body)
	}
	var out struct {
		Views []sandboxView `json:"views"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	return out.Views // newest first
}

func apiGet(t *testing.T, n *instance, token, path string, into any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	code, b := send(t, req)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal([]byte(b), into); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

type e2eIncident struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Status  string            `json:"status"`
	Updates []json.RawMessage `json:"incident_updates"`
}

type e2eComponent struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// interaction is the form body of an interaction payload.
func interaction(payload any) string {
	b, _ := json.Marshal(payload)
	return url.Values{"payload": {string(b)}}.Encode()
}

func TestSlackEndToEnd(t *testing.T) {
	onEachEngine(t, testSlackDoor)
}

func testSlackDoor(t *testing.T, _ string, storeArgs []string) {
	n := startServe(t, map[string]string{"HERALD_SLACK_MANAGERS": "U0MANAGER", "HERALD_SLACK_AGENTS": "U0AGENT"}, storeArgs...)
	token := mustCLI(t, nil, append([]string{"token", "create", "--role", "manager", "--name", "Mia"}, storeArgs...)...).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
	mustCLI(t, env, "components", "create", "--name", "Payments")
	mustCLI(t, env, "components", "create", "--name", "Search")
	var pages []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	apiGet(t, n, token, "/api/v1/pages", &pages)
	pageID := pages[0].ID
	components := func() map[string]e2eComponent {
		var cs []e2eComponent
		apiGet(t, n, token, "/api/v1/pages/"+pageID+"/components", &cs)
		out := map[string]e2eComponent{}
		for _, c := range cs {
			out[c.Name] = c
		}
		return out
	}
	incidents := func() []e2eIncident {
		var is []e2eIncident
		apiGet(t, n, token, "/api/v1/pages/"+pageID+"/incidents", &is)
		return is
	}
	payments := components()["Payments"].ID
	secret := n.slackSecret
	if secret == "" || secret == "sandbox-signing-secret" {
		t.Fatalf("the sandbox's Slack signing secret is %q: want a random one per start", secret)
	}
	command := func(user, text, trigger string) string {
		return url.Values{"command": {"/herald"}, "text": {text}, "user_id": {user}, "user_name": {strings.ToLower(user)},
			"channel_id": {"C0OPS00001"}, "team_id": {"T0SANDBOX"}, "trigger_id": {trigger},
			"response_url": {"https://hooks.slack.com/commands/T0SANDBOX/1/x"}, "api_app_id": {"A0HERALD"}}.Encode()
	}
	incidentMessages := func() (top, thread []inboxMessage) {
		for _, m := range to(inbox(t, n), "slack", node.SandboxIncidentChannel) {
			if m.Status == "ephemeral" {
				continue
			}
			if m.Headers["thread_ts"] != "" {
				thread = append(thread, m)
			} else {
				top = append(top, m)
			}
		}
		return top, thread
	}

	t.Run("forged and replayed requests change nothing", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, body, secret string
			at                       time.Time
		}{
			{"forged command", "/webhooks/slack/commands", command("U0MANAGER", "declare", "trig-forged"), "not-the-secret", time.Now()},
			// The constant the sandbox once signed with opens nothing now.
			{"signed with the old sandbox constant", "/webhooks/slack/commands", command("U0MANAGER", "declare", "trig-const"), "sandbox-signing-secret", time.Now()},
			{"replayed command", "/webhooks/slack/commands", command("U0MANAGER", "declare", "trig-old"), secret, time.Now().Add(-6 * time.Minute)},
			{"forged interaction", "/webhooks/slack/interactions", interaction(map[string]any{"type": "view_submission", "user": map[string]any{"id": "U0MANAGER"},
				"view": map[string]any{"id": "V0X", "callback_id": "herald_declare", "private_metadata": `{"page":"` + pageID + `","lang":"en"}`,
					"state": map[string]any{"values": map[string]any{"name": map[string]any{"name": map[string]any{"type": "plain_text_input", "value": "Forged"}},
						"body": map[string]any{"body": map[string]any{"type": "plain_text_input", "value": "x"}}}}}}), "not-the-secret", time.Now()},
		} {
			code, body := slackSign(t, n, tc.path, tc.body, tc.secret, tc.at)
			if code != http.StatusUnauthorized && code != http.StatusForbidden {
				t.Errorf("%s: %d %s, want 401 or 403", tc.name, code, body)
			}
		}
		if v := sandboxViews(t, n); len(v) != 0 {
			t.Errorf("a forged command opened a modal: %+v", v)
		}
		if is := incidents(); len(is) != 0 {
			t.Errorf("a forged submission declared %+v", is)
		}
	})

	t.Run("an agent is told declaring needs a manager, not that they have no role", func(t *testing.T) {
		code, body := slackSign(t, n, "/webhooks/slack/commands", command("U0AGENT", "declare", "trig-agent"), secret, time.Now())
		if code != http.StatusOK || strings.Contains(body, "no herald role") || !strings.Contains(body, "only a herald manager") || !strings.Contains(body, "the agent role") {
			t.Errorf("declare by an agent: %d %s", code, body)
		}
	})

	t.Run("an unmapped user is refused politely", func(t *testing.T) {
		code, body := slackSign(t, n, "/webhooks/slack/commands", command("U0STRANGER", "declare", "trig-stranger"), secret, time.Now())
		if code != http.StatusOK || !strings.Contains(body, "no herald role") || !strings.Contains(body, `"ephemeral"`) {
			t.Errorf("declare by a stranger: %d %s", code, body)
		}
		code, body = slackSign(t, n, "/webhooks/slack/interactions", interaction(map[string]any{"type": "view_submission",
			"user": map[string]any{"id": "U0STRANGER", "name": "stranger"},
			"view": map[string]any{"id": "V0STRANGER", "callback_id": "herald_declare", "private_metadata": `{"page":"` + pageID + `","lang":"en"}`,
				"state": map[string]any{"values": map[string]any{"name": map[string]any{"name": map[string]any{"type": "plain_text_input", "value": "Not allowed"}},
					"body": map[string]any{"body": map[string]any{"type": "plain_text_input", "value": "x"}}}}}}), secret, time.Now())
		if code != http.StatusOK || !strings.Contains(body, `"response_action":"errors"`) || !strings.Contains(body, `"name"`) {
			t.Errorf("submission by a stranger: %d %s", code, body)
		}
		if v := sandboxViews(t, n); len(v) != 0 {
			t.Errorf("a stranger's command opened a modal: %+v", v)
		}
		if is := incidents(); len(is) != 0 {
			t.Errorf("a stranger declared %+v", is)
		}
		// Reading is open to everyone in the workspace.
		code, body = slackSign(t, n, "/webhooks/slack/commands", command("U0STRANGER", "status", "trig-s"), secret, time.Now())
		if code != http.StatusOK || !strings.Contains(body, "All Systems Operational") {
			t.Errorf("status for a stranger: %d %s", code, body)
		}
	})

	var incID string
	t.Run("declare from the modal", func(t *testing.T) {
		code, body := slackSign(t, n, "/webhooks/slack/commands", command("U0MANAGER", "declare", "trig-declare"), secret, time.Now())
		if code != http.StatusOK || strings.TrimSpace(body) != "" {
			t.Fatalf("/herald declare: %d %q, want an empty 200 (the modal opens)", code, body)
		}
		var view sandboxView
		eventually(t, 15*time.Second, func() (bool, string) {
			vs := sandboxViews(t, n)
			if len(vs) != 1 {
				return false, fmt.Sprintf("views %+v", vs)
			}
			view = vs[0]
			return view.CallbackID == "herald_declare" && view.Updates >= 1 && strings.Contains(string(view.Blocks), "Audience"), string(view.Blocks)
		})
		if !strings.Contains(string(view.Blocks), "Payments") || !strings.Contains(string(view.Blocks), `"notify"`) {
			t.Errorf("declare modal blocks %s", view.Blocks)
		}
		payload := map[string]any{"type": "view_submission", "team": map[string]any{"id": "T0SANDBOX"},
			"user":       map[string]any{"id": "U0MANAGER", "username": "mia", "name": "mia", "team_id": "T0SANDBOX"},
			"api_app_id": "A0HERALD", "trigger_id": "trig-sub",
			"view": map[string]any{"id": view.ID, "type": "modal", "callback_id": "herald_declare", "private_metadata": view.PrivateMetadata, "hash": "1.1",
				"state": map[string]any{"values": map[string]any{
					"name":           map[string]any{"name": map[string]any{"type": "plain_text_input", "value": "Card payments fail"}},
					"components":     map[string]any{"components": map[string]any{"type": "multi_static_select", "selected_options": []any{map[string]any{"value": payments, "text": map[string]any{"type": "plain_text", "text": "Payments"}}}}},
					"cs_" + payments: map[string]any{"status": map[string]any{"type": "static_select", "selected_option": map[string]any{"value": "major_outage"}}},
					"impact":         map[string]any{"impact": map[string]any{"type": "static_select", "selected_option": nil}},
					"body":           map[string]any{"body": map[string]any{"type": "plain_text_input", "value": "We are investigating failed card payments."}},
					"notify":         map[string]any{"notify": map[string]any{"type": "checkboxes", "selected_options": []any{map[string]any{"value": "yes"}}}},
				}}}}
		code, body = slackSign(t, n, "/webhooks/slack/interactions", interaction(payload), secret, time.Now())
		if code != http.StatusOK || strings.TrimSpace(body) != "" {
			t.Fatalf("submission: %d %q, want an empty 200 (closes the modal)", code, body)
		}
		is := incidents()
		if len(is) != 1 || is[0].Name != "Card payments fail" || is[0].Status != "investigating" {
			t.Fatalf("incidents after the submission: %+v", is)
		}
		incID = is[0].ID
		if st := components()["Payments"].Status; st != "major_outage" {
			t.Errorf("Payments is %s, want major_outage", st)
		}
		// Submitted twice (Slack retried): still one incident.
		if code, _ := slackSign(t, n, "/webhooks/slack/interactions", interaction(payload), secret, time.Now()); code != http.StatusOK || len(incidents()) != 1 {
			t.Errorf("a repeated submission: %d, %d incidents", code, len(incidents()))
		}
		var audit []struct {
			Actor  string `json:"actor"`
			Action string `json:"action"`
		}
		apiGet(t, n, token, "/api/v1/audit", &audit)
		found := false
		for _, e := range audit {
			if e.Action == "incident.create" && e.Actor == "slack:U0MANAGER (mia)" {
				found = true
			}
		}
		if !found {
			t.Errorf("audit has no incident.create by the Slack user: %+v", audit)
		}
		eventually(t, 15*time.Second, func() (bool, string) {
			top, _ := incidentMessages()
			return len(top) == 1 && strings.Contains(string(top[0].Blocks), "Card payments fail") && strings.Contains(string(top[0].Blocks), "herald_resolve"),
				fmt.Sprintf("incident channel: %+v", top)
		})
	})
	if incID == "" {
		t.Fatal("no incident declared")
	}

	t.Run("a spent trigger is explained, not Slack's error code", func(t *testing.T) {
		code, body := slackSign(t, n, "/webhooks/slack/commands", command("U0MANAGER", "declare", "trig-declare"), secret, time.Now())
		if code != http.StatusOK {
			t.Fatalf("/herald declare again: %d %q", code, body)
		}
		eventually(t, 15*time.Second, func() (bool, string) {
			for _, m := range to(inbox(t, n), "slack", "C0OPS00001") {
				if m.Status == "ephemeral" && m.Headers["user"] == "U0MANAGER" && strings.Contains(m.Body, "Run the command again") {
					if strings.Contains(m.Body, "trigger_id") {
						return false, "the answer carries Slack's error code: " + m.Body
					}
					return true, ""
				}
			}
			return false, "no ephemeral explanation for the spent trigger"
		})
	})

	t.Run("an update from the API edits the one message", func(t *testing.T) {
		mustCLI(t, env, "update", incID, "--status", "identified", "--message", "A faulty deploy; rolling back.")
		eventually(t, 20*time.Second, func() (bool, string) {
			top, thread := incidentMessages()
			if len(top) != 1 {
				return false, fmt.Sprintf("%d top-level messages", len(top))
			}
			replied := false
			for _, m := range thread {
				replied = replied || m.Headers["thread_ts"] == top[0].ID && strings.Contains(m.Body, "A faulty deploy")
			}
			return top[0].Edits >= 1 && strings.Contains(string(top[0].Blocks), "A faulty deploy") && replied,
				fmt.Sprintf("message %+v, thread %+v", top[0], thread)
		})
	})

	t.Run("a stranger's button press is refused in an ephemeral message", func(t *testing.T) {
		code, body := slackSign(t, n, "/webhooks/slack/interactions", interaction(map[string]any{"type": "block_actions",
			"user": map[string]any{"id": "U0STRANGER", "name": "stranger"}, "trigger_id": "trig-stranger-button",
			"channel": map[string]any{"id": node.SandboxIncidentChannel},
			"actions": []any{map[string]any{"type": "button", "action_id": "herald_resolve", "block_id": "incident", "value": incID}}}), secret, time.Now())
		if code != http.StatusOK {
			t.Fatalf("button: %d %s", code, body)
		}
		eventually(t, 15*time.Second, func() (bool, string) {
			for _, m := range to(inbox(t, n), "slack", node.SandboxIncidentChannel) {
				if m.Status == "ephemeral" && m.Headers["user"] == "U0STRANGER" && strings.Contains(m.Body, "no herald role") {
					return true, ""
				}
			}
			return false, "no ephemeral refusal for the stranger"
		})
		if vs := sandboxViews(t, n); len(vs) != 1 {
			t.Errorf("a stranger's button opened a modal: %d views", len(vs))
		}
	})

	t.Run("resolve from the button", func(t *testing.T) {
		top, _ := incidentMessages()
		code, body := slackSign(t, n, "/webhooks/slack/interactions", interaction(map[string]any{"type": "block_actions",
			"user": map[string]any{"id": "U0MANAGER", "username": "mia", "name": "mia"}, "trigger_id": "trig-resolve",
			"channel":   map[string]any{"id": node.SandboxIncidentChannel},
			"container": map[string]any{"type": "message", "message_ts": top[0].ID, "channel_id": node.SandboxIncidentChannel},
			"message":   map[string]any{"ts": top[0].ID},
			"actions":   []any{map[string]any{"type": "button", "action_id": "herald_resolve", "block_id": "incident", "value": incID, "action_ts": "1.2"}}}), secret, time.Now())
		if code != http.StatusOK {
			t.Fatalf("button: %d %s", code, body)
		}
		var view sandboxView
		eventually(t, 15*time.Second, func() (bool, string) {
			vs := sandboxViews(t, n)
			if len(vs) != 2 {
				return false, fmt.Sprintf("%d views", len(vs))
			}
			view = vs[0]
			return view.CallbackID == "herald_resolve", view.CallbackID
		})
		if !strings.Contains(string(view.Blocks), "Return all to operational") || !strings.Contains(string(view.Blocks), "major_outage") {
			t.Errorf("resolve modal not pre-filled: %s", view.Blocks)
		}
		resolve := func() (int, string) {
			return slackSign(t, n, "/webhooks/slack/interactions", interaction(map[string]any{"type": "view_submission",
				"user": map[string]any{"id": "U0MANAGER", "name": "mia"},
				"view": map[string]any{"id": view.ID, "callback_id": "herald_resolve", "private_metadata": view.PrivateMetadata,
					"state": map[string]any{"values": map[string]any{
						"operational": map[string]any{"operational": map[string]any{"type": "checkboxes", "selected_options": []any{map[string]any{"value": "yes"}}}},
						"body":        map[string]any{"body": map[string]any{"type": "plain_text_input", "value": "Card payments work again."}},
						"notify":      map[string]any{"notify": map[string]any{"type": "checkboxes", "selected_options": []any{}}},
					}}}}), secret, time.Now())
		}
		code, body = resolve()
		if code != http.StatusOK || strings.TrimSpace(body) != "" {
			t.Fatalf("resolve submission: %d %q", code, body)
		}
		if is := incidents(); len(is) != 1 || is[0].Status != "resolved" {
			t.Errorf("after resolve: %+v", is)
		}
		if st := components()["Payments"].Status; st != "operational" {
			t.Errorf("Payments is %s after resolve, want operational", st)
		}
		eventually(t, 20*time.Second, func() (bool, string) {
			top, _ := incidentMessages()
			return len(top) == 1 && strings.Contains(string(top[0].Blocks), "Resolved") && !strings.Contains(string(top[0].Blocks), "herald_resolve"),
				fmt.Sprintf("%+v", top)
		})
		// The same form submitted again (Slack retrying, or a second form
		// left open): refused on the form, nothing posted, nobody told twice.
		before := len(incidents()[0].Updates)
		code, body = resolve()
		if code != http.StatusOK || !strings.Contains(body, `"response_action":"errors"`) || !strings.Contains(body, "already resolved") {
			t.Errorf("resolving again: %d %s, want the form's error", code, body)
		}
		if after := len(incidents()[0].Updates); after != before {
			t.Errorf("resolving again posted %d updates", after-before)
		}
	})

	t.Run("the file-as-complaint shortcut tells who used it", func(t *testing.T) {
		shortcut := func(user, bot, text, ts string) {
			t.Helper()
			code, body := slackSign(t, n, "/webhooks/slack/interactions", interaction(map[string]any{"type": "message_action",
				"callback_id": "herald_file_complaint", "trigger_id": "trig-sc-" + ts, "user": map[string]any{"id": "U0AGENT"},
				"channel": map[string]any{"id": "C0SUPPORT1"},
				"message": map[string]any{"type": "message", "user": user, "bot_id": bot, "text": text, "ts": ts}}), secret, time.Now())
			if code != http.StatusOK {
				t.Fatalf("shortcut: %d %s", code, body)
			}
		}
		told := func(want string) {
			t.Helper()
			eventually(t, 15*time.Second, func() (bool, string) {
				for _, m := range to(inbox(t, n), "slack", "C0SUPPORT1") {
					if m.Status == "ephemeral" && m.Headers["user"] == "U0AGENT" && strings.Contains(m.Body, want) {
						return true, ""
					}
				}
				return false, "no ephemeral message to U0AGENT saying " + want
			})
		}
		shortcut("U0CUSTOMER", "", "Charged twice for <https://shop.example/o/42|order 42> &amp; no refund", "1700000000.000100")
		told("Filed as complaint C-")
		shortcut("U0CUSTOMER", "", "Charged twice for <https://shop.example/o/42|order 42> &amp; no refund", "1700000000.000100")
		told("already complaint C-")
		shortcut("", "B0BOT", "deploy done", "1700000000.000200")
		told("Not filed")
		cenv := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
		ref := strings.TrimSpace(mustCLI(t, cenv, "complaints", "-q", "--channel", "slack").stdout)
		if out := mustCLI(t, cenv, "complaints", "show", ref).stdout; !strings.Contains(out, "Charged twice for order 42 (https://shop.example/o/42) & no refund") {
			t.Errorf("the filed complaint, listed:\n%s\nwant Slack's markup read", out)
		}
	})

	t.Run("list and help", func(t *testing.T) {
		if code, body := slackSign(t, n, "/webhooks/slack/commands", command("U0MANAGER", "list", "t-l"), secret, time.Now()); code != 200 || !strings.Contains(body, "No open incidents") {
			t.Errorf("list: %d %s", code, body)
		}
		if code, body := slackSign(t, n, "/webhooks/slack/commands", command("U0MANAGER", "help", "t-h"), secret, time.Now()); code != 200 || !strings.Contains(body, "/herald declare") ||
			!strings.Contains(body, "/herald complaint") {
			t.Errorf("help: %d %s", code, body)
		}
		// A page by its name, in any case, as people in Slack know it.
		for _, arg := range []string{pageID, strings.ToUpper(pages[0].Name)} {
			if code, body := slackSign(t, n, "/webhooks/slack/commands", command("U0MANAGER", "status "+arg, "t-s"), secret, time.Now()); code != 200 || strings.Contains(body, "not") && strings.Contains(body, "found") {
				t.Errorf("status %s: %d %s", arg, code, body)
			}
		}
		if code, body := slackSign(t, n, "/webhooks/slack/commands", command("U0MANAGER", "status No Such Page", "t-s2"), secret, time.Now()); code != 200 || !strings.Contains(body, `no status page is named \"No Such Page\"`) {
			t.Errorf("status of an unknown page: %d %s", code, body)
		}
	})
}

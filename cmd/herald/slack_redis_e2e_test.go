package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/sandbox"
)

// Two nodes on one Redis and one Slack workspace (a sandbox both point
// at): an incident declared through node A gets one message in the
// incident channel, and an update made through node B edits that same
// message (its channel and ts are in Redis) and replies in its thread,
// rather than posting a second one.
func TestSlackTwoNodesOnRedis(t *testing.T) {
	prefix := needRedis(t)
	sb, err := sandbox.Start(context.Background(), sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	env := map[string]string{"HERALD_SLACK_API_URL": sb.SlackURL(), "HERALD_SLACK_TOKEN": sb.Config().SlackToken,
		"HERALD_SLACK_SIGNING_SECRET": sb.Config().SlackSigningSecret, "HERALD_SLACK_INCIDENT_CHANNEL": node.SandboxIncidentChannel}
	args := []string{"--redis", testRedisURL, "--redis-prefix", prefix}
	a := startServe(t, env, args...)
	b := startServe(t, env, args...)
	token := mustCLI(t, nil, append([]string{"token", "create", "--role", "manager"}, args...)...).lastLine()
	mustCLI(t, map[string]string{"HERALD_URL": a.url, "HERALD_TOKEN": token}, "components", "create", "--name", "Payments")
	var pages []struct {
		ID string `json:"id"`
	}
	if code, _ := apiDo(t, a, token, http.MethodGet, "/v1/pages", nil, &pages); code != http.StatusOK || len(pages) != 1 {
		t.Fatalf("GET /v1/pages: %d %v", code, pages)
	}
	messages := func() (top, thread []sandbox.Message) {
		for _, m := range sb.Messages(sandbox.Filter{Kind: sandbox.KindSlack, To: node.SandboxIncidentChannel}) {
			if m.Headers["thread_ts"] != "" {
				thread = append(thread, m)
			} else {
				top = append(top, m)
			}
		}
		return top, thread
	}
	var inc struct {
		ID string `json:"id"`
	}
	body := map[string]any{"incident": map[string]any{"name": "Payments are failing", "body": "Investigating.", "impact_override": "major"}}
	if code, _ := apiDo(t, a, token, http.MethodPost, "/v1/pages/"+pages[0].ID+"/incidents", body, &inc); code != http.StatusCreated {
		t.Fatalf("declare on node A: %d", code)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		top, _ := messages()
		return len(top) == 1 && strings.Contains(string(top[0].Blocks), "Payments are failing"), fmt.Sprintf("%+v", top)
	})
	upd := map[string]any{"incident": map[string]any{"status": "identified", "body": "Found on node B."}}
	if code, _ := apiDo(t, b, token, http.MethodPatch, "/v1/pages/"+pages[0].ID+"/incidents/"+inc.ID, upd, nil); code != http.StatusOK {
		t.Fatalf("update on node B: %d", code)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		top, thread := messages()
		if len(top) != 1 {
			return false, fmt.Sprintf("%d top-level messages in the incident channel, want 1", len(top))
		}
		replied := len(thread) == 1 && thread[0].Headers["thread_ts"] == top[0].ID && strings.Contains(thread[0].Body, "Found on node B.")
		return top[0].Edits >= 1 && strings.Contains(string(top[0].Blocks), "Found on node B.") && replied,
			fmt.Sprintf("message %s (edits %d), thread %+v", top[0].Blocks, top[0].Edits, thread)
	})
}

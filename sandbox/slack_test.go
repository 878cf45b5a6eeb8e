package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func TestSlackPostMessage(t *testing.T) {
	sb := start(t, Config{SlackToken: "xoxb-test", Faults: Faults{FailTo: map[string]string{
		"C0BAD": "channel_not_found", "C0OUT": "not_in_channel",
	}}})
	api := slack.New("xoxb-test", slack.OptionAPIURL(sb.SlackURL()))

	t.Run("auth.test", func(t *testing.T) {
		res, err := api.AuthTest()
		if err != nil {
			t.Fatal(err)
		}
		if res.TeamID != slackTeamID || res.UserID != slackUserID {
			t.Errorf("auth.test = %+v", res)
		}
	})

	t.Run("text and blocks", func(t *testing.T) {
		ch, ts, err := api.PostMessage("C0OPS12345",
			slack.MsgOptionText("INC-1: payments degraded", false),
			slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*We're sorry* <script>", false, false), nil, nil)))
		if err != nil {
			t.Fatalf("PostMessage: %v", err)
		}
		if ch != "C0OPS12345" || !strings.Contains(ts, ".") {
			t.Errorf("channel %q ts %q", ch, ts)
		}
		got := sb.Messages(Filter{Kind: KindSlack, To: "C0OPS12345"})
		if len(got) != 1 || got[0].ID != ts || got[0].Body != "INC-1: payments degraded" {
			t.Fatalf("inbox = %+v", got)
		}
		var blocks []map[string]any
		if err := json.Unmarshal(got[0].Blocks, &blocks); err != nil || len(blocks) != 1 || blocks[0]["type"] != "section" {
			t.Errorf("blocks = %s (%v)", got[0].Blocks, err)
		}
	})

	t.Run("channel name gets an id", func(t *testing.T) {
		ch, _, err := api.PostMessage("#ops", slack.MsgOptionText("hi", false))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ch, "C") || ch == "#ops" {
			t.Errorf("channel = %q, want a C… id", ch)
		}
	})

	errCases := []struct {
		name    string
		api     *slack.Client
		channel string
		opts    []slack.MsgOption
		want    string
	}{
		{"failto channel_not_found", api, "C0BAD", []slack.MsgOption{slack.MsgOptionText("x", false)}, "channel_not_found"},
		{"failto not_in_channel", api, "C0OUT", []slack.MsgOption{slack.MsgOptionText("x", false)}, "not_in_channel"},
		{"no text", api, "C0OPS12345", nil, "no_text"},
		{"wrong token", slack.New("xoxb-wrong", slack.OptionAPIURL(sb.SlackURL())), "C0OPS12345", []slack.MsgOption{slack.MsgOptionText("x", false)}, "invalid_auth"},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.api.PostMessage(tt.channel, tt.opts...)
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != tt.want {
				t.Fatalf("err = %v (%T), want %s", err, err, tt.want)
			}
		})
	}
}

func TestSlackJSONBodyWithBearer(t *testing.T) {
	sb := start(t, Config{SlackToken: "xoxb-test"})
	body := `{"channel":"C0JSON1234","text":"via json","blocks":[{"type":"divider"}]}`
	req, _ := http.NewRequest(http.MethodPost, sb.SlackURL()+"chat.postMessage", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer xoxb-test")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		OK      bool   `json:"ok"`
		Channel string `json:"channel"`
		TS      string `json:"ts"`
		Message struct {
			Text   string            `json:"text"`
			Blocks []json.RawMessage `json:"blocks"`
		} `json:"message"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if !out.OK || out.Channel != "C0JSON1234" || out.TS == "" || out.Message.Text != "via json" || len(out.Message.Blocks) != 1 {
		t.Errorf("answer = %+v", out)
	}
}

func TestSlack429Burst(t *testing.T) {
	sb := start(t, Config{SlackToken: "xoxb-test", Faults: Faults{Burst429Every: 2, Burst429Len: 1, RetryAfter: 3 * time.Second}})
	api := slack.New("xoxb-test", slack.OptionAPIURL(sb.SlackURL()))
	var results []string
	for range 6 {
		_, _, err := api.PostMessage("C0OPS12345", slack.MsgOptionText("x", false))
		var rl *slack.RateLimitedError
		switch {
		case err == nil:
			results = append(results, "ok")
		case errors.As(err, &rl):
			if rl.RetryAfter != 3*time.Second {
				t.Errorf("RetryAfter = %v, want 3s", rl.RetryAfter)
			}
			results = append(results, "429")
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if got := strings.Join(results, ","); got != "ok,ok,429,ok,ok,429" {
		t.Errorf("results = %s", got)
	}
	if n := sb.Count(KindSlack); n != 4 {
		t.Errorf("Count = %d, want 4", n)
	}
}

func TestSlackIncomingWebhook(t *testing.T) {
	sb := start(t, Config{Faults: Faults{FailTo: map[string]string{"T0/B0/gone": "no_service", "T0/B0/arch": "channel_is_archived"}}})
	ctx := context.Background()

	t.Run("text and blocks land in inbox", func(t *testing.T) {
		url := sb.SlackWebhookURL("T000/B000/secret")
		blocks := &slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}}
		if err := slack.PostWebhookContext(ctx, url, &slack.WebhookMessage{Text: "agents: policy changed", Blocks: blocks}); err != nil {
			t.Fatalf("PostWebhook: %v", err)
		}
		got := sb.Messages(Filter{Kind: KindSlack, To: url})
		if len(got) != 1 || got[0].Body != "agents: policy changed" || !strings.Contains(string(got[0].Blocks), "divider") {
			t.Fatalf("inbox = %+v", got)
		}
	})

	errCases := []struct {
		name   string
		hook   string
		body   string
		status int
		text   string
	}{
		{"no_service", "T0/B0/gone", `{"text":"x"}`, 404, "no_service"},
		{"archived", "T0/B0/arch", `{"text":"x"}`, 410, "channel_is_archived"},
		{"invalid payload", "T0/B0/ok", `{"text":`, 400, "invalid_payload"},
		{"no text", "T0/B0/ok", `{}`, 400, "no_text"},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			res, err := http.Post(sb.SlackWebhookURL(tt.hook), "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status || string(body) != tt.text {
				t.Errorf("got %d %q, want %d %q", res.StatusCode, body, tt.status, tt.text)
			}
		})
	}

	t.Run("slack-go sees the failure", func(t *testing.T) {
		err := slack.PostWebhookContext(ctx, sb.SlackWebhookURL("T0/B0/gone"), &slack.WebhookMessage{Text: "x"})
		var sc slack.StatusCodeError
		if !errors.As(err, &sc) || sc.Code != 404 {
			t.Fatalf("err = %v (%T)", err, err)
		}
	})
}

// TestSlackHistory: conversations.history returns the channel's top-level
// messages newest first, after oldest, a page at a time with a cursor;
// the metadata a message was posted with comes back only with
// include_all_metadata, and an edit without metadata keeps it.
func TestSlackHistory(t *testing.T) {
	sb := start(t, Config{SlackToken: "xoxb-test"})
	api := slack.New("xoxb-test", slack.OptionAPIURL(sb.SlackURL()))
	md := func(id string) slack.MsgOption {
		return slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "herald_incident", EventPayload: map[string]any{"incident_id": id}})
	}
	_, before, err := api.PostMessage("C0HISTORY1", slack.MsgOptionText("before", false), md("i0"))
	if err != nil {
		t.Fatal(err)
	}
	var tss []string
	for i := range 5 {
		_, ts, err := api.PostMessage("C0HISTORY1", slack.MsgOptionText("m"+strconv.Itoa(i), false), md("i"+strconv.Itoa(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		tss = append(tss, ts)
	}
	// Not in the channel's history: a thread reply, another channel.
	if _, _, err := api.PostMessage("C0HISTORY1", slack.MsgOptionText("reply", false), slack.MsgOptionTS(tss[0])); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessage("C0ELSEWHERE", slack.MsgOptionText("other", false), md("i1")); err != nil {
		t.Fatal(err)
	}
	// Edited without metadata: it keeps its own.
	if _, _, _, err := api.UpdateMessage("C0HISTORY1", tss[2], slack.MsgOptionText("m2 edited", false)); err != nil {
		t.Fatal(err)
	}

	params := &slack.GetConversationHistoryParameters{ChannelID: "C0HISTORY1", Oldest: before, Limit: 2, IncludeAllMetadata: true}
	var got []string
	for page := 0; ; page++ {
		res, err := api.GetConversationHistory(params)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Messages {
			got = append(got, m.Text+"="+m.Metadata.EventType+":"+anyString(m.Metadata.EventPayload["incident_id"]))
		}
		if !res.HasMore {
			if res.ResponseMetaData.NextCursor != "" || page != 2 {
				t.Errorf("last page %d: next_cursor %q", page, res.ResponseMetaData.NextCursor)
			}
			break
		}
		if len(res.Messages) != 2 || res.ResponseMetaData.NextCursor == "" {
			t.Fatalf("page %d: %d messages, cursor %q, has_more", page, len(res.Messages), res.ResponseMetaData.NextCursor)
		}
		params.Cursor = res.ResponseMetaData.NextCursor
	}
	want := []string{"m4=herald_incident:i5", "m3=herald_incident:i4", "m2 edited=herald_incident:i3", "m1=herald_incident:i2", "m0=herald_incident:i1"}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("history since %s =\n%v\nwant\n%v", before, got, want)
	}

	res, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: "C0HISTORY1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 6 || res.HasMore {
		t.Errorf("whole history: %d messages, has_more %v; want 6", len(res.Messages), res.HasMore)
	}
	for _, m := range res.Messages {
		if m.Metadata.EventType != "" {
			t.Errorf("metadata without include_all_metadata: %+v", m.Metadata)
		}
	}

	if _, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: "C0HISTORY1", Cursor: "bogus"}); err == nil || err.Error() != "invalid_cursor" {
		t.Errorf("a bogus cursor: %v, want invalid_cursor", err)
	}
	if err := sb.SetFaults(Faults{SlackHistory: "missing_scope"}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: "C0HISTORY1"}); err == nil || err.Error() != "missing_scope" {
		t.Errorf("history without the scope: %v, want missing_scope", err)
	}
}

// TestSlackAuthors: a message carries who posted it, as Slack's do: the
// user, and for an app's bot its bot_id, app_id and bot_profile, in
// chat.postMessage's answer and conversations.history; auth.test answers
// each token's identity; only who posted a message may edit it.
func TestSlackAuthors(t *testing.T) {
	sb := start(t, Config{SlackToken: "xoxb-test"})
	other := SlackIdentity{UserID: "U0OTHERBOT", BotID: "B0OTHER", AppID: "A0OTHER", Name: "otherapp"}
	person := SlackIdentity{UserID: "U0ALICE", Name: "alice"}
	if err := sb.AddSlackToken("xoxb-other", other); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddSlackToken("xoxp-alice", person); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddSlackToken("xoxb-test", other); err == nil {
		t.Error("AddSlackToken redefined herald's token")
	}
	if err := sb.AddSlackToken("xoxb-half", SlackIdentity{UserID: "U0HALF", BotID: "B0HALF"}); err == nil {
		t.Error("AddSlackToken took a bot without an app")
	}
	heraldID := sb.SlackIdentity()
	apis := map[string]*slack.Client{}
	for token, id := range map[string]SlackIdentity{"xoxb-test": heraldID, "xoxb-other": other, "xoxp-alice": person} {
		api := slack.New(token, slack.OptionAPIURL(sb.SlackURL()))
		apis[id.Name] = api
		res, err := api.AuthTest()
		if err != nil {
			t.Fatal(err)
		}
		if res.UserID != id.UserID || res.BotID != id.BotID || res.TeamID != slackTeamID {
			t.Errorf("auth.test for %s = %+v, want %+v", id.Name, res, id)
		}
	}
	if _, err := slack.New("xoxb-nobody", slack.OptionAPIURL(sb.SlackURL())).AuthTest(); err == nil || err.Error() != "invalid_auth" {
		t.Errorf("auth.test with an unknown token: %v, want invalid_auth", err)
	}
	posted := map[string]string{}
	for _, id := range []SlackIdentity{heraldID, other, person} {
		_, ts, err := apis[id.Name].PostMessage("C0AUTHORS1", slack.MsgOptionText("from "+id.Name, false))
		if err != nil {
			t.Fatal(err)
		}
		posted[id.Name] = ts
	}
	res, err := apis["alice"].GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: "C0AUTHORS1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range res.Messages {
		s := m.Text + ": user=" + m.User + " bot_id=" + m.BotID
		if m.BotProfile != nil {
			s += " app_id=" + m.BotProfile.AppID
		}
		got = append(got, s)
	}
	want := []string{"from alice: user=U0ALICE bot_id=", "from otherapp: user=U0OTHERBOT bot_id=B0OTHER app_id=A0OTHER",
		"from herald: user=U0SANDBOX bot_id=B0SANDBOX app_id=A0SANDBOX"}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("history =\n%v\nwant\n%v", got, want)
	}
	if m := sb.Messages(Filter{Kind: KindSlack, To: "C0AUTHORS1"}); len(m) != 3 || m[1].BotID != "B0OTHER" || m[1].AppID != "A0OTHER" || m[1].User != "U0OTHERBOT" {
		t.Errorf("inbox = %+v, want each message's author", m)
	}
	if _, _, _, err := apis["herald"].UpdateMessage("C0AUTHORS1", posted["otherapp"], slack.MsgOptionText("taken over", false)); err == nil || err.Error() != "cant_update_message" {
		t.Errorf("herald edited another app's message: %v, want cant_update_message", err)
	}
	if _, _, _, err := apis["otherapp"].UpdateMessage("C0AUTHORS1", posted["otherapp"], slack.MsgOptionText("edited", false)); err != nil {
		t.Errorf("an app editing its own message: %v", err)
	}
}

// TestSlackDroppedPost: a post whose answer is dropped is in the channel,
// and the caller gets no ts.
func TestSlackDroppedPost(t *testing.T) {
	sb := start(t, Config{SlackToken: "xoxb-test", Faults: Faults{DropSlackPosts: 1}})
	api := slack.New("xoxb-test", slack.OptionAPIURL(sb.SlackURL()))
	if _, ts, err := api.PostMessage("C0DROPPED1", slack.MsgOptionText("first", false)); err == nil {
		t.Fatalf("the dropped post answered ts %q", ts)
	}
	if _, _, err := api.PostMessage("C0DROPPED1", slack.MsgOptionText("second", false)); err != nil {
		t.Fatalf("the second post: %v", err)
	}
	if got := sb.Messages(Filter{Kind: KindSlack, To: "C0DROPPED1"}); len(got) != 2 || got[0].Body != "first" {
		t.Errorf("inbox = %+v, want both posts", got)
	}
}

func anyString(v any) string { s, _ := v.(string); return s }

package sandbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

func TestSlackViews(t *testing.T) {
	sb := start(t, Config{SlackToken: "xoxb-test", SlackUsers: map[string]SlackUser{"U0HU": {Name: "kata", Locale: "hu-HU"}},
		SlackUserGroups: map[string][]string{"S0MANAGERS": {"U0HU", "U0B"}}})
	api := slack.New("xoxb-test", slack.OptionAPIURL(sb.SlackURL()))
	ctx := context.Background()
	modal := func(title, text string) slack.ModalViewRequest {
		return slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject(slack.PlainTextType, title, false, false),
			CallbackID: "herald_declare", PrivateMetadata: "page1",
			Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)}}}
	}

	res, err := api.OpenViewContext(ctx, "trig1", modal("Declare", "Audience: counting…"))
	if err != nil {
		t.Fatalf("views.open: %v", err)
	}
	if res.View.ID == "" || res.View.Hash == "" {
		t.Fatalf("views.open answered %+v", res.View)
	}
	var se slack.SlackErrorResponse
	if _, err := api.OpenViewContext(ctx, "trig1", modal("Declare", "again")); !errors.As(err, &se) || se.Err != "exchanged_trigger_id" {
		t.Errorf("a trigger used twice: %v, want exchanged_trigger_id", err)
	}
	if _, err := api.UpdateViewContext(ctx, modal("Declare", "Audience: 12 SMS"), "", "stale", res.View.ID); !errors.As(err, &se) || se.Err != "hash_conflict" {
		t.Errorf("update with a stale hash: %v, want hash_conflict", err)
	}
	if _, err := api.UpdateViewContext(ctx, modal("Declare", "Audience: 12 SMS"), "", res.View.Hash, res.View.ID); err != nil {
		t.Fatalf("views.update: %v", err)
	}
	vs := sb.Views()
	if len(vs) != 1 || vs[0].Updates != 1 || !strings.Contains(string(vs[0].Blocks), "12 SMS") || vs[0].CallbackID != "herald_declare" {
		t.Fatalf("views = %+v", vs)
	}
	if _, err := api.UpdateViewContext(ctx, modal("Declare", "x"), "", "", "V0NONE"); !errors.As(err, &se) || se.Err != "not_found" {
		t.Errorf("update of an unknown view: %v", err)
	}

	if _, err := api.PostEphemeralContext(ctx, "C0OPS12345", "U0HU", slack.MsgOptionText("only you", false)); err != nil {
		t.Fatalf("chat.postEphemeral: %v", err)
	}
	ms := sb.Messages(Filter{Kind: KindSlack})
	if len(ms) != 1 || ms[0].Status != "ephemeral" || ms[0].Headers["user"] != "U0HU" {
		t.Errorf("ephemeral kept as %+v", ms)
	}

	u, err := api.GetUserInfoContext(ctx, "U0HU")
	if err != nil || u.Locale != "hu-HU" || u.Name != "kata" {
		t.Errorf("users.info = %+v, %v", u, err)
	}
	if u, err := api.GetUserInfoContext(ctx, "U0OTHER"); err != nil || u.Locale != "en-US" {
		t.Errorf("users.info of anyone = %+v, %v", u, err)
	}
	if m, err := api.GetUserGroupMembersContext(ctx, "S0MANAGERS"); err != nil || len(m) != 2 {
		t.Errorf("usergroups.users.list = %v, %v", m, err)
	}

	// The inbox page shows the modal and the message as blocks, escaped.
	resp, err := http.Get(sb.InboxURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Slack modals opened", "Audience: 12 SMS", "updated 1×", "ephemeral"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("inbox page lacks %q", want)
		}
	}
	sb.Reset()
	if len(sb.Views()) != 0 {
		t.Error("Reset kept the views")
	}
}

func TestMrkdwnEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"*Status*\n:red_circle: ok":  "<b>Status</b>\n<span class=\"dot\" style=\"background:#e01e5a\"></span> ok",
		"*<script>x</script>*":       "<b>&lt;script&gt;x&lt;/script&gt;</b>",
		"a * b * c":                  "a <b> b </b> c",
		`"quoted" & <b>not bold</b>`: "&#34;quoted&#34; &amp; &lt;b&gt;not bold&lt;/b&gt;",
	} {
		if got := string(mrkdwn(in)); got != want {
			t.Errorf("mrkdwn(%q) = %q, want %q", in, got, want)
		}
	}
}

package server

import (
	"context"
	"strings"

	slackgo "github.com/slack-go/slack"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/locale"
)

// The Slack door of complaints: /complaint from anyone in the workspace,
// and a message shortcut an agent uses on a customer's message in a shared
// support channel. Both are signature-checked by the routes that call
// them, file the complaint before answering, and answer within Slack's 3
// seconds; the acknowledgement itself is a Slack message from the
// pipeline, like every other answer.

// ShortcutFileComplaint is the callback ID of the message shortcut that
// files a customer's message as a complaint (set it in the Slack app's
// Interactivity settings).
const ShortcutFileComplaint = "herald_file_complaint"

// slackComplaint files /complaint TEXT (or /herald complaint TEXT) from
// the Slack user who typed it and answers ephemerally with its reference,
// in the complaint's language.
func (s *Server) slackComplaint(ctx context.Context, cmd slackgo.SlashCommand, text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return slackWords("", "SlackComplaintUsage", "Tell us what is wrong: /complaint what happened"), nil
	}
	c, _, err := s.cp.svc.Receive(ctx, complaint.Intake{Channel: complaint.Slack,
		Contact:    complaint.Contact{Slack: cmd.UserID, Name: cmd.UserName},
		Text:       text,
		ExternalID: slackExternalID(cmd.TriggerID)})
	if err != nil {
		return "", err
	}
	return slackWords(c.Language, "SlackComplaintFiled", "Thank you: we received your complaint ({{.Ref}}).", "Ref", c.Ref), nil
}

// slackShortcut files the message a message shortcut was used on as a
// complaint from the message's author. It reports false for a shortcut
// that is not herald's, or a message no person wrote (a bot's, an app's).
func (s *Server) slackShortcut(ctx context.Context, in slackgo.InteractionCallback) (bool, error) {
	if in.Type != slackgo.InteractionTypeMessageAction || in.CallbackID != ShortcutFileComplaint {
		return false, nil
	}
	msg := in.Message
	if msg.User == "" || msg.BotID != "" || strings.TrimSpace(msg.Text) == "" {
		return false, nil
	}
	_, _, err := s.cp.svc.Receive(ctx, complaint.Intake{Channel: complaint.Slack,
		Contact:    complaint.Contact{Slack: msg.User},
		Text:       msg.Text,
		ExternalID: slackExternalID(in.Channel.ID + ":" + msg.Timestamp)})
	return err == nil, err
}

// slackExternalID keys a Slack message or command so that a retry files
// it once; "" when Slack gave nothing to key on.
func slackExternalID(id string) string {
	if id == "" || id == ":" {
		return ""
	}
	return "slack:" + id
}

// slackWords returns the catalogue's message id in lang (English when
// lang is unknown), filled with kv. Should the built-in catalogue not load
// (its own tests rule that out) it returns fallback, filled the same way.
func slackWords(lang, id, fallback string, kv ...string) string {
	c, err := locale.Default()
	if err != nil {
		r := fallback
		for i := 0; i+1 < len(kv); i += 2 {
			r = strings.ReplaceAll(r, "{{."+kv[i]+"}}", kv[i+1])
		}
		return r
	}
	if len(kv) == 0 {
		return c.Lang(lang).Text(id)
	}
	return c.Lang(lang).Pattern(id).Fill(kv...)
}

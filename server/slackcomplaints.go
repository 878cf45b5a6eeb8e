package server

import (
	"context"
	"regexp"
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
	text = strings.TrimSpace(slackPlain(text))
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
// complaint from the message's author, and has the Slack app tell the
// person who used it what became of it. It reports false for a shortcut
// that is not herald's; a message no person wrote (a bot's, an app's) or
// one without text is herald's shortcut all the same, and not filed.
func (s *Server) slackShortcut(ctx context.Context, in slackgo.InteractionCallback) (bool, error) {
	if in.Type != slackgo.InteractionTypeMessageAction || in.CallbackID != ShortcutFileComplaint {
		return false, nil
	}
	msg := in.Message
	tell := func(ref string, again bool) {
		if s.slackApp != nil {
			s.slackApp.ToldFiled(in.Channel.ID, in.User.ID, msg.User, ref, again)
		}
	}
	text := slackPlain(msg.Text)
	if msg.User == "" || msg.BotID != "" || strings.TrimSpace(text) == "" {
		tell("", false)
		return true, nil
	}
	c, created, err := s.cp.svc.Receive(ctx, complaint.Intake{Channel: complaint.Slack,
		Contact:    complaint.Contact{Slack: msg.User},
		Text:       text,
		ExternalID: slackExternalID(in.Channel.ID + ":" + msg.Timestamp)})
	if err != nil {
		return true, err
	}
	tell(c.Ref, !created)
	return true, nil
}

// slackMarkup is a Slack message's markup: <@U…|name>, <#C…|name>,
// <!here>, <url|label>.
var slackMarkup = regexp.MustCompile(`<([^<>|]*)(?:\|([^<>]*))?>`)

// slackPlain is a Slack message's text as a person reads it, for a
// complaint: mentions as @name (@ID when Slack gave no name), channels as
// #name, @here/@channel, a user group by its handle, a link as "label
// (url)" or the bare url, a date by its fallback; then &lt; &gt; &amp; as
// the characters they stand for. Slack escapes those three in every
// message it sends, and a complaint stored with "&amp;" in it, or with
// a link's address in pieces, read wrong to agents and to the tagger.
func slackPlain(text string) string {
	text = slackMarkup.ReplaceAllStringFunc(text, func(m string) string {
		sub := slackMarkup.FindStringSubmatch(m)
		target, label := sub[1], sub[2]
		switch {
		case strings.HasPrefix(target, "@"):
			if label != "" {
				return "@" + strings.TrimPrefix(label, "@")
			}
			return target
		case strings.HasPrefix(target, "#"):
			if label != "" {
				return "#" + label
			}
			return target
		case strings.HasPrefix(target, "!subteam^"), strings.HasPrefix(target, "!date^"):
			return label
		case strings.HasPrefix(target, "!"):
			return "@" + strings.TrimPrefix(target, "!")
		case strings.HasPrefix(target, "mailto:"):
			if label != "" {
				return label
			}
			return strings.TrimPrefix(target, "mailto:")
		case !strings.Contains(target, "://"):
			return m // no markup Slack writes: left as it came
		case label == "" || label == target:
			return target
		}
		return label + " (" + target + ")"
	})
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(text)
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

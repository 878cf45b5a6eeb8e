package slackapp

import (
	"context"
	"errors"
	"slices"
	"strings"

	slackgo "github.com/slack-go/slack"

	"github.com/heraldhq/herald/incident"
)

// openStatuses are the incident statuses /herald list shows.
var openStatuses = []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring}

// Handles reports whether the app answers this /herald command's words
// (the server keeps /complaint and /herald complaint).
func Handles(cmd slackgo.SlashCommand) bool {
	if cmd.Command != "/herald" {
		return false
	}
	w := strings.Fields(strings.ToLower(cmd.Text))
	return len(w) == 0 || w[0] != "complaint"
}

// Command answers a /herald command, in the user's Slack locale: the
// ephemeral text to answer with, or "" when a modal opens instead (then
// the modal opens after the answer, and a failure to open it comes as an
// ephemeral message). Read-only commands are open to everyone in the
// workspace (they show what the public status page shows); declaring
// needs the manager role.
func (a *App) Command(ctx context.Context, cmd slackgo.SlashCommand) (string, error) {
	words := strings.Fields(cmd.Text)
	verb := ""
	if len(words) > 0 {
		verb = strings.ToLower(words[0])
	}
	lang := a.userLang(ctx, cmd.UserID)
	switch verb {
	case "declare":
		role, err := a.may(ctx, cmd.UserID, incident.RoleManager)
		if errors.Is(err, errRefused) {
			a.log.Info("slack: refused", "user", cmd.UserID, "command", "declare", "role", role)
			return a.refused(lang, role), nil
		}
		if err != nil {
			return a.failed(lang, err), nil
		}
		pageID := ""
		if len(words) > 1 {
			pageID = words[1]
		}
		page, err := a.page(ctx, pageID)
		if err != nil {
			return a.failed(lang, err), nil
		}
		// The trigger lasts 3 seconds: open the modal at once, after the
		// answer, and count its audience after that.
		a.later(func(ctx context.Context) { a.openDeclare(ctx, cmd.TriggerID, cmd.ChannelID, cmd.UserID, lang, page) })
		return "", nil
	case "status":
		pageID := ""
		if len(words) > 1 {
			pageID = strings.Join(words[1:], " ") // a page's name may have spaces
		}
		text, err := a.status(ctx, lang, pageID)
		if err != nil {
			return a.failed(lang, err), nil
		}
		return text, nil
	case "list":
		text, err := a.list(ctx, lang)
		if err != nil {
			return a.failed(lang, err), nil
		}
		return text, nil
	case "", "help":
		return a.text(lang, "SlackHelp"), nil
	}
	// A word herald does not know: said so, then what it does know.
	return a.text(lang, "SlackUnknownCommand", "Word", escapeMrkdwn(clip(words[0], 40))) + "\n\n" + a.text(lang, "SlackHelp"), nil
}

// reason is an error as a user may read it: a domain error's message,
// anything else as "an internal error" (logged by the caller's log line).
func reason(err error) string {
	var de *incident.Error
	if errors.As(err, &de) && de.Code != incident.EINTERNAL {
		return de.Message
	}
	return "an internal error; the details are in herald's log"
}

// failed words err for the user, and logs it when it is not one the
// user caused (its detail stays in the log).
func (a *App) failed(lang string, err error) string {
	var de *incident.Error
	if !errors.As(err, &de) || de.Code == incident.EINTERNAL {
		a.log.Error("slack: command failed", "err", err)
	}
	return a.text(lang, "SlackFailed", "Reason", mrkdwnReason(err))
}

// mrkdwnReason is reason(err) for a mrkdwn text (an answer, an ephemeral
// message, a context block): a domain error's message may quote what a
// person typed ("no status page is named \"<!channel>\""). A modal's
// field errors are plain text and take reason(err) as it is.
func mrkdwnReason(err error) string { return escapeMrkdwn(reason(err)) }

// page returns the page named by id, or the first page.
//
// id may also be the page's name, in any case, or one of its hosts: people
// in Slack know "Acme Payments", not the page's ID.
func (a *App) page(ctx context.Context, id string) (*incident.Page, error) {
	id = strings.TrimSpace(id)
	if id != "" {
		p, err := a.inc.Page(ctx, id)
		if err == nil || incident.ErrorCode(err) != incident.ENOTFOUND {
			return p, err
		}
	}
	pages, err := a.inc.Pages(ctx)
	if err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, incident.Errorf(incident.ENOTFOUND, "there is no status page yet")
	}
	if id == "" {
		return pages[0], nil
	}
	for _, p := range pages {
		if strings.EqualFold(p.Name, id) || slices.ContainsFunc(p.Hosts, func(h string) bool { return strings.EqualFold(h, id) }) {
			return p, nil
		}
	}
	return nil, incident.Errorf(incident.ENOTFOUND, "no status page is named %q", id)
}

// status describes a page's overall status and its open incidents.
func (a *App) status(ctx context.Context, lang, pageID string) (string, error) {
	page, err := a.page(ctx, pageID)
	if err != nil {
		return "", err
	}
	comps, err := a.inc.Components(ctx, page.ID)
	if err != nil {
		return "", err
	}
	open, _, err := a.inc.Incidents(ctx, incident.IncidentFilter{PageID: page.ID,
		Statuses: []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring, incident.InProgress, incident.Verifying}})
	if err != nil {
		return "", err
	}
	st := incident.Overall(comps, open)
	desc := st.Description
	if id, ok := overallIDs[st.Description]; ok {
		desc = a.text(lang, id)
	}
	var b strings.Builder
	b.WriteString("*" + escapeMrkdwn(page.Name) + "*: " + desc)
	for _, inc := range open {
		b.WriteString("\n• " + escapeMrkdwn(inc.Name) + " (" + a.statusWord(lang, inc.Status) + ")")
	}
	return b.String(), nil
}

// overallIDs maps incident.Overall's descriptions to message IDs (as the
// status page does).
var overallIDs = map[string]string{
	"All Systems Operational":    "OverallAllOperational",
	"Minor Service Outage":       "OverallMinorOutage",
	"Partial System Outage":      "OverallPartialOutage",
	"Major Service Outage":       "OverallMajorServiceOutage",
	"Major System Outage":        "OverallMajorSystemOutage",
	"Partially Degraded Service": "OverallDegraded",
	"Service Under Maintenance":  "OverallMaintenance",
}

// list shows the open incidents of every page.
func (a *App) list(ctx context.Context, lang string) (string, error) {
	open, _, err := a.inc.Incidents(ctx, incident.IncidentFilter{Statuses: openStatuses})
	if err != nil {
		return "", err
	}
	if len(open) == 0 {
		return a.text(lang, "SlackListNone"), nil
	}
	var b strings.Builder
	b.WriteString(a.text(lang, "SlackListTitle"))
	for _, inc := range open {
		b.WriteString("\n• *" + escapeMrkdwn(inc.Name) + "* (" + a.statusWord(lang, inc.Status) + ", " + a.impactWord(lang, inc.Impact) + ") `" + inc.ID + "`")
	}
	return b.String(), nil
}

// tell shows text to the user who acted, in the channel they acted in; a
// failure to do even that is logged.
func (a *App) tell(ctx context.Context, channelID, userID, text string) {
	if channelID == "" || userID == "" {
		a.log.Warn("slack: nowhere to tell the user", "user", userID, "text", text)
		return
	}
	if err := a.slack.PostEphemeral(ctx, channelID, userID, text); err != nil {
		a.log.Warn("slack: chat.postEphemeral", "user", userID, "channel", channelID, "err", err, "text", text)
	}
}

// ToldFiled tells the person who used the "File as complaint" shortcut on
// channelID, in their language, what became of the message: filed as the
// complaint ref from author (again: filed before), or not filed because
// it had no text. It answers after the interaction's 3 seconds, as an
// ephemeral message only they see; without it they never learnt the
// reference, nor that nothing was filed.
func (a *App) ToldFiled(channelID, userID, author, ref string, again bool) {
	a.later(func(ctx context.Context) {
		lang := a.userLang(ctx, userID)
		var text string
		switch {
		case ref == "":
			text = a.text(lang, "SlackShortcutEmpty")
		case again:
			text = a.text(lang, "SlackShortcutAgain", "Ref", ref)
		default:
			text = a.text(lang, "SlackShortcutFiled", "Ref", ref, "Author", "<@"+author+">")
		}
		a.tell(ctx, channelID, userID, text)
	})
}

package slackapp

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
)

// Callback IDs of herald's modals and action IDs of its buttons.
const (
	CallbackDeclare = "herald_declare"
	CallbackUpdate  = "herald_update"
	CallbackResolve = "herald_resolve"

	ActionUpdate  = "herald_update"
	ActionResolve = "herald_resolve"
	ActionOpen    = "herald_open"
)

// Block and action IDs of the modals' inputs: the block ID is what
// response_action errors name.
const (
	blockName        = "name"
	blockComponents  = "components"
	blockImpact      = "impact"
	blockStatus      = "status"
	blockBody        = "body"
	blockNotify      = "notify"
	blockOperational = "operational"
	blockAudience    = "audience"
	compStatusPrefix = "cs_" // + component ID: that component's status select
	optionYes        = "yes"
)

// meta is what a modal carries in private_metadata.
type meta struct {
	Page     string `json:"page"`
	Incident string `json:"incident,omitempty"`
	Channel  string `json:"channel,omitempty"` // where the user acted, for ephemeral answers
	Lang     string `json:"lang"`
	// The incident as the update and resolve modals were opened on it:
	// its version (a submission against another is refused), and the
	// status, impact and component statuses they were pre-filled with
	// (to say what changed meanwhile, and to send only the component
	// statuses the manager changed). Version 0: a form opened before
	// herald carried it.
	Version int                                 `json:"version,omitempty"`
	Status  incident.Status                     `json:"status,omitempty"`
	Impact  incident.Impact                     `json:"impact,omitempty"`
	Comps   map[string]incident.ComponentStatus `json:"comps,omitempty"`
}

// maxMetadata is Slack's limit on a view's private_metadata.
const maxMetadata = 3000

func (m meta) String() string {
	b, _ := json.Marshal(m)
	if len(b) > maxMetadata && m.Comps != nil {
		// An incident of very many components: the version still
		// guards the form; every status is then sent as shown.
		m.Comps = nil
		b, _ = json.Marshal(m)
	}
	return string(b)
}

// openedOn is m carrying inc and its components' statuses as a form
// opened on it shows them.
func (m meta) openedOn(inc *incident.Incident, comps []*incident.Component) meta {
	m.Version, m.Status, m.Impact = inc.Version, inc.Status, shownImpact(inc)
	m.Comps = map[string]incident.ComponentStatus{}
	for _, c := range comps {
		if inc.Affects(c.ID) {
			m.Comps[c.ID] = c.Status
		}
	}
	return m
}

func plain(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.PlainTextType, s, false, false)
}

func mrkdwn(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.MarkdownType, s, false, false)
}

// clip shortens s to n runes (Slack refuses longer labels and options).
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func (a *App) modal(lang, callback, title, submit string, m meta, blocks ...slackgo.Block) slackgo.ModalViewRequest {
	return slackgo.ModalViewRequest{Type: slackgo.VTModal, CallbackID: callback, Title: plain(clip(title, 24)),
		Submit: plain(clip(submit, 24)), Close: plain(clip(a.text(lang, "SlackCancel"), 24)),
		PrivateMetadata: m.String(), Blocks: slackgo.Blocks{BlockSet: blocks}}
}

// componentStatusSelect is one component's status input, showing st.
func (a *App) componentStatusSelect(lang string, c *incident.Component, st incident.ComponentStatus) *slackgo.InputBlock {
	var opts []*slackgo.OptionBlockObject
	var initial *slackgo.OptionBlockObject
	for _, s := range incident.ComponentStatuses {
		o := slackgo.NewOptionBlockObject(string(s), plain(a.componentWord(lang, s)), nil)
		opts = append(opts, o)
		if s == st {
			initial = o
		}
	}
	sel := slackgo.NewOptionsSelectBlockElement(slackgo.OptTypeStatic, nil, blockStatus, opts...)
	sel.InitialOption = initial
	return slackgo.NewInputBlock(compStatusPrefix+c.ID, plain(clip(a.text(lang, "SlackFieldComponentStatus", "Name", c.Name), 150)), nil, sel)
}

// pageLanguage is the page's default language and its name, for the
// message fields' labels.
func (a *App) pageLanguage(page *incident.Page) string {
	l := "en"
	if len(page.Languages) > 0 {
		l = page.Languages[0]
	}
	return a.text(l, "SlackLanguage")
}

// notifyInput is the "notify customers" checkbox, ticked when on.
func (a *App) notifyInput(lang string, on bool) *slackgo.InputBlock {
	yes := slackgo.NewOptionBlockObject(optionYes, plain(a.text(lang, "SlackNotifyYes")), nil)
	cb := slackgo.NewCheckboxGroupsBlockElement(blockNotify, yes)
	if on {
		cb.InitialOptions = []*slackgo.OptionBlockObject{yes}
	}
	in := slackgo.NewInputBlock(blockNotify, plain(a.text(lang, "SlackFieldNotify")), nil, cb)
	in.Optional = true
	return in
}

func (a *App) bodyInput(lang, labelID string, page *incident.Page) *slackgo.InputBlock {
	el := slackgo.NewPlainTextInputBlockElement(nil, blockBody)
	el.Multiline, el.MaxLength = true, 3000 // Slack's own limit on a text input
	in := slackgo.NewInputBlock(blockBody, plain(clip(a.text(lang, labelID, "Language", a.pageLanguage(page)), 150)), nil, el)
	return in
}

// declareView is the declare modal: selected components each get a
// status select (statuses, else partial outage), and audience is the
// summary line.
func (a *App) declareView(lang string, page *incident.Page, comps []*incident.Component, selected []string, statuses map[string]incident.ComponentStatus, audience string, m meta) slackgo.ModalViewRequest {
	name := slackgo.NewPlainTextInputBlockElement(plain(a.text(lang, "SlackFieldNameHint")), blockName)
	name.MaxLength = incident.MaxNameLen
	blocks := []slackgo.Block{slackgo.NewInputBlock(blockName, plain(a.text(lang, "SlackFieldName")), nil, name)}

	var opts, initial []*slackgo.OptionBlockObject
	byID := map[string]*incident.Component{}
	for _, c := range comps {
		if c.Group {
			continue
		}
		byID[c.ID] = c
		o := slackgo.NewOptionBlockObject(c.ID, plain(clip(c.Name, 75)), nil)
		opts = append(opts, o)
		for _, id := range selected {
			if id == c.ID {
				initial = append(initial, o)
			}
		}
	}
	if len(opts) > 0 {
		ms := slackgo.NewOptionsMultiSelectBlockElement(slackgo.MultiOptTypeStatic, nil, blockComponents, opts[:min(len(opts), 100)]...)
		ms.InitialOptions = initial
		in := slackgo.NewInputBlock(blockComponents, plain(a.text(lang, "SlackFieldComponents")), nil, ms)
		in.Optional, in.DispatchAction = true, true // a change recounts the audience and adds status selects
		blocks = append(blocks, in)
		for _, id := range selected {
			if c := byID[id]; c != nil {
				st, ok := statuses[id]
				if !ok {
					st = incident.PartialOutage
				}
				blocks = append(blocks, a.componentStatusSelect(lang, c, st))
			}
		}
	}
	var impacts []*slackgo.OptionBlockObject
	for _, i := range []incident.Impact{incident.ImpactMinor, incident.ImpactMajor, incident.ImpactCritical} {
		impacts = append(impacts, slackgo.NewOptionBlockObject(string(i), plain(a.impactWord(lang, i)), nil))
	}
	imp := slackgo.NewInputBlock(blockImpact, plain(clip(a.text(lang, "SlackFieldImpact"), 150)), nil,
		slackgo.NewOptionsSelectBlockElement(slackgo.OptTypeStatic, nil, blockImpact, impacts...))
	imp.Optional = true
	blocks = append(blocks, imp, a.bodyInput(lang, "SlackFieldBody", page), a.notifyInput(lang, true),
		slackgo.NewContextBlock(blockAudience, mrkdwn(audience)))
	return a.modal(lang, CallbackDeclare, a.text(lang, "SlackModalDeclare"), a.text(lang, "SlackSubmitDeclare"), m, blocks...)
}

// audienceLine words a draft audience count.
func (a *App) audienceLine(lang string, counts map[channel.Kind]int, err error) string {
	if err != nil {
		return a.text(lang, "SlackAudienceFailed", "Reason", mrkdwnReason(err))
	}
	var parts []string
	for _, k := range channel.Kinds {
		if n := counts[k]; n > 0 {
			parts = append(parts, a.channelWord(lang, k)+" "+itoa(n))
		}
	}
	if len(parts) == 0 {
		return a.text(lang, "SlackAudienceNone")
	}
	return a.text(lang, "SlackAudience", "Counts", strings.Join(parts, " · "))
}

// openDeclare opens the declare modal with the command's trigger, then
// counts the audience and shows it (views.update).
func (a *App) openDeclare(ctx context.Context, trigger, channelID, userID, lang string, page *incident.Page) {
	comps, err := a.inc.Components(ctx, page.ID)
	if err != nil {
		a.tell(ctx, channelID, userID, a.text(lang, "SlackFailed", "Reason", mrkdwnReason(err)))
		return
	}
	m := meta{Page: page.ID, Channel: channelID, Lang: lang}
	octx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	v, err := a.slack.OpenView(octx, trigger, a.declareView(lang, page, comps, nil, nil, a.text(lang, "SlackAudienceCounting"), m))
	cancel()
	if err != nil {
		a.log.Warn("slack: views.open", "user", userID, "err", err)
		// Slack's own words ("exchanged_trigger_id") are for the log; the
		// manager is told what to do.
		msg := "SlackFormFailed"
		if strings.Contains(err.Error(), "trigger_id") {
			msg = "SlackTriggerSpent"
		}
		a.tell(ctx, channelID, userID, a.text(lang, msg))
		return
	}
	a.refreshDeclare(ctx, v, page, comps, nil, nil, m, userID)
}

// refreshDeclare counts the audience of the components chosen and updates
// the declare modal with it.
func (a *App) refreshDeclare(ctx context.Context, v *slackgo.View, page *incident.Page, comps []*incident.Component, selected []string, statuses map[string]incident.ComponentStatus, m meta, userID string) {
	counts, err := a.fan.DraftAudience(ctx, page.ID, selected)
	if err != nil {
		a.log.Warn("slack: count the audience", "page_id", page.ID, "err", err)
	}
	line := a.audienceLine(m.Lang, counts, err)
	if _, err := a.slack.UpdateView(ctx, v.ID, v.Hash, a.declareView(m.Lang, page, comps, selected, statuses, line, m)); err != nil {
		// hash_conflict: the user changed the form meanwhile, and that
		// change brings its own update.
		a.log.Info("slack: views.update", "view_id", v.ID, "user", userID, "err", err)
	}
}

// incidentModal is the update or resolve modal for inc, pre-filled with
// its status and its components' statuses.
func (a *App) incidentModal(lang string, page *incident.Page, inc *incident.Incident, comps []*incident.Component, resolve bool, m meta) slackgo.ModalViewRequest {
	byID := map[string]*incident.Component{}
	for _, c := range comps {
		byID[c.ID] = c
	}
	var blocks []slackgo.Block
	blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn("*"+escapeMrkdwn(inc.Name)+"*\n"+a.statusWord(lang, inc.Status)+" · "+a.impactWord(lang, shownImpact(inc))), nil, nil))
	if inc.Status.Closed() && !resolve {
		// A note after the all-clear: the incident stays resolved and
		// its components as they are; customers, who had the all-clear,
		// are told only if the manager ticks the box.
		blocks = append(blocks, slackgo.NewContextBlock("note", mrkdwn(a.text(lang, "SlackNoteHint"))))
		blocks = append(blocks, a.bodyInput(lang, "SlackFieldUpdateBody", page), a.notifyInput(lang, false))
		return a.modal(lang, CallbackUpdate, a.text(lang, "SlackModalNote"), a.text(lang, "SlackSubmitUpdate"), m, blocks...)
	}
	if !resolve {
		var opts []*slackgo.OptionBlockObject
		var initial *slackgo.OptionBlockObject
		for _, s := range []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring} {
			o := slackgo.NewOptionBlockObject(string(s), plain(a.statusWord(lang, s)), nil)
			opts = append(opts, o)
			if s == inc.Status {
				initial = o
			}
		}
		sel := slackgo.NewOptionsSelectBlockElement(slackgo.OptTypeStatic, nil, blockStatus, opts...)
		sel.InitialOption = initial
		blocks = append(blocks, slackgo.NewInputBlock(blockStatus, plain(a.text(lang, "SlackFieldStatus")), nil, sel))
	} else {
		yes := slackgo.NewOptionBlockObject(optionYes, plain(a.text(lang, "SlackOperationalYes")), nil)
		cb := slackgo.NewCheckboxGroupsBlockElement(blockOperational, yes)
		cb.InitialOptions = []*slackgo.OptionBlockObject{yes}
		in := slackgo.NewInputBlock(blockOperational, plain(a.text(lang, "SlackFieldOperational")), nil, cb)
		in.Optional = true
		blocks = append(blocks, in)
	}
	for _, id := range inc.ComponentIDs {
		if c := byID[id]; c != nil {
			in := a.componentStatusSelect(lang, c, c.Status)
			in.Optional = resolve // ignored while "return all to operational" is ticked
			blocks = append(blocks, in)
		}
	}
	body := a.bodyInput(lang, "SlackFieldUpdateBody", page)
	body.Optional = resolve
	blocks = append(blocks, body, a.notifyInput(lang, true))
	if resolve {
		return a.modal(lang, CallbackResolve, a.text(lang, "SlackModalResolve"), a.text(lang, "SlackSubmitResolve"), m, blocks...)
	}
	return a.modal(lang, CallbackUpdate, a.text(lang, "SlackModalUpdate"), a.text(lang, "SlackSubmitUpdate"), m, blocks...)
}

// Interaction handles an interaction payload after the server checked its
// signature. It returns what to answer Slack with: a view_submission's
// response (nil closes the modal) or nil for anything else, which is
// acknowledged at once and worked on after. handled is false for a
// payload that is not herald's.
func (a *App) Interaction(ctx context.Context, in slackgo.InteractionCallback) (resp *slackgo.ViewSubmissionResponse, handled bool) {
	switch in.Type {
	case slackgo.InteractionTypeViewSubmission:
		switch in.View.CallbackID {
		case CallbackDeclare, CallbackUpdate, CallbackResolve:
			return a.submit(ctx, in), true
		}
	case slackgo.InteractionTypeBlockActions:
		if len(in.ActionCallback.BlockActions) == 0 {
			return nil, false
		}
		act := in.ActionCallback.BlockActions[0]
		switch {
		case act.ActionID == ActionUpdate || act.ActionID == ActionResolve:
			a.later(func(ctx context.Context) { a.openIncidentModal(ctx, in, act) })
			return nil, true
		case act.ActionID == ActionOpen:
			return nil, true // a link: Slack opens it
		case in.View.CallbackID == CallbackDeclare && act.BlockID == blockComponents:
			a.later(func(ctx context.Context) { a.declareChanged(ctx, in) })
			return nil, true
		}
	}
	return nil, false
}

// person is the user behind an interaction, with their language.
func (a *App) person(ctx context.Context, u slackgo.User) Person {
	name := u.Name
	if name == "" {
		name = u.Profile.DisplayName
	}
	return Person{ID: u.ID, Name: name, Locale: a.userLang(ctx, u.ID)}
}

// openIncidentModal opens the update or resolve modal from a button on an
// incident's message, for a manager; anyone else is told politely.
func (a *App) openIncidentModal(ctx context.Context, in slackgo.InteractionCallback, act *slackgo.BlockAction) {
	p := a.person(ctx, in.User)
	chID := in.Channel.ID
	if chID == "" {
		chID = in.Container.ChannelID
	}
	if role, err := a.may(ctx, p.ID, incident.RoleManager); err != nil {
		if errors.Is(err, errRefused) {
			a.log.Info("slack: refused", "user", p.ID, "action", act.ActionID, "role", role)
			a.tell(ctx, chID, p.ID, a.refused(p.Locale, role))
		} else {
			a.tell(ctx, chID, p.ID, a.text(p.Locale, "SlackFailed", "Reason", mrkdwnReason(err)))
		}
		return
	}
	fail := func(err error) { a.tell(ctx, chID, p.ID, a.text(p.Locale, "SlackFailed", "Reason", mrkdwnReason(err))) }
	inc, err := a.inc.Incident(ctx, "", act.Value)
	if err != nil {
		fail(err)
		return
	}
	page, err := a.inc.Page(ctx, inc.PageID)
	if err != nil {
		fail(err)
		return
	}
	comps, err := a.inc.Components(ctx, inc.PageID)
	if err != nil {
		fail(err)
		return
	}
	m := meta{Page: inc.PageID, Incident: inc.ID, Channel: chID, Lang: p.Locale}.openedOn(inc, comps)
	if act.ActionID == ActionResolve && inc.Status.Closed() {
		// A resolve button on a message not yet redrawn.
		a.tell(ctx, chID, p.ID, a.text(p.Locale, "SlackAlreadyClosed"))
		return
	}
	octx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer cancel()
	if _, err := a.slack.OpenView(octx, in.TriggerID, a.incidentModal(p.Locale, page, inc, comps, act.ActionID == ActionResolve, m)); err != nil {
		a.log.Warn("slack: views.open", "user", p.ID, "err", err)
		a.tell(ctx, chID, p.ID, a.text(p.Locale, "SlackFailed", "Reason", escapeMrkdwn(err.Error())))
	}
}

// declareChanged rebuilds the declare modal when its components change:
// a status select per component, and the audience counted again.
func (a *App) declareChanged(ctx context.Context, in slackgo.InteractionCallback) {
	var m meta
	if json.Unmarshal([]byte(in.View.PrivateMetadata), &m) != nil {
		return
	}
	page, err := a.inc.Page(ctx, m.Page)
	if err != nil {
		return
	}
	comps, err := a.inc.Components(ctx, m.Page)
	if err != nil {
		return
	}
	values := map[string]map[string]slackgo.BlockAction{}
	if in.View.State != nil {
		values = in.View.State.Values
	}
	selected, statuses := chosenComponents(values)
	a.refreshDeclare(ctx, &in.View, page, comps, selected, statuses, m, in.User.ID)
}

// chosenComponents reads the components selected and each one's status.
func chosenComponents(values map[string]map[string]slackgo.BlockAction) ([]string, map[string]incident.ComponentStatus) {
	var selected []string
	for _, o := range values[blockComponents][blockComponents].SelectedOptions {
		selected = append(selected, o.Value)
	}
	statuses := map[string]incident.ComponentStatus{}
	for block, acts := range values {
		if id, ok := strings.CutPrefix(block, compStatusPrefix); ok {
			if v := acts[blockStatus].SelectedOption.Value; v != "" {
				statuses[id] = incident.ComponentStatus(v)
			}
		}
	}
	// In the order picked (Slack keeps it): the status selects follow
	// the components as the manager chose them.
	return selected, statuses
}

func checked(values map[string]map[string]slackgo.BlockAction, block string) bool {
	for _, o := range values[block][block].SelectedOptions {
		if o.Value == optionYes {
			return true
		}
	}
	return false
}

// submit applies a submitted modal through incident.Service, as the
// user; a problem goes back onto the modal's field.
func (a *App) submit(ctx context.Context, in slackgo.InteractionCallback) *slackgo.ViewSubmissionResponse {
	var m meta
	if err := json.Unmarshal([]byte(in.View.PrivateMetadata), &m); err != nil {
		return slackgo.NewErrorsViewSubmissionResponse(map[string]string{blockBody: "herald could not read this form; open it again."})
	}
	p := a.person(ctx, in.User)
	lang := p.Locale
	role, err := a.may(ctx, p.ID, incident.RoleManager)
	if err != nil {
		msg := a.refused(lang, role)
		if !errors.Is(err, errRefused) {
			msg = a.text(lang, "SlackFailed", "Reason", reason(err))
		}
		a.log.Info("slack: submission refused", "user", p.ID, "callback", in.View.CallbackID, "err", err)
		return slackgo.NewErrorsViewSubmissionResponse(map[string]string{onForm(firstBlock(in.View.CallbackID), m): msg})
	}
	ctx = incident.WithActor(ctx, p.actor(role))
	values := map[string]map[string]slackgo.BlockAction{}
	if in.View.State != nil {
		values = in.View.State.Values
	}
	body := values[blockBody][blockBody].Value
	deliver := checked(values, blockNotify)
	input := incident.IncidentInput{DeliverNotifications: &deliver}
	if strings.TrimSpace(body) != "" {
		input.Body = &body
	} else if in.View.CallbackID != CallbackResolve {
		// The field is required, and Slack takes spaces for text: a
		// blank message would be posted on the public page.
		return slackgo.NewErrorsViewSubmissionResponse(map[string]string{blockBody: a.text(lang, "SlackBodyBlank")})
	}
	selected, statuses := chosenComponents(values)
	switch in.View.CallbackID {
	case CallbackDeclare:
		name := values[blockName][blockName].Value
		input.Name = &name
		if len(selected) > 0 {
			input.ComponentIDs = selected
			input.Components = map[string]incident.ComponentStatus{}
			for _, id := range selected {
				st, ok := statuses[id]
				if !ok {
					st = incident.PartialOutage
				}
				input.Components[id] = st
			}
		}
		if v := values[blockImpact][blockImpact].SelectedOption.Value; v != "" {
			imp := incident.Impact(v)
			input.ImpactOverride = &imp
		}
		// The view's ID keys the declaration: a submission Slack sends
		// twice declares once.
		_, _, err = a.inc.CreateIncident(ctx, m.Page, input, "slack:"+in.View.ID)
	case CallbackUpdate, CallbackResolve:
		resolve := in.View.CallbackID == CallbackResolve
		cur, gerr := a.inc.Incident(ctx, m.Page, m.Incident)
		if gerr != nil {
			err = gerr
			break
		}
		if resolve && cur.Status.Closed() {
			// Resolving twice (a second form left open, a retried
			// submission) would post another resolution and message
			// every customer again: refused, as the CLI refuses it.
			a.log.Info("slack: resolve refused: already closed", "user", p.ID, "incident_id", m.Incident, "status", cur.Status)
			return slackgo.NewErrorsViewSubmissionResponse(map[string]string{blockBody: a.text(lang, "SlackAlreadyClosed")})
		}
		// Only the version the form was opened on: what another manager
		// or door posted meanwhile is not overruled unseen. A form from
		// before herald carried its version holds the one just read.
		version := m.Version
		if version == 0 {
			version = cur.Version
		}
		input.IfVersion = &version
		if v := values[blockStatus][blockStatus].SelectedOption.Value; v != "" && !resolve {
			st := incident.Status(v)
			input.Status = &st
		}
		auto := false
		if resolve {
			st := incident.Resolved
			input.Status = &st
			auto = checked(values, blockOperational)
			input.AutoTransitionToOperational = &auto
		}
		if !auto {
			if changed := changedStatuses(statuses, m.Comps); len(changed) > 0 {
				input.Components = changed
			}
		}
		_, err = a.inc.UpdateIncident(ctx, m.Page, m.Incident, input)
		if incident.ErrorCode(err) == incident.EPRECONDITION {
			now, gerr := a.inc.Incident(ctx, m.Page, m.Incident)
			if gerr != nil {
				err = gerr
				break
			}
			if resolve && now.Status.Closed() {
				a.log.Info("slack: resolve refused: closed meanwhile", "user", p.ID, "incident_id", m.Incident, "status", now.Status)
				return slackgo.NewErrorsViewSubmissionResponse(map[string]string{blockBody: a.text(lang, "SlackAlreadyClosed")})
			}
			comps, cerr := a.inc.Components(ctx, now.PageID)
			if cerr != nil {
				err = cerr
				break
			}
			a.log.Info("slack: submission refused: the incident changed since the form opened", "user", p.ID, "incident_id", m.Incident,
				"form_version", version, "version", now.Version)
			return slackgo.NewErrorsViewSubmissionResponse(map[string]string{errorBlock(in.View.CallbackID, m): a.changedMeanwhile(lang, m, now, comps)})
		}
	}
	if err != nil {
		a.log.Info("slack: submission failed", "user", p.ID, "callback", in.View.CallbackID, "err", err)
		return slackgo.NewErrorsViewSubmissionResponse(map[string]string{onForm(fieldBlock(in.View.CallbackID, err), m): a.text(lang, "SlackFailed", "Reason", reason(err))})
	}
	return nil
}

// changedStatuses is the component statuses chosen that differ from those
// the form was pre-filled with (all of them when it did not say): a
// status left as shown is not a change to post, and would put back one
// that moved since.
func changedStatuses(chosen, shown map[string]incident.ComponentStatus) map[string]incident.ComponentStatus {
	out := map[string]incident.ComponentStatus{}
	for id, st := range chosen {
		if was, ok := shown[id]; shown == nil || !ok || was != st {
			out[id] = st
		}
	}
	return out
}

// errorBlock is the input block a refusal of the whole form goes on: the
// status select at the top of an update form, else the message.
func errorBlock(callback string, m meta) string {
	return onForm(firstBlock(callback), m)
}

// onForm is block, or the message when the form has no such block: a
// note on a resolved incident has no status select (Slack shows no
// error on a block the form lacks).
func onForm(block string, m meta) string {
	if block == blockStatus && m.Status.Closed() {
		return blockBody
	}
	return block
}

// changedMeanwhile says what changed in the incident since the form was
// opened on m: its status, impact and components' statuses, or, when
// none of these, that an update was posted.
func (a *App) changedMeanwhile(lang string, m meta, now *incident.Incident, comps []*incident.Component) string {
	var parts []string
	if m.Status != "" && m.Status != now.Status {
		parts = append(parts, a.text(lang, "SlackChangedStatus", "From", a.statusWord(lang, m.Status), "To", a.statusWord(lang, now.Status)))
	}
	if imp := shownImpact(now); m.Impact != "" && m.Impact != imp {
		parts = append(parts, a.text(lang, "SlackChangedImpact", "From", a.impactWord(lang, m.Impact), "To", a.impactWord(lang, imp)))
	}
	for _, c := range sortedByName(comps) {
		if was, ok := m.Comps[c.ID]; ok && was != c.Status {
			parts = append(parts, c.Name+": "+a.componentWord(lang, was)+" → "+a.componentWord(lang, c.Status))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, a.text(lang, "SlackChangedUpdate"))
	}
	return clip(a.text(lang, "SlackChangedMeanwhile", "Changes", strings.Join(parts, "; ")), 1900)
}

// sortedByName is comps ordered by name, as people look for them.
func sortedByName(comps []*incident.Component) []*incident.Component {
	out := append([]*incident.Component(nil), comps...)
	sort.SliceStable(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// firstBlock is the input block a modal's general errors go on.
func firstBlock(callback string) string {
	switch callback {
	case CallbackUpdate:
		return blockStatus
	case CallbackResolve:
		return blockBody
	}
	return blockName
}

// fieldBlock is the input block that shows a domain error about field.
func fieldBlock(callback string, err error) string {
	var de *incident.Error
	if errors.As(err, &de) {
		switch de.Field {
		case "name":
			if callback == CallbackDeclare {
				return blockName
			}
		case "body":
			return blockBody
		case "component_ids", "components":
			if callback == CallbackDeclare {
				return blockComponents
			}
		case "impact_override":
			if callback == CallbackDeclare {
				return blockImpact
			}
		case "status":
			if callback == CallbackUpdate {
				return blockStatus
			}
		}
	}
	return firstBlock(callback)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

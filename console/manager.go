package console

import (
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

var openStatuses = []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring}

// endedStatuses are an incident's and a maintenance's last; the queue
// lists those declared within endedListed that still have open
// complaints.
var endedStatuses = []incident.Status{incident.Resolved, incident.Completed}

const endedListed = 14 * 24 * time.Hour

// taggableEnded are the statuses of an ended incident a complaint can be
// tagged to.
var taggableEnded = []incident.Status{incident.Resolved, incident.Postmortem}

var maintenanceStatuses = []incident.Status{incident.Scheduled, incident.InProgress, incident.Verifying}

// overview is GET /console/: the page as customers see it.
func (cs *Console) overview(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	comps, err := cs.cfg.Incidents.Components(ctx, p.ID)
	if err != nil {
		return err
	}
	open, _, err := cs.cfg.Incidents.Incidents(ctx, incident.IncidentFilter{PageID: p.ID, Statuses: openStatuses})
	if err != nil {
		return err
	}
	maint, _, err := cs.cfg.Incidents.Incidents(ctx, incident.IncidentFilter{PageID: p.ID, Statuses: maintenanceStatuses})
	if err != nil {
		return err
	}
	var openInc []*incident.Incident
	for _, i := range open {
		if !i.IsMaintenance() {
			openInc = append(openInc, i)
		}
	}
	guidance, err := cs.agentGuidance(c, p.ID, openInc)
	if err != nil {
		return err
	}
	v := cs.newView(c, "ConsoleOverviewTitle", fiber.Map{"Page": p, "Components": leaves(comps), "Open": openInc, "Maintenance": maint,
		"Overall": incident.Overall(comps, open), "Guidance": guidance})
	v.Nav, v.Live = "overview", Prefix+"/live"
	return cs.renderView(c, fiber.StatusOK, "overview", v)
}

// leaves are the components a manager picks (not groups).
func leaves(comps []*incident.Component) []*incident.Component {
	out := []*incident.Component{}
	for _, c := range comps {
		if !c.Group {
			out = append(out, c)
		}
	}
	return out
}

// incidentForm is the declare and update form, as posted.
type incidentForm struct {
	Name        string
	Status      string
	Impact      string
	Message     string
	Notify      bool
	Operational bool              // on resolve: return every component to operational
	Statuses    map[string]string // component ID → status, "" for not affected
	Messages    map[string]string // language → the message in it, beside Message (the page's default)
	Names       map[string]string // language → the incident's name in it, beside Name (declaring)
	Key         string            // the idempotency key the preview made
	Version     int               // the incident's version the form was made from
	// Shown is the incident as the form was made from it: its status,
	// impact and affected components' statuses (hidden fields). A status
	// left as shown is not sent as a change, and a refusal says what
	// changed since.
	Shown shownState
	// Resolving: the form resolves the incident (the page's Resolve
	// button), so it says so, and a second resolve is refused.
	Resolving bool
	Error     string
}

// shownState is what an update form showed of the incident.
type shownState struct {
	Status   string
	Impact   string
	Statuses map[string]string // affected component ID → status
}

// formFrom is the update form of inc as it is now: its status, impact
// override and components' statuses, and its version.
func formFrom(inc *incident.Incident, comps []*incident.Component) *incidentForm {
	// An update to a closed incident tells customers nothing unless asked:
	// they have had the all-clear.
	f := &incidentForm{Status: string(inc.Status), Impact: "auto", Notify: !inc.Status.Closed(), Statuses: map[string]string{}, Version: inc.Version}
	if inc.ImpactOverride != "" {
		f.Impact = string(inc.ImpactOverride)
	}
	for _, comp := range comps {
		if inc.Affects(comp.ID) {
			f.Statuses[comp.ID] = string(comp.Status)
		}
	}
	f.Shown = shownState{Status: string(inc.Status), Impact: string(inc.Impact), Statuses: maps.Clone(f.Statuses)}
	return f
}

// endonyms name each language in itself, as language pickers do.
var endonyms = map[string]string{"en": "English", "hu": "Magyar", "pl": "Polski", "hr": "Hrvatski"}

// otherLanguages are the page's languages after its default, each with its
// name: the message may be written in each of them too.
func otherLanguages(p *incident.Page) []fiber.Map {
	langs := p.Languages
	if len(langs) == 0 {
		langs = incident.Languages
	}
	out := []fiber.Map{}
	for _, l := range langs[1:] {
		out = append(out, fiber.Map{"Code": l, "Name": endonyms[l]})
	}
	return out
}

// readLanguageFields reads the "langmessages" part of a form: the message
// and the name written in each language besides the default (nil maps
// when none is).
func readLanguageFields(c *fiber.Ctx) (messages, names map[string]string) {
	for _, l := range incident.Languages {
		if m := strings.TrimSpace(c.FormValue("message_" + l)); m != "" {
			if messages == nil {
				messages = map[string]string{}
			}
			messages[l] = m
		}
		if n := strings.TrimSpace(c.FormValue("name_" + l)); n != "" {
			if names == nil {
				names = map[string]string{}
			}
			names[l] = n
		}
	}
	return messages, names
}

func readIncidentForm(c *fiber.Ctx, comps []*incident.Component) *incidentForm {
	f := &incidentForm{Name: strings.TrimSpace(c.FormValue("name")), Status: c.FormValue("status"), Impact: c.FormValue("impact"),
		Message: strings.TrimSpace(c.FormValue("message")), Notify: c.FormValue("notify") == "on", Operational: c.FormValue("operational") == "on",
		Statuses: map[string]string{}, Key: c.FormValue("key"), Resolving: c.FormValue("resolving") != ""}
	f.Version, _ = strconv.Atoi(c.FormValue("version"))
	f.Messages, f.Names = readLanguageFields(c)
	f.Shown = shownState{Status: c.FormValue("shown_status"), Impact: c.FormValue("shown_impact")}
	for _, comp := range comps {
		if st := c.FormValue("component_" + comp.ID); incident.ComponentStatus(st).Valid() {
			f.Statuses[comp.ID] = st
		}
		if st := c.FormValue("shown_component_" + comp.ID); incident.ComponentStatus(st).Valid() {
			if f.Shown.Statuses == nil {
				f.Shown.Statuses = map[string]string{}
			}
			f.Shown.Statuses[comp.ID] = st
		}
	}
	return f
}

// input turns the form into the service's input; it checks nothing the
// service checks.
func (f *incidentForm) input(declare bool) incident.IncidentInput {
	in := incident.IncidentInput{Body: &f.Message, Messages: f.Messages, DeliverNotifications: &f.Notify, Components: map[string]incident.ComponentStatus{}}
	if declare {
		in.Name, in.Names = &f.Name, f.Names
	}
	if f.Status != "" {
		st := incident.Status(f.Status)
		in.Status = &st
	}
	if f.Impact != "" && f.Impact != "auto" {
		im := incident.Impact(f.Impact)
		in.ImpactOverride = &im
	}
	ids := []string{}
	for id, st := range f.Statuses {
		ids = append(ids, id)
		if was, ok := f.Shown.Statuses[id]; ok && was == st {
			// Left as the form showed it: still affected (component_ids),
			// but not a change to post, nor to put back if it moved since.
			continue
		}
		in.Components[id] = incident.ComponentStatus(st)
	}
	sort.Strings(ids)
	in.ComponentIDs = ids
	if incident.Status(f.Status) == incident.Resolved {
		auto := f.Operational
		in.AutoTransitionToOperational = &auto
		if auto {
			// The service returns the incident's components to operational.
			in.Components, in.ComponentIDs = nil, nil
		}
	}
	return in
}

// declarePage is GET /console/incidents/new.
func (cs *Console) declarePage(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	comps, err := cs.cfg.Incidents.Components(ctx, p.ID)
	if err != nil {
		return err
	}
	return cs.declareForm(c, fiber.StatusOK, leaves(comps), &incidentForm{Status: string(incident.Investigating), Impact: "auto", Notify: true, Statuses: map[string]string{}})
}

func (cs *Console) declareForm(c *fiber.Ctx, status int, comps []*incident.Component, f *incidentForm) error {
	p, err := cs.page(c.UserContext())
	if err != nil {
		return err
	}
	v := cs.newView(c, "ConsoleDeclareTitle", fiber.Map{"Components": comps, "Form": f,
		"ComponentStatuses": incident.ComponentStatuses, "Impacts": []string{"auto", "none", "minor", "major", "critical"},
		"Statuses": openStatuses, "OtherLangs": otherLanguages(p), "Declaring": true})
	v.Nav = "declare"
	return cs.renderView(c, status, "declare", v)
}

// declare is POST /console/incidents: step "preview" shows what will be
// published and to whom it goes; "confirm" declares; "edit" goes back.
func (cs *Console) declare(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	comps, err := cs.cfg.Incidents.Components(ctx, p.ID)
	if err != nil {
		return err
	}
	comps = leaves(comps)
	f := readIncidentForm(c, comps)
	switch c.FormValue("step") {
	case "confirm":
		inc, _, err := cs.cfg.Incidents.CreateIncident(ctx, p.ID, f.input(true), f.Key)
		if err != nil {
			if f.Error = formError(err); f.Error == "" {
				return err
			}
			return cs.declareForm(c, fiber.StatusUnprocessableEntity, comps, f)
		}
		return c.Redirect(Prefix+"/incidents/"+inc.ID, fiber.StatusSeeOther)
	case "preview":
		if f.Name == "" || f.Message == "" {
			f.Error = cs.newView(c, "", nil).T("ConsoleNeedNameMessage")
			return cs.declareForm(c, fiber.StatusUnprocessableEntity, comps, f)
		}
		if f.Key == "" {
			f.Key = incident.NewID() + incident.NewID()
		}
		data := fiber.Map{"Form": f, "Components": comps, "Page": p, "Affected": affected(comps, f.Statuses), "OtherLangs": otherLanguages(p)}
		if cs.cfg.Notify != nil && f.Notify {
			// Who declaring would reach, counted as the dry run counts
			// (the Slack declare modal shows the same numbers).
			ids := f.input(true).ComponentIDs
			counts, langs, err := cs.cfg.Notify.DraftAudienceLanguages(ctx, p.ID, ids)
			if err != nil {
				cs.log.Warn("console: count the audience", "page_id", p.ID, "err", err)
				data["AudienceFailed"] = true
			} else {
				data["Audience"] = audienceRows(counts)
				data["Untranslated"] = untranslated(p, langs, f.Messages)
			}
		}
		v := cs.newView(c, "ConsolePreviewTitle", data)
		v.Nav = "declare"
		return cs.renderView(c, fiber.StatusOK, "preview", v)
	default: // edit
		return cs.declareForm(c, fiber.StatusOK, comps, f)
	}
}

// untranslated lists the languages people in the audience read that the
// message has no text in (besides the page's default, which the message
// is): each gets its frame in their language around the default's text.
func untranslated(p *incident.Page, langs map[string]int, messages map[string]string) []fiber.Map {
	def := "en"
	if len(p.Languages) > 0 {
		def = p.Languages[0]
	}
	out := []fiber.Map{}
	for _, l := range incident.Languages {
		n := langs[l]
		if l == def || n == 0 || messages[l] != "" {
			continue
		}
		out = append(out, fiber.Map{"Code": l, "N": n, "Default": def})
	}
	return out
}

// affected lists the picked components with their new status.
func affected(comps []*incident.Component, statuses map[string]string) []fiber.Map {
	out := []fiber.Map{}
	for _, c := range comps {
		if st, ok := statuses[c.ID]; ok {
			out = append(out, fiber.Map{"Name": c.Name, "Status": st})
		}
	}
	return out
}

// owedListed bounds the customers owed a top-up the incident page names
// (the count is always whole).
const owedListed = 20

// incidentPage is GET /console/incidents/:id: the live view.
func (cs *Console) incidentPage(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	inc, err := cs.cfg.Incidents.Incident(ctx, p.ID, c.Params("id"))
	if err != nil {
		return err
	}
	comps, err := cs.cfg.Incidents.Components(ctx, p.ID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, comp := range comps {
		names[comp.ID] = comp.Name
	}
	data := fiber.Map{"Incident": inc, "Page": p, "Names": names, "Components": comps}
	if cs.cfg.Notify != nil {
		ps, err := cs.cfg.Notify.Broadcasts(ctx, inc.ID)
		if err != nil {
			return err
		}
		rows := progressRows(ps)
		for i := range rows {
			// What is left waiting on purpose (quiet hours, the frequency
			// cap) says so, and until when: "sending" with a count that
			// does not move reads as stuck.
			if rows[i].Phase == "sending" {
				if rows[i].Held, err = cs.cfg.Notify.Held(ctx, rows[i].Progress); err != nil {
					return err
				}
			}
		}
		data["Broadcasts"] = rows
	}
	if cs.cfg.Complaints != nil {
		counts, err := cs.complaintCounts(c, p.ID, inc.ID)
		if err != nil {
			return err
		}
		data["Complaints"] = counts
	}
	if cs.cfg.Compensation != nil {
		d, err := cs.cfg.Compensation.Decision(ctx, p.ID, inc.ID)
		if err != nil {
			return err
		}
		data["Decision"] = d
		switch d.State {
		case compensation.Decided:
			// Whether customers heard of it: a decision made after the
			// all-clear, or amended after they were told, waits for a
			// manager to tell them.
			told, err := cs.cfg.Compensation.Told(ctx, p.ID, inc.ID)
			if err != nil {
				return err
			}
			data["Told"] = told
			// After management raised an offer: who is owed the
			// difference, for agents to reach.
			owed, err := cs.cfg.Compensation.OwedTopUps(ctx, p.ID, inc.ID)
			if err != nil {
				return err
			}
			data["OwedTopUps"], data["OwedShown"] = owed, owed[:min(len(owed), owedListed)]
			data["OwedMore"] = len(owed) - min(len(owed), owedListed)
		case compensation.Coming:
			// Customers told it is coming wait to hear what they get.
			at, err := cs.cfg.Compensation.ToldComing(ctx, p.ID, inc.ID)
			if err != nil {
				return err
			}
			data["ToldComing"] = at
		}
	}
	v := cs.newView(c, "ConsoleIncidentTitle", data)
	if err := cs.addCurve(ctx, v, p, inc, data); err != nil {
		return err
	}
	v.Title = inc.NameIn(v.Lang)
	v.Live = Prefix + "/live?incident=" + inc.ID
	return cs.renderView(c, fiber.StatusOK, "incident", v)
}

// progressRow is one broadcast's progress, per channel, for the view.
type progressRow struct {
	*queue.Progress
	Finished bool
	// Phase is what the broadcast is doing (queue.Progress.Phase), in the
	// words the console shows (ConsolePlan*).
	Phase    string
	Channels []channelRow
	// Held: what is left waits on purpose (notify.Service.Held), or nil.
	Held *queue.Held
}

type channelRow struct {
	Kind                                                           channel.Kind
	Total, Pending, Sent, Delivered, Failed, Suppressed, Collapsed int
	Done                                                           int // percent settled
	Reasons                                                        []string
}

func progressRows(ps []*queue.Progress) []progressRow {
	rows := []progressRow{}
	for i := len(ps) - 1; i >= 0; i-- { // newest first
		p := ps[i]
		r := progressRow{Progress: p, Finished: p.Finished(), Phase: p.Phase()}
		kinds := []string{}
		for k := range p.Counts {
			kinds = append(kinds, string(k))
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			byState := p.Counts[channel.Kind(k)]
			cr := channelRow{Kind: channel.Kind(k)}
			for st, n := range byState {
				cr.Total += n
				switch st {
				case queue.StatePending, queue.StateSending:
					cr.Pending += n
				case queue.StateSent:
					cr.Sent += n
				case queue.StateDelivered:
					cr.Delivered += n
				case queue.StateFailed, queue.StateUndelivered:
					cr.Failed += n
				case queue.StateSuppressed:
					cr.Suppressed += n
				default:
					cr.Collapsed += n
				}
			}
			if cr.Total > 0 {
				cr.Done = (cr.Total - cr.Pending) * 100 / cr.Total
			}
			for reason, n := range p.Reasons[channel.Kind(k)] {
				cr.Reasons = append(cr.Reasons, reason+" ("+strconv.Itoa(n)+")")
			}
			sort.Strings(cr.Reasons)
			r.Channels = append(r.Channels, cr)
		}
		rows = append(rows, r)
	}
	return rows
}

// complaintCounts are an incident's complaint numbers, from the store's
// tallies: the same whatever the number of complaints.
func (cs *Console) complaintCounts(c *fiber.Ctx, pageID, incidentID string) (fiber.Map, error) {
	ctx := c.UserContext()
	svc := cs.cfg.Complaints
	tally, err := svc.Tally(ctx, pageID, complaint.TallyScope(incidentID))
	if err != nil {
		return nil, err
	}
	q, err := svc.QueueCounts(ctx, pageID, complaint.QueueScope(incidentID), "")
	if err != nil {
		return nil, err
	}
	untagged, err := svc.QueueCounts(ctx, pageID, complaint.QueueUntagged, "")
	if err != nil {
		return nil, err
	}
	return fiber.Map{"Tagged": tally["n"], "Open": q.Open, "Untagged": untagged.Open, "AtRisk": q.AtRisk}, nil
}

// updatePage is GET /console/incidents/:id/update (?resolve=1).
func (cs *Console) updatePage(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	inc, err := cs.cfg.Incidents.Incident(ctx, p.ID, c.Params("id"))
	if err != nil {
		return err
	}
	comps, err := cs.cfg.Incidents.Components(ctx, p.ID)
	if err != nil {
		return err
	}
	f := formFrom(inc, comps)
	if c.Query("resolve") != "" {
		if inc.Status.Closed() {
			f.Error = cs.alreadyClosed(c, inc)
		} else {
			f.Status, f.Operational, f.Resolving = string(closing(inc)), true, true
		}
	}
	return cs.updateForm(c, fiber.StatusOK, inc, leaves(comps), f)
}

// closing is the status that ends inc: resolved, or completed for a
// maintenance.
func closing(inc *incident.Incident) incident.Status {
	if inc.IsMaintenance() {
		return incident.Completed
	}
	return incident.Resolved
}

// alreadyClosed says that inc ended, and when, in the console's language.
func (cs *Console) alreadyClosed(c *fiber.Ctx, inc *incident.Incident) string {
	v := cs.newView(c, "", nil)
	at := ""
	if inc.ResolvedAt != nil {
		at = v.When(*inc.ResolvedAt)
	}
	return v.T("ConsoleAlreadyClosed", "Status", v.E("Status", string(inc.Status)), "At", at)
}

// resolveListed is how many of the complaints a resolution answers the
// resolve page names (its count says how many in all).
const resolveListed = 50

func (cs *Console) updateForm(c *fiber.Ctx, status int, inc *incident.Incident, comps []*incident.Component, f *incidentForm) error {
	statuses := append(append([]incident.Status{}, openStatuses...), incident.Resolved)
	if inc.IsMaintenance() {
		statuses = append(append([]incident.Status{}, maintenanceStatuses...), incident.Completed)
	}
	p, err := cs.page(c.UserContext())
	if err != nil {
		return err
	}
	title := "ConsoleUpdateTitle"
	if f.Resolving {
		title = "ConsoleResolveTitle"
	}
	data := fiber.Map{"Incident": inc, "Components": comps, "Form": f,
		"ComponentStatuses": incident.ComponentStatuses, "Impacts": []string{"auto", "none", "minor", "major", "critical"}, "Statuses": statuses,
		"OtherLangs": otherLanguages(p), "Closing": string(closing(inc))}
	if f.Resolving && cs.cfg.Complaints != nil {
		// What the resolution does to the complaints about it, said before
		// the manager presses the button.
		open, _, err := cs.cfg.Complaints.List(c.UserContext(), complaint.Filter{PageID: p.ID, IncidentID: inc.ID, Open: true, Limit: 1000})
		if err != nil {
			return err
		}
		answered, kept := 0, 0
		var which []*complaint.Complaint // the first ones it answers, named
		for _, cp := range open {
			if cp.KeptOpen() {
				kept++
			} else if cp.IncidentAnswered != inc.ID {
				answered++
				if len(which) < resolveListed {
					which = append(which, cp)
				}
			}
		}
		data["Answered"], data["Kept"], data["Which"] = answered, kept, which
	}
	v := cs.newView(c, title, data)
	v.Title += ": " + inc.NameIn(v.Lang)
	return cs.renderView(c, status, "update", v)
}

// update is POST /console/incidents/:id/update.
func (cs *Console) update(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	inc, err := cs.cfg.Incidents.Incident(ctx, p.ID, c.Params("id"))
	if err != nil {
		return err
	}
	comps, err := cs.cfg.Incidents.Components(ctx, p.ID)
	if err != nil {
		return err
	}
	comps = leaves(comps)
	f := readIncidentForm(c, comps)
	if f.Resolving && inc.Status.Closed() {
		// A second resolve (a tab left open, the back button): nothing is
		// sent; a note after the all-clear is an update.
		f.Resolving, f.Notify = false, false
		f.Error = cs.alreadyClosed(c, inc)
		return cs.updateForm(c, fiber.StatusConflict, inc, comps, f)
	}
	in := f.input(false)
	// Only the version the form was made from: a resolution another
	// manager (or door) posted meanwhile is not posted again, and an
	// update posted while this one was written ("still broken") is not
	// overruled unseen. A form without one holds the version just read.
	v := inc.Version
	if f.Version > 0 {
		v = f.Version
	}
	in.IfVersion = &v
	if _, err := cs.cfg.Incidents.UpdateIncident(ctx, p.ID, inc.ID, in); err != nil {
		if incident.ErrorCode(err) == incident.EPRECONDITION {
			now, gerr := cs.cfg.Incidents.Incident(ctx, p.ID, inc.ID)
			if gerr == nil && f.Resolving && now.Status.Closed() {
				f.Resolving, f.Notify = false, false
				f.Error = cs.alreadyClosed(c, now)
				return cs.updateForm(c, fiber.StatusConflict, now, comps, f)
			}
			if gerr == nil {
				return cs.changedMeanwhile(c, f, now, comps)
			}
		}
		if f.Error = formError(err); f.Error == "" {
			return err
		}
		return cs.updateForm(c, fiber.StatusUnprocessableEntity, inc, comps, f)
	}
	return c.Redirect(Prefix+"/incidents/"+inc.ID, fiber.StatusSeeOther)
}

// changedMeanwhile shows the form f again, made from the incident as it
// is now (its version, status, impact and components' statuses), with
// what the manager wrote kept and a notice of what changed since the
// form was made.
func (cs *Console) changedMeanwhile(c *fiber.Ctx, f *incidentForm, now *incident.Incident, comps []*incident.Component) error {
	fresh := formFrom(now, comps)
	v := cs.newView(c, "", nil)
	var changes []string
	if f.Shown.Status != "" && f.Shown.Status != string(now.Status) {
		changes = append(changes, v.T("ConsoleChangedStatus", "From", v.E("Status", f.Shown.Status), "To", v.E("Status", now.Status)))
	}
	if f.Shown.Impact != "" && f.Shown.Impact != string(now.Impact) {
		changes = append(changes, v.T("ConsoleChangedImpact", "From", v.E("Impact", f.Shown.Impact), "To", v.E("Impact", now.Impact)))
	}
	word := func(st string, ok bool) string {
		if !ok {
			return v.T("ConsoleNotAffected")
		}
		return v.E("Component", st)
	}
	for _, comp := range comps {
		was, shown := f.Shown.Statuses[comp.ID]
		is, affected := fresh.Statuses[comp.ID]
		if f.Shown.Status != "" && (shown != affected || was != is) {
			changes = append(changes, comp.Name+": "+word(was, shown)+" → "+word(is, affected))
		}
	}
	if len(changes) == 0 {
		changes = append(changes, v.T("ConsoleChangedUpdate"))
	}
	what := strings.Join(changes, "; ")
	if f.Resolving {
		// The manager resolves again, from the choices they made.
		f.Version, f.Shown = fresh.Version, fresh.Shown
		f.Error = v.T("ConsoleChangedMeanwhile", "Status", v.E("Status", now.Status), "Changes", what)
		return cs.updateForm(c, fiber.StatusConflict, now, comps, f)
	}
	// An update: the choices are the incident's now, the texts kept; the
	// manager reads what changed and picks again.
	fresh.Message, fresh.Messages, fresh.Notify = f.Message, f.Messages, f.Notify
	fresh.Error = v.T("ConsoleUpdateChangedMeanwhile", "Changes", what)
	return cs.updateForm(c, fiber.StatusConflict, now, comps, fresh)
}

// cancelBroadcast is POST /console/broadcasts/:id/cancel.
func (cs *Console) cancelBroadcast(c *fiber.Ctx) error {
	if cs.cfg.Notify == nil {
		return fiber.ErrNotFound
	}
	ctx := c.UserContext()
	p, err := cs.cfg.Notify.Progress(ctx, c.Params("id"))
	if err != nil {
		return err
	}
	if err := cs.cfg.Notify.Cancel(ctx, p.BroadcastID); err != nil {
		return err
	}
	return c.Redirect(Prefix+"/incidents/"+p.IncidentID, fiber.StatusSeeOther)
}

// announceCompensation is POST /console/incidents/:id/compensation/announce:
// the decision in force told to the customers it gives something
// (compensation.Service.Announce), whose progress the incident's
// broadcasts then show. The form names the version the manager read: a
// decision changed meanwhile is not sent unseen.
func (cs *Console) announceCompensation(c *fiber.Ctx) error {
	if cs.cfg.Compensation == nil {
		return fiber.ErrNotFound
	}
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	id := c.Params("id")
	d, err := cs.cfg.Compensation.Decision(ctx, p.ID, id)
	if err != nil {
		return err
	}
	version, err := strconv.Atoi(c.FormValue("version"))
	if err != nil || version != d.Version {
		return incident.Errorf(incident.ECONFLICT, "%s", cs.cfg.Words.Lang(cs.lang(c)).Pattern("ConsoleDecisionMoved").Fill("Version", strconv.Itoa(d.Version)))
	}
	if _, err := cs.cfg.Compensation.AnnounceVersion(ctx, p.ID, id, version); err != nil {
		return err
	}
	return c.Redirect(Prefix+"/incidents/"+id, fiber.StatusSeeOther)
}

// decideCompensation is POST /console/incidents/:id/compensation: the
// state, the reason, and for "decided" one offer for everyone affected
// for at least some minutes (the API takes richer policies).
func (cs *Console) decideCompensation(c *fiber.Ctx) error {
	if cs.cfg.Compensation == nil {
		return fiber.ErrNotFound
	}
	if c.FormValue("form") == "full" {
		return cs.decideFull(c)
	}
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	id := c.Params("id")
	version, _ := strconv.Atoi(c.FormValue("version"))
	prop := compensation.Proposal{State: compensation.State(c.FormValue("state")), Reason: strings.TrimSpace(c.FormValue("reason")), Version: version,
		AcceptLower: c.FormValue("accept_lower") != ""}
	if prop.State == compensation.Decided {
		// The short form makes a first decision; one in force is changed
		// on the full form, which keeps what this one cannot show.
		d, err := cs.cfg.Compensation.Decision(ctx, p.ID, id)
		if err != nil {
			return err
		}
		if d.State == compensation.Decided {
			return incident.Errorf(incident.ECONFLICT, "%s", cs.cfg.Words.Lang(cs.lang(c)).Text("ConsoleDecisionNoDecidedHere"))
		}
		pol, err := simplePolicy(c)
		if err != nil {
			return err
		}
		prop.Policy = pol
	}
	if _, _, err := cs.cfg.Compensation.Decide(ctx, p.ID, id, prop); err != nil {
		return err
	}
	return c.Redirect(Prefix+"/incidents/"+id, fiber.StatusSeeOther)
}

// simplePolicy reads the console's one-offer policy form.
func simplePolicy(c *fiber.Ctx) (*compensation.Policy, error) {
	kind := compensation.OfferKind(c.FormValue("offer_kind"))
	cur := strings.ToUpper(strings.TrimSpace(c.FormValue("currency")))
	mins, _ := strconv.Atoi(c.FormValue("min_minutes"))
	off := compensation.Offer{ID: "offer1", Kind: kind}
	switch kind {
	case compensation.Credit, compensation.Refund:
		if strings.TrimSpace(c.FormValue("amount")) == "" {
			return nil, incident.Invalid("amount", "give the amount of the %s, such as 10.00", kind)
		}
		amt, err := parseAmount(c.FormValue("amount"), cur)
		if err != nil {
			return nil, err
		}
		off.Amount = &amt
	case compensation.FreePeriod:
		off.Days, _ = strconv.Atoi(c.FormValue("days"))
	default:
		off.Text = strings.TrimSpace(c.FormValue("text"))
	}
	return &compensation.Policy{Currency: cur, Offers: []compensation.Offer{off},
		Rules: []compensation.Rule{{ID: "affected", MinAffectedMinutes: mins, Give: []string{"offer1"}}}}, nil
}

// tokensPage is GET /console/tokens (admin).
func (cs *Console) tokensPage(c *fiber.Ctx) error {
	return cs.tokens(c, fiber.StatusOK, "", nil)
}

func (cs *Console) tokens(c *fiber.Ctx, status int, secret string, made *incident.Token) error {
	ts, err := cs.cfg.Incidents.Tokens(c.UserContext())
	if err != nil {
		return err
	}
	live := []*incident.Token{}
	for i := len(ts) - 1; i >= 0; i-- { // newest first
		if t := ts[i]; t.RevokedAt == nil {
			live = append(live, t)
		}
	}
	// Sign-in links are tokens too: the list grows, a page at a time.
	off := pageOffset(c)
	shown := live[min(off, len(live)):min(off+listPage, len(live))]
	v := cs.newView(c, "ConsoleTokensTitle", fiber.Map{"Tokens": shown, "Pager": newPager(Prefix+"/tokens", off, len(shown), len(live)), "Secret": secret, "Made": made,
		"Roles": []incident.Role{incident.RoleAgent, incident.RoleManager, incident.RoleAdmin}})
	v.Nav = "tokens"
	return cs.renderView(c, status, "tokens", v)
}

// createToken is POST /console/tokens: the secret is shown once.
func (cs *Console) createToken(c *fiber.Ctx) error {
	secret, t, err := cs.cfg.Incidents.CreateToken(c.UserContext(), c.FormValue("name"), incident.Role(c.FormValue("role")))
	if err != nil {
		return err
	}
	return cs.tokens(c, fiber.StatusCreated, secret, t)
}

// revokeToken is POST /console/tokens/:id/revoke.
func (cs *Console) revokeToken(c *fiber.Ctx) error {
	if err := cs.cfg.Incidents.RevokeToken(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	return c.Redirect(Prefix+"/tokens", fiber.StatusSeeOther)
}

// parseAmount reads "12.50" in a currency's minor units.
func parseAmount(s, currency string) (compensation.Money, error) {
	exp, ok := compensation.Exponent(currency)
	if !ok {
		return compensation.Money{}, incident.Invalid("currency", "unknown currency %q", currency)
	}
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", ".")
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > exp {
		return compensation.Money{}, incident.Invalid("amount", "at most %d decimals", exp)
	}
	frac += strings.Repeat("0", exp-len(frac))
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || v < 0 {
		return compensation.Money{}, incident.Invalid("amount", "must be an amount such as 10.00")
	}
	return compensation.Money{Amount: v, Currency: currency}, nil
}

// audience is GET /console/incidents/:id/audience (?kind=): the dry run
// of the incident's next broadcast, as the API's dry-run answers it: who
// would be told on each channel, SMS segments and cost, and a sample of
// each message per channel and language. Nothing is written or sent.
func (cs *Console) audience(c *fiber.Ctx) error {
	if cs.cfg.Notify == nil {
		return fiber.ErrNotFound
	}
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	inc, err := cs.cfg.Incidents.Incident(ctx, p.ID, c.Params("id"))
	if err != nil {
		return err
	}
	kind := incident.BroadcastKind(c.Query("kind"))
	switch kind {
	case incident.BroadcastUpdated, incident.BroadcastResolved, incident.BroadcastDeclared, incident.BroadcastCompensation:
	default:
		kind = incident.BroadcastUpdated
		if inc.ResolvedAt != nil {
			kind = incident.BroadcastResolved
		}
	}
	res, err := cs.cfg.Notify.DryRun(ctx, p.ID, inc.ID, kind)
	if err != nil {
		return err
	}
	type sample struct {
		Kind    channel.Kind
		Lang    string
		Subject string
		Text    string
	}
	var samples []sample
	kinds := []string{}
	for k := range res.Samples {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		langs := []string{}
		for l := range res.Samples[channel.Kind(k)] {
			langs = append(langs, l)
		}
		sort.Strings(langs)
		for _, l := range langs {
			m := res.Samples[channel.Kind(k)][l]
			samples = append(samples, sample{Kind: channel.Kind(k), Lang: l, Subject: m.Subject, Text: m.Text})
		}
	}
	total := 0
	for _, n := range res.Recipients {
		total += n
	}
	v := cs.newView(c, "ConsoleAudienceTitle", fiber.Map{"Incident": inc, "Result": res, "Samples": samples, "Total": total, "Kind": kind})
	return cs.renderView(c, fiber.StatusOK, "audience", v)
}

// audienceRow is one channel's count, for the preview.
type audienceRow struct {
	Kind channel.Kind
	N    int
}

func audienceRows(counts map[channel.Kind]int) []audienceRow {
	rows := []audienceRow{}
	for k, n := range counts {
		rows = append(rows, audienceRow{Kind: k, N: n})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Kind < rows[j].Kind })
	return rows
}

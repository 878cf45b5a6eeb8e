package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/contact"
	"github.com/heraldhq/herald/queue"
)

// queueViews are the agent queue's tabs.
var queueViews = []string{"mine", "unassigned", "risk", "repeat", "all"}

// listPage is how many rows a console list shows at a time; "older" and
// "newer" links (plain links: no script needed) page through the rest.
const listPage = 50

// pageOffset reads ?offset= (a multiple of listPage, ≥ 0; anything else
// is the first page).
func pageOffset(c *fiber.Ctx) int {
	off, err := strconv.Atoi(c.Query("offset"))
	if err != nil || off < 0 || off > 1_000_000 {
		return 0
	}
	return off / listPage * listPage
}

// pager is a list's older/newer links.
type pager struct {
	Newer, Older string // links, "" when there is none
	From, To     int    // 1-based rows shown
	Total        int
}

// newPager builds the links of a list at offset with n rows shown of
// total, from base (a path with its query, without offset).
func newPager(base string, offset, n, total int) pager {
	p := pager{From: offset + 1, To: offset + n, Total: total}
	if n == 0 {
		p.From = 0
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	if offset > 0 {
		p.Newer = base
		if offset-listPage > 0 {
			p.Newer = base + sep + "offset=" + strconv.Itoa(offset-listPage)
		}
	}
	if offset+n < total {
		p.Older = base + sep + "offset=" + strconv.Itoa(offset+listPage)
	}
	return p
}

// queueScope is the queue scope of the ?incident= filter.
func queueScope(filter string) string {
	switch filter {
	case "":
		return complaint.QueueAll
	case "none":
		return complaint.QueueUntagged
	}
	return complaint.QueueScope(filter)
}

// queue is GET /console/queue: open complaints, by view and incident, a
// page at a time. The tabs' and incidents' counts come from the store's
// tallies; only the rows shown are read.
func (cs *Console) queue(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	s := session(c)
	ref := strings.TrimSpace(c.Query("ref"))
	refError := ""
	if ref != "" {
		// A reference read out on the phone: straight to its complaint.
		id, err := cs.cfg.Complaints.ResolveID(ctx, p.ID, ref)
		if err == nil {
			_, err = cs.cfg.Complaints.Get(ctx, p.ID, id)
		}
		switch {
		case err == nil:
			return c.Redirect(Prefix+"/complaints/"+url.PathEscape(id), fiber.StatusSeeOther)
		case errors.Is(err, incident.ErrNotFound) || incident.ErrorCode(err) == incident.ENOTFOUND || incident.ErrorCode(err) == incident.EINVALID:
			refError = cs.cfg.Words.Lang(cs.lang(c)).Text("ConsoleFindNone")
		default:
			return err
		}
	}
	view := c.Query("view")
	if !in(view, queueViews) {
		view = "all"
	}
	filter := c.Query("incident")
	if len(filter) > 64 {
		return incident.Invalid("incident", "too long")
	}
	sortBy := c.Query("sort")
	if sortBy != "due" {
		sortBy = ""
	}
	svc := cs.cfg.Complaints
	q, err := svc.QueueCounts(ctx, p.ID, queueScope(filter), s.Name)
	if err != nil {
		return err
	}
	counts := map[string]int{"mine": q.Mine, "unassigned": q.Unassigned, "risk": q.AtRisk, "repeat": q.Repeat, "all": q.Open}
	now := cs.now()
	off := pageOffset(c)
	f := complaint.Filter{PageID: p.ID, Open: true, Limit: listPage, Offset: off, SkipCount: true}
	switch filter {
	case "":
	case "none":
		f.Untagged = true
	default:
		f.IncidentID = filter
	}
	switch view {
	case "mine":
		f.Owner = s.Name
	case "unassigned":
		f.Unassigned = true
	case "risk":
		f.DueBefore = complaint.AtRiskBefore(now)
	case "repeat":
		f.Repeat = true
	}
	if sortBy == "due" && f.DueBefore.IsZero() {
		// Soonest due first: the complaints with due times (every one,
		// under an SLA policy).
		f.DueBefore = farFuture
	}
	// The tab's count is the list's length: the store need not count.
	rows, _, err := svc.List(ctx, f)
	if err != nil {
		return err
	}
	total := counts[view]
	open, _, err := cs.cfg.Incidents.Incidents(ctx, incident.IncidentFilter{PageID: p.ID, Statuses: openStatuses})
	if err != nil {
		return err
	}
	byIncident := map[string]int{}
	for _, inc := range open {
		n, err := svc.QueueCounts(ctx, p.ID, complaint.QueueScope(inc.ID), "")
		if err != nil {
			return err
		}
		byIncident[inc.ID] = n.Open
	}
	// An incident resolved lately whose complaints are still open is
	// work too (customers write after the fix, choose their
	// compensation): it stays in the filter and the guidance while they
	// are.
	ended, _, err := cs.cfg.Incidents.Incidents(ctx, incident.IncidentFilter{PageID: p.ID, Statuses: endedStatuses, Since: now.Add(-endedListed)})
	if err != nil {
		return err
	}
	for _, inc := range ended {
		n, err := svc.QueueCounts(ctx, p.ID, complaint.QueueScope(inc.ID), "")
		if err != nil {
			return err
		}
		if n.Open > 0 || inc.ID == filter {
			byIncident[inc.ID] = n.Open
			open = append(open, inc)
		}
	}
	untagged, err := svc.QueueCounts(ctx, p.ID, complaint.QueueUntagged, "")
	if err != nil {
		return err
	}
	byIncident["none"] = untagged.Open
	guidance, err := cs.guidance(c, p.ID, open)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, inc := range open {
		names[inc.ID] = inc.NameIn(cs.lang(c))
	}
	for _, cp := range rows { // tagged to an incident long over: its name too
		if id := cp.IncidentID(); id != "" && names[id] == "" {
			if inc, err := cs.cfg.Incidents.Incident(ctx, p.ID, id); err == nil {
				names[id] = inc.NameIn(cs.lang(c))
			}
		}
	}
	risky := map[string]bool{}
	for _, cp := range rows {
		risky[cp.ID] = cp.AtRisk(now)
	}
	base := Prefix + "/queue?view=" + view
	if filter != "" {
		base += "&incident=" + urlQuery(filter)
	}
	if sortBy != "" {
		base += "&sort=" + sortBy
	}
	v := cs.newView(c, "ConsoleQueueTitle", fiber.Map{"Rows": rows, "Total": total, "View": view, "Ref": ref, "RefError": refError, "Views": queueViews, "Counts": counts,
		"ByIncident": byIncident, "Incidents": open, "Incident": filter, "Sort": sortBy, "Guidance": guidance, "Risky": risky, "Names": names,
		"Pager": newPager(base, off, len(rows), total)})
	v.Nav, v.Live = "queue", Prefix+"/live"
	return cs.renderView(c, fiber.StatusOK, "queue", v)
}

// farFuture is a DueBefore that every due time is before.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func in(s string, list []string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// guidanceRow is one open incident's compensation state, for agents.
type guidanceRow struct {
	Incident *incident.Incident
	Decision *compensation.Decision
	Offers   []compensation.Offer
	// Rules says who gets what, in words: a choice as a choice, the
	// plans, components and minutes it takes (compensation.RuleGives).
	Rules []string
	// Limits: the cap, the claim deadline, the exclusions.
	Limits []string
}

// guidance is what agents may say about compensation for each open
// incident, always on screen.
func (cs *Console) guidance(c *fiber.Ctx, pageID string, open []*incident.Incident) ([]guidanceRow, error) {
	if cs.cfg.Compensation == nil {
		return nil, nil
	}
	rows := []guidanceRow{}
	var words func(*compensation.Policy) ([]string, []string) // read once, for the first policy
	for _, inc := range open {
		if inc.IsMaintenance() {
			continue
		}
		d, err := cs.cfg.Compensation.Decision(c.UserContext(), pageID, inc.ID)
		if err != nil {
			return nil, err
		}
		r := guidanceRow{Incident: inc, Decision: d}
		if p := d.Policy; p != nil {
			r.Offers = p.Offers
			if words == nil {
				if words, err = cs.policyWords(c, pageID); err != nil {
					return nil, err
				}
			}
			r.Rules, r.Limits = words(p)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// agentGuidance is the compensation guidance an agent needs before any
// complaint is open (a phone call, the overview): every open incident's,
// and that of each incident ended within endedListed whose compensation
// is decided or coming, since customers call after the fix to claim it.
func (cs *Console) agentGuidance(c *fiber.Ctx, pageID string, open []*incident.Incident) ([]guidanceRow, error) {
	if cs.cfg.Compensation == nil {
		return nil, nil
	}
	rows, err := cs.guidance(c, pageID, open)
	if err != nil {
		return nil, err
	}
	ended, _, err := cs.cfg.Incidents.Incidents(c.UserContext(), incident.IncidentFilter{PageID: pageID, Statuses: endedStatuses, Since: cs.now().Add(-endedListed)})
	if err != nil {
		return nil, err
	}
	more, err := cs.guidance(c, pageID, ended)
	if err != nil {
		return nil, err
	}
	for _, r := range more {
		if r.Decision.State == compensation.Decided || r.Decision.State == compensation.Coming {
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// complaintPage is GET /console/complaints/:id: the customer's story.
func (cs *Console) complaintPage(c *fiber.Ctx) error {
	// The reference the customer reads out (C-RCLFXZ2G) finds it too.
	if _, ok := complaint.RefPrefix(c.Params("id")); ok {
		p, err := cs.page(c.UserContext())
		if err != nil {
			return err
		}
		id, err := cs.cfg.Complaints.ResolveID(c.UserContext(), p.ID, c.Params("id"))
		if err != nil {
			return err
		}
		return c.Redirect(Prefix+"/complaints/"+url.PathEscape(id), fiber.StatusSeeOther)
	}
	return cs.showComplaint(c, fiber.StatusOK, "")
}

func (cs *Console) showComplaint(c *fiber.Ctx, status int, formErr string) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	cp, entries, err := cs.cfg.Complaints.Timeline(ctx, p.ID, c.Params("id"))
	if err != nil {
		return err
	}
	// The incidents the timeline names, by name.
	names := map[string]string{}
	for _, e := range entries {
		switch e.Event {
		case complaint.EventTagged, complaint.EventUntagged, complaint.EventAutoTagged, complaint.EventTriage:
			for _, id := range []string{e.Args["incident"], e.Args["from"]} {
				if _, done := names[id]; id == "" || done {
					continue
				}
				names[id] = id
				if inc, err := cs.cfg.Incidents.Incident(ctx, p.ID, id); err == nil {
					names[id] = inc.NameIn(cs.lang(c))
				}
			}
		}
	}
	// Who it is: a linked customer by the name on their record (the
	// contact's name may be the Slack handle they wrote from).
	who := cp.Contact.Name
	if cp.Contact.CustomerID != "" && cs.cfg.Complaints.Customers != nil {
		if cust, err := cs.cfg.Complaints.Customers.FindCustomerByID(ctx, p.ID, cp.Contact.CustomerID); err == nil && cust.Name != "" {
			who = cust.Name
		} else if err != nil && !errors.Is(err, incident.ErrNotFound) {
			return err
		}
	}
	data := fiber.Map{"Complaint": cp, "Entries": entries, "Who": who, "IncidentNames": names, "Error": formErr, "Remedies": remedies, "AtRisk": cp.AtRisk(cs.now()),
		"Language": cp.Language} // what the customer reads: replies go out as written
	if key := cp.Contact.Key(); key != "" {
		off := pageOffset(c)
		others, total, err := cs.cfg.Complaints.List(ctx, complaint.Filter{PageID: p.ID, ContactKey: key, Limit: listPage, Offset: off})
		if err != nil {
			return err
		}
		data["Others"] = others
		data["OthersPager"] = newPager(Prefix+"/complaints/"+cp.ID, off, len(others), total)
	}
	if cs.cfg.Notify != nil {
		f := queue.DeliveryFilter{PageID: p.ID, Limit: 20}
		switch {
		case cp.Contact.CustomerID != "":
			f.RecipientID = cp.Contact.CustomerID
		case cp.Contact.Phone != "":
			f.Address = cp.Contact.Phone
		case cp.Contact.Email != "":
			f.Address = cp.Contact.Email
		case cp.Contact.Slack != "":
			// A Slack complainant: herald answers them by direct message.
			f.Address = cp.Contact.Slack
		}
		if f.RecipientID != "" || f.Address != "" {
			ds, err := cs.cfg.Notify.Deliveries(ctx, f)
			if err != nil {
				return err
			}
			data["Deliveries"] = ds
			// What the complaint's own messages said, worded as sent: an
			// agent answering must know what the customer was told.
			texts := map[string]string{}
			for _, d := range ds {
				text, ok, err := cs.cfg.Notify.ComplaintMessageText(ctx, d)
				if err != nil {
					cs.log.Warn("console: word a complaint message", "delivery_id", d.ID, "err", err)
					continue
				}
				if ok {
					texts[d.ID] = text
				}
			}
			data["Texts"] = texts
		}
	}
	open, _, err := cs.cfg.Incidents.Incidents(ctx, incident.IncidentFilter{PageID: p.ID, Statuses: openStatuses})
	if err != nil {
		return err
	}
	data["Open"] = open
	// The names the assign box offers: a complaint goes only to one of them.
	if agents, err := cs.cfg.Complaints.Agents(ctx); err == nil {
		data["Agents"] = agents
	} else {
		cs.log.Warn("console: list agents", "err", err)
	}
	var incID string
	// The incidents the complaint can be tagged to: the open ones, those
	// ended within endedListed (customers write after the fix, about the
	// outage they had), and the one it is tagged to although it ended
	// before (a win-back task), first and chosen, so that saving the form
	// unchanged keeps it.
	ended, _, err := cs.cfg.Incidents.Incidents(ctx, incident.IncidentFilter{PageID: p.ID, Statuses: taggableEnded, Since: cs.now().Add(-endedListed)})
	if err != nil {
		return err
	}
	tagTo, tagged := append([]*incident.Incident(nil), open...), []*incident.Incident(nil)
	for _, inc := range ended {
		if !inc.IsMaintenance() {
			tagTo = append(tagTo, inc)
		}
	}
	if cp.Tag != nil {
		incID = cp.Tag.IncidentID
		if inc, err := cs.cfg.Incidents.Incident(ctx, p.ID, incID); err == nil {
			data["Incident"] = inc
			tagged = []*incident.Incident{inc}
			if !slices.ContainsFunc(tagTo, func(o *incident.Incident) bool { return o.ID == inc.ID }) {
				tagTo = append([]*incident.Incident{inc}, tagTo...)
			}
		}
	}
	data["TagTo"] = tagTo
	if sg := cp.Suggestion; sg != nil && cp.Tag == nil {
		// The suggestion by its name, and its status when it has ended
		// since (its reason was true when it was made).
		if inc, err := cs.cfg.Incidents.Incident(ctx, p.ID, sg.IncidentID); err == nil {
			data["Suggested"] = inc
		} else if !errors.Is(err, incident.ErrNotFound) {
			return err
		}
	}
	if cs.cfg.Compensation != nil && incID != "" {
		a, err := cs.checkCompensation(c, p.ID, incID, cp)
		if err != nil && !errors.Is(err, incident.ErrNotFound) && incident.ErrorCode(err) != incident.EINVALID {
			return err
		}
		data["Answer"] = a
		if a != nil {
			el := newEligibility("eligibility", nil, cp.ID, a)
			el.ChangedSinceRead = changedSinceRead(c.Query("read"), incID, el.Shown())
			data["Eligibility"] = el
		} else {
			// Matched to no customer: the panel says why it cannot say
			// what they are owed, rather than nothing at all.
			data["NoCustomer"] = true
		}
	}
	if cs.cfg.Compensation != nil {
		// The guidance beside a tagged complaint is its incident's alone
		// (another open incident's offers would be the wrong ones to
		// promise); beside an untagged one, every open incident's.
		about := open
		if tagged != nil {
			about = tagged
		}
		g, err := cs.guidance(c, p.ID, about)
		if err != nil {
			return err
		}
		data["Guidance"] = g
	}
	v := cs.newView(c, "ConsoleComplaintTitle", data)
	v.Title = v.T("ConsoleComplaintTitle") + " " + cp.Ref
	v.Nav, v.Live = "queue", Prefix+"/live?complaint="+cp.ID
	return cs.renderView(c, status, "complaint", v)
}

// eligibility is one customer's compensation for one incident as the
// "eligibility" template shows it: on a complaint, with a button per
// offer; on a call not yet recorded (Complaint ""), for reading.
type eligibility struct {
	ID        string             // the panel's element ID, unique on its page
	Incident  *incident.Incident // named when the page may show several
	Complaint string
	A         *compensation.Answer
	Groups    []offerGroup
	// Grantable: something is left to record (an offer not yet granted,
	// or a top-up owed).
	Grantable bool
	// ChangedSinceRead: the complaint page was opened from the call page
	// (recordCall), whose panel for this incident showed other offers
	// than these: the agent may have read out what is no longer in
	// force, and the panel says so.
	ChangedSinceRead bool
}

func newEligibility(id string, inc *incident.Incident, complaintID string, a *compensation.Answer) *eligibility {
	e := &eligibility{ID: id, Incident: inc, Complaint: complaintID, A: a, Groups: offerGroups(a.Offers)}
	for _, g := range e.Groups {
		e.Grantable = e.Grantable || !g.Granted || g.TopUp
	}
	return e
}

// Shown is what the panel offers to read out and grant, in words and
// amounts: the options not yet recorded and the top-ups owed. The live
// refresh compares the page's with a fresh one (console.js): when they
// differ while the agent may be reading them out, it keeps the panel as
// read and says that the offer changed, rather than swapping the amounts
// under them. The decision's version is left out: an amendment that
// changes nothing this customer is offered swaps in silently.
func (e *eligibility) Shown() string {
	var b strings.Builder
	for _, g := range e.Groups {
		if g.Granted && !g.TopUp {
			continue
		}
		for _, o := range g.Options {
			if g.Granted && o.TopUp.Amount == 0 {
				continue
			}
			fmt.Fprintf(&b, "%s/%s:%s:%d %s:%d;", g.Group, o.OfferID, o.Description, o.Amount.Amount, o.Amount.Currency, o.TopUp.Amount)
		}
	}
	return b.String()
}

// Read is what the call page's panel showed, as its form carries it to
// the complaint the call opens: the incident and a digest of Shown.
func (e *eligibility) Read() string {
	if e.Incident == nil {
		return ""
	}
	return e.Incident.ID + ":" + shownDigest(e.Shown())
}

func shownDigest(shown string) string {
	sum := sha256.Sum256([]byte(shown))
	return hex.EncodeToString(sum[:8])
}

// readRx is a well-formed Read: an incident ID and a digest.
var readRx = regexp.MustCompile(`^([a-z0-9]{1,64}):([0-9a-f]{16})$`)

// changedSinceRead reports whether read (Read of the call page's panel
// for incID, "" when there was none) names other offers than shown. A
// read that is not well formed, or about another incident, says nothing.
func changedSinceRead(read, incID, shown string) bool {
	m := readRx.FindStringSubmatch(read)
	return m != nil && m[1] == incID && m[2] != shownDigest(shown)
}

// callEligibility is the picked customer's eligibility for each incident
// the call page's guidance covers, for the agent to read out while they
// are on the line.
func (cs *Console) callEligibility(c *fiber.Ctx, pageID, customerID string, rows []guidanceRow) ([]*eligibility, error) {
	var out []*eligibility
	for _, r := range rows {
		a, err := cs.cfg.Compensation.Check(c.UserContext(), pageID, r.Incident.ID, customerID, cs.lang(c))
		if errors.Is(err, incident.ErrNotFound) || incident.ErrorCode(err) == incident.EINVALID {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, newEligibility("eligibility-"+r.Incident.ID, r.Incident, "", a))
	}
	return out, nil
}

// offerGroup is what an agent records in one go: a single offer, or a
// choice of several (the customer takes one of them), or declining it.
type offerGroup struct {
	Group    string
	Choice   bool
	Granted  bool // already recorded: nothing left to take
	Declined bool // declined before: they may still change their mind
	// TopUp: granted under an earlier decision that gave less, and the
	// decision in force owes the difference (an option's Offered.TopUp),
	// which the agent records with the same form as the offer itself.
	TopUp   bool
	Options []compensation.AnswerOffer
}

// offerGroups gathers a customer's offers by group, in order: a choice's
// options come one after another (compensation.Result.Offers).
func offerGroups(offers []compensation.AnswerOffer) []offerGroup {
	var out []offerGroup
	for _, o := range offers {
		if o.UsedUp() && !o.Granted {
			// The cap leaves nothing of it: the script leaves it out, and
			// a grant of it is refused, so no button offers it.
			continue
		}
		if n := len(out); n > 0 && out[n-1].Group == o.Group {
			out[n-1].Options = append(out[n-1].Options, o)
			out[n-1].TopUp = out[n-1].TopUp || o.TopUp.Amount > 0
			continue
		}
		out = append(out, offerGroup{Group: o.Group, Choice: o.Choice, Granted: o.Granted, Declined: o.Declined, TopUp: o.TopUp.Amount > 0,
			Options: []compensation.AnswerOffer{o}})
	}
	return out
}

// checkCompensation is the customer's eligibility, offers and script.
func (cs *Console) checkCompensation(c *fiber.Ctx, pageID, incID string, cp *complaint.Complaint) (*compensation.Answer, error) {
	ctx, lang := c.UserContext(), cs.lang(c)
	if cp.Contact.CustomerID != "" {
		return cs.cfg.Compensation.Check(ctx, pageID, incID, cp.Contact.CustomerID, lang)
	}
	kind, addr := cp.Contact.Address(cp.Channel)
	if addr == "" {
		return nil, nil
	}
	return cs.cfg.Compensation.CheckAddress(ctx, pageID, incID, kind, addr, lang)
}

var remedies = []complaint.Remedy{complaint.RemedyApology, complaint.RemedyFix, complaint.RemedyReplacement, complaint.RemedyPriceReduction,
	complaint.RemedyRefund, complaint.RemedyFreeRepeat, complaint.RemedyNone}

// act runs one change on a complaint and goes back to it; a validation
// error is shown on the page.
func (cs *Console) act(c *fiber.Ctx, fn func(pageID, id string) error) error {
	p, err := cs.page(c.UserContext())
	if err != nil {
		return err
	}
	if err := fn(p.ID, c.Params("id")); err != nil {
		if msg := formError(err); msg != "" {
			return cs.showComplaint(c, fiber.StatusUnprocessableEntity, msg)
		}
		return err
	}
	return c.Redirect(Prefix+"/complaints/"+c.Params("id"), fiber.StatusSeeOther)
}

// take is POST …/take: assign to me, or to the named agent.
func (cs *Console) take(c *fiber.Ctx) error {
	return cs.act(c, func(pageID, id string) error {
		owner := strings.TrimSpace(c.FormValue("owner"))
		if owner == "" {
			owner = session(c).Name
		}
		if c.Request().PostArgs().Has("seen") {
			// The owner the page showed: taken meanwhile by someone else,
			// the agent is told rather than taking it from them unseen.
			_, err := cs.cfg.Complaints.AssignIf(c.UserContext(), pageID, id, owner, c.FormValue("seen"))
			return err
		}
		_, err := cs.cfg.Complaints.Assign(c.UserContext(), pageID, id, owner)
		return err
	})
}

// retag is POST …/tag: an incident ID, or "" to untag.
func (cs *Console) retag(c *fiber.Ctx) error {
	return cs.act(c, func(pageID, id string) error {
		_, err := cs.cfg.Complaints.SetTag(c.UserContext(), pageID, id, c.FormValue("incident"))
		return err
	})
}

func (cs *Console) note(c *fiber.Ctx) error {
	return cs.act(c, func(pageID, id string) error {
		_, err := cs.cfg.Complaints.Note(c.UserContext(), pageID, id, c.FormValue("text"))
		return err
	})
}

// reply is POST …/reply: the agent's words to the customer and, when
// they promised something in them, the promise, which keeps the
// complaint open when its incident resolves. The promise is checked
// before the reply goes, so a refused one sends nothing.
func (cs *Console) reply(c *fiber.Ctx) error {
	return cs.act(c, func(pageID, id string) error {
		ctx := c.UserContext()
		promise := strings.TrimSpace(c.FormValue("promise"))
		var edit complaint.Edit
		if promise != "" {
			cp, err := cs.cfg.Complaints.Get(ctx, pageID, id)
			if err != nil {
				return err
			}
			promise = complaint.AddPromise(cp.Promise, promise)
			edit.Promise = &promise
			if err := complaint.CheckEdit(edit); err != nil {
				return err
			}
		}
		if _, err := cs.cfg.Complaints.Reply(ctx, pageID, id, c.FormValue("text")); err != nil {
			return err
		}
		if edit.Promise == nil {
			return nil
		}
		_, err := cs.cfg.Complaints.Update(ctx, pageID, id, edit)
		return err
	})
}

// hold is POST …/hold: hold=1 keeps the complaint open when its incident
// resolves, hold=0 lets the resolution answer it again.
func (cs *Console) hold(c *fiber.Ctx) error {
	return cs.act(c, func(pageID, id string) error {
		_, err := cs.cfg.Complaints.Hold(c.UserContext(), pageID, id, c.FormValue("hold") == "1")
		return err
	})
}

func (cs *Console) resolve(c *fiber.Ctx) error {
	return cs.act(c, func(pageID, id string) error {
		_, err := cs.cfg.Complaints.Resolve(c.UserContext(), pageID, id, complaint.Remedy(c.FormValue("remedy")), c.FormValue("outcome"))
		return err
	})
}

// errDecisionMoved: an offer form read at a decision version amended since.
var errDecisionMoved = errors.New("the decision moved")

// errAmountMoved: an offer form whose amount is not what a grant records
// now (compensation.AmountError).
var errAmountMoved = errors.New("the amount moved")

// offer is POST …/offer: what the customer chose of an offer (or that
// they declined), recorded as a grant on the complaint. The form names
// the decision version the page showed: a decision amended since records
// nothing, and the page answers 409 with what the customer gets now.
func (cs *Console) offer(c *fiber.Ctx) error {
	if cs.cfg.Compensation == nil {
		return fiber.ErrNotFound
	}
	version := 0 // a form without it (a page rendered before forms carried it): the version in force
	if v := c.FormValue("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return incident.Invalid("version", "the decision version the offers were read at, 1 or more, not %q", v)
		}
		version = n
	}
	// The amount the page showed for a credit or refund (the form's
	// amount and currency): a grant that would record another records
	// nothing, and the page answers 409 with the amount in force.
	var shown *compensation.Money
	if a := strings.TrimSpace(c.FormValue("amount")); a != "" {
		m, err := parseAmount(a, strings.ToUpper(strings.TrimSpace(c.FormValue("currency"))))
		if err != nil {
			return err
		}
		shown = &m
	}
	var moved int // the version in force when the form's was not
	var amountMoved *compensation.AmountError
	err := cs.act(c, func(pageID, id string) error {
		ctx := c.UserContext()
		cp, err := cs.cfg.Complaints.Get(ctx, pageID, id)
		if err != nil {
			return err
		}
		if cp.Tag == nil {
			return incident.Invalid("offer", "tag the complaint to an incident first")
		}
		// The customer the page showed the offers of: by ID, or found by
		// the contact's address (as checkCompensation does).
		customerID := cp.Contact.CustomerID
		if customerID == "" {
			a, err := cs.checkCompensation(c, pageID, cp.Tag.IncidentID, cp)
			if err != nil {
				return err
			}
			if a == nil || a.Customer.ID == "" {
				return incident.Invalid("offer", "the complaint is from no known customer")
			}
			customerID = a.Customer.ID
		}
		r := compensation.GrantRequest{Offer: c.FormValue("offer"), Choice: c.FormValue("choice"), Declined: c.FormValue("declined") == "1", ComplaintID: cp.ID,
			Version: version, Amount: shown}
		_, _, err = cs.cfg.Compensation.Grant(ctx, pageID, cp.Tag.IncidentID, customerID, r)
		if errors.As(err, &amountMoved) {
			return errAmountMoved // not act's 422: answered below
		}
		var ie *incident.Error
		if errors.As(err, &ie) && ie.Code == incident.ECONFLICT && ie.Field == "version" {
			d, derr := cs.cfg.Compensation.Decision(ctx, pageID, cp.Tag.IncidentID)
			if derr != nil {
				return derr
			}
			moved = d.Version
			return errDecisionMoved // not act's 422: answered below
		}
		return err
	})
	if errors.Is(err, errAmountMoved) {
		// The page again, saying the amount it showed is not what a grant
		// records now and what it is, with the offers in force.
		w := cs.cfg.Words.Lang(cs.lang(c))
		money := compensation.Words(cs.lang(c)).Money
		key := "ConsoleAmountMoved"
		if amountMoved.Refused {
			key = "ConsoleAmountUsedUp"
		}
		return cs.showComplaint(c, fiber.StatusConflict, w.Pattern(key).Fill("Shown", money(amountMoved.Shown), "Now", money(amountMoved.Now)))
	}
	if errors.Is(err, errDecisionMoved) {
		// The page again, saying what happened, with the offers of the
		// version in force for the agent to read out.
		return cs.showComplaint(c, fiber.StatusConflict, cs.cfg.Words.Lang(cs.lang(c)).Pattern("ConsoleOfferMoved").Fill("Version", strconv.Itoa(moved)))
	}
	return err
}

// callForm is the record-a-call form.
type callForm struct {
	Q, CustomerID, Name, Phone, Email          string
	Category, Ask, Severity, Text, Promise, By string
	At                                         string // when they called, in the page's time zone ("": now)
	IncidentID, Attach                         string
	Error                                      string
}

// callPage is GET /console/calls/new (?q= searches, ?customer= picks).
func (cs *Console) callPage(c *fiber.Ctx) error {
	f := &callForm{Q: c.Query("q"), CustomerID: c.Query("customer"), Category: string(complaint.CategoryOutage), Ask: string(complaint.AskInformation), Severity: string(complaint.SeverityNormal)}
	return cs.callView(c, fiber.StatusOK, f)
}

func (cs *Console) callView(c *fiber.Ctx, status int, f *callForm) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	data := fiber.Map{"Form": f, "Categories": []complaint.Category{complaint.CategoryOutage, complaint.CategoryDefect, complaint.CategoryDelivery,
		complaint.CategoryRefund, complaint.CategoryInformation, complaint.CategoryResponseTime, complaint.CategoryConduct, complaint.CategoryOther},
		"Asks":       []complaint.Ask{complaint.AskInformation, complaint.AskFix, complaint.AskCompensation, complaint.AskBehaviourChange, complaint.AskOther},
		"Severities": []complaint.Severity{complaint.SeverityLow, complaint.SeverityNormal, complaint.SeverityHigh, complaint.SeverityCritical},
		"TimeZone":   p.TimeZone}
	if f.Q != "" {
		found, err := cs.findCustomers(c, p.ID, f.Q)
		if err != nil {
			return err
		}
		data["Found"] = found
	}
	if f.CustomerID != "" {
		cust, err := cs.cfg.Complaints.Customers.FindCustomerByID(ctx, p.ID, f.CustomerID)
		if err != nil {
			return err
		}
		data["Customer"] = cust
		open, _, err := cs.cfg.Complaints.List(ctx, complaint.Filter{PageID: p.ID, ContactKey: complaint.Contact{CustomerID: cust.ID}.Key(), Open: true, Limit: 5})
		if err != nil {
			return err
		}
		data["OpenComplaints"] = open
		if len(open) > 0 && f.Attach == "" && c.Method() == fiber.MethodGet {
			f.Attach = open[0].ID
		}
	}
	incs, _, err := cs.cfg.Incidents.Incidents(ctx, incident.IncidentFilter{PageID: p.ID, Statuses: openStatuses})
	if err != nil {
		return err
	}
	data["Incidents"] = incs
	if cs.cfg.Compensation != nil {
		g, err := cs.agentGuidance(c, p.ID, incs)
		if err != nil {
			return err
		}
		data["Guidance"] = g
		if cust, ok := data["Customer"].(*audience.Customer); ok {
			if data["Eligibility"], err = cs.callEligibility(c, p.ID, cust.ID, g); err != nil {
				return err
			}
		}
	}
	v := cs.newView(c, "ConsoleCallTitle", data)
	v.Nav, v.Live = "call", Prefix+"/live"
	return cs.renderView(c, status, "call", v)
}

// findCustomers finds customers by phone, email, customer ID or name
// (notify.Service.FindCustomers); without notify, by phone, email or ID.
func (cs *Console) findCustomers(c *fiber.Ctx, pageID, q string) ([]*audience.Customer, error) {
	ctx := c.UserContext()
	q = strings.TrimSpace(q)
	if len(q) > audience.MaxNameQuery {
		q = q[:audience.MaxNameQuery]
	}
	if cs.cfg.Notify != nil {
		return cs.cfg.Notify.FindCustomers(ctx, pageID, q, cs.cfg.DefaultRegion, 20)
	}
	cust := cs.cfg.Complaints.Customers
	var out []*audience.Customer
	if strings.Contains(q, "@") {
		if e, err := contact.NormalizeEmail(q); err == nil {
			found, err := cust.FindCustomersByAddress(ctx, pageID, channel.Email, e)
			if err != nil {
				return nil, err
			}
			out = append(out, found...)
		}
	} else if p, err := contact.NormalizePhone(q, cs.cfg.DefaultRegion); err == nil {
		found, err := cust.FindCustomersByAddress(ctx, pageID, channel.SMS, p)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	if len(out) == 0 && q != "" {
		if one, err := cust.FindCustomerByID(ctx, pageID, q); err == nil {
			out = append(out, one)
		} else if !errors.Is(err, incident.ErrNotFound) {
			return nil, err
		}
	}
	return out, nil
}

// customerSearch is GET /console/customers?q=: the call form's search.
func (cs *Console) customerSearch(c *fiber.Ctx) error {
	return c.Redirect(Prefix+"/calls/new?q="+urlQuery(c.Query("q")), fiber.StatusSeeOther)
}

// recordCall is POST /console/calls.
func (cs *Console) recordCall(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	f := &callForm{CustomerID: c.FormValue("customer"), Name: strings.TrimSpace(c.FormValue("name")), Phone: strings.TrimSpace(c.FormValue("phone")),
		Email: strings.TrimSpace(c.FormValue("email")), Category: c.FormValue("category"), Ask: c.FormValue("ask"), Severity: c.FormValue("severity"),
		Text: strings.TrimSpace(c.FormValue("text")), Promise: strings.TrimSpace(c.FormValue("promise")), By: strings.TrimSpace(c.FormValue("by")),
		IncidentID: c.FormValue("incident"), Attach: c.FormValue("attach"), At: strings.TrimSpace(c.FormValue("at"))}
	ct := complaint.Contact{CustomerID: f.CustomerID, Name: f.Name}
	if f.Phone != "" {
		e164, err := contact.NormalizePhone(f.Phone, cs.cfg.DefaultRegion)
		if err != nil {
			f.Error = "phone: " + cs.newView(c, "", nil).T("ConsoleBadPhone")
			return cs.callView(c, fiber.StatusUnprocessableEntity, f)
		}
		ct.Phone = e164
	}
	if f.Email != "" {
		e, err := contact.NormalizeEmail(f.Email)
		if err != nil {
			f.Error = "email: " + cs.newView(c, "", nil).T("ConsoleBadEmail")
			return cs.callView(c, fiber.StatusUnprocessableEntity, f)
		}
		ct.Email = e
	}
	promise := f.Promise
	if promise != "" && f.By != "" {
		promise += " (" + f.By + ")"
	}
	var at time.Time
	if f.At != "" {
		// A call recorded after it was taken keeps its time, read in the
		// page's time zone as the form's label says.
		var err error
		if at, err = time.ParseInLocation("2006-01-02T15:04", f.At, p.Location()); err != nil {
			f.Error = cs.newView(c, "", nil).T("ConsoleBadCallTime")
			return cs.callView(c, fiber.StatusUnprocessableEntity, f)
		}
		at = at.UTC()
	}
	in := complaint.Intake{PageID: p.ID, Channel: complaint.Phone, Contact: ct, Text: f.Text, Category: complaint.Category(f.Category),
		Ask: complaint.Ask(f.Ask), Severity: complaint.Severity(f.Severity), Promise: promise, IncidentID: f.IncidentID,
		Owner: session(c).Name, Language: "", At: at, Recorded: true}
	if f.Attach != "" && f.Attach != "new" {
		in.ComplaintID = f.Attach
	}
	cp, _, err := cs.cfg.Complaints.Receive(ctx, in)
	if err != nil {
		if f.Error = formError(err); f.Error == "" {
			return err
		}
		if de := (*incident.Error)(nil); errors.As(err, &de) && de.Field == "at" {
			// Ahead of now or over a year back (the service's bounds).
			f.Error = cs.newView(c, "", nil).T("ConsoleBadCallTime")
		}
		return cs.callView(c, fiber.StatusUnprocessableEntity, f)
	}
	// What the call page's panel for the complaint's incident showed when
	// the agent recorded the call (held as read, if the offers changed
	// while they talked): the complaint page compares it with the offers
	// in force and says when they differ, rather than showing another
	// amount silently.
	to := Prefix + "/complaints/" + cp.ID
	if cp.Tag != nil {
		for _, r := range c.Request().PostArgs().PeekMulti("read") {
			if m := readRx.FindSubmatch(r); m != nil && string(m[1]) == cp.Tag.IncidentID {
				to += "?read=" + url.QueryEscape(string(r))
				break
			}
		}
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

// policyWords returns what says who gets what under a policy in the
// console's language (a choice as a choice, compensation.RuleGives), and
// its limits: the cap, the claim deadline in the page's zone, the
// exclusions. It reads the page and its components once, for every
// policy it is then given.
func (cs *Console) policyWords(c *fiber.Ctx, pageID string) (func(*compensation.Policy) (rules, limits []string), error) {
	w := compensation.Words(cs.lang(c))
	names, err := cs.componentNames(c.UserContext(), pageID)
	if err != nil {
		return nil, err
	}
	var loc *time.Location
	if page, err := cs.page(c.UserContext()); err == nil {
		loc = compensation.PageZone(page)
	}
	return func(p *compensation.Policy) (rules, limits []string) {
		for _, rule := range p.Rules {
			rules = append(rules, compensation.NameComponents(w.RuleGives(rule, p), names))
		}
		return rules, w.Limits(p, loc)
	}, nil
}

// componentNames maps the page's component IDs to their names, for the
// words that name components (compensation rules).
func (cs *Console) componentNames(ctx context.Context, pageID string) (map[string]string, error) {
	comps, err := cs.cfg.Incidents.Components(ctx, pageID)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(comps))
	for _, c := range comps {
		names[c.ID] = c.Name
	}
	return names, nil
}

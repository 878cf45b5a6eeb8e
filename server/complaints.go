package server

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/notify/contact"
	"github.com/heraldhq/herald/ratelimit"
)

// The complaint front doors: the agents' API under
// /api/v1/pages/{page}/complaints, the inbound SMS that is no keyword
// (webhooks.go), and the status page's report-a-problem form (report.go).
// Every one goes through complaint.Service; none writes a store.

// Defaults of ComplaintsConfig's zero values: the report form's limits.
var (
	// DefaultReportIPLimit lets one address (an IPv6 /64) send a report a
	// minute, five at once: a family behind one router can all report.
	DefaultReportIPLimit = ratelimit.Limit{Rate: 1.0 / 60, Burst: 5}
	// DefaultReportContactLimit lets one email or phone send a report
	// every five minutes, three at once: later messages attach to the
	// same complaint anyway, so more only floods it.
	DefaultReportContactLimit = ratelimit.Limit{Rate: 1.0 / 300, Burst: 3}
)

// ComplaintsConfig configures the complaint front doors.
type ComplaintsConfig struct {
	// Limiter holds the report form's per-IP and per-contact limits
	// (across nodes on Redis); nil: a limiter of this process.
	Limiter ratelimit.Limiter
	// ReportIPLimit and ReportContactLimit are the form's limits; zero
	// values take the defaults above.
	ReportIPLimit      ratelimit.Limit
	ReportContactLimit ratelimit.Limit
}

// complaints is what EnableComplaints adds to the Server.
type complaints struct {
	svc *complaint.Service
	cfg ComplaintsConfig
}

// EnableComplaints adds the complaint front doors: the API, the report
// form and complaints from inbound SMS. Call it once, after
// EnableBroadcast (the form and the SMS route are the fan-out's), before
// Listen or Serve.
func (s *Server) EnableComplaints(svc *complaint.Service, cfg ComplaintsConfig) error {
	switch {
	case svc == nil:
		return errors.New("server: EnableComplaints needs a complaint.Service")
	case s.bc == nil:
		return errors.New("server: EnableComplaints needs EnableBroadcast first")
	case s.cp != nil:
		return errors.New("server: EnableComplaints called twice")
	}
	if cfg.Limiter == nil {
		cfg.Limiter = ratelimit.NewLocal()
	}
	if cfg.ReportIPLimit.Rate <= 0 {
		cfg.ReportIPLimit = DefaultReportIPLimit
	}
	if cfg.ReportContactLimit.Rate <= 0 {
		cfg.ReportContactLimit = DefaultReportContactLimit
	}
	s.cp = &complaints{svc: svc, cfg: cfg}
	s.complaintRoutes()
	return nil
}

// ---- request bodies ----

// recordRequest is POST …/complaints.
type recordRequest struct {
	wire.ComplaintRecord
	at time.Time // At, read by Valid (zero, as Go's zero time too: now)
}

func (r *recordRequest) shape() any { return &r.ComplaintRecord }

func (r *recordRequest) Valid() error {
	if !oneOfStrings(r.Channel, complaint.Channels) {
		return incident.Invalid("channel", "must be one of %s", joinStrings(complaint.Channels))
	}
	if r.Category != "" && !oneOfStrings(r.Category, complaint.Categories) {
		return incident.Invalid("category", "must be one of %s", joinStrings(complaint.Categories))
	}
	if r.Ask != "" && !oneOfStrings(r.Ask, complaint.Asks) {
		return incident.Invalid("ask", "must be one of %s", joinStrings(complaint.Asks))
	}
	if r.Severity != "" && !oneOfStrings(r.Severity, complaint.Severities) {
		return incident.Invalid("severity", "must be one of %s", joinStrings(complaint.Severities))
	}
	if strings.TrimSpace(r.Text) == "" && strings.TrimSpace(r.Subject) == "" {
		return incident.Invalid("text", "is required: what the customer says, in their words")
	}
	at, err := wire.ParseTime("at", r.At)
	if err != nil {
		return err
	}
	if at != nil {
		r.at = *at // its bounds are the complaint service's (Intake.Recorded)
	}
	if utf8.RuneCountInString(r.Owner) > complaint.MaxNameLen {
		return incident.Invalid("owner", "is longer than %d characters", complaint.MaxNameLen)
	}
	ct := &r.Contact
	if ct.CustomerID == "" && ct.Phone == "" && ct.Email == "" && ct.Slack == "" && strings.TrimSpace(ct.Name) == "" {
		return incident.Invalid("contact", "needs a customer_id, a phone, an email, a Slack user or at least a name")
	}
	return nil
}

// editRequest is PATCH …/complaints/{id}.
type editRequest struct{ wire.ComplaintEdit }

func (r *editRequest) shape() any { return &r.ComplaintEdit }

func (r *editRequest) Valid() error {
	switch {
	case r.Category != nil && !oneOfStrings(*r.Category, complaint.Categories):
		return incident.Invalid("category", "must be one of %s", joinStrings(complaint.Categories))
	case r.Ask != nil && !oneOfStrings(*r.Ask, complaint.Asks):
		return incident.Invalid("ask", "must be one of %s", joinStrings(complaint.Asks))
	case r.Severity != nil && !oneOfStrings(*r.Severity, complaint.Severities):
		return incident.Invalid("severity", "must be one of %s", joinStrings(complaint.Severities))
	case r.Category == nil && r.Ask == nil && r.Severity == nil && r.Promise == nil && r.Components == nil && r.HoldOpen == nil:
		return incident.Errorf(incident.EINVALID, "nothing to change: send category, ask, severity, promise, components or hold_open")
	}
	return nil
}

type assignRequest struct{ wire.ComplaintAssign }

func (r *assignRequest) shape() any { return &r.ComplaintAssign }

func (r *assignRequest) Valid() error {
	if r.Owner == nil {
		return incident.Invalid("owner", `is required ("" leaves the complaint unassigned)`)
	}
	return nil
}

// tagRequest is POST …/tag: incident_id must be present, null untags.
type tagRequest struct {
	IncidentID json.RawMessage `json:"incident_id"`
	id         string
}

func (r *tagRequest) Valid() error {
	raw := bytes.TrimSpace(r.IncidentID)
	if len(raw) == 0 {
		return incident.Invalid("incident_id", "is required: an incident's ID, or null to untag")
	}
	var v wire.ComplaintTagRequest
	if err := json.Unmarshal([]byte(`{"incident_id":`+string(raw)+`}`), &v); err != nil {
		return incident.Invalid("incident_id", "must be a string or null")
	}
	if v.IncidentID != nil {
		if r.id = strings.TrimSpace(*v.IncidentID); r.id == "" {
			// An empty string is a slip (an unset variable), not a wish
			// to untag: only null untags.
			return incident.Invalid("incident_id", "is empty: an incident's ID, or null to untag")
		}
	}
	return nil
}

type textRequest struct{ wire.ComplaintText }

func (r *textRequest) shape() any { return &r.ComplaintText }

func (r *textRequest) Valid() error {
	if strings.TrimSpace(r.Text) == "" {
		return incident.Invalid("text", "is required")
	}
	return nil
}

type stateRequest struct{ wire.ComplaintState }

func (r *stateRequest) shape() any { return &r.ComplaintState }

func (r *stateRequest) Valid() error {
	if !oneOfStrings(r.State, complaint.States) {
		return incident.Invalid("state", "must be one of %s", joinStrings(complaint.States))
	}
	return nil
}

type resolveRequest struct{ wire.ComplaintResolve }

func (r *resolveRequest) shape() any { return &r.ComplaintResolve }

func (r *resolveRequest) Valid() error {
	if !oneOfStrings(r.Remedy, complaint.Remedies) {
		return incident.Invalid("remedy", "must be one of %s", joinStrings(complaint.Remedies))
	}
	if strings.TrimSpace(r.Outcome) == "" {
		return incident.Invalid("outcome", "is required: what was done, in words the customer can read")
	}
	return nil
}

func oneOfStrings[T ~string](v string, list []T) bool {
	for _, x := range list {
		if string(x) == v {
			return true
		}
	}
	return false
}

func joinStrings[T ~string](list []T) string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = string(x)
	}
	return strings.Join(out, ", ")
}

// ---- helpers ----

// normalizeContact writes a contact's phone in E.164 and its email in
// the normal form notify uses, so the customer behind them is found;
// field prefixes the error's field ("contact").
func (s *Server) normalizeContact(ct *wire.ComplaintContact, field string) error {
	if p := strings.TrimSpace(ct.Phone); p != "" {
		e164, err := contact.NormalizePhone(p, s.bc.cfg.DefaultRegion)
		if err != nil {
			return incident.Invalid(field+".phone", "is not a phone number herald can read (use +country code)")
		}
		ct.Phone = e164
	}
	if e := strings.TrimSpace(ct.Email); e != "" {
		norm, err := contact.NormalizeEmail(e)
		if err != nil {
			return incident.Invalid(field+".email", "is not an email address")
		}
		ct.Email = norm
	}
	if utf8.RuneCountInString(ct.Name) > complaint.MaxNameLen {
		return incident.Invalid(field+".name", "is longer than %d characters", complaint.MaxNameLen)
	}
	if utf8.RuneCountInString(ct.Slack) > complaint.MaxNameLen {
		return incident.Invalid(field+".slack", "is longer than %d characters", complaint.MaxNameLen)
	}
	return nil
}

// checkComponents reports the first ID that is no component of the page.
func (s *Server) checkComponents(c *fiber.Ctx, pageID, field string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	comps, err := s.svc.Components(c.UserContext(), pageID)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, cp := range comps {
		known[cp.ID] = true
	}
	for i, id := range ids {
		if !known[id] {
			return incident.Invalid(field+"["+strconv.Itoa(i)+"]", "no component %q on this page", truncate(id, 40))
		}
	}
	return nil
}

// sendComplaint answers with a complaint, its timeline when entries is
// not nil.
func (s *Server) sendComplaint(c *fiber.Ctx, status int, cp *complaint.Complaint, entries []*complaint.Entry) error {
	return c.Status(status).JSON(s.wireComplaint(cp, entries))
}

// wireComplaint is cp as the API answers it, with at_risk judged by the
// complaint package's rule now.
func (s *Server) wireComplaint(cp *complaint.Complaint, entries []*complaint.Entry) wire.Complaint {
	out := wire.NewComplaint(cp, entries)
	risk := s.cp.svc.AtRiskNow(cp)
	out.AtRisk = &risk
	return out
}

// queryTime reads a time query parameter: RFC 3339, or a date (UTC
// midnight). zero when absent.
func queryTime(c *fiber.Ctx, name string, loc *time.Location) (time.Time, error) {
	return parseQueryTime(name, c.Query(name), loc)
}

// parseQueryTime reads a from/to bound: an RFC 3339 time, or a date, a
// day in loc (the page's time zone): a date as "to" includes its day
// (the next midnight there), as people mean "to 2026-12-31" and as the
// period reports read it; as "from" it is that day's midnight there.
func parseQueryTime(name, v string, loc *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		if err := incident.SaneDate(name, t, time.Now()); err != nil {
			return time.Time{}, err
		}
		return t.UTC(), nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		if err := incident.SaneDate(name, t, time.Now()); err != nil {
			return time.Time{}, err
		}
		if name == "to" {
			t = t.AddDate(0, 0, 1)
		}
		return t.UTC(), nil
	}
	return time.Time{}, incident.Invalid(name, "must be a time (2026-12-04T09:00:00Z) or a date (2026-12-04)")
}

// ---- handlers ----

// recordComplaint is POST …/complaints: an agent records a call, or a
// client files a complaint, by the standard recording scheme.
func (s *Server) recordComplaint() fiber.Handler {
	return func(c *fiber.Ctx) error {
		// Strict: the record is herald's own shape, and a misspelt field
		// ("when", a "complaint" wrapper) must not be dropped in silence.
		var req recordRequest
		if err := decodeStrict(c, &req); err != nil {
			return err
		}
		pageID := c.Params("page_id")
		if _, err := s.cp.svc.Page(c.UserContext(), pageID); err != nil {
			return err
		}
		if err := s.normalizeContact(&req.Contact, "contact"); err != nil {
			return err
		}
		if err := s.checkComponents(c, pageID, "components", req.Components); err != nil {
			return err
		}
		owner := strings.TrimSpace(req.Owner)
		if owner == "" && req.Channel == string(complaint.Phone) {
			// The agent who took the call owns it: no hand-off.
			owner = incident.ActorFrom(c.UserContext()).Name
		}
		ct := req.Contact
		in := complaint.Intake{PageID: pageID, Channel: complaint.Channel(req.Channel),
			Contact: complaint.Contact{CustomerID: strings.TrimSpace(ct.CustomerID), Name: strings.TrimSpace(ct.Name), Phone: ct.Phone, Email: ct.Email, Slack: strings.TrimSpace(ct.Slack)},
			Subject: req.Subject, Text: req.Text, Category: complaint.Category(req.Category), Ask: complaint.Ask(req.Ask),
			Severity: complaint.Severity(req.Severity), Promise: req.Promise, Language: req.Language, Components: req.Components,
			IncidentID: strings.TrimSpace(req.IncidentID), Owner: owner, At: req.at, Recorded: true}
		cp, created, err := s.cp.svc.Receive(c.UserContext(), in)
		if err != nil {
			return err
		}
		status := http.StatusCreated
		if !created {
			status = http.StatusOK // attached to the contact's open complaint
		}
		return s.sendComplaint(c, status, cp, nil)
	}
}

// listComplaints is GET …/complaints, newest first; X-Total-Count has how
// many match before limit and offset.
func (s *Server) listComplaints() fiber.Handler {
	return func(c *fiber.Ctx) error {
		pageID := c.Params("page_id")
		if _, err := s.svc.Page(c.UserContext(), pageID); err != nil {
			return err
		}
		f := complaint.Filter{PageID: pageID, IncidentID: c.Query("incident_id"), Owner: c.Query("owner")}
		for _, st := range strings.Split(c.Query("state"), ",") {
			if st = strings.TrimSpace(st); st == "" {
				continue
			}
			if !oneOfStrings(st, complaint.States) {
				return incident.Invalid("state", "must be one of %s (comma-separated)", joinStrings(complaint.States))
			}
			f.States = append(f.States, complaint.State(st))
		}
		var err error
		if f.Open, err = queryBool(c, "open", false); err != nil {
			return err
		}
		if f.Untagged, err = queryBool(c, "untagged", false); err != nil {
			return err
		}
		if f.Unassigned, err = queryBool(c, "unassigned", false); err != nil {
			return err
		}
		if f.Repeat, err = queryBool(c, "repeat", false); err != nil {
			return err
		}
		// at_risk: the complaint package's rule, soonest due first.
		if risk, err := queryBool(c, "at_risk", false); err != nil {
			return err
		} else if risk {
			f.DueBefore = s.cp.svc.AtRiskCut()
		}
		if id := c.Query("customer_id"); id != "" {
			f.ContactKey = complaint.Contact{CustomerID: id}.Key()
		}
		if ch := c.Query("channel"); ch != "" {
			if !oneOfStrings(ch, complaint.Channels) {
				return incident.Invalid("channel", "must be one of %s", joinStrings(complaint.Channels))
			}
			f.Channel = complaint.Channel(ch)
		}
		if cat := c.Query("category"); cat != "" {
			if !oneOfStrings(cat, complaint.Categories) {
				return incident.Invalid("category", "must be one of %s", joinStrings(complaint.Categories))
			}
			f.Category = complaint.Category(cat)
		}
		loc := time.UTC // the page's days, when a bound is a date
		if c.Query("from") != "" || c.Query("to") != "" {
			if loc, err = s.pageZone(c, pageID); err != nil {
				return err
			}
		}
		if f.Since, err = queryTime(c, "from", loc); err != nil {
			return err
		}
		if f.Until, err = queryTime(c, "to", loc); err != nil {
			return err
		}
		if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
			return incident.Invalid("from", "must be before to") // as the stats say, not an empty list
		}
		if f.Limit, err = queryInt(c, "limit", 100, 1, 1000); err != nil {
			return err
		}
		if f.Offset, err = queryInt(c, "offset", 0, 0, 1<<30); err != nil {
			return err
		}
		cs, total, err := s.cp.svc.List(c.UserContext(), f)
		if err != nil {
			return err
		}
		out := make([]wire.Complaint, len(cs))
		for i, cp := range cs {
			out[i] = s.wireComplaint(cp, nil)
		}
		c.Set("X-Total-Count", strconv.Itoa(total))
		return c.JSON(out)
	}
}

// getComplaint is GET …/complaints/{id}, with its timeline.
func (s *Server) getComplaint() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := s.complaintID(c)
		if err != nil {
			return err
		}
		cp, entries, err := s.cp.svc.Timeline(c.UserContext(), c.Params("page_id"), id)
		if err != nil {
			return err
		}
		if entries == nil {
			entries = []*complaint.Entry{}
		}
		return s.sendComplaint(c, http.StatusOK, cp, entries)
	}
}

// updateComplaint is PATCH …/complaints/{id}: corrections of what was
// recorded, and hold_open.
func (s *Server) updateComplaint() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req editRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		ctx, pageID := c.UserContext(), c.Params("page_id")
		id, err := s.complaintID(c)
		if err != nil {
			return err
		}
		if _, err := s.cp.svc.Get(ctx, pageID, id); err != nil {
			return err
		}
		e := complaint.Edit{Promise: req.Promise}
		if req.Category != nil {
			v := complaint.Category(*req.Category)
			e.Category = &v
		}
		if req.Ask != nil {
			v := complaint.Ask(*req.Ask)
			e.Ask = &v
		}
		if req.Severity != nil {
			v := complaint.Severity(*req.Severity)
			e.Severity = &v
		}
		if req.Components != nil {
			if err := s.checkComponents(c, pageID, "components", *req.Components); err != nil {
				return err
			}
			e.Components = append([]string{}, *req.Components...)
		}
		var cp *complaint.Complaint
		if e.Category != nil || e.Ask != nil || e.Severity != nil || e.Promise != nil || e.Components != nil {
			if cp, err = s.cp.svc.Update(ctx, pageID, id, e); err != nil {
				return err
			}
		}
		if req.HoldOpen != nil {
			if cp, err = s.cp.svc.Hold(ctx, pageID, id, *req.HoldOpen); err != nil {
				return err
			}
		}
		return s.sendComplaint(c, http.StatusOK, cp, nil)
	}
}

// complaintID is the route's complaint: its ID, or the reference the
// customer was given (C-RCLFXZ2G), which an agent may type instead.
func (s *Server) complaintID(c *fiber.Ctx) (string, error) {
	id, err := pathParam(c, "complaint_id")
	if err != nil {
		return "", err
	}
	return s.cp.svc.ResolveID(c.UserContext(), c.Params("page_id"), strings.TrimSpace(id))
}

// complaintAction is a POST …/complaints/{id}/<verb>: decode req, then act.
func complaintAction[R validator](s *Server, newReq func() R, act func(c *fiber.Ctx, pageID, id string, req R) (*complaint.Complaint, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		req := newReq()
		if err := decode(c, req); err != nil {
			return err
		}
		id, err := s.complaintID(c)
		if err != nil {
			return err
		}
		cp, err := act(c, c.Params("page_id"), id, req)
		if err != nil {
			return err
		}
		return s.sendComplaint(c, http.StatusOK, cp, nil)
	}
}

func (s *Server) assignComplaint() fiber.Handler {
	return complaintAction(s, func() *assignRequest { return &assignRequest{} },
		func(c *fiber.Ctx, pageID, id string, r *assignRequest) (*complaint.Complaint, error) {
			if r.From != nil {
				return s.cp.svc.AssignIf(c.UserContext(), pageID, id, *r.Owner, strings.TrimSpace(*r.From))
			}
			return s.cp.svc.Assign(c.UserContext(), pageID, id, *r.Owner)
		})
}

func (s *Server) tagComplaint() fiber.Handler {
	return complaintAction(s, func() *tagRequest { return &tagRequest{} },
		func(c *fiber.Ctx, pageID, id string, r *tagRequest) (*complaint.Complaint, error) {
			if _, err := s.cp.svc.Get(c.UserContext(), pageID, id); err != nil {
				return nil, err // a missing complaint is named before a missing incident
			}
			return s.cp.svc.SetTag(c.UserContext(), pageID, id, r.id)
		})
}

func (s *Server) noteComplaint() fiber.Handler {
	return complaintAction(s, func() *textRequest { return &textRequest{} },
		func(c *fiber.Ctx, pageID, id string, r *textRequest) (*complaint.Complaint, error) {
			return s.cp.svc.Note(c.UserContext(), pageID, id, r.Text)
		})
}

func (s *Server) replyComplaint() fiber.Handler {
	return complaintAction(s, func() *textRequest { return &textRequest{} },
		func(c *fiber.Ctx, pageID, id string, r *textRequest) (*complaint.Complaint, error) {
			return s.cp.svc.Reply(c.UserContext(), pageID, id, r.Text)
		})
}

func (s *Server) moveComplaint() fiber.Handler {
	return complaintAction(s, func() *stateRequest { return &stateRequest{} },
		func(c *fiber.Ctx, pageID, id string, r *stateRequest) (*complaint.Complaint, error) {
			return s.cp.svc.Move(c.UserContext(), pageID, id, complaint.State(r.State))
		})
}

func (s *Server) resolveComplaint() fiber.Handler {
	return complaintAction(s, func() *resolveRequest { return &resolveRequest{} },
		func(c *fiber.Ctx, pageID, id string, r *resolveRequest) (*complaint.Complaint, error) {
			return s.cp.svc.Resolve(c.UserContext(), pageID, id, complaint.Remedy(r.Remedy), r.Outcome)
		})
}

// pageZone is the page's time zone (UTC when it names none): a date in
// from/to is its day, as in the period report.
func (s *Server) pageZone(c *fiber.Ctx, pageID string) (*time.Location, error) {
	p, err := s.svc.Page(c.UserContext(), pageID)
	if err != nil {
		return nil, err
	}
	if p.TimeZone == "" {
		return time.UTC, nil
	}
	return incident.Location(p.TimeZone), nil
}

// complaintStats is GET …/complaints/stats?from=&to= (default: the last
// 30 days; a date is the page's day, midnight to midnight in its time
// zone, as in the period report), as JSON, or as CSV with Accept:
// text/csv or ?format=csv.
func (s *Server) complaintStats() fiber.Handler {
	return func(c *fiber.Ctx) error {
		pageID := c.Params("page_id")
		loc, err := s.pageZone(c, pageID)
		if err != nil {
			return err
		}
		from, err := queryTime(c, "from", loc)
		if err != nil {
			return err
		}
		to, err := queryTime(c, "to", loc)
		if err != nil {
			return err
		}
		if to.IsZero() {
			to = s.svc.Now().UTC()
		}
		if from.IsZero() {
			from = to.AddDate(0, 0, -30)
		}
		if !from.Before(to) {
			return incident.Invalid("from", "must be before to")
		}
		format := strings.ToLower(c.Query("format"))
		switch {
		case format == "" && strings.Contains(c.Get(fiber.HeaderAccept), "text/csv"):
			format = "csv"
		case format == "":
			format = "json"
		case format != "csv" && format != "json":
			return incident.Invalid("format", "must be csv or json")
		}
		st, err := s.cp.svc.Stats(c.UserContext(), pageID, from, to)
		if err != nil {
			return err
		}
		out := wire.NewComplaintStats(st)
		if format == "json" {
			return c.JSON(out)
		}
		body, err := statsCSV(out)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="complaints-`+from.Format("20060102")+`-`+to.Format("20060102")+`.csv"`)
		return c.Send(body)
	}
}

// statsCSV writes the evaluation as metric,key,value rows: one figure a
// row, so a spreadsheet can pivot it however the report wants.
func statsCSV(st wire.ComplaintStats) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	row := func(metric, key, value string) { _ = w.Write([]string{metric, key, value}) }
	// An empty cell for a figure with nothing to measure it by (null in
	// the JSON), never a 0 that reads as "no promise kept".
	f := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	row("metric", "key", "value")
	row("from", "", st.From.Time().Format(time.RFC3339))
	row("to", "", st.To.Time().Format(time.RFC3339))
	row("total", "", strconv.Itoa(st.Total))
	row("tagged", "", strconv.Itoa(st.Tagged))
	row("untagged", "", strconv.Itoa(st.Untagged))
	row("repeats", "", strconv.Itoa(st.Repeats))
	row("repeat_rate", "", f(st.RepeatRate))
	row("sla_kept", "", f(st.SLAKept))
	row("sla_judged", "", strconv.Itoa(st.SLAJudged))
	row("follow_ups", "", strconv.Itoa(st.FollowUps))
	for _, m := range []struct {
		name string
		v    map[string]int
	}{{"by_channel", st.ByChannel}, {"by_category", st.ByCategory}, {"by_incident", st.ByIncident},
		{"by_state", st.ByState}, {"remedies", st.Remedies}, {"backlog", st.Backlog},
		{"follow_ups_by_incident", st.FollowUpsByIncident}} {
		keys := make([]string, 0, len(m.v))
		for k := range m.v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			row(m.name, k, strconv.Itoa(m.v[k]))
		}
	}
	for _, p := range []struct {
		name string
		v    wire.Percentiles
	}{{"acknowledgement", st.Acknowledgement}, {"first_answer", st.FirstAnswer}, {"resolution", st.Resolution}} {
		row(p.name+"_n", "", strconv.Itoa(p.v.N))
		row(p.name+"_p50_seconds", "", f(p.v.P50))
		row(p.name+"_p90_seconds", "", f(p.v.P90))
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

package server

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/contact"
)

// The compensation front door: managers decide, agents check customers and
// record what they gave, billing exports the grants, and agents follow
// every change live on /api/v1/agent/events. Every route goes through
// compensation.Service; none writes a store.

// compensationAPI is what EnableCompensation adds to the Server.
type compensationAPI struct {
	svc    *compensation.Service
	events incident.Events
}

// EnableCompensation adds the compensation API and the agents' live feed.
// events is the bus the feed listens on (every node's changes on Redis).
// Call it once, after EnableBroadcast (the announcement is a broadcast)
// and EnableComplaints (a grant may be recorded on a complaint).
func (s *Server) EnableCompensation(svc *compensation.Service, events incident.Events) error {
	switch {
	case svc == nil || events == nil:
		return errors.New("server: EnableCompensation needs a compensation.Service and events")
	case s.bc == nil:
		return errors.New("server: EnableCompensation needs EnableBroadcast first")
	case s.comp != nil:
		return errors.New("server: EnableCompensation called twice")
	}
	s.comp = &compensationAPI{svc: svc, events: events}
	s.compensationRoutes()
	return nil
}

func (s *Server) compensationRoutes() {
	api := s.api
	agent, manager := s.requireRole(incident.RoleAgent), s.requireRole(incident.RoleManager)
	base := "/pages/:page_id/incidents/:incident_id/compensation"
	api.Get(base, agent, s.getCompensation())
	api.Put(base, manager, s.decideCompensation())
	api.Post(base, manager, s.decideCompensation()) // for clients that cannot PUT
	api.Get(base+"/history", agent, s.compensationHistory())
	api.Get(base+"/totals", agent, s.compensationTotals())
	api.Get(base+"/grants", manager, s.exportGrants())
	api.Get(base+"/customers", agent, s.checkCustomerByAddress())
	api.Get(base+"/customers/:customer_id", agent, s.checkCustomer())
	api.Post(base+"/customers/:customer_id/grants", agent, s.grantCompensation())
	api.Get(base+"/announcement", manager, s.announcementDryRun())
	api.Post(base+"/announcement", manager, s.announceCompensation())
	api.Post("/pages/:page_id/complaints/:complaint_id/compensation", agent, s.grantOnComplaint())
	api.Get("/pages/:page_id/voucher-lists/:list_id", manager, s.voucherList())
	api.Post("/pages/:page_id/voucher-lists/:list_id", manager, s.addVouchers())
	api.Get("/agent/events", agent, s.agentEvents())
}

// decisionResponse is a decision with what changed from the version before.
type decisionResponse struct {
	Decision *compensation.Decision `json:"decision"`
	Changes  []compensation.Change  `json:"changes"`
	Summary  string                 `json:"summary"`
	// Told is the version customers were last told of and how (null:
	// none), on GET: compared with the decision's version, it says
	// whether customers have heard of what is in force.
	Told *compensation.Told `json:"told,omitempty"`
	// ToldComing is when customers were first told compensation is coming,
	// while it is (compensation.Service.ToldComing).
	ToldComing *time.Time `json:"told_coming,omitempty"`
	// Effects, on a decision, is what it does to customers against what
	// they were told and the version it replaced: the options it lowered
	// (which the manager confirmed with accept_lower) and the top-ups it
	// owes (compensation.Service.DecideEffects).
	Effects *compensation.Effects `json:"effects,omitempty"`
}

// lowerErrorBody is the 409 of a decision that gives customers less and
// was not confirmed: the error, and the effects the manager confirms
// with accept_lower.
type lowerErrorBody struct {
	Error   errorDetail           `json:"error"`
	Effects *compensation.Effects `json:"effects"`
}

// amountErrorBody is the 409 of a grant whose amount is not the one the
// agent was shown (compensation.AmountError): the error, and the amount
// the grant would record now under the decision version in force (an
// amount of 0: the cap leaves nothing), which a client shows the agent
// and sends back as amount and version once the customer has heard it.
type amountErrorBody struct {
	Error   errorDetail        `json:"error"`
	Amount  compensation.Money `json:"amount"`
	Version int                `json:"version"`
}

// toldCustomers is what customers heard of the incident's compensation:
// the decided version last told, and when they were told it is coming.
func (s *Server) toldCustomers(c *fiber.Ctx) (*compensation.Told, *time.Time, error) {
	ctx, pageID, id := c.UserContext(), c.Params("page_id"), c.Params("incident_id")
	told, err := s.comp.svc.Told(ctx, pageID, id)
	if err != nil {
		return nil, nil, err
	}
	coming, err := s.comp.svc.ToldComing(ctx, pageID, id)
	return told, coming, err
}

func (s *Server) getCompensation() fiber.Handler {
	return func(c *fiber.Ctx) error {
		d, err := s.comp.svc.Decision(c.UserContext(), c.Params("page_id"), c.Params("incident_id"))
		if err != nil {
			return err
		}
		told, coming, err := s.toldCustomers(c)
		if err != nil {
			return err
		}
		return c.JSON(decisionResponse{Decision: d, Changes: []compensation.Change{}, Told: told, ToldComing: coming})
	}
}

// proposalRequest is the body of PUT …/compensation.
type proposalRequest struct {
	compensation.Proposal
}

func (r *proposalRequest) shape() any { return &r.Proposal }

func (r *proposalRequest) Valid() error {
	if r.State == "" {
		return incident.Invalid("state", "is required: none_yet, coming, decided or none")
	}
	return nil
}

func (s *Server) decideCompensation() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req proposalRequest
		if err := decodeStrict(c, &req); err != nil {
			return err
		}
		d, changes, effects, err := s.comp.svc.DecideEffects(c.UserContext(), c.Params("page_id"), c.Params("incident_id"), req.Proposal)
		var lower *compensation.LowerError
		if errors.As(err, &lower) {
			de, _ := asDomainError(err)
			return c.Status(http.StatusConflict).JSON(lowerErrorBody{Error: errorDetail{Code: de.Code, Message: de.Message, Field: de.Field},
				Effects: lower.Effects})
		}
		if err != nil {
			return err
		}
		if changes == nil {
			changes = []compensation.Change{}
		}
		return c.JSON(decisionResponse{Decision: d, Changes: changes, Summary: compensation.Summary(changes), Effects: effects})
	}
}

func (s *Server) compensationHistory() fiber.Handler {
	return func(c *fiber.Ctx) error {
		vs, err := s.comp.svc.History(c.UserContext(), c.Params("page_id"), c.Params("incident_id"))
		if err != nil {
			return err
		}
		if vs == nil {
			vs = []compensation.Version{}
		}
		told, coming, err := s.toldCustomers(c)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"versions": vs, "told": told, "told_coming": coming})
	}
}

func (s *Server) compensationTotals() fiber.Handler {
	return func(c *fiber.Ctx) error {
		t, err := s.comp.svc.Totals(c.UserContext(), c.Params("page_id"), c.Params("incident_id"))
		if err != nil {
			return err
		}
		return c.JSON(t)
	}
}

// langQueryProblem refuses a ?lang= herald does not speak (a tag with a
// region, "hu-HU", names its language): an API client asked for a
// language and would silently get English.
func langQueryProblem(c *fiber.Ctx) error {
	if l := c.Query("lang"); l != "" && oneOf(incident.Languages, []byte(l)) == "" {
		return incident.Invalid("lang", "herald speaks %s, not %q", strings.Join(incident.Languages, ", "), l)
	}
	return nil
}

// agentLanguage is the language of an agent's script: ?lang=, else the
// Accept-Language header, else English.
func agentLanguage(c *fiber.Ctx) string {
	if l := c.Query("lang"); l != "" {
		return oneOf(incident.Languages, []byte(l))
	}
	return matchLanguage(c.Get(fiber.HeaderAcceptLanguage), incident.Languages)
}

func (s *Server) checkCustomer() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := langQueryProblem(c); err != nil {
			return err
		}
		customerID, err := pathParam(c, "customer_id")
		if err != nil {
			return err
		}
		a, err := s.comp.svc.Check(c.UserContext(), c.Params("page_id"), c.Params("incident_id"), customerID, agentLanguage(c))
		if err != nil {
			return err
		}
		return c.JSON(a)
	}
}

// checkCustomerByAddress is GET …/compensation/customers?phone= (or
// email=, slack=): the customer with that address.
func (s *Server) checkCustomerByAddress() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := langQueryProblem(c); err != nil {
			return err
		}
		kind, addr, err := s.addressQuery(c)
		if err != nil {
			return err
		}
		a, err := s.comp.svc.CheckAddress(c.UserContext(), c.Params("page_id"), c.Params("incident_id"), kind, addr, agentLanguage(c))
		if err != nil {
			return err
		}
		return c.JSON(a)
	}
}

// addressQuery reads exactly one of ?phone=, ?email=, ?slack= and
// normalises it as imports do.
func (s *Server) addressQuery(c *fiber.Ctx) (channel.Kind, string, error) {
	phone, email, slack := strings.TrimSpace(c.Query("phone")), strings.TrimSpace(c.Query("email")), strings.TrimSpace(c.Query("slack"))
	n := 0
	for _, v := range []string{phone, email, slack} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return "", "", incident.Invalid("phone", "give exactly one of phone, email or slack (or ask by customer ID)")
	}
	switch {
	case phone != "":
		p, err := contact.NormalizePhone(phone, s.bc.cfg.DefaultRegion)
		if err != nil {
			return "", "", err // EINVALID on phone, said once
		}
		return channel.SMS, p, nil
	case email != "":
		e, err := contact.NormalizeEmail(email)
		if err != nil {
			return "", "", err // EINVALID on email
		}
		return channel.Email, e, nil
	}
	return channel.Slack, slack, nil
}

// grantRequest is the body of POST …/grants: compensation.GrantRequest;
// the Idempotency-Key header is its key when the body has none.
type grantRequest struct {
	compensation.GrantRequest
}

func (r *grantRequest) shape() any { return &r.GrantRequest }

func (r *grantRequest) Valid() error {
	if strings.TrimSpace(r.Offer) == "" {
		return incident.Invalid("offer", "is required: the offer or choice offered (see the customer's check)")
	}
	return nil
}

func (s *Server) grantCompensation() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req grantRequest
		if err := decodeStrict(c, &req); err != nil {
			return err
		}
		customerID, err := pathParam(c, "customer_id")
		if err != nil {
			return err
		}
		if ref := strings.TrimSpace(req.ComplaintID); ref != "" && s.cp != nil {
			// The reference the customer reads out (C-…) names the
			// complaint as well as its ID.
			if req.ComplaintID, err = s.cp.svc.ResolveID(c.UserContext(), c.Params("page_id"), ref); err != nil {
				return err
			}
			if _, err := s.cp.svc.Get(c.UserContext(), c.Params("page_id"), req.ComplaintID); incident.ErrorCode(err) == incident.ENOTFOUND {
				return incident.Invalid("complaint_id", "no complaint %q on this page (give its ID or its reference, C-…)", ref)
			} else if err != nil {
				return err
			}
		}
		return s.grant(c, c.Params("incident_id"), customerID, req.GrantRequest)
	}
}

func (s *Server) grant(c *fiber.Ctx, incidentID, customerID string, r compensation.GrantRequest) error {
	fromHeader := false
	if r.Key == "" {
		r.Key = strings.TrimSpace(c.Get("Idempotency-Key"))
		fromHeader = r.Key != ""
	}
	g, created, err := s.comp.svc.Grant(c.UserContext(), c.Params("page_id"), incidentID, customerID, r)
	var moved *compensation.AmountError
	if errors.As(err, &moved) {
		de, _ := asDomainError(err)
		return c.Status(http.StatusConflict).JSON(amountErrorBody{Error: errorDetail{Code: de.Code, Message: de.Message, Field: de.Field},
			Amount: moved.Now, Version: moved.Version})
	}
	var reused *incident.Error
	if fromHeader && errors.As(err, &reused) && reused.Code == incident.EIDEMPOTENCY {
		// A key reused with another request (422): name the header the
		// client sent it in, as a declaration's reused key does.
		return &incident.Error{Code: reused.Code, Field: "Idempotency-Key", Message: reused.Message}
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.Status(status).JSON(fiber.Map{"grant": g, "created": created})
}

// complaintGrantRequest is a grant recorded on a complaint: its customer
// and incident are the complaint's unless named.
type complaintGrantRequest struct {
	compensation.GrantRequest
	IncidentID string `json:"incident_id"`
}

// complaintGrantShape is complaintGrantRequest's JSON, flat, so that a
// field of the wrong type is named by its JSON name alone.
type complaintGrantShape struct {
	Offer          string `json:"offer"`
	Choice         string `json:"choice"`
	Declined       bool   `json:"declined"`
	Key            string `json:"key"`
	OverrideReason string `json:"override_reason"`
	Version        int    `json:"version"`
	// Amount is the amount the agent was shown (GrantRequest.Amount).
	Amount     *compensation.Money `json:"amount"`
	IncidentID string              `json:"incident_id"`
}

func (r *complaintGrantRequest) Valid() error {
	if strings.TrimSpace(r.Offer) == "" {
		return incident.Invalid("offer", "is required: the offer or choice offered (see the customer's check)")
	}
	return nil
}

func (s *Server) grantOnComplaint() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var shape complaintGrantShape
		if err := decodeStrict(c, &flat{&shape}); err != nil {
			return err
		}
		req := complaintGrantRequest{GrantRequest: compensation.GrantRequest{Offer: shape.Offer, Choice: shape.Choice, Declined: shape.Declined,
			Key: shape.Key, OverrideReason: shape.OverrideReason, Version: shape.Version, Amount: shape.Amount}, IncidentID: shape.IncidentID}
		if err := req.Valid(); err != nil {
			return err
		}
		if s.cp == nil {
			return incident.Errorf(incident.ENOTFOUND, "complaints are not enabled")
		}
		id, err := s.complaintID(c)
		if err != nil {
			return err
		}
		cp, err := s.cp.svc.Get(c.UserContext(), c.Params("page_id"), id)
		if err != nil {
			return err
		}
		if cp.Contact.CustomerID == "" {
			return incident.Invalid("complaint_id", "complaint %s is from no known customer: record the grant on the customer instead", cp.ID)
		}
		incID := req.IncidentID
		if incID == "" {
			incID = cp.IncidentID()
		}
		if incID == "" {
			return incident.Invalid("incident_id", "complaint %s is tagged to no incident: name the incident", cp.ID)
		}
		req.ComplaintID = cp.ID
		return s.grant(c, incID, cp.Contact.CustomerID, req.GrantRequest)
	}
}

// flat decodes a body into a plain struct that checks nothing itself.
type flat struct{ v any }

func (f *flat) shape() any   { return f.v }
func (f *flat) Valid() error { return nil }

// exportGrants is GET …/compensation/grants: the incident's grants for
// billing, as JSON, or as CSV with ?format=csv or Accept: text/csv.
func (s *Server) exportGrants() fiber.Handler {
	return func(c *fiber.Ctx) error {
		gs, err := s.comp.svc.Grants(c.UserContext(), c.Params("page_id"), c.Params("incident_id"))
		if err != nil {
			return err
		}
		format := strings.ToLower(c.Query("format"))
		if format == "" && strings.Contains(c.Get(fiber.HeaderAccept), "text/csv") {
			format = "csv"
		}
		switch format {
		case "", "json":
			if gs == nil {
				gs = []*compensation.Grant{}
			}
			return c.JSON(fiber.Map{"grants": gs})
		case "csv":
			c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
			c.Set(fiber.HeaderContentDisposition, `attachment; filename="grants-`+c.Params("incident_id")+`.csv"`)
			return WriteGrantsCSV(c.Response().BodyWriter(), gs)
		}
		return incident.Invalid("format", "want json or csv, not %q", format)
	}
}

// GrantsCSVHeader is the billing export's columns.
var GrantsCSVHeader = []string{"grant_id", "incident_id", "customer_id", "complaint_id", "offer", "chosen_offer", "kind",
	"amount", "amount_minor", "currency", "days", "voucher", "declined", "override_reason", "policy_version", "granted_by", "granted_at",
	// Added after the others so that existing spreadsheets keep their
	// columns: the difference an amended decision owed on top of an
	// earlier grant of the same offer (Grant.TopUp).
	"top_up"}

// WriteGrantsCSV writes grants as the billing CSV. Values a spreadsheet
// would run as a formula (starting with = + - @) are quoted with a leading
// apostrophe, since customer and agent text reaches these cells.
func WriteGrantsCSV(w io.Writer, gs []*compensation.Grant) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(GrantsCSVHeader); err != nil {
		return err
	}
	for _, g := range gs {
		amount := ""
		if g.Amount.Currency != "" && (g.Kind.Money() || g.Amount.Amount != 0) {
			amount = decimalAmount(g.Amount)
		}
		reason := ""
		if g.Override != nil {
			reason = g.Override.Reason
		}
		row := []string{g.ID, g.IncidentID, g.CustomerID, g.ComplaintID, g.Group, g.OfferID, string(g.Kind),
			amount, strconv.FormatInt(g.Amount.Amount, 10), g.Amount.Currency, strconv.Itoa(g.Days), g.Voucher,
			strconv.FormatBool(g.Declined), reason, strconv.Itoa(g.PolicyVersion), g.By, g.At.UTC().Format(time.RFC3339), strconv.FormatBool(g.TopUp)}
		for i, v := range row {
			row[i] = csvSafe(v)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// decimalAmount is m as a plain decimal for spreadsheets: "12.50".
func decimalAmount(m compensation.Money) string {
	exp, ok := compensation.Exponent(m.Currency)
	if !ok || exp == 0 {
		return strconv.FormatInt(m.Amount, 10)
	}
	neg := m.Amount < 0
	a := m.Amount
	if neg {
		a = -a
	}
	p := int64(1)
	for range exp {
		p *= 10
	}
	frac := strconv.FormatInt(a%p+p, 10)[1:]
	s := strconv.FormatInt(a/p, 10) + "." + frac
	if neg {
		s = "-" + s
	}
	return s
}

func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "'" + v
		}
	}
	return v
}

// announcementDryRun is GET …/compensation/announcement: who an
// announcement would reach and what they would read.
func (s *Server) announcementDryRun() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, pageID, id := c.UserContext(), c.Params("page_id"), c.Params("incident_id")
		d, err := s.comp.svc.Decision(ctx, pageID, id)
		if err != nil {
			return err
		}
		if d.State != compensation.Decided {
			return incident.Invalid("state", "compensation is %s: only a decided compensation can be announced", d.State)
		}
		res, err := s.bc.notify.DryRun(ctx, pageID, id, incident.BroadcastCompensation)
		if err != nil {
			return err
		}
		// What the decision lowers against what customers were told and
		// the version before, and the top-ups it owes: what the
		// announcement tells them.
		effects, err := s.comp.svc.AnnouncementEffects(ctx, pageID, id)
		if err != nil {
			return err
		}
		// The decision's version: sent back in If-Match, the POST
		// announces only what this dry run showed.
		c.Set(fiber.HeaderETag, `"`+strconv.Itoa(d.Version)+`"`)
		return c.JSON(struct {
			*notify.DryRunResult
			Version int                   `json:"version"`
			Effects *compensation.Effects `json:"effects"`
		}{res, d.Version, effects})
	}
}

// announceCompensation is POST …/compensation/announcement: the decision
// in force, sent to the customers it gives something, as a broadcast
// (progress and cancel on /api/v1/broadcasts/{id}).
func (s *Server) announceCompensation() fiber.Handler {
	return func(c *fiber.Ctx) error {
		version := 0
		vs, err := ifMatchVersions(c)
		if err != nil {
			return err
		}
		if len(vs) > 1 {
			// A list: the decision in force when the list names it (the
			// announcement checks it again as it starts).
			d, err := s.comp.svc.Decision(c.UserContext(), c.Params("page_id"), c.Params("incident_id"))
			if err != nil {
				return err
			}
			if slices.Contains(vs, d.Version) {
				vs = []int{d.Version}
			}
		}
		if len(vs) > 0 {
			if version = vs[0]; version <= 0 {
				return incident.Invalid("If-Match", `want the decision's version as the dry run's ETag gives it, e.g. "3"`)
			}
		}
		b, err := s.comp.svc.AnnounceVersion(c.UserContext(), c.Params("page_id"), c.Params("incident_id"), version)
		if err != nil {
			return err
		}
		return c.Status(http.StatusAccepted).JSON(fiber.Map{"broadcast": b,
			"progress": s.cfg.PublicURL + "/api/v1/broadcasts/" + b.ID})
	}
}

// vouchersRequest uploads voucher codes: JSON {"codes": [...]}, or a text
// or CSV body with one code per line.
type vouchersRequest struct {
	Codes []string `json:"codes"`
}

func (r *vouchersRequest) Valid() error {
	if len(r.Codes) == 0 {
		return incident.Invalid("codes", "send at least one code")
	}
	return nil
}

// maxVoucherUpload bounds one upload: a list can grow by several uploads.
const maxVoucherUpload = 100_000

func (s *Server) addVouchers() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req vouchersRequest
		ct := strings.ToLower(c.Get(fiber.HeaderContentType))
		if strings.HasPrefix(ct, "text/") {
			for _, line := range strings.Split(string(c.Body()), "\n") {
				if v := strings.TrimSpace(strings.TrimSuffix(line, "\r")); v != "" {
					req.Codes = append(req.Codes, v)
				}
			}
			if err := req.Valid(); err != nil {
				return err
			}
		} else if err := decodeStrict(c, &req); err != nil {
			return err
		}
		if len(req.Codes) > maxVoucherUpload {
			return incident.Invalid("codes", "at most %d codes per upload; send the rest in another", maxVoucherUpload)
		}
		added, total, free, err := s.comp.svc.AddVouchers(c.UserContext(), c.Params("page_id"), c.Params("list_id"), req.Codes)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"list_id": c.Params("list_id"), "added": added, "total": total, "unused": free})
	}
}

func (s *Server) voucherList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		total, free, err := s.comp.svc.CountVouchers(c.UserContext(), c.Params("page_id"), c.Params("list_id"))
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"list_id": c.Params("list_id"), "total": total, "unused": free})
	}
}

// agentEvent is one event of the agents' feed.
type agentEvent struct {
	PageID       string                 `json:"page_id"`
	IncidentID   string                 `json:"incident_id"`
	IncidentName string                 `json:"incident_name,omitempty"`
	Decision     *compensation.Decision `json:"decision"`
	Changes      []compensation.Change  `json:"changes"`
	Summary      string                 `json:"summary"`
}

// agentEvents is GET /api/v1/agent/events (?page= narrows it to one page):
// server-sent events for support agents. It opens with a "snapshot" event
// holding every decision agents may speak about (coming or decided), then
// sends a "compensation" event with what changed on every decision change,
// from any node, and a "complaint" event (IDs only) when a complaint
// changes, so a view can re-read what it shows. When this node's event
// subscription comes back after an outage (incident.EventResync), events
// from other nodes may have been lost, so it sends a fresh "snapshot".
func (s *Server) agentEvents() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		only := c.Query("page")
		first, err := agentSnapshotJSON(ctx, s.comp.svc, only)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set("X-Accel-Buffering", "no")
		if c.Method() == fiber.MethodHead {
			return c.SendStatus(http.StatusOK)
		}
		// Counted with the status page's streams, and let go the moment
		// the agent closes it.
		release, err := s.streams.acquire(c, s.client(c))
		if err != nil {
			return err
		}
		c.Status(http.StatusOK)
		gone := watchClose(c)
		evs, cancel := s.comp.events.Subscribe()
		heartbeat, done, log, svc, allowed, lost := s.cfg.HeartbeatInterval, s.done, s.log, s.comp.svc, s.streamAuth(c), s.lostLink()
		wrote := s.keepWriting(c, heartbeat)
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			defer release()
			defer cancel()
			_, _ = w.WriteString("retry: 2000\n\n")
			writeEvent(w, "snapshot", first)
			if w.Flush() != nil {
				return
			}
			wrote()
			t := time.NewTicker(heartbeat)
			defer t.Stop()
			// The token is checked this often even when nothing is sent:
			// a revoked agent's stream ends within StreamCheckEvery, not at
			// the next heartbeat.
			recheck := time.NewTicker(incident.StreamCheckEvery)
			defer recheck.Stop()
			for {
				select {
				case <-done:
					return
				case <-gone:
					return
				case <-lost:
					return // the event subscription is down: reconnect elsewhere
				case <-recheck.C:
					if !allowed(false) {
						return
					}
					continue
				case ev, ok := <-evs:
					if !ok {
						return
					}
					if ev.Type == incident.EventResync {
						// This node's subscription came back after an
						// outage: decisions made meanwhile on other nodes
						// sent no event here. A fresh snapshot, as at the
						// start, is what the agent's view needs; if it
						// cannot be read, the stream ends and the agent's
						// reconnect reads it.
						if !allowed(false) {
							return
						}
						rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
						b, err := agentSnapshotJSON(rctx, svc, only)
						rcancel()
						if err != nil {
							log.Warn("agent events: re-read the decisions after a resync; ending the stream", "err", err)
							return
						}
						writeEvent(w, "snapshot", b)
						if err := w.Flush(); err != nil {
							return
						}
						wrote()
						continue
					}
					if only != "" && ev.PageID != only {
						continue
					}
					if !allowed(false) {
						return
					}
					switch ev.Type {
					case compensation.EventChanged:
						rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
						e, err := agentChange(rctx, svc, ev.PageID, ev.IncidentID)
						rcancel()
						if err != nil {
							log.Warn("agent events: read the decision", "incident_id", ev.IncidentID, "err", err)
							continue
						}
						b, _ := json.Marshal(e)
						writeEvent(w, "compensation", b)
					case complaintChanged:
						b, _ := json.Marshal(ev)
						writeEvent(w, "complaint", b)
					default:
						continue
					}
				case <-t.C:
					if !allowed(true) {
						return
					}
					_, _ = w.WriteString(": heartbeat\n\n")
				}
				if err := w.Flush(); err != nil {
					log.Debug("agent events client gone", "err", err)
					return
				}
				wrote()
			}
		})
		return nil
	}
}

// complaintChanged is complaint.EventChanged, named here so that the feed
// does not depend on complaints being enabled.
const complaintChanged incident.EventType = "complaint.changed"

// agentChange is the feed's event for a changed decision: the decision in
// force and what changed from the version before.
func agentChange(ctx context.Context, svc *compensation.Service, pageID, incidentID string) (*agentEvent, error) {
	vs, err := svc.History(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, incident.NotFound("decision", incidentID)
	}
	v := vs[len(vs)-1]
	changes := v.Changes
	if changes == nil {
		changes = []compensation.Change{}
	}
	e := &agentEvent{PageID: pageID, IncidentID: incidentID, Decision: v.Decision, Changes: changes, Summary: compensation.Summary(changes)}
	if inc, err := svc.Incidents.FindIncidentByID(ctx, incidentID); err == nil {
		e.IncidentName = inc.Name
	}
	return e, nil
}

// agentSnapshotJSON is the feed's "snapshot" event: the decisions agents
// may speak about, on every page or on one.
func agentSnapshotJSON(ctx context.Context, svc *compensation.Service, only string) ([]byte, error) {
	out := []agentEvent{}
	ds, err := svc.Decided(ctx, only)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		e := agentEvent{PageID: d.PageID, IncidentID: d.IncidentID, Decision: d, Changes: []compensation.Change{}}
		if inc, err := svc.Incidents.FindIncidentByID(ctx, d.IncidentID); err == nil {
			e.IncidentName = inc.Name
		}
		out = append(out, e)
	}
	return json.Marshal(fiber.Map{"decisions": out})
}

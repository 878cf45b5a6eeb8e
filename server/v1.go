package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
)

// Handlers of the Statuspage-v1-compatible management API and herald's
// extras (tokens, audit). Each maker returns a fiber.Handler closing over
// the Server; every read and write goes through incident.Service. Answers
// are bare objects and arrays, as Statuspage's are.

// jsonSuffix lets the management API answer Statuspage's spelling of its
// paths: /v1/pages/{id}/incidents.json is /v1/pages/{id}/incidents, as
// developer.statuspage.io writes every path and many clients send them.
// IDs never hold a dot, so nothing else ends in ".json" there.
func jsonSuffix(c *fiber.Ctx) {
	p := c.Path()
	if strings.HasSuffix(p, ".json") && (strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/api/v1/")) {
		c.Path(strings.TrimSuffix(p, ".json"))
		c.Locals(localJSONSuffix{}, true)
	}
}

// localJSONSuffix marks a request whose path ended in .json before
// jsonSuffix took it off: a route that answers in several formats (the
// reports) answers JSON.
type localJSONSuffix struct{}

// askedForJSONSuffix reports whether the request's path ended in .json.
func askedForJSONSuffix(c *fiber.Ctx) bool {
	v, _ := c.Locals(localJSONSuffix{}).(bool)
	return v
}

// ---- pages ----

func (s *Server) listPages() fiber.Handler {
	return func(c *fiber.Ctx) error {
		pages, err := s.svc.Pages(c.UserContext())
		if err != nil {
			return err
		}
		out := make([]wire.Page, len(pages))
		for i, p := range pages {
			out[i] = wire.NewPage(p)
		}
		return c.JSON(out)
	}
}

func (s *Server) getPage() fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := s.svc.Page(c.UserContext(), c.Params("page_id"))
		if err != nil {
			return err
		}
		return c.JSON(wire.NewPage(p))
	}
}

func (s *Server) createPage() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req pageRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		p, err := s.svc.CreatePage(c.UserContext(), req.Page.Input())
		if err != nil {
			return withField(err, "page")
		}
		return c.Status(http.StatusCreated).JSON(wire.NewPage(p))
	}
}

func (s *Server) updatePage() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req pageRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		p, err := s.svc.UpdatePage(c.UserContext(), c.Params("page_id"), req.Page.Input())
		if err != nil {
			return withField(err, "page")
		}
		return c.JSON(wire.NewPage(p))
	}
}

func (s *Server) deletePage() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := s.svc.DeletePage(c.UserContext(), c.Params("page_id")); err != nil {
			return err
		}
		return c.SendStatus(http.StatusNoContent)
	}
}

// ---- components ----

func (s *Server) listComponents() fiber.Handler {
	return func(c *fiber.Ctx) error {
		comps, err := s.svc.Components(c.UserContext(), c.Params("page_id"))
		if err != nil {
			return err
		}
		out := make([]wire.V1Component, len(comps))
		for i, cp := range comps {
			out[i] = wire.NewV1Component(cp, comps)
		}
		return c.JSON(out)
	}
}

// findComponent returns a page's component (group or not, as wantGroup
// says) and all its components, for rendering.
func (s *Server) findComponent(ctx context.Context, pageID, id string, wantGroup bool) (*incident.Component, []*incident.Component, error) {
	comps, err := s.svc.Components(ctx, pageID)
	if err != nil {
		return nil, nil, err
	}
	for _, cp := range comps {
		if cp.ID == id && cp.Group == wantGroup {
			return cp, comps, nil
		}
	}
	if wantGroup {
		return nil, nil, incident.NotFound("component group", id)
	}
	return nil, nil, incident.NotFound("component", id)
}

func (s *Server) getComponent() fiber.Handler {
	return func(c *fiber.Ctx) error {
		cp, comps, err := s.findComponent(c.UserContext(), c.Params("page_id"), c.Params("component_id"), false)
		if err != nil {
			return err
		}
		return c.JSON(wire.NewV1Component(cp, comps))
	}
}

func (s *Server) createComponent() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req componentRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		cp, err := s.svc.CreateComponent(c.UserContext(), c.Params("page_id"), req.Component.Input())
		if err != nil {
			return withField(err, "component")
		}
		return c.Status(http.StatusCreated).JSON(wire.NewV1Component(cp, nil))
	}
}

func (s *Server) updateComponent() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req componentRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		cp, err := s.svc.UpdateComponent(c.UserContext(), c.Params("page_id"), c.Params("component_id"), req.Component.Input())
		if err != nil {
			return withField(err, "component")
		}
		return c.JSON(wire.NewV1Component(cp, nil))
	}
}

func (s *Server) deleteComponent(group bool) fiber.Handler {
	param := "component_id"
	if group {
		param = "id"
	}
	return func(c *fiber.Ctx) error {
		ctx, pageID := c.UserContext(), c.Params("page_id")
		cp, comps, err := s.findComponent(ctx, pageID, c.Params(param), group)
		if err != nil {
			return err
		}
		if err := s.svc.DeleteComponent(ctx, pageID, cp.ID); err != nil {
			return err
		}
		if group {
			return c.JSON(wire.NewComponentGroup(cp, comps)) // Statuspage answers a group delete with the group
		}
		return c.SendStatus(http.StatusNoContent)
	}
}

// ---- component groups ----

func (s *Server) listGroups() fiber.Handler {
	return func(c *fiber.Ctx) error {
		comps, err := s.svc.Components(c.UserContext(), c.Params("page_id"))
		if err != nil {
			return err
		}
		out := []wire.ComponentGroup{}
		for _, g := range comps {
			if g.Group {
				out = append(out, wire.NewComponentGroup(g, comps))
			}
		}
		return c.JSON(out)
	}
}

func (s *Server) getGroup() fiber.Handler {
	return func(c *fiber.Ctx) error {
		g, comps, err := s.findComponent(c.UserContext(), c.Params("page_id"), c.Params("id"), true)
		if err != nil {
			return err
		}
		return c.JSON(wire.NewComponentGroup(g, comps))
	}
}

func (s *Server) saveGroup(create bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req groupRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		ctx, pageID := c.UserContext(), c.Params("page_id")
		var g *incident.Component
		var err error
		if create {
			g, err = s.svc.CreateGroup(ctx, pageID, req.Input())
		} else {
			g, err = s.svc.UpdateGroup(ctx, pageID, c.Params("id"), req.Input())
		}
		if err != nil {
			return withField(err, "component_group")
		}
		comps, err := s.svc.Components(ctx, pageID)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if create {
			status = http.StatusCreated
		}
		return c.Status(status).JSON(wire.NewComponentGroup(g, comps))
	}
}

// ---- incidents ----

// incidentList names the incident lists Statuspage offers.
type incidentList int

const (
	listAll incidentList = iota
	listUnresolved
	listScheduled
	listUpcoming
	listActiveMaintenance
)

// listIncidents answers the incident lists, paginated like Statuspage:
// limit or per_page (1..100, default 100) rows per page, page from 1.
// q filters on name and update text.
func (s *Server) listIncidents(kind incidentList) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, pageID := c.UserContext(), c.Params("page_id")
		perPage, err := queryInt(c, "limit", 100, 1, 100)
		if err != nil {
			return err
		}
		if c.Query("limit") == "" {
			if perPage, err = queryInt(c, "per_page", 100, 1, 100); err != nil {
				return err
			}
		}
		pageNo, err := queryInt(c, "page", 1, 0, 1000000)
		if err != nil {
			return err
		}
		if pageNo == 0 {
			pageNo = 1
		}
		q := strings.ToLower(strings.TrimSpace(c.Query("q")))
		yes, no := true, false
		f := incident.IncidentFilter{PageID: pageID}
		switch kind {
		case listUnresolved:
			f.Maintenance, f.Statuses = &no, []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring}
		case listScheduled, listUpcoming:
			f.Maintenance, f.Statuses = &yes, []incident.Status{incident.Scheduled}
		case listActiveMaintenance:
			f.Maintenance, f.Statuses = &yes, []incident.Status{incident.InProgress, incident.Verifying}
		}
		// Filters the store cannot apply are applied here, over every match;
		// otherwise the store paginates.
		inMemory := q != "" || kind == listUpcoming
		if !inMemory {
			f.Limit, f.Offset = perPage, (pageNo-1)*perPage
		}
		incs, total, err := s.svc.Incidents(ctx, f)
		if err != nil {
			return err
		}
		if inMemory {
			now := s.svc.Now()
			kept := incs[:0:0]
			for _, inc := range incs {
				if kind == listUpcoming && (inc.ScheduledFor == nil || !inc.ScheduledFor.After(now)) {
					continue
				}
				if q != "" && !matches(inc, q) {
					continue
				}
				kept = append(kept, inc)
			}
			total = len(kept)
			from := min((pageNo-1)*perPage, len(kept))
			incs = kept[from:min(from+perPage, len(kept))]
		}
		page, comps, err := s.pageAndComponents(ctx, pageID)
		if err != nil {
			return err
		}
		out := make([]wire.V1Incident, len(incs))
		for i, inc := range incs {
			out[i] = wire.NewV1Incident(inc, page, comps)
		}
		c.Set("X-Total-Count", strconv.Itoa(total))
		return c.JSON(out)
	}
}

func matches(inc *incident.Incident, q string) bool {
	if strings.Contains(strings.ToLower(inc.Name), q) {
		return true
	}
	for _, u := range inc.Updates {
		if strings.Contains(strings.ToLower(u.Body), q) {
			return true
		}
	}
	return false
}

// queryInt reads an integer query parameter within [lo, hi].
func queryInt(c *fiber.Ctx, name string, def, lo, hi int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, incident.Invalid(name, "must be an integer from %d to %d", lo, hi)
	}
	return n, nil
}

// pageAndComponents returns what rendering an incident needs besides the
// incident: its page (for the short link) and the page's components.
func (s *Server) pageAndComponents(ctx context.Context, pageID string) (*incident.Page, []*incident.Component, error) {
	page, err := s.svc.Page(ctx, pageID)
	if err != nil {
		return nil, nil, err
	}
	if page.URL == "" && s.cfg.PublicURL != "" {
		cp := *page
		cp.URL = s.cfg.PublicURL
		page = &cp
	}
	comps, err := s.svc.Components(ctx, pageID)
	if err != nil {
		return nil, nil, err
	}
	return page, comps, nil
}

func (s *Server) renderIncident(c *fiber.Ctx, status int, inc *incident.Incident) error {
	page, comps, err := s.pageAndComponents(c.UserContext(), inc.PageID)
	if err != nil {
		return err
	}
	// The version as an entity tag: a client sends it back in If-Match
	// to change only what it read (updateIncident).
	c.Set(fiber.HeaderETag, `"`+strconv.Itoa(inc.Version)+`"`)
	return c.Status(status).JSON(wire.NewV1Incident(inc, page, comps))
}

// ifMatchVersions reads If-Match (RFC 9110 13.1.1) as the versions the
// client would accept: nil when absent or "*" (any current version),
// else one entry per entity tag of the list. A bare number (the quotes
// forgotten) is refused with how to write it; any other tag (weak, or
// not one of ours) matches no version (-1).
func ifMatchVersions(c *fiber.Ctx) ([]int, error) {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" || h == "*" {
		return nil, nil
	}
	var out []int
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "" {
			continue // "a, , b" is a list of two (RFC 9110 5.6.1)
		}
		if _, err := strconv.Atoi(tag); err == nil {
			return nil, incident.Invalid("If-Match", `an entity tag is quoted: send "%s" (the ETag as it came), not %s`, tag, tag)
		}
		v := -1
		if t, ok := strings.CutPrefix(tag, `"`); ok && strings.HasSuffix(t, `"`) {
			if n, err := strconv.Atoi(strings.TrimSuffix(t, `"`)); err == nil && n > 0 {
				v = n
			}
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, incident.Invalid("If-Match", `want "*" or the ETag as it came, e.g. "3"`)
	}
	return out, nil
}

// ifMatchIncident is the version an incident change must find (the
// service checks it when it commits): nil without If-Match; with a list
// of tags, the incident's current version when the list has it, else one
// that no incident has, so that the change fails with 412.
func (s *Server) ifMatchIncident(c *fiber.Ctx, pageID, id string) (*int, error) {
	vs, err := ifMatchVersions(c)
	if err != nil || vs == nil {
		return nil, err
	}
	if len(vs) == 1 {
		return &vs[0], nil
	}
	inc, err := s.svc.Incident(c.UserContext(), pageID, id)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if v == inc.Version {
			return &v, nil
		}
	}
	return &vs[0], nil
}

func (s *Server) getIncident() fiber.Handler {
	return func(c *fiber.Ctx) error {
		inc, err := s.svc.Incident(c.UserContext(), c.Params("page_id"), c.Params("incident_id"))
		if err != nil {
			return err
		}
		return s.renderIncident(c, http.StatusOK, inc)
	}
}

// createIncident declares an incident or schedules a maintenance. With an
// Idempotency-Key header, a repeated request answers 200 with the incident
// the first one created (201) and creates nothing.
func (s *Server) createIncident() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req incidentRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		dry, err := queryBool(c, "dry_run", false)
		if err != nil {
			return err
		}
		if dry {
			return s.declareDryRun(c, &req)
		}
		inc, created, err := s.svc.CreateIncident(c.UserContext(), c.Params("page_id"), req.in, c.Get("Idempotency-Key"))
		if err != nil {
			return req.fieldError(err)
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		} else {
			c.Set("Idempotent-Replayed", "true")
		}
		return s.renderIncident(c, status, inc)
	}
}

// declareDryRun answers POST …/incidents?dry_run=true: what declaring the
// request would do (notify.DraftDryRun), without declaring it. Nothing is
// stored, published or sent.
func (s *Server) declareDryRun(c *fiber.Ctx, req *incidentRequest) error {
	if s.bc == nil {
		return incident.Errorf(incident.EINVALID, "dry_run needs the broadcast pipeline, which this server does not run")
	}
	res, err := s.bc.notify.DraftDryRun(c.UserContext(), c.Params("page_id"), req.in)
	if err != nil {
		return req.fieldError(err)
	}
	return c.JSON(res)
}

func (s *Server) updateIncident() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req incidentRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		ifVersion, err := s.ifMatchIncident(c, c.Params("page_id"), c.Params("incident_id"))
		if err != nil {
			return err
		}
		req.in.IfVersion = ifVersion
		inc, err := s.svc.UpdateIncident(c.UserContext(), c.Params("page_id"), c.Params("incident_id"), req.in)
		if err != nil {
			return req.fieldError(err)
		}
		return s.renderIncident(c, http.StatusOK, inc)
	}
}

// deleteIncident answers with the deleted incident, as Statuspage does.
func (s *Server) deleteIncident() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, pageID, id := c.UserContext(), c.Params("page_id"), c.Params("incident_id")
		v, err := s.ifMatchIncident(c, pageID, id)
		if err != nil {
			return err
		}
		page, comps, err := s.pageAndComponents(ctx, pageID)
		if err != nil {
			return err
		}
		inc, err := s.svc.DeleteIncidentIf(ctx, pageID, id, v)
		if err != nil {
			return err
		}
		return c.JSON(wire.NewV1Incident(inc, page, comps))
	}
}

func (s *Server) editUpdate() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req incidentUpdateRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		u, err := s.svc.EditUpdate(c.UserContext(), c.Params("page_id"), c.Params("incident_id"), c.Params("update_id"),
			incident.UpdateEdit{Body: req.Update.Body, Messages: req.Update.Messages, DisplayAt: req.displayAt})
		if err != nil {
			return withField(err, "incident_update")
		}
		return c.JSON(wire.NewV1Update(u))
	}
}

// ---- herald extras: audit and tokens ----

// listAudit answers audit entries, newest first, filtered by page_id and
// object_id, paginated with limit (1..1000, default 100) and page.
func (s *Server) listAudit() fiber.Handler {
	return func(c *fiber.Ctx) error {
		limit, err := queryInt(c, "limit", 100, 1, 1000)
		if err != nil {
			return err
		}
		pageNo, err := queryInt(c, "page", 1, 1, 1000000)
		if err != nil {
			return err
		}
		f := incident.AuditFilter{PageID: c.Query("page_id"), ObjectID: c.Query("object_id"), Limit: limit, Offset: (pageNo - 1) * limit}
		for field, v := range map[string]string{"page_id": f.PageID, "object_id": f.ObjectID} {
			if v != "" && !incident.ValidID(v) {
				return incident.Invalid(field, "is not a valid ID")
			}
		}
		entries, total, err := s.svc.Audit(c.UserContext(), f)
		if err != nil {
			return err
		}
		if entries == nil {
			entries = []*incident.AuditEntry{}
		}
		c.Set("X-Total-Count", strconv.Itoa(total))
		return c.JSON(entries)
	}
}

func (s *Server) listTokens() fiber.Handler {
	return func(c *fiber.Ctx) error {
		toks, err := s.svc.Tokens(c.UserContext())
		if err != nil {
			return err
		}
		out := make([]wire.Token, len(toks))
		for i, t := range toks {
			out[i] = wire.NewToken(t)
		}
		return c.JSON(out)
	}
}

func (s *Server) createToken() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req tokenRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		name := ""
		if req.Token.Name != nil {
			name = *req.Token.Name
		}
		secret, t, err := s.svc.CreateToken(c.UserContext(), name, incident.Role(*req.Token.Role))
		if err != nil {
			return withField(err, "token")
		}
		out := wire.NewToken(t)
		out.Secret = secret
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Status(http.StatusCreated).JSON(out)
	}
}

func (s *Server) revokeToken() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := s.svc.RevokeToken(c.UserContext(), c.Params("id")); err != nil {
			return err
		}
		return c.SendStatus(http.StatusNoContent)
	}
}

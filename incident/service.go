package incident

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// Service is the one entry point every front door (HTTP API, CLI, Slack)
// calls. It applies the rules, builds a Change and commits it, then
// publishes an event. It never sends messages itself.
type Service struct {
	Store  Store
	Events Events
	// Now is the clock; tests inject one. Times are UTC, truncated to
	// milliseconds (the precision the JSON APIs show).
	Now func() time.Time
	Log *slog.Logger
	// Words, when set, is herald's word catalogue (a text by language and
	// ID): the update herald posts when a maintenance starts or ends on
	// time then carries each language's own words beside Statuspage's
	// English body. The domain holds no catalogue of its own: it imports
	// no i18n library (the app wires locale in).
	Words func(lang, id string) string
}

// NewService returns a Service with the real clock.
func NewService(store Store, events Events, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Store: store, Events: events, Now: time.Now, Log: log}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

type actorKey struct{}

// WithActor returns a context that records who acts, for the audit log.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx ("system" when none).
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

func (s *Service) audit(ctx context.Context, pageID, action, objType, objID string, before, after any, at time.Time) *AuditEntry {
	enc := func(v any) string {
		if v == nil {
			return ""
		}
		b, err := json.Marshal(v)
		if err != nil || string(b) == "null" {
			return ""
		}
		return string(b)
	}
	return &AuditEntry{ID: NewID(), PageID: pageID, Actor: ActorFrom(ctx).String(), Action: action,
		ObjectType: objType, ObjectID: objID, Before: enc(before), After: enc(after), At: at}
}

func (s *Service) publish(ctx context.Context, evs ...Event) {
	if s.Events == nil {
		return
	}
	for _, ev := range evs {
		if err := s.Events.Publish(ctx, ev); err != nil {
			s.Log.Warn("publish event", "type", ev.Type, "page_id", ev.PageID, "incident_id", ev.IncidentID, "err", err)
		}
	}
}

// ---- pages ----

// DefaultPageName names the page a fresh install creates.
const DefaultPageName = "Status"

// defaultPageClaim is the idempotency scope and key EnsureDefaultPage
// claims with the page it creates, and defaultPageClaimTTL how long the
// claim lives: long enough to outlast nodes that start together (and the
// clock skew between them), short enough that an install whose pages were
// all removed by hand gets a new default page soon after.
const (
	defaultPageClaim    = "page.default"
	defaultPageClaimTTL = 10 * time.Minute
)

// EnsureDefaultPage returns the oldest page, creating one named
// DefaultPageName at url when there is none, so a fresh install has a page.
//
// Nodes (or processes on one SQLite file) that start together on an empty
// store all find no page. The page is therefore created in the same
// Commit as an idempotency key of its own, which the stores claim
// atomically: one caller creates the page, the others get ECONFLICT and
// read the page it created. Without the claim each would create a page,
// and customers and links would be split between them.
func (s *Service) EnsureDefaultPage(ctx context.Context, url string) (*Page, error) {
	pages, err := s.Store.FindPages(ctx)
	if err != nil {
		return nil, err
	}
	if len(pages) > 0 {
		return pages[0], nil
	}
	name := DefaultPageName
	claim := &IdempotencyKey{Scope: defaultPageClaim, Key: defaultPageClaim, ExpiresAt: s.now().Add(defaultPageClaimTTL)}
	p, err := s.createPage(ctx, PageInput{Name: &name, URL: &url}, claim)
	if ErrorCode(err) != ECONFLICT {
		return p, err
	}
	// Another caller won the claim; its page landed with it.
	if pages, err = s.Store.FindPages(ctx); err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, Errorf(ECONFLICT, "the default page was claimed but no page exists (deleted meanwhile?); the claim expires within %s", defaultPageClaimTTL)
	}
	return pages[0], nil
}

// Page returns a page or ENOTFOUND.
func (s *Service) Page(ctx context.Context, id string) (*Page, error) {
	if !ValidID(id) {
		return nil, NotFound("page", id)
	}
	return s.Store.FindPageByID(ctx, id)
}

// Pages returns every page, oldest first.
func (s *Service) Pages(ctx context.Context) ([]*Page, error) { return s.Store.FindPages(ctx) }

// CreatePage creates a page; name and url are required.
func (s *Service) CreatePage(ctx context.Context, in PageInput) (*Page, error) {
	return s.createPage(ctx, in, nil)
}

// createPage creates a page, committing claim with it when not nil (its
// ResourceID is set to the new page's ID); a claim already held makes it
// return ECONFLICT and write nothing.
func (s *Service) createPage(ctx context.Context, in PageInput, claim *IdempotencyKey) (*Page, error) {
	if in.Name == nil {
		return nil, Invalid("name", "is required")
	}
	if in.URL == nil {
		return nil, Invalid("url", "is required")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := s.now()
	p := &Page{ID: NewID(), TimeZone: "Etc/UTC", Languages: []string{"en", "hu", "pl", "hr"}, Hosts: []string{}, CreatedAt: now, UpdatedAt: now}
	applyPage(p, in)
	if claim != nil {
		claim.ResourceID = p.ID
	}
	if err := s.Store.Commit(ctx, &Change{Pages: []*Page{p}, Audit: []*AuditEntry{s.audit(ctx, p.ID, "page.create", "page", p.ID, nil, p, now)}, Idempotency: claim}); err != nil {
		return nil, err
	}
	s.publish(ctx, Event{Type: EventPageChanged, PageID: p.ID})
	return p, nil
}

func applyPage(p *Page, in PageInput) {
	if in.Name != nil {
		p.Name = *in.Name
	}
	if in.URL != nil {
		p.URL = *in.URL
	}
	if in.TimeZone != nil {
		p.TimeZone = *in.TimeZone
	}
	if in.Languages != nil {
		p.Languages = append([]string(nil), in.Languages...)
	}
	if in.Hosts != nil {
		p.Hosts = append([]string{}, in.Hosts...)
	}
	if in.Logo != nil {
		p.Logo = *in.Logo
	}
}

// UpdatePage changes a page's settings.
func (s *Service) UpdatePage(ctx context.Context, id string, in PageInput) (*Page, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	p, err := s.Page(ctx, id)
	if err != nil {
		return nil, err
	}
	before := *p
	applyPage(p, in)
	p.UpdatedAt = s.now()
	if err := s.Store.Commit(ctx, &Change{Pages: []*Page{p}, Audit: []*AuditEntry{s.audit(ctx, p.ID, "page.update", "page", p.ID, before, p, p.UpdatedAt)}}); err != nil {
		return nil, err
	}
	s.publish(ctx, Event{Type: EventPageChanged, PageID: p.ID})
	return p, nil
}

// DeletePage deletes a page with its components and incidents. The last
// page cannot be deleted: herald always serves one.
func (s *Service) DeletePage(ctx context.Context, id string) error {
	p, err := s.Page(ctx, id)
	if err != nil {
		return err
	}
	// The store checks that another page remains in the same step as it
	// deletes (KeepAPage): a count read here first could be stale by then.
	now := s.now()
	if err := s.Store.Commit(ctx, &Change{DeletePageIDs: []string{id}, KeepAPage: true, Audit: []*AuditEntry{s.audit(ctx, id, "page.delete", "page", id, p, nil, now)}}); err != nil {
		return err
	}
	s.publish(ctx, Event{Type: EventPageChanged, PageID: id})
	return nil
}

// ---- components and groups ----

// Components returns a page's components and groups, ordered.
func (s *Service) Components(ctx context.Context, pageID string) ([]*Component, error) {
	if _, err := s.Page(ctx, pageID); err != nil {
		return nil, err
	}
	return s.Store.FindComponents(ctx, pageID)
}

// Component returns one component of a page, or ENOTFOUND.
func (s *Service) Component(ctx context.Context, pageID, id string) (*Component, error) {
	if !ValidID(id) {
		return nil, NotFound("component", id)
	}
	c, err := s.Store.FindComponentByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.PageID != pageID {
		return nil, NotFound("component", id)
	}
	return c, nil
}

func nextPosition(comps []*Component) int {
	pos := 0
	for _, c := range comps {
		if c.Position >= pos {
			pos = c.Position + 1
		}
	}
	return pos
}

func findComponent(comps []*Component, id string) *Component {
	for _, c := range comps {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// CreateComponent adds a component to a page; name is required.
func (s *Service) CreateComponent(ctx context.Context, pageID string, in ComponentInput) (*Component, error) {
	if in.Name == nil {
		return nil, Invalid("name", "is required")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	comps, err := s.Components(ctx, pageID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	c := &Component{ID: NewID(), PageID: pageID, Status: Operational, Position: nextPosition(comps), Showcase: true, CreatedAt: now, UpdatedAt: now}
	return c, s.saveComponent(ctx, comps, c, nil, in, "component.create")
}

// UpdateComponent changes a component (not a group: see UpdateGroup).
func (s *Service) UpdateComponent(ctx context.Context, pageID, id string, in ComponentInput) (*Component, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	comps, err := s.Components(ctx, pageID)
	if err != nil {
		return nil, err
	}
	c := findComponent(comps, id)
	if c == nil || c.Group {
		return nil, NotFound("component", id)
	}
	before := *c
	c.UpdatedAt = s.now()
	return c, s.saveComponent(ctx, comps, c, &before, in, "component.update")
}

func (s *Service) saveComponent(ctx context.Context, comps []*Component, c *Component, before *Component, in ComponentInput, action string) error {
	oldStatus := c.Status
	if in.Name != nil {
		c.Name = *in.Name
	}
	if in.Description != nil {
		c.Description = *in.Description
	}
	if in.Status != nil {
		c.Status = *in.Status
	}
	if in.Position != nil {
		c.Position = *in.Position
	}
	if in.Showcase != nil {
		c.Showcase = *in.Showcase
	}
	if in.OnlyShowIfDegraded != nil {
		c.OnlyShowIfDegraded = *in.OnlyShowIfDegraded
	}
	if in.StartDate != nil {
		c.StartDate = *in.StartDate
	}
	oldGroup := c.GroupID
	if in.GroupID != nil {
		if *in.GroupID != "" {
			g := findComponent(comps, *in.GroupID)
			if g == nil || !g.Group {
				return Invalid("group_id", "no component group %q on this page", *in.GroupID)
			}
		}
		c.GroupID = *in.GroupID
	}
	if in.Name != nil || in.GroupID != nil {
		// Two components of one name side by side: the page shows both,
		// and every "--component Payments" after it fails as ambiguous.
		// (The same name under different groups, "API" in EU and US, is
		// fine.)
		for _, o := range comps {
			if o.ID != c.ID && !o.Group && o.GroupID == c.GroupID && strings.EqualFold(strings.TrimSpace(o.Name), strings.TrimSpace(c.Name)) {
				return Invalid("name", "component %q (%s) already has that name here; give this one another name, or put it in a group", o.Name, o.ID)
			}
		}
	}
	ch := &Change{Components: []*Component{c}}
	if before == nil {
		comps = append(comps, c)
	}
	if c.Status != oldStatus || before == nil {
		ch.StatusChanges = append(ch.StatusChanges, StatusChange{PageID: c.PageID, ComponentID: c.ID, Status: c.Status, At: c.UpdatedAt})
	}
	ch.Components = append(ch.Components, regroup(comps, c.UpdatedAt, oldGroup, c.GroupID)...)
	var b any
	if before != nil {
		b = before
	}
	ch.Audit = []*AuditEntry{s.audit(ctx, c.PageID, action, "component", c.ID, b, c, c.UpdatedAt)}
	if err := s.Store.Commit(ctx, ch); err != nil {
		return err
	}
	s.publish(ctx, Event{Type: EventPageChanged, PageID: c.PageID})
	return nil
}

// regroup recomputes the status of the named groups as the worst of their
// members' and returns the groups whose status changed.
func regroup(comps []*Component, now time.Time, groupIDs ...string) []*Component {
	var changed []*Component
	seen := map[string]bool{}
	for _, gid := range groupIDs {
		if gid == "" || seen[gid] {
			continue
		}
		seen[gid] = true
		g := findComponent(comps, gid)
		if g == nil {
			continue
		}
		worst := Operational
		for _, c := range comps {
			if c.GroupID == gid && !c.Group && c.Status.Worse(worst) {
				worst = c.Status
			}
		}
		if g.Status != worst {
			g.Status = worst
			g.UpdatedAt = now
			changed = append(changed, g)
		}
	}
	return changed
}

// DeleteComponent removes a component (or a group, whose members become
// ungrouped). Incidents keep their history; the ID is dropped from their
// component lists only where they are still open.
func (s *Service) DeleteComponent(ctx context.Context, pageID, id string) error {
	comps, err := s.Components(ctx, pageID)
	if err != nil {
		return err
	}
	c := findComponent(comps, id)
	if c == nil {
		return NotFound("component", id)
	}
	now := s.now()
	ch := &Change{DeleteComponentIDs: []string{id}}
	if c.Group {
		for _, m := range comps {
			if m.GroupID == id {
				m.GroupID = ""
				m.UpdatedAt = now
				ch.Components = append(ch.Components, m)
			}
		}
	} else if c.GroupID != "" {
		rest := make([]*Component, 0, len(comps))
		for _, m := range comps {
			if m.ID != id {
				rest = append(rest, m)
			}
		}
		ch.Components = append(ch.Components, regroup(rest, now, c.GroupID)...)
	}
	open, _, err := s.Store.FindIncidents(ctx, IncidentFilter{PageID: pageID, Statuses: openStatuses})
	if err != nil {
		return err
	}
	for _, inc := range open {
		if inc.Affects(id) {
			inc.ComponentIDs = without(inc.ComponentIDs, id)
			inc.Version++
			inc.UpdatedAt = now
			ch.Incidents = append(ch.Incidents, inc)
		}
	}
	kind := "component"
	if c.Group {
		kind = "component_group"
	}
	ch.Audit = []*AuditEntry{s.audit(ctx, pageID, kind+".delete", kind, id, c, nil, now)}
	if err := s.Store.Commit(ctx, ch); err != nil {
		return err
	}
	s.publish(ctx, Event{Type: EventPageChanged, PageID: pageID})
	return nil
}

func without(ids []string, id string) []string {
	out := ids[:0:0]
	for _, v := range ids {
		if v != id {
			out = append(out, v)
		}
	}
	return out
}

// CreateGroup creates a component group with the given members.
func (s *Service) CreateGroup(ctx context.Context, pageID string, in GroupInput) (*Component, error) {
	if in.Name == nil {
		return nil, Invalid("name", "is required")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	comps, err := s.Components(ctx, pageID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	g := &Component{ID: NewID(), PageID: pageID, Group: true, Status: Operational, Position: nextPosition(comps), Showcase: true, CreatedAt: now, UpdatedAt: now}
	comps = append(comps, g)
	return g, s.saveGroup(ctx, comps, g, nil, in, "component_group.create")
}

// UpdateGroup changes a group's name, position or members.
func (s *Service) UpdateGroup(ctx context.Context, pageID, id string, in GroupInput) (*Component, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	comps, err := s.Components(ctx, pageID)
	if err != nil {
		return nil, err
	}
	g := findComponent(comps, id)
	if g == nil || !g.Group {
		return nil, NotFound("component group", id)
	}
	before := *g
	g.UpdatedAt = s.now()
	return g, s.saveGroup(ctx, comps, g, &before, in, "component_group.update")
}

func (s *Service) saveGroup(ctx context.Context, comps []*Component, g, before *Component, in GroupInput, action string) error {
	if in.Name != nil {
		g.Name = *in.Name
	}
	if in.Description != nil {
		g.Description = *in.Description
	}
	if in.Position != nil {
		g.Position = *in.Position
	}
	ch := &Change{Components: []*Component{g}}
	if in.ComponentIDs != nil {
		want := map[string]bool{}
		for _, id := range in.ComponentIDs {
			c := findComponent(comps, id)
			if c == nil || c.Group {
				return Invalid("components", "no component %q on this page", id)
			}
			want[id] = true
		}
		groups := []string{g.ID}
		for _, c := range comps {
			switch {
			case want[c.ID] && c.GroupID != g.ID:
				groups = append(groups, c.GroupID)
				c.GroupID, c.UpdatedAt = g.ID, g.UpdatedAt
				ch.Components = append(ch.Components, c)
			case !want[c.ID] && c.GroupID == g.ID:
				c.GroupID, c.UpdatedAt = "", g.UpdatedAt
				ch.Components = append(ch.Components, c)
			}
		}
		for _, changed := range regroup(comps, g.UpdatedAt, groups...) {
			if changed != g {
				ch.Components = append(ch.Components, changed)
			}
		}
	}
	var b any
	if before != nil {
		b = before
	}
	ch.Audit = []*AuditEntry{s.audit(ctx, g.PageID, action, "component_group", g.ID, b, g, g.UpdatedAt)}
	if err := s.Store.Commit(ctx, ch); err != nil {
		return err
	}
	s.publish(ctx, Event{Type: EventPageChanged, PageID: g.PageID})
	return nil
}

// ---- tokens ----

// CreateToken makes a token and returns its secret, shown only this once.
func (s *Service) CreateToken(ctx context.Context, name string, role Role) (string, *Token, error) {
	if !role.Valid() {
		return "", nil, Invalid("role", "must be admin, manager or agent")
	}
	if name == "" {
		name = string(role)
	}
	if err := validName("name", &name); err != nil {
		return "", nil, err
	}
	secret, hash := NewTokenSecret()
	now := s.now()
	t := &Token{ID: NewID(), Name: name, Role: role, Hash: hash, CreatedAt: now}
	if err := s.Store.Commit(ctx, &Change{Tokens: []*Token{t}, Audit: []*AuditEntry{s.audit(ctx, "", "token.create", "token", t.ID, nil, t, now)}}); err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// Authenticate returns the live token for a secret, or EUNAUTHORIZED.
func (s *Service) Authenticate(ctx context.Context, secret string) (*Token, error) {
	if secret == "" || len(secret) > 200 {
		return nil, Errorf(EUNAUTHORIZED, "missing or invalid token")
	}
	t, err := s.Store.FindTokenByHash(ctx, HashToken(secret))
	if errors.Is(err, ErrNotFound) || (err == nil && t.RevokedAt != nil) {
		return nil, Errorf(EUNAUTHORIZED, "missing or invalid token")
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if err := s.Store.TouchToken(ctx, t.ID, now); err != nil {
			s.Log.Warn("touch token", "token_id", t.ID, "err", err)
		}
	}
	return t, nil
}

// Tokens lists every token (without secrets).
func (s *Service) Tokens(ctx context.Context) ([]*Token, error) { return s.Store.FindTokens(ctx) }

// RevokeToken revokes a token; revoking twice is not an error.
func (s *Service) RevokeToken(ctx context.Context, id string) error {
	tokens, err := s.Store.FindTokens(ctx)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if t.ID == id {
			if t.RevokedAt != nil {
				return nil
			}
			before := *t
			now := s.now()
			t.RevokedAt = &now
			return s.Store.Commit(ctx, &Change{Tokens: []*Token{t}, Audit: []*AuditEntry{s.audit(ctx, "", "token.revoke", "token", t.ID, before, t, now)}})
		}
	}
	return NotFound("token", id)
}

// Audit returns audit entries, newest first.
func (s *Service) Audit(ctx context.Context, f AuditFilter) ([]*AuditEntry, int, error) {
	return s.Store.FindAudit(ctx, f)
}

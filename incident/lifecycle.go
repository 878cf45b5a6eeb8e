package incident

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"
)

// openStatuses are the statuses of incidents and maintenances that still
// hold their components: unresolved incidents and maintenances underway.
var openStatuses = []Status{Investigating, Identified, Monitoring, InProgress, Verifying}

// Incident returns one incident or maintenance of a page, or ENOTFOUND.
func (s *Service) Incident(ctx context.Context, pageID, id string) (*Incident, error) {
	if !ValidID(id) {
		return nil, NotFound("incident", id)
	}
	inc, err := s.Store.FindIncidentByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if pageID != "" && inc.PageID != pageID {
		return nil, NotFound("incident", id)
	}
	return inc, nil
}

// Incidents returns incidents matching f, newest first, and the total count.
func (s *Service) Incidents(ctx context.Context, f IncidentFilter) ([]*Incident, int, error) {
	if f.PageID != "" {
		if _, err := s.Page(ctx, f.PageID); err != nil {
			return nil, 0, err
		}
	}
	return s.Store.FindIncidents(ctx, f)
}

// CreateIncident declares an incident, or schedules a maintenance when
// ScheduledFor is set. With an idempotency key, a repeated request returns
// the incident the first one created and created=false.
func (s *Service) CreateIncident(ctx context.Context, pageID string, in IncidentInput, idemKey string) (inc *Incident, created bool, err error) {
	now := s.now()
	if err := in.Validate(now); err != nil {
		return nil, false, err
	}
	if in.Name == nil {
		return nil, false, Invalid("name", "is required")
	}
	if len(idemKey) > 255 {
		return nil, false, Invalid("Idempotency-Key", "must be at most 255 characters")
	}
	scope := "incident.create:" + pageID
	var fp string
	if idemKey != "" {
		fp = fingerprint(in)
		if inc, err := s.replay(ctx, scope, idemKey, fp); inc != nil || err != nil {
			return inc, false, err
		}
	}
	inc, _, ch, err := s.draft(ctx, pageID, in, now)
	if err != nil {
		return nil, false, err
	}
	if idemKey != "" {
		ch.Idempotency = &IdempotencyKey{Scope: scope, Key: idemKey, ResourceID: inc.ID + " " + fp, ExpiresAt: now.Add(24 * time.Hour)}
	}
	ch.Audit = append(ch.Audit, s.audit(ctx, pageID, "incident.create", "incident", inc.ID, nil, inc, now))
	if err := s.Store.Commit(ctx, ch); err != nil {
		if idemKey != "" && errors.Is(err, ErrConflict) {
			if prior, rerr := s.replay(ctx, scope, idemKey, fp); prior != nil || rerr != nil {
				return prior, false, rerr
			}
		}
		return nil, false, err
	}
	s.publishIncident(ctx, inc, ch)
	s.Log.Info("incident created", "incident_id", inc.ID, "page_id", pageID, "status", inc.Status, "impact", inc.Impact, "actor", ActorFrom(ctx).String())
	return inc, true, nil
}

// DraftIncident returns the incident that CreateIncident would create from
// in, with its first update, and the page's components as it would leave
// them, without storing, publishing or broadcasting anything: what a dry
// run of a declaration renders. Errors are CreateIncident's.
// The broadcast is the one declaring would send, nil when it sends none
// (deliver_notifications false).
func (s *Service) DraftIncident(ctx context.Context, pageID string, in IncidentInput) (*Incident, []*Component, *Broadcast, error) {
	now := s.now()
	if err := in.Validate(now); err != nil {
		return nil, nil, nil, err
	}
	if in.Name == nil {
		return nil, nil, nil, Invalid("name", "is required")
	}
	inc, comps, ch, err := s.draft(ctx, pageID, in, now)
	if err != nil {
		return nil, nil, nil, err
	}
	return inc, comps, ch.broadcast(), nil
}

// draft builds a new incident from a validated in, and the change that
// stores it, on copies of the page's components.
func (s *Service) draft(ctx context.Context, pageID string, in IncidentInput, now time.Time) (*Incident, []*Component, *Change, error) {
	comps, err := s.Components(ctx, pageID)
	if err != nil {
		return nil, nil, nil, err
	}
	maint := in.ScheduledFor != nil || in.ScheduledUntil != nil
	inc := &Incident{ID: NewID(), PageID: pageID, CreatedAt: now, UpdatedAt: now, StartedAt: now,
		ComponentIDs: []string{}, ScheduledAutoInProgress: true, ScheduledAutoCompleted: true}
	if in.Backfilled != nil && *in.Backfilled {
		inc.Backfilled = true
		if in.CreatedAt != nil {
			inc.CreatedAt, inc.StartedAt = in.CreatedAt.UTC().Truncate(time.Millisecond), in.CreatedAt.UTC().Truncate(time.Millisecond)
		}
	}
	if maint {
		if in.ScheduledFor == nil || in.ScheduledUntil == nil {
			return nil, nil, nil, Invalid("scheduled_until", "a maintenance needs both scheduled_for and scheduled_until")
		}
		inc.Status = Scheduled
	} else {
		inc.Status = Investigating
	}
	if in.Status == nil {
		in.Status = &inc.Status
	}
	if maint != in.Status.IsMaintenance() {
		return nil, nil, nil, &Error{Code: ETRANSITION, Field: "status", Message: "status " + string(*in.Status) + " does not fit " + map[bool]string{true: "a maintenance", false: "an incident"}[maint]}
	}
	if *in.Status == Postmortem {
		return nil, nil, nil, &Error{Code: ETRANSITION, Field: "status", Message: "resolve the incident before publishing a postmortem"}
	}
	if maint && !in.Status.Closed() && !in.ScheduledUntil.After(now) {
		return nil, nil, nil, Invalid("scheduled_until", "is in the past; record a finished maintenance with status completed")
	}
	in = s.scheduledWithoutText(maint, in)
	ch, err := s.apply(ctx, inc, comps, in, true, now)
	if err != nil {
		return nil, nil, nil, err
	}
	return inc, comps, ch, nil
}

// replay returns the incident an earlier request with key created, nil
// when there was none, or EIDEMPOTENCY when that request was a different
// one (its fingerprint is not fp).
func (s *Service) replay(ctx context.Context, scope, key, fp string) (*Incident, error) {
	rec, err := s.Store.FindIdempotencyKey(ctx, scope, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	id, prior, _ := strings.Cut(rec, " ")
	if prior != "" && prior != fp {
		return nil, &Error{Code: EIDEMPOTENCY, Field: "Idempotency-Key",
			Message: "this Idempotency-Key was used with a different request in the last 24 hours; use a new key for a new request"}
	}
	return s.Store.FindIncidentByID(ctx, id)
}

// fingerprint identifies a create request by what it asks (after
// validation), so the same request sent as JSON or as a form, or with its
// fields in another order, has the same fingerprint.
func fingerprint(in IncidentInput) string {
	b, err := json.Marshal(in)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func (s *Service) publishIncident(ctx context.Context, inc *Incident, ch *Change) {
	evs := []Event{{Type: EventIncidentChanged, PageID: inc.PageID, IncidentID: inc.ID}}
	if len(ch.Broadcasts) > 0 {
		evs = append(evs, Event{Type: EventBroadcastCreated, PageID: inc.PageID, IncidentID: inc.ID})
	}
	s.publish(ctx, evs...)
}

// UpdateIncident changes an incident: a new status, a message, component
// statuses, or its fields. Resolving (or completing a maintenance) returns
// its components to operational unless the request sets their statuses or
// AutoTransitionToOperational is false.
func (s *Service) UpdateIncident(ctx context.Context, pageID, id string, in IncidentInput) (*Incident, error) {
	now := s.now()
	if err := in.Validate(now); err != nil {
		return nil, err
	}
	inc, err := s.Incident(ctx, pageID, id)
	if err != nil {
		return nil, err
	}
	comps, err := s.Components(ctx, inc.PageID)
	if err != nil {
		return nil, err
	}
	if in.IfVersion != nil && *in.IfVersion != inc.Version {
		return nil, Errorf(EPRECONDITION, "incident %s has changed since it was read: it is now %s (version %d, updated %s); read it again",
			inc.ID, inc.Status, inc.Version, inc.UpdatedAt.UTC().Format(time.RFC3339))
	}
	before := cloneIncident(inc)
	if in.Status != nil {
		if err := CanMove(inc.Status, *in.Status); err != nil {
			return nil, err
		}
	}
	if in.ScheduledFor != nil || in.ScheduledUntil != nil {
		if !inc.IsMaintenance() {
			return nil, Invalid("scheduled_for", "an incident cannot be turned into a maintenance")
		}
	}
	in = startEarly(inc, in, now)
	in = s.resolvedWithoutText(inc, in)
	ch, err := s.apply(ctx, inc, comps, in, false, now)
	if err != nil {
		return nil, err
	}
	ch.Audit = append(ch.Audit, s.audit(ctx, inc.PageID, "incident.update", "incident", inc.ID, before, inc, now))
	if err := s.Store.Commit(ctx, ch); err != nil {
		if in.IfVersion != nil && ErrorCode(err) == ECONFLICT {
			// Another change committed the version read first: the
			// caller's precondition failed, whichever won the race.
			return nil, Errorf(EPRECONDITION, "incident %s changed while this change was made (it was version %d); read it again", inc.ID, *in.IfVersion)
		}
		return nil, err
	}
	s.publishIncident(ctx, inc, ch)
	s.Log.Info("incident updated", "incident_id", inc.ID, "page_id", inc.PageID, "status", inc.Status, "actor", ActorFrom(ctx).String())
	return inc, nil
}

// DraftUpdate is UpdateIncident without the commit: the incident as the
// update would leave it (its new update first), the page's components as
// it would set them (copies) and the broadcast it would start, nil when
// none. It stores, publishes and sends nothing, so a dry run can show
// what the update itself would send (a resolve without a message sends no
// "what happened" text, whatever the newest update said). Errors are
// UpdateIncident's, but for If-Match, which a draft does not check.
func (s *Service) DraftUpdate(ctx context.Context, pageID, id string, in IncidentInput) (*Incident, []*Component, *Broadcast, error) {
	now := s.now()
	if err := in.Validate(now); err != nil {
		return nil, nil, nil, err
	}
	stored, err := s.Incident(ctx, pageID, id)
	if err != nil {
		return nil, nil, nil, err
	}
	inc := cloneIncident(stored) // the stored one may be shared
	comps, err := s.Components(ctx, inc.PageID)
	if err != nil {
		return nil, nil, nil, err
	}
	for i, c := range comps {
		cc := *c
		comps[i] = &cc
	}
	if in.Status != nil {
		if err := CanMove(inc.Status, *in.Status); err != nil {
			return nil, nil, nil, err
		}
	}
	in = startEarly(inc, in, now)
	in = s.resolvedWithoutText(inc, in)
	ch, err := s.apply(ctx, inc, comps, in, false, now)
	if err != nil {
		return nil, nil, nil, err
	}
	return inc, comps, ch.broadcast(), nil
}

// DeleteIncident removes an incident and its updates. Component statuses are
// left as they are.
func (s *Service) DeleteIncident(ctx context.Context, pageID, id string) error {
	_, err := s.DeleteIncidentIf(ctx, pageID, id, nil)
	return err
}

// DeleteIncidentIf is DeleteIncident for a caller that read the incident
// at ifVersion (HTTP If-Match; nil: whatever its version): a different
// version, now or when the deletion commits, is EPRECONDITION and
// nothing is deleted. It returns the incident as it was deleted.
func (s *Service) DeleteIncidentIf(ctx context.Context, pageID, id string, ifVersion *int) (*Incident, error) {
	inc, err := s.Incident(ctx, pageID, id)
	if err != nil {
		return nil, err
	}
	if ifVersion != nil && *ifVersion != inc.Version {
		return nil, Errorf(EPRECONDITION, "incident %s has changed since it was read: it is now %s (version %d); read it again", inc.ID, inc.Status, inc.Version)
	}
	now := s.now()
	ch := &Change{DeleteIncidentIDs: []string{id}, Audit: []*AuditEntry{s.audit(ctx, inc.PageID, "incident.delete", "incident", id, inc, nil, now)}}
	if ifVersion != nil {
		ch.DeleteIncidentIf = map[string]int{id: *ifVersion}
	}
	if err := s.Store.Commit(ctx, ch); err != nil {
		if ifVersion != nil && ErrorCode(err) == ECONFLICT {
			return nil, Errorf(EPRECONDITION, "incident %s changed while it was being deleted (it was version %d); read it again", inc.ID, *ifVersion)
		}
		return nil, err
	}
	s.publish(ctx, Event{Type: EventIncidentDeleted, PageID: inc.PageID, IncidentID: id})
	return inc, nil
}

// UpdateEdit is what an edit of an update changes; nil fields stay.
type UpdateEdit struct {
	Body *string
	// Messages sets the update's text per language: a text replaces that
	// language's, "" drops it (the language then reads Body); languages
	// not named keep theirs. An edit that changes Body must name every
	// language the update has a text in, so that none is left translating
	// the old body.
	Messages  map[string]string
	DisplayAt *time.Time
}

// EditUpdate corrects an update's text, its texts per language or its
// display time (Statuspage's PATCH incident_updates); it sends nothing.
// A changed body with a language's text not named in e.Messages is
// EINVALID on "messages", and nothing is written.
func (s *Service) EditUpdate(ctx context.Context, pageID, incidentID, updateID string, e UpdateEdit) (*Update, error) {
	now := s.now()
	if err := validText("body", e.Body, MaxBodyLen); err != nil {
		return nil, err
	}
	langs := make([]string, 0, len(e.Messages))
	for lang := range e.Messages {
		langs = append(langs, lang)
	}
	sort.Strings(langs)
	for _, lang := range langs {
		if !validLanguage(lang) {
			return nil, Invalid("messages."+lang, "unknown language %q: use one of %s", lang, strings.Join(Languages, ", "))
		}
		text := e.Messages[lang]
		if err := validText("messages."+lang, &text, MaxBodyLen); err != nil {
			return nil, err
		}
	}
	if err := validDate("display_at", e.DisplayAt, now); err != nil {
		return nil, err
	}
	inc, err := s.Incident(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	before := cloneIncident(inc)
	for _, u := range inc.Updates {
		if u.ID != updateID {
			continue
		}
		if e.Body != nil && *e.Body != u.Body {
			var stale []string
			for lang := range u.Messages {
				if _, named := e.Messages[lang]; !named {
					stale = append(stale, lang)
				}
			}
			if len(stale) > 0 {
				sort.Strings(stale)
				return nil, Invalid("messages", "the update also has its text in %s: send messages with each of them with the body (the same text keeps it, \"\" drops it, and that language reads the body), so that none is left saying what the old body said",
					strings.Join(stale, ", "))
			}
		}
		if e.Body != nil {
			u.Body = *e.Body
		}
		for _, lang := range langs {
			if text := e.Messages[lang]; strings.TrimSpace(text) == "" {
				delete(u.Messages, lang)
			} else {
				if u.Messages == nil {
					u.Messages = map[string]string{}
				}
				u.Messages[lang] = text
			}
		}
		if len(u.Messages) == 0 {
			u.Messages = nil
		}
		if e.DisplayAt != nil {
			u.DisplayAt = e.DisplayAt.UTC().Truncate(time.Millisecond)
		}
		u.UpdatedAt = now
		inc.UpdatedAt = now
		inc.Version++
		ch := &Change{Incidents: []*Incident{inc}, Audit: []*AuditEntry{s.audit(ctx, inc.PageID, "incident_update.update", "incident", inc.ID, before, inc, now)}}
		if err := s.Store.Commit(ctx, ch); err != nil {
			return nil, err
		}
		s.publishIncident(ctx, inc, ch)
		return u, nil
	}
	return nil, NotFound("incident update", updateID)
}

// apply changes inc as in asks and returns the Change that commits it:
// the incident (version bumped), a new Update when something customers
// should see happened, component status changes, and the broadcast.
func (s *Service) apply(ctx context.Context, inc *Incident, comps []*Component, in IncidentInput, create bool, now time.Time) (*Change, error) {
	oldStatus := inc.Status
	if create {
		oldStatus = "" // whatever a new incident starts in is a change
	}
	if err := setFields(inc, in); err != nil {
		return nil, err
	}
	statusChanged := inc.Status != oldStatus

	byID := map[string]*Component{}
	for _, c := range comps {
		byID[c.ID] = c
	}
	had := append([]string(nil), inc.ComponentIDs...)
	if err := coverComponents(inc, byID, in); err != nil {
		return nil, err
	}
	var dropped []string
	for _, id := range had {
		if !inc.Affects(id) && byID[id] != nil {
			dropped = append(dropped, id)
		}
	}
	want, err := s.componentTargets(ctx, inc, in, create, statusChanged, dropped)
	if err != nil {
		return nil, err
	}
	ch := &Change{}
	affected := moveComponents(ch, inc, comps, byID, want, dropped, create, now)
	stampLifecycle(inc, create, now)
	if u := newUpdate(inc, in, affected, create, statusChanged, now); u != nil {
		inc.Updates = append([]*Update{u}, inc.Updates...)
		if br := newBroadcast(inc, u, in, create, statusChanged, now); br != nil {
			ch.Broadcasts = append(ch.Broadcasts, br)
		}
	}
	// After the new update is in place: its affected components count.
	inc.Impact = effectiveImpact(inc)
	inc.UpdatedAt = now
	inc.Version++
	ch.Incidents = []*Incident{inc}
	return ch, nil
}

// setFields copies the fields in sets onto inc, the status included, and
// rejects a maintenance window that ends before it starts.
func setFields(inc *Incident, in IncidentInput) error {
	if in.Name != nil {
		inc.Name = *in.Name
	}
	if in.Names != nil {
		// A new map: inc's may be shared with the copy a reader holds.
		names := make(map[string]string, len(inc.Names)+len(in.Names))
		for lang, name := range inc.Names {
			names[lang] = name
		}
		for lang, name := range in.Names {
			if name == "" {
				delete(names, lang)
			} else {
				names[lang] = name
			}
		}
		inc.Names = names
		if len(names) == 0 {
			inc.Names = nil
		}
	}
	if in.ImpactOverride != nil {
		inc.ImpactOverride = *in.ImpactOverride
	}
	if err := setSchedule(inc, in); err != nil {
		return err
	}
	if in.PostmortemBody != nil {
		inc.PostmortemBody = *in.PostmortemBody
	}
	if in.Audience != nil {
		a := *in.Audience
		inc.Audience = &a
	}
	if in.Metadata != nil {
		inc.Metadata = append(json.RawMessage(nil), in.Metadata...)
		if string(inc.Metadata) == "{}" {
			inc.Metadata = nil
		}
	}
	if in.Status != nil {
		inc.Status = *in.Status
	}
	return nil
}

// startEarly is in for a maintenance started ahead of its window (moved
// to in_progress before scheduled_for) by a request that does not set
// the window itself: the window moves to start now and keeps its length.
// Left where it was, the page would say it starts in two hours while it
// runs, the messages that it ends at the planned end (two and a half
// hours of "under maintenance" for thirty minutes' work), and herald
// would complete it only then.
func startEarly(inc *Incident, in IncidentInput, now time.Time) IncidentInput {
	if !inc.IsMaintenance() || inc.Status != Scheduled || in.Status == nil || *in.Status != InProgress ||
		in.ScheduledFor != nil || inc.ScheduledFor == nil || inc.ScheduledUntil == nil || !now.Before(*inc.ScheduledFor) {
		return in
	}
	from := now
	in.ScheduledFor = &from
	if in.ScheduledUntil == nil {
		until := now.Add(inc.ScheduledUntil.Sub(*inc.ScheduledFor))
		in.ScheduledUntil = &until
	}
	return in
}

// ResolvedBody and ResolvedWordsID are the text of the update that
// resolves an incident when whoever resolved it wrote none: ResolvedBody
// is its body, Statuspage's own words for that case, which the API and
// webhooks show as Statuspage does; ResolvedWordsID is the catalogue ID
// of the words each language's readers get instead (Service.Words: the
// page and the feeds). Messages leave either out: their templates already
// say the problem is fixed.
const (
	ResolvedBody    = "This incident has been resolved."
	ResolvedWordsID = "IncidentResolvedAuto"
)

// ScheduledBody and ScheduledWordsID are the same for a maintenance
// scheduled without a message: Statuspage's words for that case, and the
// catalogue ID of each language's. Messages leave them out: their
// templates announce the window already.
const (
	ScheduledBody    = "We will be undergoing scheduled maintenance during this time."
	ScheduledWordsID = "MaintenanceScheduledAuto"
)

// resolvedWithoutText is in for an update that resolves inc without a
// body: it gets ResolvedBody, and each language without a text of its own
// its words, so that no page or feed shows a bare "Resolved" heading over
// nothing. A language the resolver wrote for keeps that text. Any other
// update, and a maintenance, is left as it is.
func (s *Service) resolvedWithoutText(inc *Incident, in IncidentInput) IncidentInput {
	if inc.IsMaintenance() || inc.Status == Resolved || in.Status == nil || *in.Status != Resolved {
		return in
	}
	return s.withoutText(in, ResolvedBody, ResolvedWordsID)
}

// scheduledWithoutText is in for a new maintenance (maint) that starts
// scheduled without a body: it gets ScheduledBody, and each language
// without a text of its own its words, so that no page or feed shows a
// bare "Scheduled" entry over nothing. Anything else is left as it is.
func (s *Service) scheduledWithoutText(maint bool, in IncidentInput) IncidentInput {
	if !maint || in.Status == nil || *in.Status != Scheduled {
		return in
	}
	return s.withoutText(in, ScheduledBody, ScheduledWordsID)
}

// withoutText is in with body and each language's words for catalogue ID
// id (automaticText) when it has no body; a language in.Messages has a
// text for keeps it. An in with a body is left as it is.
func (s *Service) withoutText(in IncidentInput, body, id string) IncidentInput {
	if in.Body != nil && strings.TrimSpace(*in.Body) != "" {
		return in
	}
	body, words := s.automaticText(body, id)
	messages := make(map[string]string, len(words)+len(in.Messages))
	for lang, text := range words {
		messages[lang] = text
	}
	for lang, text := range in.Messages { // validated: none is blank
		messages[lang] = text
	}
	if len(messages) == 0 {
		messages = nil
	}
	in.Body, in.Messages = &body, messages
	return in
}

// setSchedule copies a maintenance's window and schedule options onto inc.
// The window is checked as it ends up, since a request may move only one
// end of it. A maintenance starts, for the page, when it is scheduled for.
func setSchedule(inc *Incident, in IncidentInput) error {
	if in.ScheduledFor != nil {
		t := in.ScheduledFor.UTC().Truncate(time.Millisecond)
		inc.ScheduledFor = &t
		inc.StartedAt = t
	}
	if in.ScheduledUntil != nil {
		t := in.ScheduledUntil.UTC().Truncate(time.Millisecond)
		inc.ScheduledUntil = &t
	}
	if inc.IsMaintenance() && !inc.ScheduledUntil.After(*inc.ScheduledFor) {
		return Invalid("scheduled_until", "must be after scheduled_for")
	}
	if in.ScheduledRemindPrior != nil {
		inc.ScheduledRemindPrior = *in.ScheduledRemindPrior
	}
	if in.ScheduledAutoInProgress != nil {
		inc.ScheduledAutoInProgress = *in.ScheduledAutoInProgress
	}
	if in.ScheduledAutoCompleted != nil {
		inc.ScheduledAutoCompleted = *in.ScheduledAutoCompleted
	}
	return nil
}

// coverComponents decides which components the incident covers. A
// component_ids list replaces the ones it had; a component given a status
// is covered too. Only components of the page count, and never a group:
// a group's status follows from its members', so the incident names them.
func coverComponents(inc *Incident, byID map[string]*Component, in IncidentInput) error {
	if in.ComponentIDs != nil {
		inc.ComponentIDs = inc.ComponentIDs[:0:0]
	}
	add := func(field, id string) error {
		c := byID[id]
		if c == nil {
			return Invalid(field, "no component %q on this page", id)
		}
		if c.Group {
			return Invalid(field, "%q is a component group; name its components", id)
		}
		if !inc.Affects(id) {
			inc.ComponentIDs = append(inc.ComponentIDs, id)
		}
		return nil
	}
	for _, id := range in.ComponentIDs {
		if err := add("component_ids", id); err != nil {
			return err
		}
	}
	for id := range in.Components {
		if err := add("components", id); err != nil {
			return err
		}
	}
	return nil
}

// componentTargets decides the statuses the incident's components should
// be in: what the request says, else what the lifecycle implies. A
// maintenance starting puts its components under maintenance; resolving an
// incident or completing a maintenance (unless auto_transition_to_operational
// is false) returns each to operational, or to the worst status another
// open incident still holds it in. A record created already resolved moves
// nothing.
//
// A component the incident no longer covers (dropped: a manager's
// "not affected", a shorter component_ids) goes back likewise, to
// operational or to what another open incident holds it in: the incident
// no longer holds it, so a status it set must not outlive it (a page
// showing an outage with no incident open, that no resolution clears).
func (s *Service) componentTargets(ctx context.Context, inc *Incident, in IncidentInput, create, statusChanged bool, dropped []string) (map[string]ComponentStatus, error) {
	want := map[string]ComponentStatus{}
	for id, st := range in.Components {
		want[id] = st
	}
	var (
		others []*Incident
		loaded bool
	)
	openOthers := func() error {
		if loaded {
			return nil
		}
		var err error
		others, _, err = s.Store.FindIncidents(ctx, IncidentFilter{PageID: inc.PageID, Statuses: openStatuses})
		loaded = err == nil
		return err
	}
	autoOperational := in.AutoTransitionToOperational == nil || *in.AutoTransitionToOperational
	switch {
	case len(in.Components) > 0:
	case statusChanged && inc.Status == InProgress:
		for _, id := range inc.ComponentIDs {
			want[id] = UnderMaintenance
		}
	case statusChanged && (inc.Status == Resolved || inc.Status == Completed) && autoOperational && !create:
		if err := openOthers(); err != nil {
			return nil, err
		}
		for _, id := range inc.ComponentIDs {
			want[id] = stillHeld(others, inc.ID, id)
		}
	}
	for _, id := range dropped {
		if _, set := want[id]; set || !heldBy(inc, id) {
			continue
		}
		if err := openOthers(); err != nil {
			return nil, err
		}
		want[id] = stillHeld(others, inc.ID, id)
	}
	return want, nil
}

// moveComponents puts the incident's components (and those it dropped,
// dropped) in the statuses wanted and adds to ch those that moved, their
// status history and the groups whose status follows. It returns the
// components the new update lists:
// those that moved and, when the incident is created, also those already
// in the status it gives them, so that its first update records every
// status it was declared with (its impact is read from its updates).
func moveComponents(ch *Change, inc *Incident, comps []*Component, byID map[string]*Component, want map[string]ComponentStatus, dropped []string, create bool, now time.Time) []AffectedComponent {
	var affected []AffectedComponent
	changedGroups := []string{}
	for _, id := range append(append([]string(nil), inc.ComponentIDs...), dropped...) {
		st, ok := want[id]
		if !ok {
			continue
		}
		c := byID[id]
		if c.Status == st && !create {
			continue
		}
		affected = append(affected, AffectedComponent{Code: id, Name: c.Name, OldStatus: c.Status, NewStatus: st})
		if c.Status != st {
			c.Status = st
			c.UpdatedAt = now
			ch.Components = append(ch.Components, c)
			ch.StatusChanges = append(ch.StatusChanges, StatusChange{PageID: inc.PageID, ComponentID: id, Status: st, At: now})
			changedGroups = append(changedGroups, c.GroupID)
		}
	}
	ch.Components = append(ch.Components, regroup(comps, now, changedGroups...)...)
	return affected
}

// stampLifecycle sets the times the lifecycle records, each the first time
// its status is reached. A backfilled incident created resolved was
// resolved when it happened, not now. Reopening clears the resolution.
func stampLifecycle(inc *Incident, create bool, now time.Time) {
	switch inc.Status {
	case Monitoring:
		if inc.MonitoringAt == nil {
			inc.MonitoringAt = &now
		}
	case Resolved, Completed:
		if inc.ResolvedAt == nil {
			t := now
			if create && inc.Backfilled {
				t = inc.CreatedAt
			}
			inc.ResolvedAt = &t
		}
	case Postmortem:
		if inc.PostmortemPublishedAt == nil {
			inc.PostmortemPublishedAt = &now
		}
	}
	if inc.ResolvedAt != nil && !inc.Status.Closed() {
		inc.ResolvedAt = nil
	}
}

// newUpdate returns the update customers see, or nil when nothing they
// should see happened: no new incident, status, message or component
// status. A backfilled incident's first update is dated when it happened.
func newUpdate(inc *Incident, in IncidentInput, affected []AffectedComponent, create, statusChanged bool, now time.Time) *Update {
	body := ""
	if in.Body != nil {
		body = *in.Body
	}
	if !create && !statusChanged && body == "" && len(in.Messages) == 0 && len(affected) == 0 {
		return nil
	}
	u := &Update{ID: NewID(), IncidentID: inc.ID, Status: inc.Status, Body: body, CreatedAt: now, UpdatedAt: now, DisplayAt: now,
		AffectedComponents: affected, DeliverNotifications: delivers(in)}
	if len(in.Messages) > 0 {
		u.Messages = make(map[string]string, len(in.Messages))
		for lang, text := range in.Messages {
			u.Messages[lang] = text
		}
	}
	if create && inc.Backfilled {
		u.CreatedAt, u.UpdatedAt, u.DisplayAt = inc.CreatedAt, inc.CreatedAt, inc.CreatedAt
	}
	return u
}

// delivers reports whether the request lets the update be sent to
// subscribers: deliver_notifications defaults to true.
func delivers(in IncidentInput) bool {
	return in.DeliverNotifications == nil || *in.DeliverNotifications
}

// newBroadcast returns the broadcast that sends update u to subscribers,
// or nil when there is none: the request turned notifications off, the
// incident is backfilled (recorded after the fact, so never announced),
// or broadcastKind finds nothing to tell.
func newBroadcast(inc *Incident, u *Update, in IncidentInput, create, statusChanged bool, now time.Time) *Broadcast {
	if !delivers(in) || inc.Backfilled {
		return nil
	}
	kind := broadcastKind(inc, create, statusChanged)
	if kind == "" {
		return nil
	}
	return &Broadcast{ID: NewID(), PageID: inc.PageID, IncidentID: inc.ID, UpdateID: u.ID, Kind: kind, CreatedAt: now}
}

// heldBy reports whether inc holds a component in a status of its own: a
// maintenance under way holds its components under maintenance, an
// incident those its updates last set to other than operational.
func heldBy(inc *Incident, componentID string) bool {
	if inc.IsMaintenance() {
		return inc.Status == InProgress
	}
	st, ok := inc.LatestStatusFor(componentID)
	return ok && st != Operational
}

// stillHeld returns the worst status that open incidents other than self
// still hold the component in, or operational.
func stillHeld(open []*Incident, self, componentID string) ComponentStatus {
	worst := Operational
	for _, o := range open {
		if o.ID == self || !o.Affects(componentID) {
			continue
		}
		st, ok := o.LatestStatusFor(componentID)
		if o.IsMaintenance() {
			st, ok = UnderMaintenance, true
		}
		if ok && st.Worse(worst) {
			worst = st
		}
	}
	return worst
}

func broadcastKind(inc *Incident, create, statusChanged bool) BroadcastKind {
	switch {
	case inc.IsMaintenance() && create:
		return BroadcastScheduled
	case create && inc.Status.Closed():
		return "" // a record of the past: nobody to tell
	case create:
		return BroadcastDeclared
	case statusChanged && inc.Status == InProgress:
		return BroadcastStarted
	case statusChanged && inc.Status == Completed:
		return BroadcastCompleted
	case statusChanged && inc.Status == Resolved:
		return BroadcastResolved
	}
	return BroadcastUpdated
}

// effectiveImpact is the override when set, maintenance for maintenances,
// else the impact of the worst status the incident put its components in.
func effectiveImpact(inc *Incident) Impact {
	if inc.ImpactOverride != "" {
		return inc.ImpactOverride
	}
	if inc.IsMaintenance() {
		return ImpactMaintenance
	}
	worst := ImpactNone
	for _, id := range inc.ComponentIDs {
		// The worst status ever set during the incident, so resolving does
		// not downgrade how bad it was.
		for _, u := range inc.Updates {
			for _, ac := range u.AffectedComponents {
				if ac.Code == id && ac.NewStatus.Impact().Rank() > worst.Rank() {
					worst = ac.NewStatus.Impact()
				}
			}
		}
	}
	return worst
}

// PeakImpact is the worst the incident was: its impact, or the worst its
// components' statuses ever implied, whichever is worse. A manager who
// lowers the impact once the fix is out (the banner turns yellow while
// they watch) does not turn a critical outage into a minor one in the
// reports.
func (inc *Incident) PeakImpact() Impact {
	if inc.IsMaintenance() {
		return inc.Impact
	}
	worst := inc.Impact
	for _, u := range inc.Updates {
		for _, ac := range u.AffectedComponents {
			if im := ac.NewStatus.Impact(); im.Rank() > worst.Rank() {
				worst = im
			}
		}
	}
	return worst
}

func cloneIncident(inc *Incident) *Incident {
	c := *inc
	c.ComponentIDs = append([]string(nil), inc.ComponentIDs...)
	if inc.Names != nil {
		c.Names = make(map[string]string, len(inc.Names))
		for lang, name := range inc.Names {
			c.Names[lang] = name
		}
	}
	c.Updates = make([]*Update, len(inc.Updates))
	for i, u := range inc.Updates {
		uc := *u
		if u.Messages != nil {
			uc.Messages = make(map[string]string, len(u.Messages))
			for lang, text := range u.Messages {
				uc.Messages[lang] = text
			}
		}
		c.Updates[i] = &uc
	}
	return &c
}

// AdvanceMaintenances starts and completes maintenances whose times have
// come and that ask for it (scheduled_auto_in_progress,
// scheduled_auto_completed). Every node may run it: a node that loses the
// race to another gets ECONFLICT for that maintenance and skips it.
// It returns how many maintenances it moved.
func (s *Service) AdvanceMaintenances(ctx context.Context) (int, error) {
	yes := true
	due, _, err := s.Store.FindIncidents(ctx, IncidentFilter{Maintenance: &yes, Statuses: []Status{Scheduled, InProgress, Verifying}})
	if err != nil {
		return 0, err
	}
	now := s.now()
	moved := 0
	sys := WithActor(ctx, Actor{Name: "system (scheduled maintenance)"})
	for _, m := range due {
		var to Status
		switch {
		case m.Status == Scheduled && m.ScheduledAutoCompleted && !now.Before(*m.ScheduledUntil):
			to = Completed
		case m.Status == Scheduled && m.ScheduledAutoInProgress && !now.Before(*m.ScheduledFor):
			to = InProgress
		case m.Status != Scheduled && m.ScheduledAutoCompleted && !now.Before(*m.ScheduledUntil):
			to = Completed
		default:
			continue
		}
		w := automaticWords[to]
		body, messages := s.automaticText(w.body, w.text)
		_, err := s.UpdateIncident(sys, m.PageID, m.ID, IncidentInput{Status: &to, Body: &body, Messages: messages})
		switch {
		case errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return moved, err
		}
		moved++
	}
	return moved, nil
}

// automaticWords are the updates herald writes itself, by the status they
// move to: a maintenance started or completed on time, a maintenance
// scheduled or an incident resolved without a text. body is Statuspage's English words, which the
// API and webhooks show as Statuspage does; text the catalogue ID of the
// words each language's readers get (the page, the feeds).
var automaticWords = map[Status]struct{ body, text string }{
	Scheduled:  {ScheduledBody, ScheduledWordsID},
	InProgress: {"Scheduled maintenance is currently in progress. We will provide updates as necessary.", "MaintenanceStartedAuto"},
	Completed:  {"The scheduled maintenance has been completed.", "MaintenanceCompletedAuto"},
	Resolved:   {ResolvedBody, ResolvedWordsID},
}

// AutomaticWords returns the body and the catalogue ID of the words herald
// writes itself for an update that moves to status st (automaticWords),
// "" and "" for a status it writes none for. Messages leave them out:
// their templates name the step already (maintenance planned, started,
// completed, fixed), and would repeat them.
func AutomaticWords(st Status) (body, wordsID string) {
	w := automaticWords[st]
	return w.body, w.text
}

// automaticText is the body and the per-language messages (from Words;
// none without it) of an update herald writes itself: body, Statuspage's
// English words, and each language's words for the catalogue ID id. A
// language whose words equal the body has no message of its own.
func (s *Service) automaticText(body, id string) (string, map[string]string) {
	if s.Words == nil {
		return body, nil
	}
	messages := make(map[string]string, len(Languages))
	for _, lang := range Languages {
		if text := s.Words(lang, id); text != "" && text != body {
			messages[lang] = text
		}
	}
	if len(messages) == 0 {
		messages = nil
	}
	return body, messages
}

// StatusHistory returns a page's component status changes since a time
// (plus the last one before it per component), for the uptime bars.
func (s *Service) StatusHistory(ctx context.Context, pageID string, since time.Time) ([]StatusChange, error) {
	return s.Store.FindStatusChanges(ctx, pageID, since)
}

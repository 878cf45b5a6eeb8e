package compensation

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
)

// EventChanged tells the agents' feed, the console and other nodes that an
// incident's compensation decision changed. Like every event it carries
// IDs only: a receiver reads the decision from the store.
const EventChanged incident.EventType = "compensation.changed"

// EventGranted tells open console pages, on every node, that a grant (or
// a decline) was recorded for one of the incident's customers, whichever
// door recorded it (API, CLI, Slack, console): the decision is unchanged,
// so it is not EventChanged, which the agents' feed and the prepared
// answers act on. Every other receiver ignores it.
const EventGranted incident.EventType = "compensation.granted"

// Customers finds the imported customers a decision is about.
type Customers interface {
	FindCustomerByID(ctx context.Context, pageID, id string) (*audience.Customer, error)
	FindCustomersByAddress(ctx context.Context, pageID string, kind channel.Kind, address string) ([]*audience.Customer, error)
	FindCustomers(ctx context.Context, f audience.CustomerFilter) ([]*audience.Customer, error)
}

// Pusher queues the agents' message about a decision (the Slack channel for
// agents): notify implements it, as a delivery like any other. It is
// called after the decision is saved; it sends nothing itself.
type Pusher interface {
	PushDecision(ctx context.Context, d *Decision) error
}

// Notes records on a complaint what was offered to its customer;
// complaint.Service implements it.
type Notes interface {
	Get(ctx context.Context, pageID, id string) (*complaint.Complaint, error)
	Note(ctx context.Context, pageID, id, text string) (*complaint.Complaint, error)
}

// Service is the one entry point for compensation: the API, the CLI, the
// console, the agents' feed and the messages all call it. It applies the
// rules of this package, saves through Store and publishes EventChanged.
type Service struct {
	Store     Store
	Incidents incident.Store
	Customers Customers
	Events    incident.Events
	Agents    Pusher // nil: no agents' channel
	Notes     Notes  // nil: grants cannot name a complaint
	// PrepareTTL is how long a decision's compiled policy and its
	// incident's outage timeline are reused between calls (NewService: 1
	// s). Run drops them on every incident or compensation event.
	PrepareTTL time.Duration
	Now        func() time.Time
	Log        *slog.Logger

	mu       sync.Mutex
	prepared map[string]*Prepared // by incident ID
	// dropped counts the drops of prepared answers: a Prepare caches what
	// it read only when nothing was dropped since it began, so that what
	// it read before a change is not kept after the change dropped it.
	dropped  uint64
	segments map[string]*segments // by page ID
}

// DefaultPrepareTTL is NewService's PrepareTTL.
const DefaultPrepareTTL = time.Second

// NewService returns a Service on the real clock.
func NewService(store Store, incidents incident.Store, customers Customers, events incident.Events, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Store: store, Incidents: incidents, Customers: customers, Events: events,
		PrepareTTL: DefaultPrepareTTL, Now: time.Now, Log: log}
}

func (s *Service) now() time.Time { return Millis(s.Now()) }

// incident returns the page's incident, ENOTFOUND when it is another
// page's.
func (s *Service) incident(ctx context.Context, pageID, incidentID string) (*incident.Incident, error) {
	inc, err := s.Incidents.FindIncidentByID(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	if inc.PageID != pageID {
		return nil, incident.NotFound("incident", incidentID)
	}
	return inc, nil
}

// Decision returns the incident's decision in force: Initial (none_yet,
// version 0) when nobody has decided yet.
func (s *Service) Decision(ctx context.Context, pageID, incidentID string) (*Decision, error) {
	if _, err := s.incident(ctx, pageID, incidentID); err != nil {
		return nil, err
	}
	return s.current(ctx, pageID, incidentID)
}

func (s *Service) current(ctx context.Context, pageID, incidentID string) (*Decision, error) {
	d, err := s.Store.FindDecision(ctx, pageID, incidentID)
	if incident.ErrorCode(err) == incident.ENOTFOUND {
		return Initial(pageID, incidentID), nil
	}
	return d, err
}

// decisions returns the incident (checked to be the page's) and every
// version of its decision, oldest first.
func (s *Service) decisions(ctx context.Context, pageID, incidentID string) (*incident.Incident, []*Decision, error) {
	inc, err := s.incident(ctx, pageID, incidentID)
	if err != nil {
		return nil, nil, err
	}
	ds, err := s.Store.FindDecisions(ctx, pageID, incidentID)
	if err != nil {
		return nil, nil, err
	}
	return inc, ds, nil
}

// History returns every version of the incident's decision, oldest first,
// each with what changed from the one before.
func (s *Service) History(ctx context.Context, pageID, incidentID string) ([]Version, error) {
	_, ds, err := s.decisions(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	out := make([]Version, len(ds))
	prev := Initial(pageID, incidentID)
	for i, d := range ds {
		out[i] = Version{Decision: d, Changes: Diff(prev, d)}
		prev = d
	}
	return out, nil
}

// Version is one saved decision and what changed from the version before.
type Version struct {
	*Decision
	Changes []Change `json:"changes"`
}

// Decide records a manager's proposal (see Decide for the rules) as the
// incident's next decision version, audits it, tells the agents and
// publishes EventChanged. The actor comes from ctx. A proposal equal to
// the decision in force changes nothing and returns it with no changes.
// A proposal that gives customers less than they were told, or than the
// decision in force offers them, is refused with LowerError unless it
// says AcceptLower (see DecideEffects).
func (s *Service) Decide(ctx context.Context, pageID, incidentID string, p Proposal) (*Decision, []Change, error) {
	d, changes, _, err := s.DecideEffects(ctx, pageID, incidentID, p)
	return d, changes, err
}

// DecideEffects is Decide, returning too what the new version does to
// customers (Effects): the options it gives less on than the decision in
// force or than customers were told (the all-clear message, each
// announcement), and the top-ups it owes customers granted less before.
// When it lowers anything and p.AcceptLower is false, nothing is saved
// and the error is a *LowerError (incident.ECONFLICT, field
// accept_lower) holding the effects.
func (s *Service) DecideEffects(ctx context.Context, pageID, incidentID string, p Proposal) (*Decision, []Change, *Effects, error) {
	inc, err := s.incident(ctx, pageID, incidentID)
	if err != nil {
		return nil, nil, nil, err
	}
	cur, err := s.current(ctx, pageID, incidentID)
	if err != nil {
		return nil, nil, nil, err
	}
	by := incident.ActorFrom(ctx)
	if !by.Role.Allows(incident.RoleManager) {
		// Before the scope: reading a page's segments is work an agent's
		// request must not cause.
		return nil, nil, nil, incident.Errorf(incident.EFORBIDDEN, "only a manager or an admin may decide compensation")
	}
	scope, names, err := s.scope(ctx, inc, p.State == Decided)
	if err != nil {
		return nil, nil, nil, err
	}
	p.Policy = componentsByID(p.Policy, names)
	next, changed, err := Decide(cur, p, by, s.now(), scope)
	if err != nil || !changed {
		return next, nil, nil, err
	}
	var effects *Effects
	if cur.Version > 0 {
		ds, err := s.Store.FindDecisions(ctx, pageID, incidentID)
		if err != nil {
			return nil, nil, nil, err
		}
		if effects, err = s.effects(ctx, inc, ds, cur.Version, next); err != nil {
			return nil, nil, nil, err
		}
		if len(effects.Lowered) > 0 && !p.AcceptLower {
			return nil, nil, nil, &LowerError{Effects: effects}
		}
	}
	if err := s.Store.SaveDecision(ctx, next); err != nil {
		return nil, nil, nil, err
	}
	changes := Diff(cur, next)
	s.drop(incidentID)
	before, _ := json.Marshal(cur)
	after, _ := json.Marshal(next)
	if effects != nil && len(effects.Lowered) > 0 {
		// The manager confirmed that customers get less: the audit says what.
		after, _ = json.Marshal(struct {
			*Decision
			AcceptedLower []Lowering `json:"accepted_lower"`
		}{next, effects.Lowered})
	}
	audit := &incident.AuditEntry{ID: incident.NewID(), PageID: pageID, Actor: by.String(), Action: "compensation.decide",
		ObjectType: "incident", ObjectID: incidentID, Before: string(before), After: string(after), At: next.At}
	if err := s.Incidents.Commit(ctx, &incident.Change{Audit: []*incident.AuditEntry{audit}}); err != nil {
		// The version itself records who decided what and when; the
		// audit log's copy is for the page's audit view.
		s.Log.Error("compensation: audit entry", "incident_id", incidentID, "version", next.Version, "err", err)
	}
	s.publish(ctx, next)
	if s.Agents != nil {
		if err := s.Agents.PushDecision(ctx, next); err != nil {
			// The decision stands: the agents' feed and the API have it,
			// and the next change pushes the whole state again.
			s.Log.Error("compensation: queue the agents' message", "incident_id", incidentID, "version", next.Version, "err", err)
		}
	}
	lowered := 0
	if effects != nil {
		lowered = len(effects.Lowered)
	}
	s.Log.Info("compensation decided", "page_id", pageID, "incident_id", incidentID, "state", next.State,
		"version", next.Version, "by", next.By, "changes", Summary(changes), "lowered_accepted", lowered)
	return next, changes, effects, nil
}

func (s *Service) publish(ctx context.Context, d *Decision) {
	if s.Events == nil {
		return
	}
	if err := s.Events.Publish(ctx, incident.Event{Type: EventChanged, PageID: d.PageID, IncidentID: d.IncidentID}); err != nil {
		s.Log.Warn("compensation: publish", "incident_id", d.IncidentID, "err", err)
	}
}

// scope is what a proposal is checked against. The page's segments (plans,
// regions, attribute keys) are read only for a policy, from a cache that
// lives as long as the page's customer count stays the same.
//
// names maps the page's component names (lower case, those no other
// component shares) to their IDs: a policy may name components as people
// do, as the CLI's and the README's policy files do.
func (s *Service) scope(ctx context.Context, inc *incident.Incident, policy bool) (sc Scope, names map[string]string, err error) {
	sc = Scope{Incident: inc}
	comps, err := s.Incidents.FindComponents(ctx, inc.PageID)
	if err != nil {
		return sc, nil, err
	}
	sc.Components = make([]string, 0, len(comps))
	names = map[string]string{}
	for _, c := range comps {
		sc.Components = append(sc.Components, c.ID)
		key := strings.ToLower(c.Name)
		if _, dup := names[key]; dup {
			names[key] = "" // ambiguous: the ID must be given
		} else {
			names[key] = c.ID
		}
	}
	if !policy || s.Customers == nil {
		return sc, names, nil
	}
	seg, err := s.pageSegments(ctx, inc.PageID)
	if err != nil {
		return sc, names, err
	}
	if seg.customers > 0 {
		// A page without customers yet leaves segments unchecked: a
		// policy may be decided before the customer file is imported.
		sc.Plans, sc.Regions, sc.AttributeKeys = seg.plans, seg.regions, seg.keys
	}
	return sc, names, nil
}

// componentsByID returns p with its rules' components named by ID: a
// value that is no component's ID but one component's name (any case) is
// replaced by that ID; anything else is left for validation to refuse.
// p itself is not changed.
func componentsByID(p *Policy, names map[string]string) *Policy {
	if p == nil {
		return nil
	}
	isID := map[string]bool{}
	for _, id := range names {
		isID[id] = true
	}
	out := p
	for i, r := range p.Rules {
		var comps []string // this rule's components, copied at its first change
		for j, c := range r.Components {
			id := names[strings.ToLower(c)]
			if isID[c] || id == "" {
				continue
			}
			if comps == nil {
				comps = slices.Clone(r.Components)
			}
			comps[j] = id
		}
		if comps == nil {
			continue
		}
		if out == p { // the policy's first change: copy its rules
			cp := *p
			cp.Rules = slices.Clone(p.Rules)
			out = &cp
		}
		out.Rules[i].Components = comps
	}
	return out
}

type segments struct {
	customers            int
	plans, regions, keys []string
	at                   time.Time
}

// segmentsTTL bounds how long a page's segments are trusted while its
// customer count stays the same (an import that replaces as many as it
// adds keeps the count).
const segmentsTTL = 5 * time.Minute

func (s *Service) pageSegments(ctx context.Context, pageID string) (*segments, error) {
	now := s.Now()
	s.mu.Lock()
	seg := s.segments[pageID]
	s.mu.Unlock()
	if seg != nil && now.Sub(seg.at) < segmentsTTL {
		return seg, nil
	}
	plans, regions, keys := map[string]bool{}, map[string]bool{}, map[string]bool{}
	n := 0
	err := s.eachCustomer(ctx, pageID, func(c *audience.Customer) error {
		n++
		if c.Plan != "" {
			plans[strings.ToLower(c.Plan)] = true
		}
		if c.Region != "" {
			regions[strings.ToLower(c.Region)] = true
		}
		for k := range c.Attributes {
			keys[k] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	seg = &segments{customers: n, plans: sortedKeys(plans), regions: sortedKeys(regions), keys: sortedKeys(keys), at: now}
	s.mu.Lock()
	if s.segments == nil {
		s.segments = map[string]*segments{}
	}
	s.segments[pageID] = seg
	s.mu.Unlock()
	return seg, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// customerPage is how many customers a scan reads at a time.
const customerPage = 5000

// eachCustomer calls fn for every customer of the page, in ID order. The
// next page is read while fn runs over the one before: reading is most of
// the work, and the two then share the CPUs. A read still under way when
// fn fails ends on its own.
func (s *Service) eachCustomer(ctx context.Context, pageID string, fn func(*audience.Customer) error) error {
	type read struct {
		cs  []*audience.Customer
		err error
	}
	start := func(after string) <-chan read {
		ch := make(chan read, 1)
		go func() {
			cs, err := s.Customers.FindCustomers(ctx, audience.CustomerFilter{PageID: pageID, After: after, Limit: customerPage})
			ch <- read{cs, err}
		}()
		return ch
	}
	next := start("")
	for {
		r := <-next
		if r.err != nil {
			return r.err
		}
		if len(r.cs) == customerPage {
			next = start(r.cs[len(r.cs)-1].ID)
		}
		for _, c := range r.cs {
			if err := fn(c); err != nil {
				return err
			}
		}
		if len(r.cs) < customerPage {
			return ctx.Err()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Prepared is what every customer's answer for one incident shares: the
// decision in force, its compiled policy (nil unless decided), and the
// incident's outage timeline.
type Prepared struct {
	Incident *incident.Incident
	Decision *Decision
	Compiled *Compiled
	Timeline *Timeline
	// Names are the page's component names, by ID.
	Names map[string]string
	// Amended: customers were told of an earlier version that decided
	// other offers, so the line says this one replaces them.
	Amended bool
	at      time.Time
}

// Prepare reads and compiles what answers about the incident need, or
// reuses what an earlier call made within PrepareTTL.
func (s *Service) Prepare(ctx context.Context, pageID, incidentID string) (*Prepared, error) {
	now := s.Now()
	s.mu.Lock()
	p, dropped := s.prepared[incidentID], s.dropped
	s.mu.Unlock()
	if p != nil && p.Incident.PageID == pageID && now.Sub(p.at) < s.PrepareTTL && !now.Before(p.at) {
		return p, nil
	}
	inc, err := s.incident(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	d, err := s.current(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	history, err := s.Incidents.FindStatusChanges(ctx, pageID, inc.StartedAt)
	if err != nil {
		return nil, err
	}
	comps, err := s.Incidents.FindComponents(ctx, pageID)
	if err != nil {
		return nil, err
	}
	p = &Prepared{Incident: inc, Decision: d, Timeline: NewTimeline(inc, history, now), Names: make(map[string]string, len(comps)), at: now}
	for _, c := range comps {
		p.Names[c.ID] = c.Name
	}
	if d.State == Decided && d.Policy != nil {
		if p.Compiled, err = Compile(d.Policy); err != nil {
			return nil, err
		}
		if p.Amended, err = s.amended(ctx, inc, d); err != nil {
			return nil, err
		}
	}
	if s.PrepareTTL > 0 {
		s.mu.Lock()
		if s.dropped == dropped { // else a decision or the incident changed while this read: p may be of before
			if s.prepared == nil {
				s.prepared = map[string]*Prepared{}
			}
			s.prepared[incidentID] = p
		}
		s.mu.Unlock()
	}
	return p, nil
}

// amended reports whether a version before d decided a different policy.
func (s *Service) amended(ctx context.Context, inc *incident.Incident, d *Decision) (bool, error) {
	if d.Version <= 1 {
		return false, nil
	}
	ds, err := s.Store.FindDecisions(ctx, d.PageID, d.IncidentID)
	if err != nil {
		return false, err
	}
	told, err := s.toldAll(ctx, inc, ds)
	if err != nil {
		return false, err
	}
	cur, err := json.Marshal(d.Policy)
	if err != nil {
		return false, err
	}
	for _, e := range ds {
		if e.Version >= d.Version || e.State != Decided || e.Policy == nil ||
			!slices.ContainsFunc(told, func(t Told) bool { return t.Version == e.Version }) {
			continue // a version nobody was told of replaces nothing they read
		}
		if b, err := json.Marshal(e.Policy); err != nil || !bytes.Equal(b, cur) {
			return true, nil
		}
	}
	return false, nil
}

func (s *Service) drop(incidentID string) {
	s.mu.Lock()
	delete(s.prepared, incidentID)
	s.dropped++
	s.mu.Unlock()
}

// Run drops prepared answers when an incident or a decision changes (on
// any node), until ctx ends.
func (s *Service) Run(ctx context.Context) {
	if s.Events == nil {
		return
	}
	evs, cancel := s.Events.Subscribe()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-evs:
			if !ok {
				return
			}
			switch ev.Type {
			case EventChanged, incident.EventIncidentChanged, incident.EventIncidentDeleted:
				s.drop(ev.IncidentID)
			case incident.EventPageChanged, incident.EventResync:
				s.mu.Lock()
				s.prepared = nil
				s.dropped++
				s.mu.Unlock()
			}
		}
	}
}

// Answer is what an agent needs about one customer: whether and how long
// they were affected, what the decision says they get and why, what was
// already given, and what to say.
type Answer struct {
	PageID     string `json:"page_id"`
	IncidentID string `json:"incident_id"`
	State      State  `json:"state"`
	Version    int    `json:"version"`
	Reason     string `json:"reason,omitempty"`
	// Customer is who the answer is about.
	Customer AnswerCustomer `json:"customer"`
	Affected AnswerAffected `json:"affected"`
	// Result is the policy's answer; nil unless decided.
	Result *Result       `json:"result,omitempty"`
	Rules  []AnswerRule  `json:"rules,omitempty"`
	Offers []AnswerOffer `json:"offers,omitempty"`
	Grants []*Grant      `json:"grants"`
	Script string        `json:"script"`
	Lang   string        `json:"language"`
	At     time.Time     `json:"at"`
	result *Result       // for Grant
	comp   *Compiled     // for Grant
	cust   *audience.Customer
}

// AnswerCustomer names the customer.
type AnswerCustomer struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Plan   string `json:"plan,omitempty"`
	Region string `json:"region,omitempty"`
}

// AnswerAffected is the customer's affected time, in whole minutes.
type AnswerAffected struct {
	Affected   bool               `json:"affected"`
	Minutes    int                `json:"minutes"`
	Components []ComponentMinutes `json:"components"`
	// Joined is when they became a customer, set when that was after the
	// incident ended (AffectedTime.Joined).
	Joined time.Time `json:"joined,omitzero"`
}

// ComponentMinutes is the time one of the customer's components was down.
type ComponentMinutes struct {
	ComponentID string `json:"component_id"`
	Name        string `json:"name,omitempty"`
	Minutes     int    `json:"minutes"`
}

// AnswerRule is one policy rule and whether it matched, in words.
type AnswerRule struct {
	ID      string `json:"id"`
	Matched bool   `json:"matched"`
	Reason  string `json:"reason"`
}

// AnswerOffer is one offer the customer is entitled to, in words.
type AnswerOffer struct {
	Offered
	Description string `json:"description"`
}

// Check answers for one customer of the incident, with the agent's script
// in lang (the page's first language when lang is not one of herald's).
func (s *Service) Check(ctx context.Context, pageID, incidentID, customerID, lang string) (*Answer, error) {
	p, err := s.Prepare(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	cust, err := s.Customers.FindCustomerByID(ctx, pageID, customerID)
	if err != nil {
		return nil, err
	}
	return s.answer(ctx, p, cust, lang)
}

// CheckAddress is Check for the customer with that phone (E.164), email or
// Slack ID; more than one customer with the address is ECONFLICT naming
// them, so that the agent picks one.
func (s *Service) CheckAddress(ctx context.Context, pageID, incidentID string, kind channel.Kind, address, lang string) (*Answer, error) {
	cs, err := s.Customers.FindCustomersByAddress(ctx, pageID, kind, address)
	if err != nil {
		return nil, err
	}
	switch len(cs) {
	case 0:
		return nil, incident.Errorf(incident.ENOTFOUND, "no customer has the %s %q", kind, address)
	case 1:
	default:
		ids := make([]string, len(cs))
		for i, c := range cs {
			ids[i] = c.ID
		}
		return nil, incident.Errorf(incident.ECONFLICT, "%d customers have the %s %q: %s; ask by customer ID", len(cs), kind, address, strings.Join(ids, ", "))
	}
	p, err := s.Prepare(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	return s.answer(ctx, p, cs[0], lang)
}

func (s *Service) answer(ctx context.Context, p *Prepared, cust *audience.Customer, lang string) (*Answer, error) {
	grants, err := s.Store.FindGrants(ctx, p.Incident.PageID, p.Incident.ID, cust.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var affected AffectedTime
	p.Timeline.CustomerInto(&affected, cust)
	a := &Answer{PageID: p.Incident.PageID, IncidentID: p.Incident.ID, State: p.Decision.State, Version: p.Decision.Version,
		Reason: p.Decision.Reason, Customer: AnswerCustomer{ID: cust.ID, Name: cust.Name, Plan: cust.Plan, Region: cust.Region},
		Affected: AnswerAffected{Affected: affected.Total > 0, Minutes: affected.Minutes(), Components: []ComponentMinutes{}, Joined: affected.Joined},
		Grants:   grants, At: now, cust: cust, Lang: Language(lang)}
	for _, ct := range affected.Components {
		a.Affected.Components = append(a.Affected.Components, ComponentMinutes{ComponentID: ct.ComponentID,
			Name: p.Names[ct.ComponentID], Minutes: int(ct.Duration / time.Minute)})
	}
	if p.Compiled != nil {
		vals := make([]Grant, len(grants))
		for i, g := range grants {
			vals[i] = *g
		}
		r := p.Compiled.Evaluate(cust, &affected, vals, now)
		a.Result, a.result, a.comp = &r, &r, p.Compiled
		for _, m := range r.Rules {
			a.Rules = append(a.Rules, AnswerRule{ID: m.RuleID, Matched: m.Matched, Reason: NameComponents(m.Reason(), p.Names)})
		}
		for i := range r.Offers {
			o := &r.Offers[i]
			desc := ""
			if of := o.Offer(); of != nil {
				// In the agent's language; English keeps the policy's
				// own description (voucher lists named).
				desc = of.Describe()
				if l := Language(a.Lang); l != "en" {
					desc = Words(l).Label(of, &o.Amount)
				}
			}
			a.Offers = append(a.Offers, AnswerOffer{Offered: *o, Description: desc})
		}
	}
	a.Script = Script(a.Lang, p.Decision, a.result, affected, grants)
	return a, nil
}

// NameComponents replaces the component IDs in a text made for people
// (a rule's description or reason) with the components' names.
func NameComponents(s string, names map[string]string) string {
	for id, name := range names {
		if name != "" && strings.Contains(s, id) {
			s = strings.ReplaceAll(s, id, name)
		}
	}
	return s
}

// GrantRequest is what an agent records for a customer: an offer (or the
// offer chosen from a choice) given, or that the customer declined.
type GrantRequest struct {
	Offer       string `json:"offer"`  // the offer's or the choice's ID (Offered.Group)
	Choice      string `json:"choice"` // for a choice: the offer the customer took
	Declined    bool   `json:"declined"`
	ComplaintID string `json:"complaint_id"`
	// Key makes a retried request grant once; "" derives one from the
	// customer, the offer, the choice and the decline. A key is one
	// request's: sent again for another customer, or with any other field
	// changed (GrantFingerprint), it is refused with EIDEMPOTENCY on
	// "key" and nothing is recorded. It records one grant, a top-up as
	// any other: sent again after an amendment that owes the customer a
	// top-up, it is answered with the grant it recorded; the top-up is
	// another request, with a key of its own. (A derived key records the
	// top-up under each amended version.)
	Key string `json:"key"`
	// OverrideReason lets a manager grant what the policy refuses.
	OverrideReason string `json:"override_reason"`
	// Version is the decision version the agent read the customer's
	// offers at (their check's version). When the decision was amended
	// since, the grant is refused (ECONFLICT on "version") rather than
	// recording what the new version gives, which the agent did not read
	// out; a retry of a grant that landed under Version returns it. 0:
	// whichever version is in force.
	Version int `json:"version,omitempty"`
	// Amount is the amount the agent was shown and read out for the offer
	// (the check's offer amount, or the top-up it owes), in minor units
	// with its currency, as the grant's own amount. When the grant would
	// record another amount (another grant for the customer used up part
	// of the cap meanwhile, their plan changed, an offer no longer pays
	// money), it is refused with an *AmountError (ECONFLICT on "amount")
	// and nothing is recorded; within one decision version, Version alone
	// does not see that. nil: whatever the grant computes. A decline
	// records no amount, so it names none.
	Amount *Money `json:"amount,omitempty"`
}

// AmountError refuses a grant whose amount is not the one the agent was
// shown (GrantRequest.Amount): the agent has told the customer something
// else, so nothing is recorded until they have told them what Now says.
// It is incident.ECONFLICT naming the field amount, as a stale version is
// on version.
type AmountError struct {
	Shown Money // what the request says the agent read out
	// Now is what the grant would record under the decision in force:
	// zero when the cap leaves nothing of the offer (Refused).
	Now     Money
	Version int  // the decision version in force
	TopUp   bool // the grant is a top-up (Offered.TopUp)
	// Refused: the cap leaves nothing of the offer now, so a grant of
	// it is refused as well (RuleCap) until a manager overrides.
	Refused bool
}

func (e *AmountError) Error() string { return e.Unwrap().Error() }

// Unwrap is the incident.Error the API answers with.
func (e *AmountError) Unwrap() error {
	what := "the grant"
	if e.TopUp {
		what = "the top-up"
	}
	msg := fmt.Sprintf("%s would record %s, not the %s shown: another grant for this customer or a change to their plan changed it (decision version %d); nothing was recorded: tell the customer %s and grant again with that amount",
		what, e.Now, e.Shown, e.Version, e.Now)
	if e.Refused {
		msg = fmt.Sprintf("the cap now leaves nothing of the %s shown: another grant for this customer used it up (decision version %d); nothing was recorded: tell the customer, or ask a manager to override",
			e.Shown, e.Version)
	}
	return &incident.Error{Code: incident.ECONFLICT, Field: "amount", Message: msg}
}

// maxGrantTries bounds how often Grant re-reads after another grant for the
// same customer landed between its check and its save.
const maxGrantTries = 5

// Grant records r for the customer after checking it against the decided
// policy (CheckGrant). It returns the grant and whether it is new: a
// retried request (same key) returns the first grant and false.
func (s *Service) Grant(ctx context.Context, pageID, incidentID, customerID string, r GrantRequest) (*Grant, bool, error) {
	by := incident.ActorFrom(ctx)
	if err := validText("complaint_id", r.ComplaintID, false); err != nil {
		return nil, false, err
	}
	if len(r.Key) > 200 {
		return nil, false, incident.Invalid("key", "at most 200 characters")
	}
	if r.Version < 0 {
		return nil, false, incident.Invalid("version", "the decision version the offers were read at (1 or more), or 0 for the one in force")
	}
	if r.Amount != nil {
		if r.Declined {
			return nil, false, incident.Invalid("amount", "a decline records no amount: leave it out")
		}
		if err := r.Amount.Validate("amount"); err != nil {
			return nil, false, err
		}
	}
	var ov *Override
	if strings.TrimSpace(r.OverrideReason) != "" {
		ov = &Override{By: by, Reason: strings.TrimSpace(r.OverrideReason)}
	}
	// A key the client chose is one request's, and records one grant
	// under that key alone, a top-up too (grantKeys). It is checked
	// against the grant it recorded before the policy is: sent again for
	// another customer or with another request it is refused, whatever
	// the policy would answer, and no voucher code is drawn for it; sent
	// again with the same request it is answered with that grant, even
	// when a decision amended since owes the customer a top-up (that is
	// a new request, with a new key). (SaveGrant checks again, for a
	// request racing this one.) A derived key is made of the customer and
	// the offer, so the same customer's same offer is the same request, as
	// it always was, and its top-ups are keyed per version.
	var fp string
	if r.Key != "" {
		fp = GrantFingerprint(r)
		key, _ := grantKeys(incidentID, customerID, 0, r)
		prior, err := s.Store.FindGrantByKey(ctx, pageID, incidentID, key)
		switch {
		case err == nil:
			if err := SameGrantRequest(prior, customerID, fp); err != nil {
				return nil, false, err
			}
			return prior, false, nil
		case incident.ErrorCode(err) != incident.ENOTFOUND:
			return nil, false, err
		}
	}
	// retry answers a request with the grant its key recorded.
	retry := func(g *Grant) (*Grant, bool, error) {
		if err := SameGrantRequest(g, customerID, fp); err != nil {
			return nil, false, err
		}
		return g, false, nil
	}
	for try := 0; ; try++ {
		p, err := s.Prepare(ctx, pageID, incidentID)
		if err != nil {
			return nil, false, err
		}
		if p.Compiled == nil {
			return nil, false, incident.Invalid("state", "compensation is %s: there is no policy to grant from", p.Decision.State)
		}
		cust, err := s.Customers.FindCustomerByID(ctx, pageID, customerID)
		if err != nil {
			return nil, false, err
		}
		var c *complaint.Complaint
		if r.ComplaintID != "" {
			if s.Notes == nil {
				return nil, false, incident.Invalid("complaint_id", "complaints are not available here")
			}
			if c, err = s.Notes.Get(ctx, pageID, r.ComplaintID); err != nil {
				return nil, false, err
			}
			if c.Contact.CustomerID != "" && c.Contact.CustomerID != customerID {
				return nil, false, incident.Invalid("complaint_id", "complaint %s is from customer %s, not %s", c.ID, c.Contact.CustomerID, customerID)
			}
		}
		a, err := s.answer(ctx, p, cust, "")
		if err != nil {
			return nil, false, err
		}
		now := s.now()
		cl := Claim{Group: strings.TrimSpace(r.Offer), Chose: strings.TrimSpace(r.Choice), Declined: r.Declined, At: now}
		if r.Version > 0 && r.Version != p.Decision.Version {
			// The agent read out another version's offers: a retry of
			// what they recorded then is answered with it; anything else
			// waits until they have read the decision in force.
			if g := grantUnder(a.Grants, incidentID, customerID, r); g != nil {
				return retry(g)
			}
			conflict := incident.Errorf(incident.ECONFLICT, "the decision is at version %d, not the version %d the offers were read at: check the customer again and read them what version %d gives", p.Decision.Version, r.Version, p.Decision.Version)
			conflict.Field = "version"
			return nil, false, conflict
		}
		key, topUpKey := grantKeys(incidentID, customerID, p.Decision.Version, r)
		isTopUp := topUp(a.result, cl)
		if isTopUp {
			key = topUpKey
		}
		if err := CheckGrant(p.Compiled, a.result, cl, ov); err != nil {
			// A retry of a grant that landed is refused as "already
			// granted" by the policy: answer it with the grant instead.
			if g := grantWithKey(a.Grants, topUpKey); g != nil {
				return retry(g)
			}
			if g := grantWithKey(a.Grants, key); g != nil {
				return retry(g)
			}
			var refused *incident.Error
			if r.Amount != nil && errors.As(err, &refused) && refused.Field == RuleCap {
				// The agent was shown an amount the cap has since used up.
				return nil, false, &AmountError{Shown: *r.Amount, Now: Money{Currency: p.Compiled.Policy.Currency},
					Version: p.Decision.Version, TopUp: isTopUp, Refused: true}
			}
			return nil, false, err
		}
		g, err := s.grant(ctx, p, a, cl, ov, key, r.ComplaintID, now, r.Amount)
		if err != nil {
			return nil, false, err
		}
		g.Fingerprint = fp
		saved, created, err := s.Store.SaveGrant(ctx, g, len(a.Grants))
		switch incident.ErrorCode(err) {
		case incident.ECONFLICT:
			if try+1 < maxGrantTries {
				s.drop(incidentID)
				continue
			}
		case incident.ENOTFOUND:
			if g.VoucherList != "" {
				return nil, false, incident.Invalid("offer", "voucher list %q has no unused code left: upload more codes", g.VoucherList)
			}
		}
		if err != nil {
			return nil, false, err
		}
		if created {
			s.Log.Info("compensation granted", "page_id", pageID, "incident_id", incidentID, "customer_id", customerID,
				"grant_id", saved.ID, "offer", saved.OfferID, "declined", saved.Declined, "override", ov != nil, "by", saved.By)
			if c != nil {
				if _, err := s.Notes.Note(ctx, pageID, c.ID, GrantNote(saved)); err != nil {
					s.Log.Error("compensation: note on the complaint", "complaint_id", c.ID, "grant_id", saved.ID, "err", err)
				}
			}
			if ov != nil {
				s.auditOverride(ctx, saved)
			}
			if s.Events != nil {
				if err := s.Events.Publish(ctx, incident.Event{Type: EventGranted, PageID: pageID, IncidentID: incidentID}); err != nil {
					s.Log.Warn("compensation: publish the grant", "incident_id", incidentID, "grant_id", saved.ID, "err", err)
				}
			}
		}
		return saved, created, nil
	}
}

// grantUnder is the grant r recorded under the version it names (r.Version),
// by its key or its top-up's key there, or nil.
func grantUnder(gs []*Grant, incidentID, customerID string, r GrantRequest) *Grant {
	key, topUp := grantKeys(incidentID, customerID, r.Version, r)
	for _, g := range gs {
		if g.PolicyVersion == r.Version && (g.Key == key || g.Key == topUp) {
			return g
		}
	}
	return nil
}

func grantWithKey(gs []*Grant, key string) *Grant {
	for _, g := range gs {
		if g.Key == key {
			return g
		}
	}
	return nil
}

// grantKeys returns a grant request's idempotency key, and the key of
// the top-up it records when the group was granted before under a lower
// version. A key derived from the request is the same for the grant and
// each top-up, so a top-up's is that with the decision's version (a
// top-up under each amended version is one grant). A key the client
// chose (r.Key) is one request's and records one grant, a top-up or
// not: both are the key itself, so that the grant it recorded is found
// by it (FindGrantByKey) and SaveGrant refuses another customer's or
// another request's with it, whichever of them is a top-up. (A herald
// before 0208d89 recorded a client's key's top-up under TopUpKey as well;
// FindGrantByKey finds it by the key.)
func grantKeys(incidentID, customerID string, version int, r GrantRequest) (key, topUp string) {
	if r.Key != "" {
		key = incidentID + ":" + r.Key
		return key, key
	}
	key = incidentID + ":" + derivedKey(customerID, r)
	return key, TopUpKey(key, version)
}

// topUp reports whether cl records the top-up of a granted offer
// (Offered.TopUp).
func topUp(r *Result, cl Claim) bool {
	if r == nil || cl.Declined {
		return false
	}
	chosen := cl.Chose
	if chosen == "" {
		chosen = cl.Group
	}
	for i := range r.Offers {
		o := &r.Offers[i]
		if o.Group == cl.Group && o.OfferID == chosen && o.Granted && o.TopUp.Amount > 0 {
			return true
		}
	}
	return false
}

// GrantFingerprint identifies what a grant request asks, all of it but
// its key and its customer (the store checks that on its own), so that a
// key the client chose sent again with any other field is told from a
// retry: the offer, the choice and the decline, the complaint, the
// override's reason, the version and the amount read out. Blanks around
// the text fields do not count, as Grant ignores them.
func GrantFingerprint(r GrantRequest) string {
	amount := ""
	if r.Amount != nil {
		amount = strconv.FormatInt(r.Amount.Amount, 10) + " " + r.Amount.Currency
	}
	// Quoted, so that no text can pass for two fields.
	sum := sha256.Sum256(fmt.Appendf(nil, "%q %q %t %q %q %d %q", strings.TrimSpace(r.Offer), strings.TrimSpace(r.Choice), r.Declined,
		r.ComplaintID, strings.TrimSpace(r.OverrideReason), r.Version, amount))
	return hex.EncodeToString(sum[:16])
}

func derivedKey(customerID string, r GrantRequest) string {
	sum := sha256.Sum256([]byte(customerID + "\x00" + strings.TrimSpace(r.Offer) + "\x00" + strings.TrimSpace(r.Choice) + "\x00" + boolText(r.Declined)))
	return hex.EncodeToString(sum[:12])
}

func boolText(b bool) string {
	if b {
		return "declined"
	}
	return "given"
}

// grant builds the record of a checked claim: the offer given, its amount
// after the cap, the voucher code made from the offer's pattern or the
// voucher list SaveGrant draws the code from.
//
// shown, when not nil, is the amount the agent read out: a grant that
// would record another is refused with an *AmountError, and no voucher
// code is drawn.
func (s *Service) grant(ctx context.Context, p *Prepared, a *Answer, cl Claim, ov *Override, key, complaintID string, now time.Time, shown *Money) (*Grant, error) {
	by := incident.ActorFrom(ctx)
	g := &Grant{ID: incident.NewID(), PageID: p.Incident.PageID, IncidentID: p.Incident.ID, CustomerID: a.Customer.ID,
		ComplaintID: complaintID, Group: cl.Group, Declined: cl.Declined, Override: ov,
		PolicyVersion: p.Decision.Version, By: by.String(), At: now, Key: key}
	if cl.Declined {
		return g, nil
	}
	chosen := cl.Group
	if cl.Chose != "" {
		chosen = cl.Chose
	}
	var offer *Offer
	for i := range p.Compiled.Policy.Offers {
		if p.Compiled.Policy.Offers[i].ID == chosen {
			offer = &p.Compiled.Policy.Offers[i]
		}
	}
	if offer == nil {
		return nil, incident.Invalid("choice", "the policy has no offer %q", chosen)
	}
	g.OfferID, g.Kind, g.Days = offer.ID, offer.Kind, offer.Days
	g.Amount = Money{Currency: p.Compiled.Policy.Currency}
	if offer.Kind.Money() {
		found := false
		for _, o := range a.result.Offers {
			if o.Group == cl.Group && o.OfferID == offer.ID {
				if o.Unavailable != "" && ov == nil {
					return nil, incident.Invalid("offer", "%q is a share of the monthly fee, and the policy has no fee for plan %q", offer.ID, a.Customer.Plan)
				}
				g.Amount, found = o.Amount, true
				if o.Granted && o.TopUp.Amount > 0 {
					g.Amount, g.TopUp = o.TopUp, true // what the amended offer owes on top of the earlier grant
				}
			}
		}
		if !found { // an override for an offer the rules do not give
			m, ok := p.Compiled.Amount(offer.ID, a.Customer.Plan)
			if !ok {
				return nil, incident.Invalid("offer", "%q is a share of the monthly fee, and the policy has no fee for plan %q", offer.ID, a.Customer.Plan)
			}
			g.Amount = m
		}
	}
	if shown != nil && *shown != g.Amount {
		return nil, &AmountError{Shown: *shown, Now: g.Amount, Version: p.Decision.Version, TopUp: g.TopUp}
	}
	switch {
	case offer.Kind != Voucher:
	case offer.VoucherList != "":
		// Drawn by SaveGrant as it records the grant: a request that
		// loses to another with its key draws nothing.
		g.VoucherList = offer.VoucherList
	default:
		code, err := MakeVoucher(offer.VoucherPattern)
		if err != nil {
			return nil, err
		}
		g.Voucher = code
	}
	return g, nil
}

// voucherAlphabet leaves out characters people confuse when reading a code
// aloud or off a phone (0/O, 1/I/L).
const voucherAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// MakeVoucher replaces each '#' of pattern with a random character.
func MakeVoucher(pattern string) (string, error) {
	var b strings.Builder
	max := big.NewInt(int64(len(voucherAlphabet)))
	for _, r := range pattern {
		if r != '#' {
			b.WriteRune(r)
			continue
		}
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b.WriteByte(voucherAlphabet[n.Int64()])
	}
	return b.String(), nil
}

func (s *Service) auditOverride(ctx context.Context, g *Grant) {
	after, _ := json.Marshal(struct {
		*Grant
		Override string `json:"override_reason"`
	}{g, g.Override.Reason})
	e := &incident.AuditEntry{ID: incident.NewID(), PageID: g.PageID, Actor: g.By, Action: "compensation.override",
		ObjectType: "incident", ObjectID: g.IncidentID, After: string(after), At: g.At}
	if err := s.Incidents.Commit(ctx, &incident.Change{Audit: []*incident.AuditEntry{e}}); err != nil {
		s.Log.Error("compensation: audit the override", "grant_id", g.ID, "err", err)
	}
}

// GrantNote is what a grant adds to its complaint's timeline.
func GrantNote(g *Grant) string {
	var b strings.Builder
	if g.Declined {
		b.WriteString("Compensation offered: the customer declined.")
	} else {
		// What was given in words ("credit of 5.00 EUR"), not the
		// policy's short name for it ("offer2"), which means nothing to
		// the next agent reading the complaint.
		o := &Offer{Kind: g.Kind, Days: g.Days}
		if g.Kind.Money() {
			o.Amount = &g.Amount
		}
		what := Words("en").Label(o, nil)
		if what == "" {
			what = g.OfferID
		}
		if g.TopUp {
			b.WriteString("Compensation top-up granted: " + what)
		} else {
			b.WriteString("Compensation granted: " + what)
		}
		if g.Voucher != "" {
			b.WriteString(", voucher " + g.Voucher)
		}
		b.WriteString(".")
	}
	if g.Override != nil {
		b.WriteString(" Override by " + g.By + ": " + g.Override.Reason)
	}
	return b.String()
}

// Grants returns the incident's grants, oldest first (the billing export).
func (s *Service) Grants(ctx context.Context, pageID, incidentID string) ([]*Grant, error) {
	if _, err := s.incident(ctx, pageID, incidentID); err != nil {
		return nil, err
	}
	return s.Store.FindGrants(ctx, pageID, incidentID, "")
}

// Each evaluates the decided policy for every customer of the incident's
// page, in ID order, calling fn with the customer and their result (both
// reused between calls: copy what you keep). It returns ETRANSITION-free
// EINVALID when the compensation is not decided.
func (s *Service) Each(ctx context.Context, pageID, incidentID string, fn func(*audience.Customer, *Result) error) error {
	p, err := s.Prepare(ctx, pageID, incidentID)
	if err != nil {
		return err
	}
	if p.Compiled == nil {
		return incident.Invalid("state", "compensation is %s: there is no policy to evaluate", p.Decision.State)
	}
	grants, err := s.Store.FindGrants(ctx, pageID, incidentID, "")
	if err != nil {
		return err
	}
	byCustomer := grantsByCustomer(grants)
	now := s.now()
	var (
		affected AffectedTime
		r        Result
	)
	return s.eachCustomer(ctx, pageID, func(c *audience.Customer) error {
		p.Timeline.CustomerInto(&affected, c)
		p.Compiled.EvaluateInto(&r, c, &affected, byCustomer[c.ID], now)
		return fn(c, &r)
	})
}

// Eligible returns a test of whether a customer should hear of the
// decision in force: the announcement's audience. It holds for a customer
// the decided policy gives something not yet granted or declined, whose
// line differs from what the resolution message told them (the decision
// in force when the incident resolved, if any): an amendment reaches those
// it changes something for, not everyone again. It reads the incident's
// grants once; the test is for one goroutine. EINVALID when compensation
// is not decided.
func (s *Service) Eligible(ctx context.Context, pageID, incidentID string) (func(*audience.Customer) bool, error) {
	p, err := s.Prepare(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	if p.Compiled == nil {
		return nil, incident.Invalid("state", "compensation is %s: there is no decision to announce", p.Decision.State)
	}
	told, err := s.toldAtResolution(ctx, p)
	if err != nil {
		return nil, err
	}
	grants, err := s.Store.FindGrants(ctx, pageID, incidentID, "")
	if err != nil {
		return nil, err
	}
	byCustomer := grantsByCustomer(grants)
	now := s.now()
	en := Words("en")
	var (
		affected AffectedTime
		r, old   Result
	)
	return func(c *audience.Customer) bool {
		p.Timeline.CustomerInto(&affected, c)
		p.Compiled.EvaluateInto(&r, c, &affected, byCustomer[c.ID], now)
		if !Owes(&r) {
			return false
		}
		if told == nil {
			return true
		}
		told.EvaluateInto(&old, c, &affected, byCustomer[c.ID], now)
		return en.Line(&r) != en.Line(&old)
	}, nil
}

// toldAtResolution compiles the decided policy the resolution message
// carried (the version in force when the incident resolved); nil when the
// incident is open, or no policy was decided by then.
func (s *Service) toldAtResolution(ctx context.Context, p *Prepared) (*Compiled, error) {
	if p.Incident.ResolvedAt == nil {
		return nil, nil
	}
	vs, err := s.Store.FindDecisions(ctx, p.Incident.PageID, p.Incident.ID)
	if err != nil {
		return nil, err
	}
	var then *Decision
	for _, d := range vs {
		if !d.At.After(*p.Incident.ResolvedAt) {
			then = d
		}
	}
	if then == nil || then.State != Decided || then.Policy == nil {
		return nil, nil
	}
	if then.Version == p.Decision.Version {
		return p.Compiled, nil
	}
	return Compile(then.Policy)
}

// Owes reports whether r gives the customer something still to tell them
// about: eligible, with an offer neither granted nor declined whose amount
// could be computed, or a granted one the decision now owes a top-up on
// (Offered.TopUp). It is when Wording.Line says something.
func Owes(r *Result) bool {
	if r == nil || !r.Eligible {
		return false
	}
	for i := range r.Offers {
		o := &r.Offers[i]
		if o.Granted && o.TopUp.Amount > 0 && o.Offer() != nil {
			return true
		}
		if !o.Granted && !o.Declined && o.Unavailable == "" && !o.UsedUp() && o.Offer() != nil {
			return true
		}
	}
	return false
}

// Totals sums an incident's compensation: who is eligible, what was
// granted by kind, the cost by currency, how many declined.
type Totals struct {
	PageID     string `json:"page_id"`
	IncidentID string `json:"incident_id"`
	State      State  `json:"state"`
	Version    int    `json:"version"`
	Customers  int    `json:"customers"` // the page's customers evaluated
	Affected   int    `json:"affected"`
	Eligible   int    `json:"eligible"`
	// Offered is, per offer or choice, how many eligible customers it is
	// offered to, and Potential the money it would cost if every eligible
	// customer took every money offer (a choice counted at its largest).
	Offered   map[string]int   `json:"offered"`
	Potential map[string]int64 `json:"potential"` // by currency, minor units
	Granted   map[string]int   `json:"granted"`   // grants by offer kind
	Cost      map[string]int64 `json:"cost"`      // granted money by currency, minor units
	Declined  int              `json:"declined"`
	Overrides int              `json:"overrides"`
	Grants    int              `json:"grants"`
	Took      time.Duration    `json:"-"`
}

// Totals computes the incident's Totals. Eligibility needs a decided
// policy; the granted figures are there in every state.
func (s *Service) Totals(ctx context.Context, pageID, incidentID string) (*Totals, error) {
	start := time.Now()
	p, err := s.Prepare(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	t := &Totals{PageID: pageID, IncidentID: incidentID, State: p.Decision.State, Version: p.Decision.Version,
		Offered: map[string]int{}, Potential: map[string]int64{}, Granted: map[string]int{}, Cost: map[string]int64{}}
	grants, err := s.Store.FindGrants(ctx, pageID, incidentID, "")
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		t.Grants++
		if g.Override != nil {
			t.Overrides++
		}
		if g.Declined {
			t.Declined++
			continue
		}
		t.Granted[string(g.Kind)]++
		if g.Amount.Amount != 0 {
			t.Cost[g.Amount.Currency] += g.Amount.Amount
		}
	}
	if p.Compiled != nil {
		cur := p.Compiled.Policy.Currency
		err := s.Each(ctx, pageID, incidentID, func(_ *audience.Customer, r *Result) error {
			t.Customers++
			if r.IsAffected {
				t.Affected++
			}
			if !r.Eligible {
				return nil
			}
			t.Eligible++
			best := map[string]int64{}
			for i := range r.Offers {
				o := &r.Offers[i]
				if _, seen := best[o.Group]; !seen {
					t.Offered[o.Group]++
					best[o.Group] = 0
				}
				if o.Kind.Money() && o.Amount.Amount > best[o.Group] {
					best[o.Group] = o.Amount.Amount
				}
			}
			for _, v := range best {
				t.Potential[cur] += v
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	t.Took = time.Since(start)
	return t, nil
}

// Line is what a customer's message about the incident says about
// compensation, in lang: what they will receive when the decided policy
// gives them something, "compensation is being decided" when it is
// coming, and "" otherwise (no decision, none, not eligible, or a customer
// who already received it).
func (s *Service) Line(ctx context.Context, pageID, incidentID, customerID, lang string) (string, error) {
	p, err := s.Prepare(ctx, pageID, incidentID)
	if err != nil {
		return "", err
	}
	switch p.Decision.State {
	case Coming:
		return Words(lang).Coming(), nil
	case Decided:
	default:
		return "", nil
	}
	cust, err := s.Customers.FindCustomerByID(ctx, pageID, customerID)
	if incident.ErrorCode(err) == incident.ENOTFOUND {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	grants, err := s.Store.FindGrants(ctx, pageID, incidentID, customerID)
	if err != nil {
		return "", err
	}
	vals := make([]Grant, len(grants))
	for i, g := range grants {
		vals[i] = *g
	}
	affected := p.Timeline.For(cust.Components)
	r := p.Compiled.Evaluate(cust, &affected, vals, s.now())
	return LineFor(p, &r, lang), nil
}

// LineFor is Line for a prepared incident, a customer and their result:
// the announcement's planner and Each's callers use it.
func LineFor(p *Prepared, r *Result, lang string) string {
	switch p.Decision.State {
	case Coming:
		return Words(lang).Coming()
	case Decided:
		line := Words(lang).Line(r)
		if line != "" && p.Amended {
			// "As an apology you will receive 10 EUR" after a message that
			// offered 5: this one replaces it, not adds to it. What the
			// customer already received is not taken back, and says so.
			key := "CompReplaces"
			for _, o := range r.Offers {
				if o.Granted {
					key = "CompReplacesKept"
					break
				}
			}
			line += " " + Words(lang).Text(key)
		}
		return line
	}
	return ""
}

// Decided returns the decisions agents may speak about (coming or
// decided), on one page or ("" ) on every page.
func (s *Service) Decided(ctx context.Context, pageID string) ([]*Decision, error) {
	var pages []string
	if pageID != "" {
		if _, err := s.Incidents.FindPageByID(ctx, pageID); err != nil {
			return nil, err
		}
		pages = []string{pageID}
	} else {
		ps, err := s.Incidents.FindPages(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			pages = append(pages, p.ID)
		}
	}
	var out []*Decision
	for _, id := range pages {
		ds, err := s.Store.FindDecided(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// Announce sends the decision in force to the customers it gives
// something, as a broadcast through the pipeline (its progress and cancel
// are the broadcast's). Managers only; once per decision version
// (ECONFLICT naming the version after that): an amended policy can be
// announced again. A version decided before the incident resolved is
// refused too (ECONFLICT): the resolution message already carried it.
func (s *Service) Announce(ctx context.Context, pageID, incidentID string) (*incident.Broadcast, error) {
	return s.AnnounceVersion(ctx, pageID, incidentID, 0)
}

// AnnounceVersion is Announce of the version the manager read (0: the one
// in force, whichever): a decision amended since is refused (ECONFLICT)
// rather than sent unseen.
func (s *Service) AnnounceVersion(ctx context.Context, pageID, incidentID string, version int) (*incident.Broadcast, error) {
	by := incident.ActorFrom(ctx)
	if !by.Role.Allows(incident.RoleManager) {
		return nil, incident.Errorf(incident.EFORBIDDEN, "only a manager or an admin may announce compensation")
	}
	inc, err := s.incident(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	d, err := s.current(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	if d.State != Decided {
		return nil, incident.Invalid("state", "compensation is %s: only a decided compensation can be announced", d.State)
	}
	if version > 0 && d.Version != version {
		return nil, incident.Errorf(incident.ECONFLICT, "the decision is at version %d, not the version %d you read: look at it again (herald compensation announce --dry-run)", d.Version, version)
	}
	if inc.ResolvedAt != nil && d.At.Before(*inc.ResolvedAt) {
		// The apology carried each customer's line of this version.
		return nil, incident.Errorf(incident.ECONFLICT, "the resolution message of %s already told customers about version %d; announce an amended decision instead",
			inc.ResolvedAt.UTC().Format(time.RFC3339), d.Version)
	}
	now := s.now()
	b := &incident.Broadcast{ID: incident.NewID(), PageID: pageID, IncidentID: inc.ID,
		UpdateID: AnnouncementUpdateID(inc.ID, d.Version), Kind: incident.BroadcastCompensation, CreatedAt: now}
	after, _ := json.Marshal(b)
	ch := &incident.Change{Broadcasts: []*incident.Broadcast{b},
		Audit: []*incident.AuditEntry{{ID: incident.NewID(), PageID: pageID, Actor: by.String(), Action: "compensation.announce",
			ObjectType: "incident", ObjectID: inc.ID, After: string(after), At: now}},
		Idempotency: &incident.IdempotencyKey{Scope: "compensation.announce:" + inc.ID, Key: "v" + strconv.Itoa(d.Version),
			ResourceID: b.ID, ExpiresAt: now.AddDate(10, 0, 0)}}
	if err := s.Incidents.Commit(ctx, ch); err != nil {
		if incident.ErrorCode(err) == incident.ECONFLICT {
			return nil, incident.Errorf(incident.ECONFLICT, "version %d of the decision was already announced; amend the policy to announce again", d.Version)
		}
		return nil, err
	}
	if s.Events != nil {
		if err := s.Events.Publish(ctx, incident.Event{Type: incident.EventBroadcastCreated, PageID: pageID, IncidentID: inc.ID}); err != nil {
			s.Log.Warn("compensation: publish the announcement", "incident_id", inc.ID, "err", err)
		}
	}
	s.Log.Info("compensation announced", "page_id", pageID, "incident_id", inc.ID, "version", d.Version, "broadcast_id", b.ID, "by", by.String())
	return b, nil
}

// Told is the newest version of a decision customers were told of, and
// how: announced (Announce), or carried by the incident's resolution
// message (the version in force when it resolved).
type Told struct {
	Version int       `json:"version"`
	At      time.Time `json:"at"`
	How     string    `json:"how"` // ToldAnnouncement or ToldResolution
}

// How customers were told of a decision (Told.How).
const (
	ToldAnnouncement = "announcement"
	ToldResolution   = "resolution"
)

// Told says which decided version customers were last told of, or nil
// when they were told of none: the resolution message carries the
// version in force at the resolution, an announcement its own. A
// manager's screen compares it with the version in force, so that an
// amended policy is not left unannounced and a decided one made after the
// all-clear is not left untold.
func (s *Service) Told(ctx context.Context, pageID, incidentID string) (*Told, error) {
	inc, ds, err := s.decisions(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	all, err := s.toldAll(ctx, inc, ds)
	if err != nil {
		return nil, err
	}
	var told *Told
	for i := range all {
		if told == nil || all[i].Version > told.Version {
			told = &all[i]
		}
	}
	return told, nil
}

// ToldComing says when customers were first told that compensation is
// coming, while it is (the decision in force is Coming): an update or the
// all-clear sent since carries that line to every affected customer, who
// then waits to hear what they get. nil when it is not coming or no such
// message went out.
func (s *Service) ToldComing(ctx context.Context, pageID, incidentID string) (*time.Time, error) {
	d, err := s.Decision(ctx, pageID, incidentID)
	if err != nil || d.State != Coming {
		return nil, err
	}
	bs, err := s.Incidents.FindBroadcasts(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	for _, b := range bs { // oldest first
		if (b.Kind == incident.BroadcastUpdated || b.Kind == incident.BroadcastResolved) && !b.CreatedAt.Before(d.At) {
			at := b.CreatedAt
			return &at, nil
		}
	}
	return nil, nil
}

// toldAll lists every decided version customers were told of (ds: the
// incident's decisions, oldest first): the one in force when the incident
// resolved, and each announced one.
func (s *Service) toldAll(ctx context.Context, inc *incident.Incident, ds []*Decision) ([]Told, error) {
	var out []Told
	if inc.ResolvedAt != nil {
		var atResolution *Decision
		for _, d := range ds {
			if !d.At.After(*inc.ResolvedAt) {
				atResolution = d
			}
		}
		if atResolution != nil && atResolution.State == Decided {
			out = append(out, Told{Version: atResolution.Version, At: *inc.ResolvedAt, How: ToldResolution})
		}
	}
	bs, err := s.Incidents.FindBroadcasts(ctx, inc.ID)
	if err != nil {
		return nil, err
	}
	prefix := AnnouncementUpdateID(inc.ID, 0)
	prefix = prefix[:len(prefix)-1]
	for _, b := range bs {
		if b.Kind != incident.BroadcastCompensation || !strings.HasPrefix(b.UpdateID, prefix) {
			continue
		}
		if v, err := strconv.Atoi(b.UpdateID[len(prefix):]); err == nil {
			out = append(out, Told{Version: v, At: b.CreatedAt, How: ToldAnnouncement})
		}
	}
	return out, nil
}

// AnnouncementUpdateID is the update an announcement's deliveries name:
// one per decision version, so each customer hears of a version once.
func AnnouncementUpdateID(incidentID string, version int) string {
	return "compensation-" + incidentID + "-v" + strconv.Itoa(version)
}

// AddVouchers uploads codes to one of the page's voucher lists (managers),
// and returns how many were new and the list's size and unused codes.
func (s *Service) AddVouchers(ctx context.Context, pageID, listID string, codes []string) (added, total, free int, err error) {
	if !incident.ActorFrom(ctx).Role.Allows(incident.RoleManager) {
		return 0, 0, 0, incident.Errorf(incident.EFORBIDDEN, "only a manager or an admin may upload voucher codes")
	}
	if _, err := s.Incidents.FindPageByID(ctx, pageID); err != nil {
		return 0, 0, 0, err
	}
	clean := make([]string, 0, len(codes))
	for _, c := range codes {
		clean = append(clean, strings.TrimSpace(c))
	}
	if err := CheckVouchers(listID, clean); err != nil {
		return 0, 0, 0, err
	}
	if added, err = s.Store.AddVouchers(ctx, pageID, listID, clean); err != nil {
		return 0, 0, 0, err
	}
	total, free, err = s.Store.CountVouchers(ctx, pageID, listID)
	return added, total, free, err
}

// CountVouchers returns a voucher list's size and its unused codes.
func (s *Service) CountVouchers(ctx context.Context, pageID, listID string) (total, free int, err error) {
	if err := validID("list_id", listID); err != nil {
		return 0, 0, err
	}
	if _, err := s.Incidents.FindPageByID(ctx, pageID); err != nil {
		return 0, 0, err
	}
	return s.Store.CountVouchers(ctx, pageID, listID)
}

// Owed is a customer the decision in force owes a top-up (Offered.TopUp):
// granted an offer under an earlier version that gave less.
type Owed struct {
	CustomerID string `json:"customer_id"`
	Name       string `json:"name"`
	TopUp      Money  `json:"top_up"` // every offer's top-up together, in the policy's currency
}

// OwedTopUps lists, in customer ID order, the customers the decision in
// force owes a top-up, so agents can reach them after management raised
// an offer. None when compensation is not decided or nothing was granted.
// Only a customer granted under an earlier version can be owed one, so
// only those are read and evaluated: the console's incident page asks on
// every load, and a page may have a million customers.
func (s *Service) OwedTopUps(ctx context.Context, pageID, incidentID string) ([]Owed, error) {
	p, err := s.Prepare(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	if p.Compiled == nil || p.Decision.Version < 2 {
		return nil, nil // a top-up needs a grant under an earlier version
	}
	grants, err := s.Store.FindGrants(ctx, pageID, incidentID, "")
	if err != nil {
		return nil, err
	}
	byCustomer := grantsByCustomer(grants)
	var ids []string
	for _, g := range grants {
		if !g.Declined && g.PolicyVersion < p.Decision.Version {
			ids = append(ids, g.CustomerID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	now := s.now()
	var (
		out      []Owed
		affected AffectedTime
		r        Result
	)
	for _, id := range ids {
		c, err := s.Customers.FindCustomerByID(ctx, pageID, id)
		if incident.ErrorCode(err) == incident.ENOTFOUND {
			continue // removed since it was granted
		}
		if err != nil {
			return nil, err
		}
		p.Timeline.CustomerInto(&affected, c)
		p.Compiled.EvaluateInto(&r, c, &affected, byCustomer[c.ID], now)
		if !r.Eligible {
			continue
		}
		var owed Money
		for i := range r.Offers {
			if o := &r.Offers[i]; o.Granted && o.TopUp.Amount > 0 {
				owed.Amount, owed.Currency = owed.Amount+o.TopUp.Amount, o.TopUp.Currency
			}
		}
		if owed.Amount > 0 {
			out = append(out, Owed{CustomerID: c.ID, Name: c.Name, TopUp: owed})
		}
	}
	return out, nil
}

// grantsByCustomer groups an incident's grants by customer, as the
// policy's evaluation takes them.
func grantsByCustomer(grants []*Grant) map[string][]Grant {
	by := map[string][]Grant{}
	for _, g := range grants {
		by[g.CustomerID] = append(by[g.CustomerID], *g)
	}
	return by
}

package compensation

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
)

// Why an option falls (Lowering.Why).
const (
	LowerCap    = "cap"     // the offer is as large as before, but the cap leaves less of it (or nothing)
	LowerAmount = "amount"  // the offer itself gives less: a smaller amount or share, fewer days
	LowerGone   = "removed" // the customer is no longer offered it: the offer or its rule went, they are excluded, or nothing is decided any more
)

// Effects is what a decision does to customers against what they heard
// before: the options it gives less on, and the top-ups it owes to
// customers granted less under an earlier version.
type Effects struct {
	Lowered []Lowering    `json:"lowered"`
	TopUps  []TopUpEffect `json:"top_ups"`
}

// Lowering is one option a decision gives some customers less on than
// they were told (by the all-clear message or an announcement) or than
// the version it replaces offered them: customers with the same offer,
// the same amounts and the same reason, counted together.
type Lowering struct {
	OfferID string    `json:"offer_id"`
	Kind    OfferKind `json:"kind"`
	// Before is what the earlier version offered (after its cap), After
	// what this one does: money for credits and refunds, days for free
	// periods; After is zero when the option is gone.
	Before     Money  `json:"before,omitzero"`
	After      Money  `json:"after,omitzero"`
	BeforeDays int    `json:"before_days,omitempty"`
	AfterDays  int    `json:"after_days,omitempty"`
	Why        string `json:"why"` // LowerCap, LowerAmount, LowerGone
	// Version is the earlier version that offered Before; Told is how
	// customers heard of it (ToldResolution, ToldAnnouncement), "" when
	// they were not told it and it is only the version being replaced.
	Version int    `json:"version"`
	Told    string `json:"told,omitempty"`
	// State is the new decision's state when it is no longer decided
	// (everything is gone then).
	State     State    `json:"state,omitempty"`
	Customers int      `json:"customers"`
	Sample    []string `json:"sample"` // a few of the customers' IDs
}

// TopUpEffect is customers granted an offer under an earlier version that
// the decision now gives more of: they are owed the difference
// (Offered.TopUp).
type TopUpEffect struct {
	OfferID   string    `json:"offer_id"`
	Kind      OfferKind `json:"kind"`
	Given     Money     `json:"given"`  // what their grants paid
	Full      Money     `json:"full"`   // what the offer now gives
	Amount    Money     `json:"amount"` // the top-up, within the cap
	Customers int       `json:"customers"`
	Sample    []string  `json:"sample"`
}

// sampleSize bounds the customer IDs an effect names.
const sampleSize = 5

func customersText(n int) string {
	if n == 1 {
		return "1 customer"
	}
	return strconv.Itoa(n) + " customers"
}

func offerName(id string, k OfferKind) string {
	if id == string(k) || k == "" {
		return id
	}
	return id + " (" + strings.ReplaceAll(string(k), "_", " ") + ")"
}

// bare is m's amount without its currency ("5.00").
func bare(m Money) string { return strings.TrimSuffix(m.String(), " "+m.Currency) }

// String words the lowering for a manager: "refund for 2 customers falls
// 5.00 → 2.50 EUR because of the cap (told in the all-clear message,
// version 2)".
func (l Lowering) String() string {
	var what string
	money := l.Before.Currency != ""
	before := strconv.Itoa(l.BeforeDays) + " days"
	if money {
		before = l.Before.String()
	}
	was := ""
	switch {
	case l.Why == LowerGone && l.State != "" && l.State != Decided:
		what, was = "is no longer offered: compensation is now "+strings.ReplaceAll(string(l.State), "_", " "), "was "+before+", "
	case l.Why == LowerGone:
		what, was = "is no longer offered", "was "+before+", "
	case money && l.After.Amount == 0:
		what = "falls " + before + " → nothing: the cap is used up"
	case money:
		what = "falls " + bare(l.Before) + " → " + l.After.String()
	default:
		what = fmt.Sprintf("falls %d → %d days", l.BeforeDays, l.AfterDays)
	}
	if l.Why == LowerCap && !(money && l.After.Amount == 0) {
		what += " because of the cap"
	}
	source := "offered by version " + strconv.Itoa(l.Version)
	switch l.Told {
	case ToldResolution:
		source = "told in the all-clear message, version " + strconv.Itoa(l.Version)
	case ToldAnnouncement:
		source = "announced with version " + strconv.Itoa(l.Version)
	}
	return offerName(l.OfferID, l.Kind) + " for " + customersText(l.Customers) + " " + what + " (" + was + source + ")"
}

// String words the top-up for a manager: "credit10 for 1 customer
// already granted 5.00 EUR: owed a top-up of 2.50 EUR (now 7.50 EUR)".
func (u TopUpEffect) String() string {
	return offerName(u.OfferID, u.Kind) + " for " + customersText(u.Customers) + " already granted " + u.Given.String() +
		": owed a top-up of " + u.Amount.String() + " (now " + u.Full.String() + ")"
}

// Lines words every effect, lowerings first.
func (e *Effects) Lines() []string {
	if e == nil {
		return nil
	}
	var out []string
	for _, l := range e.Lowered {
		out = append(out, l.String())
	}
	for _, u := range e.TopUps {
		out = append(out, u.String())
	}
	return out
}

// LowerError refuses a decision that gives customers less than they were
// told or than the version it replaces offered, until the manager
// confirms it (Proposal.AcceptLower). It is incident.ECONFLICT naming the
// field accept_lower, as a stale version is: the change is valid, but not
// safe to make unseen.
type LowerError struct {
	Effects *Effects
}

// maxLinesInError bounds the effects the error's message words.
const maxLinesInError = 10

func (e *LowerError) Error() string { return e.Unwrap().Error() }

// Unwrap is the incident.Error the API answers with.
func (e *LowerError) Unwrap() error {
	var lines []string
	for _, l := range e.Effects.Lowered {
		if len(lines) == maxLinesInError {
			lines = append(lines, fmt.Sprintf("and %d more", len(e.Effects.Lowered)-maxLinesInError))
			break
		}
		lines = append(lines, l.String())
	}
	return &incident.Error{Code: incident.ECONFLICT, Field: "accept_lower",
		Message: "this decision gives customers less than they were told or than the decision in force offers them: " +
			strings.Join(lines, "; ") + "; nothing was saved: decide again with accept_lower (herald compensation decide --accept-lower) to confirm"}
}

// base is an earlier version a decision is compared with.
type base struct {
	d    *Decision
	told string // ToldResolution, ToldAnnouncement or ""
	c    *Compiled
	r    Result
}

type lowerKey struct {
	offer, why, told   string
	kind               OfferKind
	before, after      Money
	beforeDays, aftDay int
	version            int
}

type topUpKey struct {
	offer               string
	kind                OfferKind
	given, full, amount Money
}

// effectsOf collects Effects customer by customer.
type effectsOf struct {
	state   State
	lowered map[lowerKey]*Lowering
	topUps  map[topUpKey]*TopUpEffect
	worst   map[string]lowerKey // this customer's worst lowering per offer
}

// counts reports whether a customer's result offers o: what their line
// says (Wording.Line).
func counts(r *Result, o *Offered) bool {
	return r.Eligible && !o.Granted && !o.Declined && o.Unavailable == "" && !o.UsedUp() && o.Offer() != nil
}

func findOffer(r *Result, group, offerID string) *Offered {
	if r == nil {
		return nil
	}
	var any *Offered
	for i := range r.Offers {
		o := &r.Offers[i]
		if o.OfferID != offerID {
			continue
		}
		if o.Group == group {
			return o
		}
		if any == nil {
			any = o
		}
	}
	return any
}

// sameKind returns r's largest offer of o's kind still offered (what the
// customer's line says), or nil.
func sameKind(r *Result, o *Offered) *Offered {
	if r == nil || !r.Eligible {
		return nil
	}
	var best *Offered
	for i := range r.Offers {
		n := &r.Offers[i]
		if n.Kind != o.Kind || !counts(r, n) {
			continue
		}
		if best == nil || n.Amount.Amount > best.Amount.Amount || n.Days > best.Days {
			best = n
		}
	}
	return best
}

// customer adds what r (nil: nothing decided) does to one customer
// against each base's result.
func (e *effectsOf) customer(id string, bases []*base, r *Result) {
	clear(e.worst)
	for _, b := range bases {
		for i := range b.r.Offers {
			o := &b.r.Offers[i]
			if !counts(&b.r, o) {
				continue
			}
			k := lowerKey{offer: o.OfferID, kind: o.Kind, version: b.d.Version, told: b.told}
			if o.Kind.Money() {
				k.before = o.Amount
			} else {
				k.beforeDays = o.Days
			}
			n := findOffer(r, o.Group, o.OfferID)
			if n == nil || r != nil && !counts(r, n) && !n.Granted && !n.Declined {
				// Gone under its ID: another offer of the same kind (a
				// renamed one, a new policy's) may give as much.
				if same := sameKind(r, o); same != nil {
					n = same
				}
			}
			switch {
			case r == nil || !r.Eligible || n == nil || n.Unavailable != "":
				k.why = LowerGone
			case n.Granted || n.Declined:
				continue // given or declined since: nothing they were told is lost
			case o.Kind.Money() && n.Kind.Money():
				if n.Amount.Currency != o.Amount.Currency || n.Amount.Amount >= o.Amount.Amount {
					continue
				}
				k.after, k.why = n.Amount, LowerAmount
				if n.Capped && n.Full.Amount >= o.Amount.Amount {
					k.why = LowerCap
				}
			case o.Kind == FreePeriod && n.Kind == FreePeriod:
				if n.Days >= o.Days {
					continue
				}
				k.aftDay, k.why = n.Days, LowerAmount
			case o.Kind != n.Kind:
				k.why = LowerGone
			default:
				continue // a voucher or other offer still offered
			}
			if prev, ok := e.worst[o.OfferID]; ok && !worse(k, prev) {
				continue
			}
			e.worst[o.OfferID] = k
		}
	}
	for _, k := range e.worst {
		l := e.lowered[k]
		if l == nil {
			l = &Lowering{OfferID: k.offer, Kind: k.kind, Before: k.before, After: k.after, BeforeDays: k.beforeDays, AfterDays: k.aftDay,
				Why: k.why, Version: k.version, Told: k.told, Sample: []string{}}
			if k.why == LowerGone && e.state != Decided {
				l.State = e.state
			}
			e.lowered[k] = l
		}
		l.Customers++
		if len(l.Sample) < sampleSize {
			l.Sample = append(l.Sample, id)
		}
	}
	if r == nil {
		return
	}
	for i := range r.Offers {
		o := &r.Offers[i]
		if !r.Eligible || !o.Granted || o.TopUp.Amount <= 0 {
			continue
		}
		k := topUpKey{offer: o.OfferID, kind: o.Kind, given: o.Given, full: o.Full, amount: o.TopUp}
		u := e.topUps[k]
		if u == nil {
			u = &TopUpEffect{OfferID: o.OfferID, Kind: o.Kind, Given: o.Given, Full: o.Full, Amount: o.TopUp, Sample: []string{}}
			e.topUps[k] = u
		}
		u.Customers++
		if len(u.Sample) < sampleSize {
			u.Sample = append(u.Sample, id)
		}
	}
}

// worse reports whether lowering a loses the customer more than b: what
// they were told first, then the larger loss.
func worse(a, b lowerKey) bool {
	if (a.told != "") != (b.told != "") {
		return a.told != ""
	}
	loss := func(k lowerKey) int64 {
		if k.why == LowerGone {
			return k.before.Amount + int64(k.beforeDays)
		}
		return k.before.Amount - k.after.Amount + int64(k.beforeDays-k.aftDay)
	}
	return loss(a) > loss(b)
}

func (e *effectsOf) result() *Effects {
	out := &Effects{Lowered: []Lowering{}, TopUps: []TopUpEffect{}}
	for _, l := range e.lowered {
		out.Lowered = append(out.Lowered, *l)
	}
	for _, u := range e.topUps {
		out.TopUps = append(out.TopUps, *u)
	}
	slices.SortFunc(out.Lowered, func(a, b Lowering) int {
		return cmp.Or(cmp.Compare(b.Customers, a.Customers), strings.Compare(a.OfferID, b.OfferID),
			cmp.Compare(b.Before.Amount, a.Before.Amount), cmp.Compare(a.After.Amount, b.After.Amount), cmp.Compare(b.Version, a.Version),
			strings.Compare(a.Why, b.Why), strings.Compare(a.Told, b.Told))
	})
	slices.SortFunc(out.TopUps, func(a, b TopUpEffect) int {
		return cmp.Or(cmp.Compare(b.Customers, a.Customers), strings.Compare(a.OfferID, b.OfferID), cmp.Compare(b.Amount.Amount, a.Amount.Amount),
			cmp.Compare(a.Given.Amount, b.Given.Amount))
	})
	return out
}

// effects compares next with the earlier versions customers may hold it
// against: the one numbered replaced (the decision in force that next
// replaces, or the one before the decision in force), and every version
// up to it customers were told of (the all-clear message's, each
// announced one). ds is the incident's decisions, oldest first. Every
// customer of the page is evaluated under each, with their grants.
func (s *Service) effects(ctx context.Context, inc *incident.Incident, ds []*Decision, replaced int, next *Decision) (*Effects, error) {
	told, err := s.toldAll(ctx, inc, ds)
	if err != nil {
		return nil, err
	}
	var bases []*base
	add := func(v int, how string) error {
		for _, b := range bases {
			if b.d.Version == v {
				if b.told == "" || how == ToldResolution {
					b.told = cmp.Or(how, b.told)
				}
				return nil
			}
		}
		for _, d := range ds {
			if d.Version != v || d.State != Decided || d.Policy == nil {
				continue
			}
			c, err := Compile(d.Policy)
			if err != nil {
				return err
			}
			bases = append(bases, &base{d: d, told: how, c: c})
		}
		return nil
	}
	if err := add(replaced, ""); err != nil {
		return nil, err
	}
	for _, t := range told {
		if t.Version <= replaced {
			if err := add(t.Version, t.How); err != nil {
				return nil, err
			}
		}
	}
	var compiled *Compiled
	if next.State == Decided && next.Policy != nil {
		if compiled, err = Compile(next.Policy); err != nil {
			return nil, err
		}
	}
	grants, err := s.Store.FindGrants(ctx, inc.PageID, inc.ID, "")
	if err != nil {
		return nil, err
	}
	e := &effectsOf{state: next.State, lowered: map[lowerKey]*Lowering{}, topUps: map[topUpKey]*TopUpEffect{}, worst: map[string]lowerKey{}}
	if len(bases) == 0 && (compiled == nil || len(grants) == 0) {
		return e.result(), nil // nothing offered before, and nobody to top up
	}
	byCustomer := grantsByCustomer(grants)
	history, err := s.Incidents.FindStatusChanges(ctx, inc.PageID, inc.StartedAt)
	if err != nil {
		return nil, err
	}
	now := s.now()
	tl := NewTimeline(inc, history, now)
	var (
		affected AffectedTime
		r        Result
	)
	err = s.eachCustomer(ctx, inc.PageID, func(c *audience.Customer) error {
		tl.CustomerInto(&affected, c)
		for _, b := range bases {
			b.c.EvaluateInto(&b.r, c, &affected, byCustomer[c.ID], now)
		}
		var rp *Result
		if compiled != nil {
			compiled.EvaluateInto(&r, c, &affected, byCustomer[c.ID], now)
			rp = &r
		}
		e.customer(c.ID, bases, rp)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e.result(), nil
}

// AnnouncementEffects is what the decision in force does to customers
// against the version before it and every earlier version they were told
// of (see Effects): what an announcement of it would tell them they lose,
// and the top-ups it owes. EINVALID when compensation is not decided.
func (s *Service) AnnouncementEffects(ctx context.Context, pageID, incidentID string) (*Effects, error) {
	inc, ds, err := s.decisions(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 || ds[len(ds)-1].State != Decided {
		return nil, incident.Invalid("state", "compensation is not decided: there is no decision to announce")
	}
	d := ds[len(ds)-1]
	return s.effects(ctx, inc, ds, d.Version-1, d)
}

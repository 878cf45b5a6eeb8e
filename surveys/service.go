package surveys

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// The outside parts the Service works with, each the small interface it
// needs; node wires the engines, notify, complaints and compensation in.
type (
	// Deliveries finds the messages an incident's broadcasts sent: the
	// recipients a survey asks.
	Deliveries interface {
		// FindRecipientDeliveries hands out the deliveries to a recipient
		// (RecipientID not empty) that f matches (f.PageID is required;
		// f.Limit is ignored), a page at a time: the page after the
		// cursor after ("" the first) and the cursor of the next page,
		// "" after the last. A recipient ID's deliveries are adjacent
		// (they may span consecutive pages) and newest first, in
		// FindDeliveries' order; the order of the recipients is the
		// engine's. A page holds at most limit deliveries, or one
		// recipient's when they alone are more, and is empty only when
		// none is left. Schedule reads an incident's million recipients
		// through it without holding their deliveries at once.
		FindRecipientDeliveries(ctx context.Context, f queue.DeliveryFilter, after string, limit int) ([]*queue.Delivery, string, error)
	}
	// Customers finds customers' plans (the results' segment), a batch
	// at a time: those of ids that exist, in any order.
	Customers interface {
		FindCustomersByIDs(ctx context.Context, pageID string, ids []string) ([]*audience.Customer, error)
	}
	// Complaints lists an incident's complaints and opens win-back tasks;
	// complaint.Service implements it.
	Complaints interface {
		List(ctx context.Context, f complaint.Filter) ([]*complaint.Complaint, int, error)
		Receive(ctx context.Context, in complaint.Intake) (*complaint.Complaint, bool, error)
		Note(ctx context.Context, pageID, id, text string) (*complaint.Complaint, error)
	}
	// Grants finds an incident's compensation grants (compensation.Store).
	Grants interface {
		FindGrants(ctx context.Context, pageID, incidentID, customerID string) ([]*compensation.Grant, error)
	}
	// Offers suggests what an unhappy customer could be offered
	// (compensation.Service).
	Offers interface {
		Check(ctx context.Context, pageID, incidentID, customerID, lang string) (*compensation.Answer, error)
	}
	// Sender queues a survey's message as a delivery in the pipeline
	// (notify implements it) and returns the delivery's ID, derived from
	// the survey so that asking twice sends once.
	Sender interface {
		SendSurvey(ctx context.Context, s *Survey, url string) (string, error)
		// AskForScore queues the one email that asks the customer for
		// the score their reply to the survey did not give, threaded
		// under their email (thread: the References a reply to it
		// carries, space-separated, its own Message-ID last; "" for
		// none), as an automatic reply (RFC 3834). Its delivery ID is derived from
		// the survey alone: asking twice, on any node or after a crash,
		// sends once.
		AskForScore(ctx context.Context, s *Survey, url, thread string) (string, error)
		// ThankForAnswer queues the one email that thanks the customer
		// whose email reply gave the survey's score, threaded and sent as
		// AskForScore's request is. Its delivery ID is derived from the
		// survey alone: a repeated or changed answer sends no second one.
		ThankForAnswer(ctx context.Context, s *Survey, url, thread string) (string, error)
	}
	// Suppressions says whether an address opted out: a due survey to it
	// is skipped, and win-back never contacts it.
	Suppressions interface {
		FindSuppression(ctx context.Context, pageID string, kind channel.Kind, address string) (*audience.Suppression, error)
	}
	// Leaser decides which node runs the sweep (complaint.Store's Lease).
	Leaser interface {
		Lease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	}
	// Secrets keeps the key survey links are signed with (queue.Secrets).
	Secrets interface {
		Secret(ctx context.Context, name string, gen func() []byte) ([]byte, error)
	}
)

// Service is the one entry point for surveys: scheduling after
// resolution, the sweep that sends due ones, answers by SMS and by link,
// win-back, and the results.
type Service struct {
	Store        Store
	Incidents    incident.Store
	Deliveries   Deliveries
	Customers    Customers
	Complaints   Complaints   // nil: no "complained" mode, no win-back
	Grants       Grants       // nil: the compensation question is never asked
	Offers       Offers       // nil: win-back tasks suggest no offer
	Sender       Sender       // nil: nothing is sent (the sweep only schedules)
	Suppressions Suppressions // nil: not checked before a win-back
	Leaser       Leaser
	Secrets      Secrets
	Events       incident.Events
	// Defaults are the settings of a page that has none stored (its
	// PageID is filled in).
	Defaults  Settings
	PublicURL string // the base of survey links
	// Sweep is the cron spec of the sweep (default "@every 30s").
	Sweep string
	Now   func() time.Time
	Log   *slog.Logger

	keyMu sync.Mutex
	key   []byte
	// schedulePage overrides the package's schedulePage when > 0 (tests
	// page through few recipients).
	schedulePage int
}

// NewService returns a Service on the real clock with the default settings.
func NewService(store Store, incidents incident.Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Store: store, Incidents: incidents, Defaults: DefaultSettings(""), Sweep: "@every 30s", Now: time.Now, Log: log}
}

func (s *Service) now() time.Time { return Millis(s.Now()) }

// Settings returns a page's settings: stored, or the defaults.
func (s *Service) Settings(ctx context.Context, pageID string) (Settings, error) {
	if _, err := s.Incidents.FindPageByID(ctx, pageID); err != nil {
		return Settings{}, err
	}
	st, err := s.Store.FindSettings(ctx, pageID)
	if incident.ErrorCode(err) == incident.ENOTFOUND {
		d := s.Defaults
		d.PageID = pageID
		return d, nil
	}
	if err != nil {
		return Settings{}, err
	}
	return *st, nil
}

// SaveSettings stores a page's settings (managers only).
func (s *Service) SaveSettings(ctx context.Context, st Settings) (Settings, error) {
	if !incident.ActorFrom(ctx).Role.Allows(incident.RoleManager) {
		return Settings{}, incident.Errorf(incident.EFORBIDDEN, "only a manager may change the survey settings")
	}
	if _, err := s.Incidents.FindPageByID(ctx, st.PageID); err != nil {
		return Settings{}, err
	}
	if err := st.Validate(); err != nil {
		return Settings{}, err
	}
	st.UpdatedAt = s.now()
	if err := s.Store.SaveSettings(ctx, &st); err != nil {
		return Settings{}, err
	}
	return st, nil
}

// surveyable are the channels a survey goes on: the ones that reach a
// person who can answer.
func surveyable(k channel.Kind) bool {
	return k == channel.SMS || k == channel.Email || k == channel.Slack
}

// batch is how many surveys Schedule creates per store call.
const batch = 2000

// schedulePage is how many deliveries Schedule reads per page, and so
// about how many recipients it decides per pair of batched lookups
// (customers, last surveyed). Service.schedulePage overrides it (tests).
const schedulePage = 1000

// Schedule creates the surveys of a resolved incident, per the page's
// settings: one per recipient, on a channel that reached them (email,
// else Slack, else SMS), due Delay after resolution in their daytime,
// skipped when the page surveyed them within Gap. It is idempotent: a
// second call (another node, after a crash) creates nothing new. It
// returns how many surveys it created.
//
// It works a page of the incident's deliveries at a time, which the
// store hands out by recipient (Deliveries): what it holds is one page,
// the deliveries of a recipient the page may not have ended, and the
// incident's complaints and grants, however many recipients the
// incident reached.
func (s *Service) Schedule(ctx context.Context, pageID, incidentID string) (int, error) {
	inc, err := s.Incidents.FindIncidentByID(ctx, incidentID)
	if err != nil {
		return 0, err
	}
	if inc.PageID != pageID {
		return 0, incident.NotFound("incident", incidentID)
	}
	if inc.ResolvedAt == nil || inc.IsMaintenance() {
		return 0, incident.Invalid("incident", "surveys follow a resolved incident; this one is %s", inc.Status)
	}
	st, err := s.Settings(ctx, pageID)
	if err != nil || st.Mode == ModeOff {
		return 0, err
	}
	page, err := s.Incidents.FindPageByID(ctx, pageID)
	if err != nil {
		return 0, err
	}
	complained, byComplaint, err := s.complained(ctx, inc, st)
	if err != nil {
		return 0, err
	}
	granted := map[string]bool{}
	if s.Grants != nil {
		gs, err := s.Grants.FindGrants(ctx, pageID, incidentID, "")
		if err != nil {
			return 0, err
		}
		for _, g := range gs {
			if !g.Declined {
				granted[g.CustomerID] = true
			}
		}
	}
	sc := &scheduling{s: s, inc: inc, page: page, st: st, granted: granted, now: s.now()}
	size := schedulePage
	if s.schedulePage > 0 {
		size = s.schedulePage
	}
	if st.Mode == ModeComplained {
		for part := range slices.Chunk(byComplaint, size) {
			if err := sc.decide(ctx, part); err != nil {
				return sc.created, err
			}
		}
	} else if err := s.eachRecipients(ctx, inc, st, complained, size, func(rs []recipient) error { return sc.decide(ctx, rs) }); err != nil {
		return sc.created, err
	}
	if err := sc.flush(ctx); err != nil {
		return sc.created, err
	}
	s.Log.Info("surveys scheduled", "page_id", pageID, "incident_id", incidentID, "mode", st.Mode, "recipients", sc.recipients, "created", sc.created)
	return sc.created, nil
}

// scheduling is one Schedule run: its inputs, the surveys not yet
// created, and its counts.
type scheduling struct {
	s          *Service
	inc        *incident.Incident
	page       *incident.Page
	st         Settings
	granted    map[string]bool
	now        time.Time
	pending    []*Survey
	created    int
	recipients int
}

// decide makes the surveys of a batch of recipients: their customers'
// plans and their last surveys are two reads for the whole batch.
func (sc *scheduling) decide(ctx context.Context, rs []recipient) error {
	if len(rs) == 0 {
		return nil
	}
	s, pageID := sc.s, sc.inc.PageID
	sc.recipients += len(rs)
	plans := map[string]string{}
	if s.Customers != nil {
		var ids []string
		for _, r := range rs {
			if r.rtype == queue.FromCustomer {
				ids = append(ids, r.id)
			}
		}
		if len(ids) > 0 {
			cs, err := s.Customers.FindCustomersByIDs(ctx, pageID, ids)
			if err != nil {
				return err
			}
			for _, c := range cs {
				plans[c.ID] = c.Plan
			}
		}
	}
	// A person is counted by who they are and by where the survey goes:
	// a customer who is also a subscriber with the same phone is asked
	// once per gap, whichever of the two an incident reached.
	keys := make([]string, 0, 2*len(rs))
	for _, r := range rs {
		keys = append(keys, r.key)
		if a := AddressKey(r.kind, r.addr); a != "" {
			keys = append(keys, a)
		}
	}
	lasts, err := s.Store.LastSurveyedKeys(ctx, pageID, keys)
	if err != nil {
		return err
	}
	for _, r := range rs {
		sv := &Survey{ID: SurveyID(sc.inc.ID, r.key), PageID: pageID, IncidentID: sc.inc.ID, RecipientType: r.rtype,
			RecipientID: r.id, Key: r.key, Channel: r.kind, Address: r.addr, Name: r.name, Language: r.lang, TimeZone: r.zone,
			Complained: r.complained, State: Scheduled, CreatedAt: sc.now, UpdatedAt: sc.now, Version: 1}
		if r.rtype == queue.FromCustomer {
			sv.Granted = sc.granted[r.id]
			sv.Segment = plans[r.id]
		}
		zone := r.zone
		if zone == "" {
			zone = sc.page.TimeZone
		}
		sv.DueAt = DueAt(*sc.inc.ResolvedAt, incident.Location(zone), sc.st)
		last := lasts[r.key]
		if a := lasts[AddressKey(r.kind, r.addr)]; a.After(last) {
			last = a
		}
		// A gap of 0 never skips: not even a survey due before another
		// one still scheduled.
		if sc.st.Gap > 0 && !last.IsZero() && sv.DueAt.Sub(last) < sc.st.Gap {
			sv.State, sv.Reason = Skipped, "surveyed on "+last.UTC().Format("2006-01-02")+", within the gap of "+sc.st.Gap.String()
		}
		sc.pending = append(sc.pending, sv)
		if len(sc.pending) == batch {
			if err := sc.flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush creates the pending surveys.
func (sc *scheduling) flush(ctx context.Context) error {
	if len(sc.pending) == 0 {
		return nil
	}
	n, err := sc.s.Store.CreateSurveys(ctx, sc.pending)
	sc.created += n
	sc.pending = sc.pending[:0]
	return err
}

type recipient struct {
	key, id, name, lang, zone, addr string
	rtype                           queue.RecipientType
	kind                            channel.Kind
	complained                      bool
	sent                            time.Time
}

// complaintsPage is how many complaints complained reads per List.
const complaintsPage = 1000

// complained reads the incident's complaints: the recipient keys that
// complained, and in ModeComplained the recipients they make, one per
// person (the one of their oldest complaint), sorted by key. Complaints
// are few next to deliveries, so they are held whole; they are read a
// page at a time (List's default page is 100, which left the flag off
// the rest).
func (s *Service) complained(ctx context.Context, inc *incident.Incident, st Settings) (map[string]bool, []recipient, error) {
	complained := map[string]bool{}
	byKey := map[string]*recipient{}
	if s.Complaints == nil {
		return complained, nil, nil
	}
	for offset := 0; ; offset += complaintsPage {
		cs, _, err := s.Complaints.List(ctx, complaint.Filter{PageID: inc.PageID, IncidentID: inc.ID, Limit: complaintsPage, Offset: offset, SkipCount: true})
		if err != nil {
			return nil, nil, err
		}
		for _, c := range cs {
			kind, addr := c.Contact.Address(c.Channel)
			if addr == "" || !surveyable(kind) {
				continue
			}
			key, rtype, id := "contact:"+c.Contact.Key(), queue.FromContact, c.Contact.Key()
			// A customer's name is their record's, a caller's the one the
			// agent wrote; anyone else's is what came with their message
			// (an email's display name, a form), which anyone can write:
			// the survey greets them by none.
			name := ""
			if c.Channel == complaint.Phone {
				name = c.Contact.Name
			}
			if c.Contact.CustomerID != "" {
				key, rtype, id = "customer:"+c.Contact.CustomerID, queue.FromCustomer, c.Contact.CustomerID
				name = c.Contact.Name
			}
			complained[key] = true
			if st.Mode == ModeComplained {
				byKey[key] = &recipient{key: key, id: id, name: name, lang: c.Language, zone: c.Contact.TimeZone,
					addr: addr, rtype: rtype, kind: kind, complained: true, sent: c.CreatedAt}
			}
		}
		if len(cs) < complaintsPage {
			break
		}
	}
	out := make([]recipient, 0, len(byKey))
	for _, r := range byKey {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return complained, out, nil
}

// eachRecipients hands fn the recipients the settings survey among those
// the incident's messages reached, a batch at a time (each recipient
// once, on the channel of the newest message that reached them, of the
// ones the survey prefers): it reads the incident's sent and delivered
// deliveries a page at a time, by recipient, and decides the recipients
// a page ends; the last recipient of a page may go on in the next, so
// its deliveries wait for that page.
func (s *Service) eachRecipients(ctx context.Context, inc *incident.Incident, st Settings, complained map[string]bool, size int, fn func([]recipient) error) error {
	f := queue.DeliveryFilter{PageID: inc.PageID, IncidentID: inc.ID, States: []queue.DeliveryState{queue.StateSent, queue.StateDelivered}}
	var carry []*queue.Delivery
	for after := ""; ; {
		ds, next, err := s.Deliveries.FindRecipientDeliveries(ctx, f, after, size)
		if err != nil {
			return err
		}
		if len(carry) > 0 {
			ds = append(carry, ds...)
		}
		carry = nil
		if next != "" && len(ds) > 0 {
			i, last := len(ds), ds[len(ds)-1].RecipientID
			for i > 0 && ds[i-1].RecipientID == last {
				i--
			}
			carry = append([]*queue.Delivery(nil), ds[i:]...)
			ds = ds[:i]
		}
		if err := fn(pickRecipients(inc, st, complained, ds)); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// pickRecipients decides the recipients of whole recipients' deliveries,
// each recipient's newest first: of the channels that reached them, the
// survey takes the one it prefers (channelRank), and of its messages the
// newest, so that every run picks the same. The result is sorted by key.
func pickRecipients(inc *incident.Incident, st Settings, complained map[string]bool, ds []*queue.Delivery) []recipient {
	byKey := map[string]*recipient{}
	for _, d := range ds {
		if !surveyable(d.Kind) || d.RecipientID == "" || d.MessageKind == queue.KindSurvey {
			continue
		}
		key := string(d.RecipientType) + ":" + d.RecipientID
		if st.Mode == ModeSample && !Sampled(inc.ID, key, st.SamplePercent) {
			continue
		}
		at := d.CreatedAt
		if d.SentAt != nil {
			at = *d.SentAt
		}
		if r := byKey[key]; r != nil && (channelRank(r.kind) < channelRank(d.Kind) || channelRank(r.kind) == channelRank(d.Kind) && !at.After(r.sent)) {
			continue
		}
		byKey[key] = &recipient{key: key, id: d.RecipientID, name: d.Name, lang: d.Language, zone: d.TimeZone,
			addr: d.Address, rtype: d.RecipientType, kind: d.Kind, complained: complained[key], sent: at}
	}
	out := make([]recipient, 0, len(byKey))
	for _, r := range byKey {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// linkKey is the key survey links are signed with, the same on every node.
func (s *Service) linkKey(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	if s.Secrets == nil {
		return nil, errors.New("surveys: no secret store for links")
	}
	k, err := s.Secrets.Secret(ctx, "survey-links", func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	})
	if err != nil {
		return nil, err
	}
	s.key = k
	return k, nil
}

// LinkPath is where survey pages are served; a token follows it.
const LinkPath = "/survey/"

// Link is the survey's page: PublicURL/survey/TOKEN.
func (s *Service) Link(ctx context.Context, sv *Survey) (string, error) {
	key, err := s.linkKey(ctx)
	if err != nil {
		return "", err
	}
	exp := s.now().Add(LinkLifetime)
	if sv.SentAt != nil {
		exp = sv.SentAt.Add(LinkLifetime)
	}
	return strings.TrimRight(s.PublicURL, "/") + LinkPath + Sign(key, sv.ID, exp), nil
}

// sweepBatch bounds the due surveys one sweep sends.
const sweepBatch = 500

// SendDue hands the surveys due at now to the pipeline: each becomes a
// delivery whose ID is derived from the survey (a crash between queueing
// and saving queues it again, and the pipeline sends it once). A survey
// whose recipient the page surveyed within Gap since it was scheduled is
// skipped, and so is one to an address that opted out since (STOP, the
// unsubscribe link, a bounce): the pipeline would suppress its message,
// and counting it sent would lower the response rate with a survey
// nobody received. It returns how many it sent.
func (s *Service) SendDue(ctx context.Context) (int, error) {
	if s.Sender == nil {
		return 0, nil
	}
	now := s.now()
	due, err := s.Store.FindDueSurveys(ctx, now, sweepBatch)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, sv := range due {
		st, err := s.Settings(ctx, sv.PageID)
		if err != nil {
			return sent, err
		}
		next := *sv
		next.Version++
		next.UpdatedAt = now
		// The once-per-Gap rule was applied when it was scheduled.
		optedOut, err := s.optedOut(ctx, sv)
		if err != nil {
			return sent, err
		}
		open := ""
		if st.Mode != ModeOff && optedOut == "" {
			if open, err = s.openComplaint(ctx, sv); err != nil {
				return sent, err
			}
		}
		switch {
		case st.Mode == ModeOff:
			next.State, next.Reason = Skipped, "surveys were turned off for the page"
		case optedOut != "":
			next.State, next.Reason = Skipped, "messages to the address are stopped ("+optedOut+")"
		case open != "" && now.Sub(sv.CreatedAt) >= ComplaintWait:
			next.State, next.Reason = Skipped, "their complaint "+open+" about the incident stayed open"
		case open != "":
			// Asked how it went while their complaint is still being
			// handled, a customer answers about that: the survey waits a
			// day at a time (in their daytime) until it is resolved.
			zone := sv.TimeZone
			if zone == "" {
				zone = s.pageZone(ctx, sv.PageID)
			}
			next.DueAt = DueAt(now, incident.Location(zone), st)
			next.Reason = "waits for their complaint " + open + " to be resolved"
		default:
			next.SentAt = &now
			link, err := s.Link(ctx, &next)
			if err != nil {
				return sent, err
			}
			id, err := s.Sender.SendSurvey(ctx, &next, link)
			if err != nil {
				return sent, err
			}
			next.State, next.DeliveryID = Sent, id
		}
		if err := s.Store.SaveSurvey(ctx, &next); err != nil {
			if incident.ErrorCode(err) != incident.ECONFLICT {
				return sent, err
			}
			// Another node (another `surveys send`) saved it first; the
			// message it queued has the same delivery ID, so the pipeline
			// sends one. Counted by the one that saved.
			continue
		}
		if next.State == Sent {
			sent++
		}
	}
	return sent, nil
}

// ComplaintWait is how long after a survey was scheduled it waits for
// its recipient's open complaint about the incident to be resolved; then
// it is skipped.
const ComplaintWait = 7 * 24 * time.Hour

// openComplaint returns the reference of the recipient's open complaint
// about the survey's incident, or "" (also when nothing can tell).
func (s *Service) openComplaint(ctx context.Context, sv *Survey) (string, error) {
	if s.Complaints == nil {
		return "", nil
	}
	var key string
	switch {
	case sv.RecipientType == queue.FromCustomer:
		key = complaint.Contact{CustomerID: sv.RecipientID}.Key()
	case sv.RecipientType == queue.FromContact:
		key = sv.RecipientID // the complaint's own contact key
	case sv.Channel == channel.SMS:
		key = complaint.Contact{Phone: sv.Address}.Key()
	case sv.Channel == channel.Email:
		key = complaint.Contact{Email: sv.Address}.Key()
	case sv.Channel == channel.Slack:
		key = complaint.Contact{Slack: sv.Address}.Key()
	}
	if key == "" {
		return "", nil
	}
	cs, _, err := s.Complaints.List(ctx, complaint.Filter{PageID: sv.PageID, IncidentID: sv.IncidentID, ContactKey: key, Open: true, Limit: 1, SkipCount: true})
	if err != nil || len(cs) == 0 {
		return "", err
	}
	return cs[0].Ref, nil
}

// optedOut is the reason the survey's address is suppressed (stop,
// unsubscribe, bounce, …), or "" when it is not or nothing checks.
func (s *Service) optedOut(ctx context.Context, sv *Survey) (string, error) {
	if s.Suppressions == nil {
		return "", nil
	}
	sup, err := s.Suppressions.FindSuppression(ctx, sv.PageID, sv.Channel, sv.Address)
	switch {
	case err == nil:
		if sup.Reason == "" {
			return "opted out", nil
		}
		return sup.Reason, nil
	case incident.ErrorCode(err) == incident.ENOTFOUND:
		return "", nil
	}
	return "", err
}

// SettleTime is how long after resolution the sweep waits before it
// schedules an incident's surveys: the resolution's messages have gone by
// then, and their recipients are asked too.
const SettleTime = 15 * time.Minute

// scheduledLease marks an incident whose surveys are all scheduled: a
// lease held by holderScheduled for years.
func scheduledLease(incidentID string) string { return "surveys-scheduled:" + incidentID }

const holderScheduled = "scheduled"

// scheduledBefore reports whether the incident's surveys were scheduled
// completely before: the mark's lease is held. (Probing takes a lease
// that ends at now, which frees at once.)
func (s *Service) scheduledBefore(ctx context.Context, incidentID string, now time.Time) (bool, error) {
	free, err := s.Leaser.Lease(ctx, scheduledLease(incidentID), "probe", now, now)
	return !free, err
}

// catchUp schedules the surveys of incidents resolved within the last
// week whose scheduling has not completed (a node that died, an event
// missed).
func (s *Service) catchUp(ctx context.Context) error {
	now := s.now()
	incs, _, err := s.Incidents.FindIncidents(ctx, incident.IncidentFilter{Statuses: []incident.Status{incident.Resolved, incident.Postmortem},
		Since: now.Add(-8 * 24 * time.Hour), Limit: 200})
	if err != nil {
		return err
	}
	for _, inc := range incs {
		if inc.ResolvedAt == nil || now.Sub(*inc.ResolvedAt) > 7*24*time.Hour || inc.IsMaintenance() {
			continue
		}
		// The resolution's own messages are part of who was reached: wait
		// until they have had time to go (or half the delay, when that is
		// shorter).
		st, err := s.Settings(ctx, inc.PageID)
		if err != nil {
			return err
		}
		if now.Sub(*inc.ResolvedAt) < min(SettleTime, st.Delay/2) {
			continue
		}
		done, err := s.scheduledBefore(ctx, inc.ID, now)
		if err != nil {
			return err
		}
		if done {
			continue
		}
		if _, err := s.Schedule(ctx, inc.PageID, inc.ID); err != nil {
			s.Log.Error("surveys: schedule", "incident_id", inc.ID, "err", err)
			continue
		}
		if _, err := s.Leaser.Lease(ctx, scheduledLease(inc.ID), holderScheduled, now, now.Add(5*365*24*time.Hour)); err != nil {
			return err
		}
	}
	return nil
}

// sweepLease is the lease one node holds to run the sweep.
const sweepLease = "surveys-sweep"

// Run runs the sweep on the cron schedule Sweep until ctx ends: on the node
// that holds the lease, it schedules the surveys of newly resolved
// incidents and sends the due ones. holder names this node. An incident's
// resolution (an event from any node) wakes it at once.
func (s *Service) Run(ctx context.Context, holder string) error {
	spec := s.Sweep
	if spec == "" {
		spec = "@every 30s"
	}
	kick := make(chan struct{}, 1)
	c := cron.New()
	if _, err := c.AddFunc(spec, func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}); err != nil {
		return fmt.Errorf("surveys: sweep schedule %q: %w", spec, err)
	}
	c.Start()
	defer c.Stop()
	var evs <-chan incident.Event
	if s.Events != nil {
		ch, cancel := s.Events.Subscribe()
		defer cancel()
		evs = ch
	}
	sweep := func() {
		now := s.Now()
		ok, err := s.Leaser.Lease(ctx, sweepLease, holder, now, now.Add(2*time.Minute))
		if err != nil || !ok {
			return
		}
		if err := s.catchUp(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("surveys: catch up", "err", err)
		}
		for {
			n, err := s.SendDue(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.Log.Error("surveys: send due", "err", err)
				}
				return
			}
			if n < sweepBatch {
				return
			}
		}
	}
	sweep()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
			sweep()
		case ev, ok := <-evs:
			if !ok {
				evs = nil
				continue
			}
			if ev.Type == incident.EventIncidentChanged || ev.Type == incident.EventResync {
				sweep()
			}
		}
	}
}

// SMSReply is what AnswerSMS made of an SMS to a number with an open
// survey.
type SMSReply struct {
	Survey *Survey // the survey answered, or asked about again
	// Recorded: the SMS gave the survey's score; otherwise it meant to
	// answer but held no score that can be read (ParseAnswer's Unclear):
	// its words are kept as the survey's comment while it has no score,
	// and the first such reply to the survey is asked for a number.
	Recorded bool
	// Text is the reply to send back in the survey's language: thanks, or
	// (once per survey) a request for a number; "" when nothing goes
	// back: the number opted out (STOP), which gets no more messages, a
	// reply included, or it was asked for a number before.
	Text string
}

// AnswerSMS records an SMS from a number as the answer to its newest open
// survey on the page (ParseAnswer reads it). It returns nil when the SMS
// is no survey reply (words of their own, or no open survey): the caller
// treats it as it would otherwise. A reply meant as an answer that holds
// no score ("no", "10") is no complaint: its words are kept as the
// survey's comment without a score (a survey with a score keeps it, and
// takes only the words after the unreadable score as more of its
// comment: "7/5 great service" adds "great service"), and the survey's
// first such reply is asked once for a number (Survey.AskedForScore),
// never again; a number that sent STOP is not asked, nor marked so.
//
// A new score by SMS keeps what the page added to the answer (kept
// informed, received); the old words go with the old score: a new score
// without words replaces one that had them (the comment "stars" or
// "too slow" belonged to the score it came with), while the same score
// again keeps them, and so does a first score after words without one
// (the customer's own words only: carried).
func (s *Service) AnswerSMS(ctx context.Context, pageID, from, text string) (*SMSReply, error) {
	score, comment, kind := ParseAnswer(text)
	if kind == NotAnAnswer {
		return nil, nil
	}
	ss, err := s.Store.FindSurveysByAddress(ctx, pageID, channel.SMS, from, 5)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, sv := range ss {
		if !sv.Open(now) {
			continue
		}
		out := &SMSReply{Survey: sv}
		asked := false
		if kind == Scored {
			a := Answer{Score: score, Comment: clipComment(comment), Via: "sms", At: now}
			a.Informed, a.Received, a.Comment = carried(sv.Answer, score, a.Comment)
			if out.Survey, err = s.answer(ctx, sv, a); err != nil {
				return nil, err
			}
			out.Recorded = true
		}
		// A number that sent STOP gets nothing back, so it is not asked:
		// AskedForScore says a request went out.
		stopped, err := s.optedOut(ctx, out.Survey)
		if err != nil {
			return nil, err
		}
		if kind == Unclear {
			if out.Survey, _, err = s.addWords(ctx, sv, comment, "sms", now); err != nil {
				return nil, err
			}
			words := clipComment(strings.Join(strings.Fields(text), " "))
			out.Survey, err = s.update(ctx, out.Survey, func(next *Survey) bool {
				changed := keepWords(next, words, "sms", now)
				asked = stopped == "" && next.AskedForScore == nil
				if asked {
					next.AskedForScore = &now
				}
				return changed || asked
			})
			if err != nil {
				return nil, err
			}
		}
		if stopped == "" && (out.Recorded || asked) {
			out.Text = smsReplyText(out)
		}
		return out, nil
	}
	return nil, nil
}

// carried is what a new score takes over from the survey's answer
// before it (nil: none): what the page added (kept informed, received),
// and its words when the new score brings none of its own and the old
// ones were not another score's: the same score again, or words given
// without a score (a score asked for after "it was awful" goes with
// those words). Words that came with a different score went with it.
// Of the replies kept without a score, only the customer's own words
// carry over (ownWords): "10" or "no" only tried to give the score that
// has now come, and as its comment would read as nonsense (and make a
// middling 3 "with words" open a follow-up task).
func carried(old *Answer, score int, words string) (Informed, Received, string) {
	if old == nil {
		return "", "", words
	}
	prior := old.Comment
	if !old.Scored() {
		prior = ownLines(old.Comment)
	}
	switch {
	case words != "" && !old.Scored() && prior != "":
		words = clipComment(prior + "\n" + words)
	case words == "" && (old.Score == score || !old.Scored()):
		words = prior
	}
	return old.Informed, old.Received, words
}

// ownWords is what one reply kept without a score (keepWords: one line
// of the answer's comment) says in the customer's own words: all of it
// for words of their own ("it was awful"), the words after a score that
// could not be read ("7/5 great service" → "great service"), nothing for
// an unreadable score alone ("10", "7/5", "no", "🙂").
func ownWords(reply string) string {
	_, words, kind := ParseAnswer(reply)
	if kind == NotAnAnswer {
		return reply
	}
	return words
}

// ownLines is ownWords of each line of a comment kept without a score,
// the empty ones left out.
func ownLines(comment string) string {
	var out []string
	for _, line := range strings.Split(comment, "\n") {
		if w := ownWords(line); w != "" {
			out = append(out, w)
		}
	}
	return strings.Join(out, "\n")
}

// addWords adds words, those of an Unclear reply after its unreadable
// score (ParseAnswer), to the comment of sv's answer when it has a score
// and does not hold them yet (added); the score stays. It returns sv as
// it was otherwise. It saves through answer, so a follow-up task open for
// the score is told of the words.
func (s *Service) addWords(ctx context.Context, sv *Survey, words, via string, now time.Time) (saved *Survey, added bool, err error) {
	words = clipComment(strings.Join(strings.Fields(words), " "))
	if words == "" || !sv.Answer.Scored() || slices.Contains(strings.Split(sv.Answer.Comment, "\n"), words) {
		return sv, false, nil
	}
	a := *sv.Answer
	a.Via, a.At, a.Comment = via, now, words
	if sv.Answer.Comment != "" {
		a.Comment = clipComment(sv.Answer.Comment + "\n" + words)
	}
	saved, err = s.answer(ctx, sv, a)
	return saved, err == nil, err
}

// keepWords keeps words a customer wrote in reply to the survey without
// a score as its answer's comment, with no score (Answer.Score 0), and
// reports whether next changed: while the survey has no score, the
// words are added to those it holds (once: a repeat of the same reply,
// a provider's retry, adds nothing); a survey with a score keeps its
// answer as it is (its words are the score's own).
func keepWords(next *Survey, words, via string, now time.Time) bool {
	if words == "" || next.Answer.Scored() {
		return false
	}
	a := Answer{Comment: words, Via: via, At: now}
	if old := next.Answer; old != nil {
		if slices.Contains(strings.Split(old.Comment, "\n"), words) {
			return false
		}
		a.Informed, a.Received, a.Changes = old.Informed, old.Received, old.Changes+1
		if old.Comment != "" {
			a.Comment = clipComment(old.Comment + "\n" + words)
		}
	} else {
		at := now
		next.AnsweredAt = &at
	}
	next.Answer, next.State = &a, Answered
	return true
}

// update saves change's edit of sv as its next version, reading it again
// and editing that when another save came first; change reports false
// when it changes nothing, and nothing is saved. It returns the survey
// as saved (or as read, when nothing changed).
func (s *Service) update(ctx context.Context, sv *Survey, change func(next *Survey) bool) (*Survey, error) {
	for try := 0; try < 5; try++ {
		next := *sv
		if sv.Answer != nil {
			a := *sv.Answer
			next.Answer = &a
		}
		if !change(&next) {
			return sv, nil
		}
		next.Version++
		next.UpdatedAt = s.now()
		err := s.Store.SaveSurvey(ctx, &next)
		if err == nil {
			return &next, nil
		}
		if incident.ErrorCode(err) != incident.ECONFLICT {
			return nil, err
		}
		if sv, err = s.Store.FindSurveyByID(ctx, sv.ID); err != nil {
			return nil, err
		}
	}
	return nil, incident.Errorf(incident.ECONFLICT, "survey %s kept changing while a reply to it was recorded", sv.ID)
}

// smsReplyText is the SMS that answers r, in the survey's language.
func smsReplyText(r *SMSReply) string {
	w := winBackWords(r.Survey.Language)
	switch {
	case !r.Recorded:
		return w("SMSSurveyAskAgain")
	case r.Survey.FollowsUp():
		return w("SMSSurveyThanksFollowUp")
	}
	return w("SMSSurveyThanks")
}

// EmailReply is what AnswerEmail made of an email reply to a survey.
type EmailReply struct {
	// Survey is the survey the reply answers, as saved; nil when Kind
	// is NotAnAnswer and the reply is nothing to the survey.
	Survey *Survey
	Kind   ReplyKind
	// Kept: the reply's words were kept as the survey's comment without a
	// score (Unclear, or NotAnAnswer: words of their own), or, for an
	// Unclear reply to a survey with a score, the words after its
	// unreadable score were added to that score's comment.
	Kept bool
	// Asked: herald queued the one email that asks for the score
	// (Unclear only, the survey's first such reply).
	Asked bool
	// Thanked: herald queued the email that thanks for the score
	// (Scored only; one per survey, whatever the number of answers).
	Thanked bool
}

// AnswerEmail records an email reply to survey id (the survey message's
// delivery it answers, In-Reply-To, or herald's request for a score)
// from the address the survey went to, while the survey is open;
// thread is the References herald's answer to the reply carries (the
// reply's own References, then its Message-ID: notify.ReplyReferences),
// space-separated, which threads it under the reply. Any other reply is
// NotAnAnswer with no survey.
//
//   - A reply that starts with a score (ParseAnswer: "5 - all fine,
//     thanks") is the survey's answer, the words after it its comment:
//     Scored. It is thanked by email (Sender.ThankForAnswer), as the web
//     form thanks on its page, once per survey, and not when the
//     address is suppressed.
//   - One meant as an answer that holds no score that can be read
//     ("kilenc", "10", "no", an emoji) is Unclear: as by SMS, never a
//     complaint. Its words are kept as the survey's comment without a
//     score (unless it has a score), and the survey's first such reply
//     is answered, once, with an email that thanks them and asks for
//     the score (Sender.AskForScore; Survey.AskedForScore), unless the
//     address is suppressed (bounced, unsubscribed, opted out): then
//     nothing is asked, nor recorded as asked.
//   - Words of their own ("it was awful, nobody called me back") are
//     NotAnAnswer: the caller files them as a complaint about the
//     incident, whose acknowledgement answers them (no request for a
//     score beside it: a complaint is answered by a person, and a
//     second automatic mail asking to rate us would read as not
//     listening). They were written in reply to the survey, so they are
//     its comment too while it has no score: the results count the
//     customer as having answered, in their words.
func (s *Service) AnswerEmail(ctx context.Context, id, from, text, thread string) (*EmailReply, error) {
	sv, err := s.Store.FindSurveyByID(ctx, id)
	if incident.ErrorCode(err) == incident.ENOTFOUND {
		return &EmailReply{Kind: NotAnAnswer}, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if sv.Channel != channel.Email || !strings.EqualFold(strings.TrimSpace(sv.Address), strings.TrimSpace(from)) || !sv.Open(now) {
		return &EmailReply{Kind: NotAnAnswer}, nil
	}
	score, comment, kind := ParseAnswer(text)
	if kind != Scored {
		return s.unscoredEmail(ctx, sv, text, thread, kind)
	}
	a := Answer{Score: score, Comment: clipComment(strings.Join(strings.Fields(comment), " ")), Via: "email", At: now}
	a.Informed, a.Received, a.Comment = carried(sv.Answer, score, a.Comment)
	out, err := s.answer(ctx, sv, a)
	if err != nil {
		return nil, err
	}
	thanked, err := s.thank(ctx, out, thread)
	if err != nil {
		return nil, err
	}
	return &EmailReply{Survey: out, Kind: Scored, Thanked: thanked}, nil
}

// thank queues the thanks for sv's score given by email, threaded under
// the reply (thread), after the score is saved: a crash in between
// leaves the answer unthanked until the provider's retry of the reply
// (which an error here asks for) records the same score again and queues
// it. Nothing is queued for a suppressed address, which would only be
// suppressed; a node without a Sender sends nothing.
func (s *Service) thank(ctx context.Context, sv *Survey, thread string) (bool, error) {
	if s.Sender == nil {
		return false, nil
	}
	if stopped, err := s.optedOut(ctx, sv); err != nil || stopped != "" {
		return false, err
	}
	link, err := s.Link(ctx, sv)
	if err != nil {
		return false, err
	}
	if _, err := s.Sender.ThankForAnswer(ctx, sv, link, thread); err != nil {
		return false, err
	}
	return true, nil
}

// unscoredEmail keeps an email reply without a score with the survey
// and, for an Unclear one from an address that is not suppressed (as
// AnswerSMS after a STOP), asks for the score once: the request is
// queued before the survey records that it was asked, so that a crash
// between the two asks again on the next such reply (or the provider's
// retry), which the request's delivery ID makes the same message.
func (s *Service) unscoredEmail(ctx context.Context, sv *Survey, text, thread string, kind ReplyKind) (*EmailReply, error) {
	now := s.now()
	words := clipComment(strings.Join(strings.Fields(text), " "))
	ask := kind == Unclear && sv.AskedForScore == nil && s.Sender != nil
	if ask {
		// An address that bounced, unsubscribed or opted out gets no
		// request (the pipeline would only suppress it), so the survey
		// must not record that it was asked: AskedForScore says a request
		// went out. The reply is kept all the same.
		stopped, err := s.optedOut(ctx, sv)
		if err != nil {
			return nil, err
		}
		ask = stopped == ""
	}
	if ask {
		link, err := s.Link(ctx, sv)
		if err != nil {
			return nil, err
		}
		if _, err := s.Sender.AskForScore(ctx, sv, link, thread); err != nil {
			return nil, err
		}
	}
	out := &EmailReply{Kind: kind}
	if kind == Unclear {
		_, comment, _ := ParseAnswer(text)
		var err error
		if sv, out.Kept, err = s.addWords(ctx, sv, comment, "email", now); err != nil {
			return nil, err
		}
	}
	saved, err := s.update(ctx, sv, func(next *Survey) bool {
		kept := keepWords(next, words, "email", now)
		out.Kept = out.Kept || kept
		asked := ask && next.AskedForScore == nil
		if asked {
			next.AskedForScore = &now
		}
		return kept || asked
	})
	if err != nil {
		return nil, err
	}
	out.Survey, out.Asked = saved, ask
	if out.Kept {
		s.Log.Info("survey reply kept without a score", "page_id", saved.PageID, "incident_id", saved.IncidentID, "survey_id", saved.ID, "via", "email", "asked", ask)
	}
	return out, nil
}

// clipComment cuts words to MaxComment characters of valid text.
func clipComment(c string) string {
	c = strings.ToValidUTF8(strings.ReplaceAll(c, "\x00", ""), "")
	if utf8.RuneCountInString(c) > MaxComment {
		c = string([]rune(c)[:MaxComment])
	}
	return strings.TrimSpace(c)
}

// Open returns the survey a link names, for its page; ErrLink for a link
// that does not work.
func (s *Service) Open(ctx context.Context, token string) (*Survey, error) {
	key, err := s.linkKey(ctx)
	if err != nil {
		return nil, err
	}
	id, err := Verify(key, token, s.Now())
	if err != nil {
		return nil, err
	}
	sv, err := s.Store.FindSurveyByID(ctx, id)
	if incident.ErrorCode(err) == incident.ENOTFOUND {
		return nil, ErrLink
	}
	return sv, err
}

// ErrClosed answers a survey that no longer takes answers.
var ErrClosed = incident.Errorf(incident.ECONFLICT, "this survey is closed: thank you, we have what you told us")

// AnswerLink records an answer given on a survey's page (or by a score
// link). A changed answer within ChangeWindow replaces the earlier one;
// the same answer again changes nothing.
func (s *Service) AnswerLink(ctx context.Context, token string, a Answer) (*Survey, error) {
	sv, err := s.Open(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := a.validate(sv); err != nil {
		return nil, err
	}
	now := s.now()
	if !sv.Open(now) {
		return nil, ErrClosed
	}
	a.Via, a.At = "web", now
	return s.answer(ctx, sv, a)
}

// errNotAsked refuses an answer about receiving what was promised from
// someone who was promised nothing (the page does not ask them).
var errNotAsked = incident.Invalid("received", "nothing was promised for this incident, so the survey does not ask whether it was received")

func (a *Answer) validate(sv *Survey) error {
	a.Comment = strings.TrimSpace(a.Comment)
	switch {
	case a.Score < 1 || a.Score > 5:
		return incident.Invalid("score", "choose from 1 to 5")
	case a.Informed != "" && a.Informed != InformedYes && a.Informed != InformedPartly && a.Informed != InformedNo:
		return incident.Invalid("informed", "want yes, partly or no, not %q", a.Informed)
	case a.Received != "" && a.Received != ReceivedYes && a.Received != ReceivedNotYet && a.Received != ReceivedNo:
		return incident.Invalid("received", "want yes, not_yet or no, not %q", a.Received)
	case a.Received != "" && !sv.Granted:
		return errNotAsked
	case utf8.RuneCountInString(a.Comment) > MaxComment || !utf8.ValidString(a.Comment) || strings.ContainsRune(a.Comment, 0):
		return incident.Invalid("comment", "at most %d characters of text", MaxComment)
	}
	return nil
}

// answer saves a as sv's answer (once per change) and opens a win-back
// task when it calls for one. A save that loses a race re-reads and tries
// again.
func (s *Service) answer(ctx context.Context, sv *Survey, a Answer) (*Survey, error) {
	for try := 0; try < 5; try++ {
		if sv.Answer != nil && sv.Answer.Score == a.Score && sv.Answer.Informed == a.Informed && sv.Answer.Received == a.Received &&
			sv.Answer.Comment == a.Comment {
			return sv, nil // the same click twice
		}
		next := *sv
		next.Version++
		next.UpdatedAt = a.At
		if sv.Answer != nil {
			a.Changes = sv.Answer.Changes + 1
		} else {
			at := a.At
			next.AnsweredAt = &at
		}
		ans := a
		next.Answer, next.State = &ans, Answered
		err := s.Store.SaveSurvey(ctx, &next)
		if incident.ErrorCode(err) == incident.ECONFLICT {
			if sv, err = s.Store.FindSurveyByID(ctx, sv.ID); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		s.Log.Info("survey answered", "page_id", next.PageID, "incident_id", next.IncidentID, "survey_id", next.ID,
			"score", a.Score, "via", a.Via, "changes", a.Changes)
		if note := s.changeNote(ctx, sv, &next); note != "" {
			// The follow-up task opened for an earlier answer would go on
			// quoting a score the customer took back, or miss the words
			// they added since: its timeline says.
			last := next.WinBacks[len(next.WinBacks)-1]
			if _, err := s.Complaints.Note(ctx, next.PageID, last, note); err != nil {
				s.Log.Warn("surveys: note a changed answer on its win-back task", "survey_id", next.ID, "complaint_id", last, "err", err)
			}
		}
		if wb, err := s.winBack(ctx, &next); err != nil {
			s.Log.Error("surveys: win-back", "survey_id", next.ID, "err", err)
		} else if wb != nil {
			return wb, nil
		}
		return &next, nil
	}
	return nil, incident.Errorf(incident.ECONFLICT, "the survey changed while you answered; try again")
}

// changeNote is the note a changed answer adds to the survey's latest
// win-back task: the new score, the new words, or both; "" when there is
// no task or neither changed.
func (s *Service) changeNote(ctx context.Context, before, after *Survey) string {
	if before.Answer == nil || after.Answer == nil || len(after.WinBacks) == 0 || s.Complaints == nil {
		return ""
	}
	old, a := before.Answer, after.Answer
	scoreChanged, wordsChanged := old.Score != a.Score, a.Comment != "" && a.Comment != old.Comment
	if !scoreChanged && !wordsChanged {
		return ""
	}
	w := winBackWords(s.pageLanguage(ctx, after.PageID))
	if !scoreChanged {
		return w("WinBackNewWords", "Score", strconv.Itoa(a.Score), "Comment", a.Comment)
	}
	note := w("WinBackChanged", "Score", strconv.Itoa(a.Score), "Before", strconv.Itoa(old.Score))
	if wordsChanged {
		note += " " + w("WinBackWords", "Comment", a.Comment)
	}
	return note
}

// pageZone is the page's time zone name ("" when it cannot be read: UTC).
func (s *Service) pageZone(ctx context.Context, pageID string) string {
	if p, err := s.Incidents.FindPageByID(ctx, pageID); err == nil {
		return p.TimeZone
	}
	return ""
}

// pageLanguage is the page's first language, the agents' ("en" when the
// page names none or cannot be read).
func (s *Service) pageLanguage(ctx context.Context, pageID string) string {
	if p, err := s.Incidents.FindPageByID(ctx, pageID); err == nil && len(p.Languages) > 0 {
		return p.Languages[0]
	}
	return "en"
}

// WinBackCategory is the complaint category of a win-back task.
const WinBackCategory = complaint.CategoryFollowUp

// winBack opens a follow-up task for an unhappy answer (Answer.Unhappy: a
// score of 1–2, or a 3 with words; praise, a 4 or 5 with words, opens
// none): a complaint of category follow_up tagged to
// the incident, naming the survey and suggesting offers from the
// compensation policy. At most WinBackMax per survey, WinBackGap apart,
// and never for an address that opted out or a customer who declined
// compensation for the incident. It returns the saved survey when it
// opened one, else nil.
func (s *Service) winBack(ctx context.Context, sv *Survey) (*Survey, error) {
	a := sv.Answer
	if s.Complaints == nil || a == nil || !a.Unhappy() {
		return nil, nil
	}
	st, err := s.Settings(ctx, sv.PageID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	switch {
	case len(sv.WinBacks) >= st.WinBackMax:
		return nil, nil
	case sv.LastWinBack != nil && now.Sub(*sv.LastWinBack) < st.WinBackGap:
		return nil, nil
	}
	if s.Suppressions != nil {
		if _, err := s.Suppressions.FindSuppression(ctx, sv.PageID, sv.Channel, sv.Address); err == nil {
			return nil, nil
		} else if incident.ErrorCode(err) != incident.ENOTFOUND {
			return nil, err
		}
	}
	// The task is for the page's agents: in the page's first language,
	// as their Slack messages are.
	lang := s.pageLanguage(ctx, sv.PageID)
	w := winBackWords(lang)
	suggest := ""
	if sv.RecipientType == queue.FromCustomer && s.Grants != nil {
		gs, err := s.Grants.FindGrants(ctx, sv.PageID, sv.IncidentID, sv.RecipientID)
		if err != nil {
			return nil, err
		}
		// They said no to an offer and did not take it after all: do not
		// insist. (A grant after a decline supersedes it.)
		declined, took := map[string]bool{}, map[string]bool{}
		for _, g := range gs {
			if g.Declined {
				declined[g.Group] = true
			} else {
				took[g.Group] = true
			}
		}
		for group := range declined {
			if !took[group] {
				return nil, nil
			}
		}
		if s.Offers != nil {
			if ans, err := s.Offers.Check(ctx, sv.PageID, sv.IncidentID, sv.RecipientID, lang); err == nil {
				var offers []string
				for _, o := range ans.Offers {
					if !o.Granted && !o.Declined {
						offers = append(offers, o.Description) // in words: the offer's ID means nothing to an agent
					}
				}
				if len(offers) > 0 {
					suggest = " " + w("WinBackOffers", "Offers", strings.Join(offers, "; "))
				}
			}
		}
	}
	text := w("WinBackText", "Score", strconv.Itoa(a.Score))
	if a.Comment != "" {
		text += " " + w("WinBackWords", "Comment", a.Comment)
	}
	ct := complaint.Contact{Name: sv.Name, TimeZone: sv.TimeZone}
	switch sv.Channel {
	case channel.SMS:
		ct.Phone = sv.Address
	case channel.Email:
		ct.Email = sv.Address
	case channel.Slack:
		ct.Slack = sv.Address
	}
	if sv.RecipientType == queue.FromCustomer {
		ct.CustomerID = sv.RecipientID
	}
	c, created, err := s.Complaints.Receive(ctx, complaint.Intake{PageID: sv.PageID, Channel: complaint.Channel(sv.Channel), Contact: ct,
		Subject: w("WinBackSubject"), Text: text, Category: WinBackCategory, Ask: complaint.AskOther,
		Language: sv.Language, IncidentID: sv.IncidentID, ExternalID: "survey:" + sv.ID + ":" + strconv.Itoa(len(sv.WinBacks)+1), At: now,
		Separate: true})
	if err != nil {
		return nil, err
	}
	// Only the answer that opened the task notes it: the same answer
	// posted twice at once (two nodes, a link scanner) finds the task by
	// its ExternalID and must not write the note again.
	if created {
		if _, err := s.Complaints.Note(ctx, sv.PageID, c.ID, w("WinBackNote")+suggest); err != nil {
			s.Log.Warn("surveys: note the win-back", "complaint_id", c.ID, "err", err)
		}
	}
	for try := 0; try < 5; try++ {
		if slices.Contains(sv.WinBacks, c.ID) {
			// A concurrent answer (a double click, a link scanner)
			// opened the same task (the complaint's ExternalID made it
			// one) and recorded it first.
			return sv, nil
		}
		next := *sv
		next.Version++
		next.WinBacks = append(append([]string(nil), sv.WinBacks...), c.ID)
		next.LastWinBack, next.UpdatedAt = &now, now
		err := s.Store.SaveSurvey(ctx, &next)
		if err == nil {
			s.Log.Info("survey win-back opened", "survey_id", sv.ID, "complaint_id", c.ID, "score", a.Score)
			return &next, nil
		}
		if incident.ErrorCode(err) != incident.ECONFLICT {
			return nil, err
		}
		if sv, err = s.Store.FindSurveyByID(ctx, sv.ID); err != nil {
			return nil, err
		}
	}
	return nil, incident.Errorf(incident.ECONFLICT, "the survey kept changing while its win-back was recorded")
}

// SendNow sends an incident's scheduled surveys at once, whatever their
// due time (managers: a fast-forward for a demo, or when the wait is not
// wanted). It schedules them first when that has not happened yet, and
// returns how many it sent.
func (s *Service) SendNow(ctx context.Context, pageID, incidentID string) (int, error) {
	if !incident.ActorFrom(ctx).Role.Allows(incident.RoleManager) {
		return 0, incident.Errorf(incident.EFORBIDDEN, "only a manager may send surveys early")
	}
	if _, err := s.Schedule(ctx, pageID, incidentID); err != nil {
		return 0, err
	}
	now := s.now()
	after := ""
	for {
		ss, err := s.Store.FindSurveys(ctx, incidentID, Scheduled, after, 1000)
		if err != nil {
			return 0, err
		}
		for _, sv := range ss {
			next := *sv
			next.Version++
			next.DueAt, next.UpdatedAt = now, now
			if err := s.Store.SaveSurvey(ctx, &next); err != nil && incident.ErrorCode(err) != incident.ECONFLICT {
				return 0, err
			}
		}
		if len(ss) < 1000 {
			break
		}
		after = ss[len(ss)-1].ID
	}
	total := 0
	for {
		n, err := s.SendDue(ctx)
		total += n
		if err != nil || n < sweepBatch {
			return total, err
		}
	}
}

// Undelivered records that survey id's message did not reach its
// recipient for good (a bounce, a number that does not exist, retries
// spent): a survey still waiting for its answer becomes skipped, with
// reason, so that the results and the report count it neither as sent nor
// in the response rate. An answered survey (the link forwarded, another
// copy) keeps its answer. An unknown ID is no error: the survey may be
// gone with its incident.
func (s *Service) Undelivered(ctx context.Context, id, reason string) error {
	for try := 0; try < 5; try++ {
		sv, err := s.Store.FindSurveyByID(ctx, id)
		if incident.ErrorCode(err) == incident.ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		if sv.State != Sent {
			return nil
		}
		next := *sv
		next.Version++
		next.State, next.Reason, next.UpdatedAt = Skipped, "its message was not delivered: "+reason, s.now()
		err = s.Store.SaveSurvey(ctx, &next)
		if err == nil {
			s.Log.Info("survey not delivered", "survey_id", id, "channel", sv.Channel, "reason", reason)
			return nil
		}
		if incident.ErrorCode(err) != incident.ECONFLICT {
			return err
		}
	}
	return incident.Errorf(incident.ECONFLICT, "survey %s kept changing while its failed delivery was recorded", id)
}

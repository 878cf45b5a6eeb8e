package notify

import (
	"context"
	"encoding/json"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/notify/sms"
	"github.com/heraldhq/herald/queue"
)

// DryRunResult is what a broadcast would do, computed without writing or
// sending anything.
type DryRunResult struct {
	PageID     string                 `json:"page_id"`
	IncidentID string                 `json:"incident_id"`
	Kind       incident.BroadcastKind `json:"kind"`
	// Recipients counts deliveries per channel after dedupe and without
	// the suppressed ones, which Suppressed counts.
	Recipients    map[channel.Kind]int `json:"recipients"`
	Suppressed    map[channel.Kind]int `json:"suppressed"`
	SMSSegments   int                  `json:"sms_segments"`
	EstimatedCost float64              `json:"estimated_cost"`
	Currency      string               `json:"currency"`
	// Samples holds one rendered message per channel and language in use.
	Samples map[channel.Kind]map[string]*Sample `json:"samples"`
	// PlaceholderID is set on the dry run of a declaration (DraftDryRun):
	// the incident has no ID yet, so its samples' links carry this
	// placeholder (DraftPlaceholderID) where the ID will be, and Note
	// says so.
	PlaceholderID string `json:"placeholder_id,omitempty"`
	Note          string `json:"note,omitempty"`
}

// DraftPlaceholderID stands for the incident's ID in the samples of a
// declaration's dry run, whose incident has no ID yet: a link with the ID
// of the draft would open nothing, then or ever (the declaration gets
// another), yet look like a working link. It is exactly as long as a real
// ID (incident.NewID) and, like it, all GSM-7, so the samples' lengths
// and SMS segment counts are a real declaration's; its capitals can be no
// real ID (incident.ValidID).
const DraftPlaceholderID = "NEW-INCIDENT"

// draftNote is what a declaration's dry run says of its links.
const draftNote = "Nothing was declared. The samples' links carry " + DraftPlaceholderID +
	" where the incident's ID will be: a placeholder as long as a real ID, so lengths and SMS segments are those of the real messages."

// Sample is one rendered message of a dry run, as the API shows it: what
// the recipient reads, without their address.
type Sample struct {
	Channel  channel.Kind `json:"channel"`
	Language string       `json:"language"`
	Subject  string       `json:"subject,omitempty"` // email
	Text     string       `json:"text"`              // SMS body, email text part, Slack fallback text
	HTML     string       `json:"html,omitempty"`    // email HTML part
	// Blocks is Slack's Block Kit JSON, Payload a webhook's JSON body.
	Blocks  json.RawMessage `json:"blocks,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// sampleOf is m as a dry run shows it.
func sampleOf(m *channel.Message, lang string) *Sample {
	sm := &Sample{Channel: m.Kind, Language: lang, Subject: m.Subject, Text: m.Text, HTML: m.HTML}
	if len(m.Blocks) > 0 && json.Valid(m.Blocks) {
		sm.Blocks = json.RawMessage(m.Blocks)
	}
	if len(m.Payload) > 0 && json.Valid(m.Payload) {
		sm.Payload = json.RawMessage(m.Payload)
	}
	return sm
}

// DryRun answers what broadcasting kind for the incident's newest update
// would do: recipients per channel (after dedupe and suppression), SMS
// segments and their estimated cost, and a rendered sample per channel
// and language.
func (s *Service) DryRun(ctx context.Context, pageID, incidentID string, kind incident.BroadcastKind) (*DryRunResult, error) {
	inc, err := s.inc.Incident(ctx, pageID, incidentID)
	if err != nil {
		return nil, err
	}
	if _, ok := render.KindForBroadcast(kind); !ok {
		return nil, incident.Invalid("kind", "unknown broadcast kind %q: use one of %s", kind, incident.Join(incident.BroadcastKinds))
	}
	snap, err := s.cache.snapshot(ctx, inc.ID)
	if err != nil {
		return nil, err
	}
	if (kind == incident.BroadcastResolved || kind == incident.BroadcastCompleted) && snap.inc.ResolvedAt == nil {
		if snap, err = s.closedSnapshot(ctx, snap); err != nil {
			return nil, err
		}
	}
	return s.dryRun(ctx, snap, kind)
}

// closedSnapshot is snap as resolving (or completing) its incident
// without a message would leave it: what `herald resolve` sends. The
// update that resolves it is the newest and has no text, so the samples
// carry none, not the text of the update before (an "investigating" text
// under "What happened and what we did"); the components it touched are
// operational again, and the page's status no longer counts it.
func (s *Service) closedSnapshot(ctx context.Context, snap *snapshot) (*snapshot, error) {
	to := incident.Resolved
	if snap.inc.IsMaintenance() {
		to = incident.Completed
	}
	inc, comps, _, err := s.inc.DraftUpdate(ctx, snap.inc.PageID, snap.inc.ID, incident.IncidentInput{Status: &to})
	if err != nil {
		return nil, err
	}
	open, _, err := s.inc.Store.FindIncidents(ctx, incident.IncidentFilter{PageID: inc.PageID,
		Statuses: []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring, incident.InProgress, incident.Verifying}})
	if err != nil {
		return nil, err
	}
	others := open[:0]
	for _, o := range open {
		if o.ID != inc.ID {
			others = append(others, o)
		}
	}
	return &snapshot{inc: inc, page: snap.page, comps: comps, status: incident.Overall(comps, others), fetched: time.Now()}, nil
}

// DraftDryRun is DryRun for an incident not declared yet: what declaring
// in on the page would show and send (recipients per channel, the first
// message per channel and language, SMS segments and cost). It stores,
// publishes and sends nothing. A declaration that notifies nobody
// (deliver_notifications false) answers an empty result. Errors are
// incident.Service.CreateIncident's.
func (s *Service) DraftDryRun(ctx context.Context, pageID string, in incident.IncidentInput) (*DryRunResult, error) {
	inc, comps, b, err := s.inc.DraftIncident(ctx, pageID, in)
	if err != nil {
		return nil, err
	}
	page, err := s.inc.Page(ctx, pageID)
	if err != nil {
		return nil, err
	}
	kind := incident.BroadcastDeclared
	if b != nil {
		kind = b.Kind
	}
	if b == nil {
		return &DryRunResult{PageID: pageID, Kind: kind, Recipients: map[channel.Kind]int{}, Suppressed: map[channel.Kind]int{},
			Currency: s.cfg.SMSCurrency, Samples: map[channel.Kind]map[string]*Sample{}}, nil
	}
	open, _, err := s.inc.Store.FindIncidents(ctx, incident.IncidentFilter{PageID: pageID,
		Statuses: []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring, incident.InProgress, incident.Verifying}})
	if err != nil {
		return nil, err
	}
	// The draft's ID is no incident's, now or once declared (that gets an
	// ID of its own): its samples link to the placeholder instead.
	inc.ID = DraftPlaceholderID
	for _, u := range inc.Updates {
		u.IncidentID = DraftPlaceholderID
	}
	snap := &snapshot{inc: inc, page: page, comps: comps, status: incident.Overall(comps, append(open, inc)), fetched: time.Now()}
	res, err := s.dryRun(ctx, snap, kind)
	if err != nil {
		return nil, err
	}
	res.IncidentID = "" // nothing was declared
	res.PlaceholderID, res.Note = DraftPlaceholderID, draftNote
	return res, nil
}

// dryRun counts and renders the broadcast of kind for snap's incident
// and its newest update.
func (s *Service) dryRun(ctx context.Context, snap *snapshot, kind incident.BroadcastKind) (*DryRunResult, error) {
	inc := snap.inc
	upd := ""
	if len(inc.Updates) > 0 {
		upd = inc.Updates[0].ID
	}
	b := &incident.Broadcast{ID: "dryrun", PageID: inc.PageID, IncidentID: inc.ID, UpdateID: upd, Kind: kind}
	a, err := s.newAudience(ctx, b, inc)
	if err != nil {
		return nil, err
	}
	res := &DryRunResult{PageID: inc.PageID, IncidentID: inc.ID, Kind: kind, Recipients: map[channel.Kind]int{}, Suppressed: map[channel.Kind]int{},
		Currency: s.cfg.SMSCurrency, Samples: map[channel.Kind]map[string]*Sample{}}
	// 8 bytes of each delivery ID: a million customers on two channels
	// cost ~40 MB here rather than ~200 MB of strings.
	seen := map[uint64]struct{}{}
	segs := map[[2]string]int{} // language, zone → SMS segments
	// A recipient's language → the one their message is rendered in; the
	// page is the same for every delivery, and parsing the tag for each
	// of a million was 8% of a large dry run.
	langs := map[string]string{}
	cursor := ""
	for !strings.HasPrefix(cursor, phaseDone+":") {
		ds, next, err := a.batch(ctx, cursor, s.cfg.BatchSize)
		if err != nil {
			return nil, err
		}
		cursor = next
		fresh := make([]*queue.Delivery, 0, len(ds))
		for _, d := range ds {
			key, err := strconv.ParseUint(d.ID[:16], 16, 64)
			if err != nil {
				return nil, err
			}
			if _, dup := seen[key]; dup {
				continue
			}
			seen[key] = struct{}{}
			fresh = append(fresh, d)
		}
		suppressed, err := s.suppressedIn(ctx, fresh)
		if err != nil {
			return nil, err
		}
		for _, d := range fresh {
			if suppressed[scopedAddress{d.PageID, d.Kind, d.Address}] {
				res.Suppressed[d.Kind]++
				continue
			}
			res.Recipients[d.Kind]++
			in := render.Input{Kind: a.mk, Page: snap.page, Status: snap.status, Incident: snap.inc, Components: snap.comps,
				MaxSMSSegments: s.cfg.MaxSMSSegments, Now: s.now(), Recipient: render.Recipient{Language: d.Language, TimeZone: d.TimeZone, Type: d.RecipientType},
				UnsubscribeURL: s.link(unsubscribePathPrefix, "sample")}
			lang, ok := langs[d.Language]
			if !ok {
				lang = s.r.Language(in)
				langs[d.Language] = lang
			}
			// The compensation line differs per customer; samples and the
			// SMS segment estimate use the first customer's of each
			// language (and zone), which reads it only a few times.
			withLine := func() error {
				line, err := s.compensationLine(ctx, d)
				in.Compensation = line
				return err
			}
			if d.Kind == channel.SMS {
				key := [2]string{lang, d.TimeZone}
				n, ok := segs[key]
				if !ok {
					if err := withLine(); err != nil {
						return nil, err
					}
					m, err := s.r.Render(channel.SMS, in)
					if err != nil {
						return nil, err
					}
					_, _, n = sms.Segments(m.Text)
					segs[key] = n
				}
				res.SMSSegments += n
			}
			if res.Samples[d.Kind] == nil {
				res.Samples[d.Kind] = map[string]*Sample{}
			}
			if _, ok := res.Samples[d.Kind][lang]; !ok {
				if err := withLine(); err != nil {
					return nil, err
				}
				in.Recipient = render.Recipient{Language: lang, Name: d.Name, TimeZone: d.TimeZone, Type: d.RecipientType}
				m, err := s.r.Render(d.Kind, in)
				if err != nil {
					return nil, err
				}
				res.Samples[d.Kind][lang] = sampleOf(m, lang)
			}
		}
	}
	res.EstimatedCost = math.Round(float64(res.SMSSegments)*s.cfg.SMSSegmentPrice*100) / 100
	if len(seen) >= bigDryRun {
		// A dry run over a large audience is a one-off that leaves its
		// set and a million short-lived deliveries behind: without this the
		// runtime keeps that heap (about 150 MB at a million customers)
		// for minutes, on top of what the real broadcast then needs.
		seen = nil
		debug.FreeOSMemory()
	}
	return res, nil
}

// bigDryRun is the audience (deliveries) from which DryRun hands its
// memory back to the OS when it is done.
const bigDryRun = 200_000

// scopedAddress is an address on one page's channel.
type scopedAddress struct {
	page    string
	kind    channel.Kind
	address string
}

// suppressedIn returns which of a batch's addresses are suppressed: one
// store query per page and channel (FindSuppressed), not one per recipient.
// Loading the page's suppressions once instead would not scale the same
// way: the global ones (every SMS STOP, on any page) only grow, and the
// Redis engine keeps all pages' suppressions in one hash.
func (s *Service) suppressedIn(ctx context.Context, ds []*queue.Delivery) (map[scopedAddress]bool, error) {
	type scope struct {
		page string
		kind channel.Kind
	}
	byScope := map[scope][]string{}
	for _, d := range ds {
		sc := scope{d.PageID, d.Kind}
		byScope[sc] = append(byScope[sc], d.Address)
	}
	out := map[scopedAddress]bool{}
	for sc, addrs := range byScope {
		sup, err := s.store.FindSuppressed(ctx, sc.page, sc.kind, addrs)
		if err != nil {
			return nil, err
		}
		for _, a := range sup {
			out[scopedAddress{sc.page, sc.kind, a}] = true
		}
	}
	return out, nil
}

// DraftAudience counts who declaring an incident on the page with these
// components would reach, per channel, after dedupe and without the
// suppressed addresses: the dry run's count for an incident not declared
// yet (the Slack declare modal shows it before submit). It writes nothing.
func (s *Service) DraftAudience(ctx context.Context, pageID string, componentIDs []string) (map[channel.Kind]int, error) {
	byKind, _, err := s.DraftAudienceLanguages(ctx, pageID, componentIDs)
	return byKind, err
}

// DraftAudienceLanguages is DraftAudience, and also how many recipients
// (a customer or subscriber once, whatever their channels) read each
// language: a declaration whose text is in one language reaches the others
// inside a frame in theirs, which its author should see before declaring.
func (s *Service) DraftAudienceLanguages(ctx context.Context, pageID string, componentIDs []string) (map[channel.Kind]int, map[string]int, error) {
	if _, err := s.inc.Page(ctx, pageID); err != nil {
		return nil, nil, err
	}
	inc := &incident.Incident{ID: "draft", PageID: pageID, Status: incident.Investigating, ComponentIDs: componentIDs}
	b := &incident.Broadcast{ID: "draft", PageID: pageID, IncidentID: inc.ID, UpdateID: "draft", Kind: incident.BroadcastDeclared}
	a, err := s.newAudience(ctx, b, inc)
	if err != nil {
		return nil, nil, err
	}
	out, langs := map[channel.Kind]int{}, map[string]int{}
	seen := map[string]struct{}{}
	people := map[string]bool{}
	cursor := ""
	for !strings.HasPrefix(cursor, phaseDone+":") {
		ds, next, err := a.batch(ctx, cursor, s.cfg.BatchSize)
		if err != nil {
			return nil, nil, err
		}
		cursor = next
		fresh := ds[:0]
		for _, d := range ds {
			if _, dup := seen[d.ID]; !dup {
				seen[d.ID] = struct{}{}
				fresh = append(fresh, d)
			}
		}
		suppressed, err := s.suppressedIn(ctx, fresh)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range fresh {
			if suppressed[scopedAddress{d.PageID, d.Kind, d.Address}] {
				continue
			}
			out[d.Kind]++
			if who := string(d.RecipientType) + ":" + d.RecipientID; !people[who] {
				people[who] = true
				langs[d.Language]++
			}
		}
	}
	return out, langs, nil
}

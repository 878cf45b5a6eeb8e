package incident

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what a client may send.
const (
	MaxNameLen        = 255
	MaxDescriptionLen = 1000
	MaxBodyLen        = 10000 // an update's text; Statuspage's own limit is in this range
	MaxComponents     = 500   // per incident
	// MaxMetadataLen bounds an incident's metadata, in bytes of JSON.
	MaxMetadataLen = 16 << 10
)

// Languages herald ships page text and templates in.
var Languages = []string{"en", "hu", "pl", "hr"}

// PageInput creates or changes a page; nil fields are left as they are.
type PageInput struct {
	Name      *string
	URL       *string
	TimeZone  *string
	Languages []string // nil: unchanged
	Hosts     []string // nil: unchanged
	Logo      *string  // a data: URI (see Page.Logo); "" removes it
}

// MaxLogoBytes bounds a page's logo (the image, before base64): the page
// serves it on every first visit.
const MaxLogoBytes = 64 << 10

// logoTypes are the image types a logo may have. SVG is not among them:
// served from the page's origin, an SVG opened on its own runs script.
var logoTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// DecodeLogo returns a logo data: URI's image and its content type, checked
// against what the bytes are.
func DecodeLogo(uri string) ([]byte, string, error) {
	rest, ok := strings.CutPrefix(uri, "data:")
	meta, data, ok2 := strings.Cut(rest, ",")
	ctype, isB64 := strings.CutSuffix(meta, ";base64")
	if !ok || !ok2 || !isB64 {
		return nil, "", Invalid("logo", "must be a data: URI with base64 data (data:image/png;base64,…)")
	}
	if !logoTypes[ctype] {
		return nil, "", Invalid("logo", "must be a PNG, JPEG, GIF or WebP image, not %q", ctype)
	}
	if base64.StdEncoding.DecodedLen(len(data)) > MaxLogoBytes+3 {
		return nil, "", Invalid("logo", "must be at most %d KiB", MaxLogoBytes>>10)
	}
	img, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, "", Invalid("logo", "has invalid base64 data")
	}
	if len(img) > MaxLogoBytes {
		return nil, "", Invalid("logo", "must be at most %d KiB", MaxLogoBytes>>10)
	}
	if !looksLike(img, ctype) {
		return nil, "", Invalid("logo", "says %s but its data is not", ctype)
	}
	return img, ctype, nil
}

// looksLike checks an image's signature against its declared type (a
// browser sniffs; a mislabelled file would show broken or as something else).
func looksLike(img []byte, ctype string) bool {
	switch ctype {
	case "image/png":
		return bytes.HasPrefix(img, []byte("\x89PNG\r\n\x1a\n"))
	case "image/jpeg":
		return bytes.HasPrefix(img, []byte("\xff\xd8\xff"))
	case "image/gif":
		return bytes.HasPrefix(img, []byte("GIF87a")) || bytes.HasPrefix(img, []byte("GIF89a"))
	case "image/webp":
		return len(img) >= 12 && string(img[:4]) == "RIFF" && string(img[8:12]) == "WEBP"
	}
	return false
}

// ComponentInput creates or changes a component; nil fields are left as they are.
type ComponentInput struct {
	Name               *string
	Description        *string
	Status             *ComponentStatus
	Position           *int
	GroupID            *string // "" removes it from its group
	Showcase           *bool
	OnlyShowIfDegraded *bool
	StartDate          *string // YYYY-MM-DD, "" clears
}

// GroupInput creates or changes a component group.
type GroupInput struct {
	Name         *string
	Description  *string
	Position     *int
	ComponentIDs []string // nil: unchanged; otherwise exactly these members
}

// IncidentInput creates or changes an incident or maintenance, mirroring the
// body of Statuspage's v1 `{"incident": {...}}`. nil fields are left as they are.
type IncidentInput struct {
	Name           *string
	Status         *Status
	ImpactOverride *Impact
	Body           *string
	// Messages is the new update's text in other languages, keyed by
	// language (one of Languages); nil: one text, Body, for everyone.
	Messages map[string]string
	// IfVersion, when set, is the version the caller read (HTTP
	// If-Match): the change applies only to that version, else
	// EPRECONDITION and nothing is written.
	IfVersion *int
	// Names sets the incident's name in other languages, keyed by
	// language: a name replaces that language's, an empty one removes it
	// (that language reads Name again); nil: unchanged.
	Names                   map[string]string
	ComponentIDs            []string                   // nil: unchanged
	Components              map[string]ComponentStatus // component ID → new status
	DeliverNotifications    *bool                      // default true
	ScheduledFor            *time.Time
	ScheduledUntil          *time.Time
	ScheduledRemindPrior    *bool
	ScheduledAutoInProgress *bool // default true
	ScheduledAutoCompleted  *bool // default true
	// AutoTransitionToOperational, when false, leaves components as they are
	// on resolve or completion; by default they return to operational (or to
	// what another open incident still says about them).
	AutoTransitionToOperational *bool
	Backfilled                  *bool
	CreatedAt                   *time.Time // backfilled incidents only
	PostmortemBody              *string
	Audience                    *Audience // nil: unchanged
	// Metadata is a JSON object kept with the incident and returned as it
	// was sent; nil: unchanged.
	Metadata json.RawMessage
}

func validName(field string, s *string) error {
	if s == nil {
		return nil
	}
	*s = strings.TrimSpace(*s)
	if p := LineProblem(*s); p != "" {
		return Invalid(field, "%s", p)
	}
	n := utf8.RuneCountInString(*s)
	switch {
	case n == 0:
		return Invalid(field, "must not be empty")
	case n > MaxNameLen:
		return Invalid(field, "must be at most %d characters, got %d", MaxNameLen, n)
	}
	return nil
}

func validText(field string, s *string, max int) error {
	if s == nil {
		return nil
	}
	if p := TextProblem(*s); p != "" {
		return Invalid(field, "%s", p)
	}
	if n := utf8.RuneCountInString(*s); n > max {
		return Invalid(field, "must be at most %d characters, got %d", max, n)
	}
	return nil
}

// Validate checks the fields that are set; required fields are checked by
// the Service, which knows whether it creates or changes.
func (in *PageInput) Validate() error {
	if err := validName("name", in.Name); err != nil {
		return err
	}
	if in.URL != nil {
		u, err := url.Parse(*in.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Invalid("url", "must be an absolute http or https URL")
		}
		*in.URL = strings.TrimRight(*in.URL, "/")
	}
	if in.TimeZone != nil {
		if _, err := time.LoadLocation(*in.TimeZone); err != nil || *in.TimeZone == "" || *in.TimeZone == "Local" {
			return Invalid("time_zone", "unknown time zone %q", *in.TimeZone)
		}
	}
	if in.Languages != nil {
		if len(in.Languages) == 0 {
			return Invalid("languages", "must name at least one language")
		}
		for _, l := range in.Languages {
			if !knownLanguage(l) {
				return Invalid("languages", "unsupported language %q (have %s)", l, strings.Join(Languages, ", "))
			}
		}
	}
	for _, h := range in.Hosts {
		if h == "" || len(h) > 253 || strings.ContainsAny(h, "/ :@") {
			return Invalid("hosts", "%q is not a host name", h)
		}
	}
	if in.Logo != nil && *in.Logo != "" {
		if _, _, err := DecodeLogo(*in.Logo); err != nil {
			return err
		}
	}
	return nil
}

func knownLanguage(l string) bool {
	for _, k := range Languages {
		if k == l {
			return true
		}
	}
	return false
}

// Validate checks the fields that are set.
func (in *ComponentInput) Validate() error {
	if err := validName("name", in.Name); err != nil {
		return err
	}
	if err := validText("description", in.Description, MaxDescriptionLen); err != nil {
		return err
	}
	if in.Status != nil && !in.Status.Valid() {
		return Invalid("status", "unknown component status %q: use one of %s", *in.Status, Join(ComponentStatuses))
	}
	if in.Position != nil && (*in.Position < 0 || *in.Position > 100000) {
		return Invalid("position", "must be between 0 and 100000")
	}
	if in.GroupID != nil && *in.GroupID != "" && !ValidID(*in.GroupID) {
		return Invalid("group_id", "is not a valid ID")
	}
	if in.StartDate != nil && *in.StartDate != "" {
		if _, err := time.Parse("2006-01-02", *in.StartDate); err != nil {
			return Invalid("start_date", "must be a date YYYY-MM-DD")
		}
	}
	return nil
}

// Validate checks the fields that are set.
func (in *GroupInput) Validate() error {
	if err := validName("name", in.Name); err != nil {
		return err
	}
	if err := validText("description", in.Description, MaxDescriptionLen); err != nil {
		return err
	}
	if in.Position != nil && (*in.Position < 0 || *in.Position > 100000) {
		return Invalid("position", "must be between 0 and 100000")
	}
	for _, id := range in.ComponentIDs {
		if !ValidID(id) {
			return Invalid("components", "%q is not a valid ID", id)
		}
	}
	return nil
}

// earliest and latestAhead bound dates that make sense: a maintenance may
// be planned years ahead (Statuspage takes them), but not for the year 9999.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const latestAhead = 20 * 366 * 24 * time.Hour

func validDate(field string, t *time.Time, now time.Time) error {
	if t == nil {
		return nil
	}
	return SaneDate(field, *t, now)
}

// SaneDate refuses, naming field, a time before 2000-01-01 or more than
// twenty years after now: herald keeps no data from before 2000, and a
// date near the year 9999 breaks what is computed from it (a period's
// end past 9999-12-31 has no RFC 3339 form).
func SaneDate(field string, t, now time.Time) error {
	if t.Before(earliest) || t.After(now.Add(latestAhead)) {
		return Invalid(field, "must be between 2000-01-01 and twenty years from now")
	}
	return nil
}

// validMetadata checks that m is a JSON object within MaxMetadataLen and
// compacts it.
func validMetadata(m *json.RawMessage) error {
	if *m == nil {
		return nil
	}
	if len(*m) > MaxMetadataLen {
		return Invalid("metadata", "must be at most %d bytes of JSON, got %d", MaxMetadataLen, len(*m))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, *m); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return Invalid("metadata", "must be a JSON object")
	}
	if !utf8.Valid(buf.Bytes()) {
		return Invalid("metadata", "must be valid UTF-8")
	}
	*m = buf.Bytes()
	return nil
}

// Validate checks the fields that are set against enums and limits.
func (in *IncidentInput) Validate(now time.Time) error {
	if err := validName("name", in.Name); err != nil {
		return err
	}
	if in.Status != nil && !in.Status.Valid() {
		return Invalid("status", "unknown status %q: use one of %s (incidents) or %s (maintenances)", *in.Status, Join(IncidentStatuses), Join(MaintenanceStatuses))
	}
	if in.ImpactOverride != nil && *in.ImpactOverride != "" && (!in.ImpactOverride.Valid() || *in.ImpactOverride == ImpactMaintenance) {
		return Invalid("impact_override", "must be one of none, minor, major, critical")
	}
	if err := validText("body", in.Body, MaxBodyLen); err != nil {
		return err
	}
	if err := validText("postmortem_body", in.PostmortemBody, MaxBodyLen); err != nil {
		return err
	}
	if err := ValidMessages(in.Messages); err != nil {
		return err
	}
	if err := validNames(in.Names); err != nil {
		return err
	}
	if len(in.ComponentIDs)+len(in.Components) > MaxComponents {
		return Invalid("component_ids", "at most %d components", MaxComponents)
	}
	for _, id := range in.ComponentIDs {
		if !ValidID(id) {
			return Invalid("component_ids", "%q is not a valid ID", id)
		}
	}
	for id, st := range in.Components {
		if !ValidID(id) {
			return Invalid("components", "%q is not a valid ID", id)
		}
		if !st.Valid() {
			return Invalid("components", "unknown component status %q for %s: use one of %s", st, id, Join(ComponentStatuses))
		}
	}
	for _, d := range []struct {
		f string
		t *time.Time
	}{{"scheduled_for", in.ScheduledFor}, {"scheduled_until", in.ScheduledUntil}, {"created_at", in.CreatedAt}} {
		if err := validDate(d.f, d.t, now); err != nil {
			return err
		}
	}
	if err := in.Audience.Validate(); err != nil {
		return err
	}
	if err := validMetadata(&in.Metadata); err != nil {
		return err
	}
	if in.CreatedAt != nil && in.CreatedAt.After(now) {
		return Invalid("created_at", "must not be in the future")
	}
	return nil
}

// ValidMessages checks an update's texts per language: each key is one of
// Languages, each text within MaxBodyLen. An empty text is dropped (that
// language reads the default text).
func ValidMessages(m map[string]string) error {
	for lang, text := range m {
		if !validLanguage(lang) {
			return Invalid("messages."+lang, "unknown language %q: use one of %s", lang, strings.Join(Languages, ", "))
		}
		if err := validText("messages."+lang, &text, MaxBodyLen); err != nil {
			return err
		}
		if strings.TrimSpace(text) == "" {
			delete(m, lang)
			continue
		}
		m[lang] = text
	}
	return nil
}

// validNames checks an incident's names per language: each key is one of
// Languages, each name a single line within MaxNameLen, or empty (which
// removes that language's name).
func validNames(m map[string]string) error {
	for lang, name := range m {
		if !validLanguage(lang) {
			return Invalid("names."+lang, "unknown language %q: use one of %s", lang, strings.Join(Languages, ", "))
		}
		if name = strings.TrimSpace(name); name == "" {
			m[lang] = ""
			continue
		}
		if err := validName("names."+lang, &name); err != nil {
			return err
		}
		m[lang] = name
	}
	return nil
}

func validLanguage(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

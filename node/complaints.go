package node

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/complaint"
)

// Complaints holds the complaint settings: the SLA policy every complaint
// is promised by (complaint.Policy), and the agents new complaints are
// given to in turn.
type Complaints struct {
	FirstAnswer  time.Duration // a person (or the incident's resolution) answers within this
	Resolve      time.Duration // the complaint is resolved within this
	WarnBefore   time.Duration // the owner is warned this long before a promise falls due
	RepeatWindow time.Duration // the same customer again within this is a repeat
	AttachWindow time.Duration // a contact's next message within this attaches to their open complaint
	TagThreshold float64       // the tagger's confidence from which a complaint is tagged without a person
	Agents       string        // comma-separated agents on duty, given new complaints in turn; "" none
}

// DefaultComplaints returns the complaint settings herald runs with when
// nothing is set: complaint.DefaultPolicy's.
func DefaultComplaints() Complaints {
	p := complaint.DefaultPolicy()
	return Complaints{FirstAnswer: p.Default.FirstAnswer, Resolve: p.Default.Resolve, WarnBefore: p.WarnBefore,
		RepeatWindow: p.RepeatWindow, AttachWindow: p.AttachWindow, TagThreshold: p.Threshold}
}

func (k *Complaints) settings() []Setting {
	dur := func(p *time.Duration) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d <= 0 {
				return fmt.Errorf("want a positive duration (like 24h), got %q", v)
			}
			*p = d
			return nil
		}
	}
	return []Setting{
		{"complaint_first_answer", "HERALD_COMPLAINT_FIRST_ANSWER", "complaint-first-answer", "promise a complaint a first answer within `DURATION`", dur(&k.FirstAnswer), func() string { return k.FirstAnswer.String() }},
		{"complaint_resolve", "HERALD_COMPLAINT_RESOLVE", "complaint-resolve", "promise a complaint's resolution within `DURATION`", dur(&k.Resolve), func() string { return k.Resolve.String() }},
		{"complaint_warn_before", "HERALD_COMPLAINT_WARN_BEFORE", "complaint-warn-before", "warn a complaint's owner `DURATION` before a promise falls due", dur(&k.WarnBefore), func() string { return k.WarnBefore.String() }},
		{"complaint_repeat_window", "HERALD_COMPLAINT_REPEAT_WINDOW", "complaint-repeat-window", "a complaint from the same customer about the same thing within `DURATION` is a repeat", dur(&k.RepeatWindow), func() string { return k.RepeatWindow.String() }},
		{"complaint_attach_window", "HERALD_COMPLAINT_ATTACH_WINDOW", "complaint-attach-window", "a contact's next message within `DURATION` attaches to their open complaint", dur(&k.AttachWindow), func() string { return k.AttachWindow.String() }},
		{"complaint_tag_threshold", "HERALD_COMPLAINT_TAG_THRESHOLD", "complaint-tag-threshold", "tag complaints to an incident from this confidence (`0..1`); below it they wait in triage", func(v string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				return fmt.Errorf("want a number from 0 to 1, got %q", v)
			}
			k.TagThreshold = f
			return nil
		}, func() string { return strconv.FormatFloat(k.TagThreshold, 'f', -1, 64) }},
		{"complaint_agents", "HERALD_COMPLAINT_AGENTS", "complaint-agents", "give new complaints in turn to these `AGENTS` on duty (comma-separated); empty: agents take them", func(v string) error {
			k.Agents = strings.Join(k.parseAgents(v), ",")
			return nil
		}, func() string { return k.Agents }},
	}
}

func (k *Complaints) parseAgents(v string) []string {
	var out []string
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// validate reports the first complaint setting that cannot work.
func (k *Complaints) validate() error {
	switch {
	case k.FirstAnswer <= 0 || k.Resolve <= 0:
		return fmt.Errorf("complaint_first_answer and complaint_resolve: must be positive")
	case k.FirstAnswer > k.Resolve:
		return fmt.Errorf("complaint_first_answer (%s) must not be longer than complaint_resolve (%s)", k.FirstAnswer, k.Resolve)
	case k.WarnBefore < 0 || k.RepeatWindow < 0 || k.AttachWindow < 0:
		return fmt.Errorf("complaint windows must not be negative")
	case k.TagThreshold < 0 || k.TagThreshold > 1:
		return fmt.Errorf("complaint_tag_threshold: want 0..1, got %v", k.TagThreshold)
	}
	return nil
}

// Policy is the complaint.Policy these settings describe.
func (k *Complaints) Policy() complaint.Policy {
	p := complaint.DefaultPolicy()
	p.Default = complaint.Durations{FirstAnswer: k.FirstAnswer, Resolve: k.Resolve}
	p.WarnBefore, p.RepeatWindow, p.AttachWindow, p.Threshold = k.WarnBefore, k.RepeatWindow, k.AttachWindow, k.TagThreshold
	return p
}

// OnDuty is the agents new complaints are given to in turn.
func (k *Complaints) OnDuty() []string { return k.parseAgents(k.Agents) }

// LogValue implements slog.LogValuer.
func (k Complaints) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, s := range k.settings() {
		attrs = append(attrs, slog.String(s.Key, s.Get()))
	}
	return slog.GroupValue(attrs...)
}

// holderName names this node for the complaint sweep's lease: the host
// name and the listen address, and a random part so two processes on one
// host never share a lease.
func holderName(addr string) string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "/" + addr + "/" + hex.EncodeToString(b)
}

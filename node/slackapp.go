package node

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/heraldhq/herald/incident"
)

// SandboxIncidentChannel is the incident channel in sandbox mode, when
// slack_incident_channel is not set.
const SandboxIncidentChannel = "C0HERALDINCIDENTS"

// SlackApp holds the Slack front door's settings: the channel incidents
// are followed in, and who in Slack has which herald role.
type SlackApp struct {
	// IncidentChannel is the channel ID (C0123ABCD) where each incident
	// gets its live message; "" none.
	IncidentChannel string
	// Admins, Managers and Agents are comma-separated Slack user IDs
	// (U…, W…) and user group IDs (S…) given that role.
	Admins, Managers, Agents string
}

func (s *SlackApp) settings() []Setting {
	ids := func(p *string) func(string) error {
		return func(v string) error {
			var out []string
			for _, f := range strings.Split(v, ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				if !validSlackUserOrGroup(f) {
					return fmt.Errorf("want Slack user IDs (U0123ABCD) or user group IDs (S0123ABCD), comma-separated; got %q", f)
				}
				out = append(out, f)
			}
			*p = strings.Join(out, ",")
			return nil
		}
	}
	return []Setting{
		{"slack_incident_channel", "HERALD_SLACK_INCIDENT_CHANNEL", "slack-incident-channel", "follow each incident in one live message in this Slack `CHANNEL` (an ID like C0123ABCD)", func(v string) error {
			v = strings.TrimSpace(v)
			if v != "" && !validSlackChannelID(v) {
				return fmt.Errorf("want a Slack channel ID like C0123ABCD, got %q", v)
			}
			s.IncidentChannel = v
			return nil
		}, func() string { return s.IncidentChannel }},
		{"slack_admins", "HERALD_SLACK_ADMINS", "", "", ids(&s.Admins), func() string { return s.Admins }},
		{"slack_managers", "HERALD_SLACK_MANAGERS", "", "", ids(&s.Managers), func() string { return s.Managers }},
		{"slack_agents", "HERALD_SLACK_AGENTS", "", "", ids(&s.Agents), func() string { return s.Agents }},
	}
}

// validSlackUserOrGroup reports whether v looks like a Slack user (U, W)
// or user group (S) ID.
func validSlackUserOrGroup(v string) bool {
	if len(v) < 5 || len(v) > 24 || !strings.ContainsRune("UWS", rune(v[0])) {
		return false
	}
	for _, r := range v[1:] {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Roles is the role map the Slack app runs with.
func (s *SlackApp) Roles() map[incident.Role][]string {
	out := map[incident.Role][]string{}
	for r, v := range map[incident.Role]string{incident.RoleAdmin: s.Admins, incident.RoleManager: s.Managers, incident.RoleAgent: s.Agents} {
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				out[r] = append(out[r], id)
			}
		}
	}
	return out
}

// LogValue implements slog.LogValuer.
func (s SlackApp) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, st := range s.settings() {
		attrs = append(attrs, slog.String(st.Key, st.Get()))
	}
	return slog.GroupValue(attrs...)
}

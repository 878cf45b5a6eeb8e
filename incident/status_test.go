package incident_test

import (
	"testing"

	"github.com/heraldhq/herald/incident"
)

func TestCanMove(t *testing.T) {
	const (
		inv  = incident.Investigating
		idf  = incident.Identified
		mon  = incident.Monitoring
		res  = incident.Resolved
		pm   = incident.Postmortem
		sch  = incident.Scheduled
		inp  = incident.InProgress
		ver  = incident.Verifying
		done = incident.Completed
	)
	tests := []struct {
		name     string
		from, to incident.Status
		code     string // "" : allowed
	}{
		{"investigating to identified", inv, idf, ""},
		{"identified to monitoring", idf, mon, ""},
		{"monitoring back to investigating", mon, inv, ""},
		{"investigating straight to resolved", inv, res, ""},
		{"monitoring to resolved", mon, res, ""},
		{"same status is an update", idf, idf, ""},
		{"resolved stays resolved", res, res, ""},
		{"resolved to postmortem", res, pm, ""},
		{"resolved is not reopened", res, inv, incident.ETRANSITION},
		{"resolved to monitoring", res, mon, incident.ETRANSITION},
		{"postmortem is final", pm, res, incident.ETRANSITION},
		{"postmortem to postmortem", pm, pm, ""},
		{"postmortem before resolving", mon, pm, incident.ETRANSITION},
		{"maintenance starts", sch, inp, ""},
		{"maintenance verifies", inp, ver, ""},
		{"maintenance completes", ver, done, ""},
		{"maintenance cancelled", sch, done, ""},
		{"maintenance skips verifying", inp, done, ""},
		{"maintenance goes back", ver, inp, incident.ETRANSITION},
		{"completed maintenance reopened", done, sch, incident.ETRANSITION},
		{"incident takes a maintenance status", inv, inp, incident.ETRANSITION},
		{"maintenance takes an incident status", sch, res, incident.ETRANSITION},
		{"unknown target", inv, "exploded", incident.EINVALID},
		{"empty target", inv, "", incident.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := incident.CanMove(tt.from, tt.to)
			if got := incident.ErrorCode(err); got != tt.code {
				t.Errorf("CanMove(%q, %q) = %v (code %q), want code %q", tt.from, tt.to, err, got, tt.code)
			}
		})
	}
}

func TestOverall(t *testing.T) {
	comp := func(st incident.ComponentStatus) *incident.Component { return &incident.Component{Status: st} }
	group := &incident.Component{Group: true, Status: incident.MajorOutage} // groups do not count
	open := func(impact incident.Impact) *incident.Incident {
		return &incident.Incident{Status: incident.Investigating, Impact: impact}
	}
	resolved := &incident.Incident{Status: incident.Resolved, Impact: incident.ImpactCritical}
	maint := func(st incident.Status) *incident.Incident {
		return &incident.Incident{Status: st, Impact: incident.ImpactMaintenance, ScheduledFor: &base}
	}
	ops := []*incident.Component{comp(incident.Operational), comp(incident.Operational)}
	tests := []struct {
		name      string
		comps     []*incident.Component
		open      []*incident.Incident
		indicator string
		desc      string
	}{
		{"nothing wrong", ops, nil, "none", "All Systems Operational"},
		{"no components", nil, nil, "none", "All Systems Operational"},
		{"a group alone does not count", []*incident.Component{group, comp(incident.Operational)}, nil, "none", "All Systems Operational"},
		{"degraded component", []*incident.Component{comp(incident.DegradedPerformance), comp(incident.Operational)}, nil, "minor", "Partially Degraded Service"},
		{"minor incident, components fine", ops, []*incident.Incident{open(incident.ImpactMinor)}, "minor", "Minor Service Outage"},
		{"partial outage", []*incident.Component{comp(incident.PartialOutage)}, nil, "major", "Partial System Outage"},
		{"one major outage", []*incident.Component{comp(incident.MajorOutage), comp(incident.Operational)}, nil, "critical", "Major Service Outage"},
		{"every component down", []*incident.Component{comp(incident.MajorOutage), comp(incident.MajorOutage)}, nil, "critical", "Major System Outage"},
		{"single component down", []*incident.Component{comp(incident.MajorOutage)}, nil, "critical", "Major Service Outage"},
		{"critical incident, components fine", ops, []*incident.Incident{open(incident.ImpactCritical)}, "critical", "Major Service Outage"},
		{"resolved incident ignored", ops, []*incident.Incident{resolved}, "none", "All Systems Operational"},
		{"worst of incident and components", []*incident.Component{comp(incident.DegradedPerformance)}, []*incident.Incident{open(incident.ImpactMajor)}, "major", "Partial System Outage"},
		{"maintenance underway", ops, []*incident.Incident{maint(incident.InProgress)}, "maintenance", "Service Under Maintenance"},
		{"maintenance verifying", ops, []*incident.Incident{maint(incident.Verifying)}, "maintenance", "Service Under Maintenance"},
		{"maintenance only scheduled", ops, []*incident.Incident{maint(incident.Scheduled)}, "none", "All Systems Operational"},
		{"component under maintenance", []*incident.Component{comp(incident.UnderMaintenance)}, nil, "maintenance", "Service Under Maintenance"},
		{"an outage outranks maintenance", []*incident.Component{comp(incident.UnderMaintenance), comp(incident.PartialOutage)}, []*incident.Incident{maint(incident.InProgress)}, "major", "Partial System Outage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := incident.Overall(tt.comps, tt.open)
			if got.Indicator != tt.indicator || got.Description != tt.desc {
				t.Errorf("Overall = %+v, want {%s %s}", got, tt.indicator, tt.desc)
			}
		})
	}
}

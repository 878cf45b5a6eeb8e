package incident

import "fmt"

// ComponentStatus is a component's state, Statuspage's enum.
type ComponentStatus string

// Component statuses, from best to worst (under_maintenance ranks between
// operational and degraded_performance, as Statuspage shows it).
const (
	Operational         ComponentStatus = "operational"
	UnderMaintenance    ComponentStatus = "under_maintenance"
	DegradedPerformance ComponentStatus = "degraded_performance"
	PartialOutage       ComponentStatus = "partial_outage"
	MajorOutage         ComponentStatus = "major_outage"
)

// ComponentStatuses lists every valid ComponentStatus.
var ComponentStatuses = []ComponentStatus{Operational, UnderMaintenance, DegradedPerformance, PartialOutage, MajorOutage}

// Valid reports whether s is one of the enum's values.
func (s ComponentStatus) Valid() bool { return s.rank() >= 0 }

func (s ComponentStatus) rank() int {
	switch s {
	case Operational:
		return 0
	case UnderMaintenance:
		return 1
	case DegradedPerformance:
		return 2
	case PartialOutage:
		return 3
	case MajorOutage:
		return 4
	}
	return -1
}

// Worse reports whether s is worse than t.
func (s ComponentStatus) Worse(t ComponentStatus) bool { return s.rank() > t.rank() }

// Impact returns the incident impact Statuspage derives from a component status.
func (s ComponentStatus) Impact() Impact {
	switch s {
	case DegradedPerformance:
		return ImpactMinor
	case PartialOutage:
		return ImpactMajor
	case MajorOutage:
		return ImpactCritical
	}
	return ImpactNone
}

// Impact is an incident's severity; maintenances have ImpactMaintenance.
type Impact string

// Impacts, from least to most severe; ImpactMaintenance ranks apart.
const (
	ImpactNone        Impact = "none"
	ImpactMinor       Impact = "minor"
	ImpactMajor       Impact = "major"
	ImpactCritical    Impact = "critical"
	ImpactMaintenance Impact = "maintenance"
)

// Valid reports whether i is one of the enum's values.
func (i Impact) Valid() bool {
	switch i {
	case ImpactNone, ImpactMinor, ImpactMajor, ImpactCritical, ImpactMaintenance:
		return true
	}
	return false
}

// Rank orders impacts by severity: none 0, maintenance 1, minor 2, major 3, critical 4.
func (i Impact) Rank() int {
	switch i {
	case ImpactMaintenance:
		return 1
	case ImpactMinor:
		return 2
	case ImpactMajor:
		return 3
	case ImpactCritical:
		return 4
	}
	return 0
}

// Status is an incident's or a maintenance's lifecycle state, and the state
// an update records.
type Status string

// Incident statuses.
const (
	Investigating Status = "investigating"
	Identified    Status = "identified"
	Monitoring    Status = "monitoring"
	Resolved      Status = "resolved"
	Postmortem    Status = "postmortem"
)

// Maintenance statuses.
const (
	Scheduled  Status = "scheduled"
	InProgress Status = "in_progress"
	Verifying  Status = "verifying"
	Completed  Status = "completed"
)

// IncidentStatuses and MaintenanceStatuses list the two lifecycles in order.
var (
	IncidentStatuses    = []Status{Investigating, Identified, Monitoring, Resolved, Postmortem}
	MaintenanceStatuses = []Status{Scheduled, InProgress, Verifying, Completed}
)

// Valid reports whether s belongs to either lifecycle.
func (s Status) Valid() bool { return s.IsIncident() || s.IsMaintenance() }

// IsIncident reports whether s is an incident status.
func (s Status) IsIncident() bool { return indexOf(IncidentStatuses, s) >= 0 }

// IsMaintenance reports whether s is a maintenance status.
func (s Status) IsMaintenance() bool { return indexOf(MaintenanceStatuses, s) >= 0 }

// Closed reports whether s ends the lifecycle (resolved, postmortem, completed).
func (s Status) Closed() bool { return s == Resolved || s == Postmortem || s == Completed }

func indexOf(list []Status, s Status) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// CanMove reports whether the lifecycle allows an incident or maintenance in
// status from to move to status to; a nil error means it may. Staying in the
// same status is an update without a status change and is always allowed,
// except after a postmortem. The rules:
//   - an open incident may move freely among investigating, identified and
//     monitoring (a fix that did not hold sends monitoring back to
//     investigating), and to resolved;
//   - resolved may only move on to postmortem; a resolved incident is not
//     reopened: declare a new one, so that customers are told afresh;
//   - a maintenance moves forward only: scheduled → in_progress → verifying →
//     completed, skipping steps allowed (scheduled → completed cancels it);
//   - the two lifecycles never mix.
func CanMove(from, to Status) error {
	if !to.Valid() {
		return Invalid("status", "unknown status %q: use one of %s (incidents) or %s (maintenances)", to, Join(IncidentStatuses), Join(MaintenanceStatuses))
	}
	if from.IsIncident() != to.IsIncident() {
		if from.IsIncident() {
			return &Error{Code: ETRANSITION, Field: "status", Message: fmt.Sprintf("an incident cannot take the maintenance status %q", to)}
		}
		return &Error{Code: ETRANSITION, Field: "status", Message: fmt.Sprintf("a maintenance cannot take the incident status %q", to)}
	}
	if from == to {
		return nil
	}
	if from.IsIncident() {
		switch {
		case from == Postmortem:
			return &Error{Code: ETRANSITION, Field: "status", Message: "a postmortem is final"}
		case from == Resolved && to != Postmortem:
			return &Error{Code: ETRANSITION, Field: "status", Message: fmt.Sprintf("a resolved incident cannot move back to %q: declare a new incident", to)}
		case to == Postmortem && from != Resolved:
			return &Error{Code: ETRANSITION, Field: "status", Message: "resolve the incident before publishing a postmortem"}
		}
		return nil
	}
	if indexOf(MaintenanceStatuses, to) < indexOf(MaintenanceStatuses, from) {
		return &Error{Code: ETRANSITION, Field: "status", Message: fmt.Sprintf("a maintenance cannot move back from %q to %q", from, to)}
	}
	return nil
}

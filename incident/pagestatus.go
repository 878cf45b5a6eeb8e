package incident

// PageStatus is the page's overall state, Statuspage's `status` object.
type PageStatus struct {
	Indicator   string `json:"indicator"` // none, minor, major, critical, maintenance
	Description string `json:"description"`
}

// Overall computes the page's status the way Statuspage does: the worse of
// the worst open incident's impact and the worst component status; when
// nothing is wrong but a maintenance is underway, "maintenance".
// comps are the page's components; open are its unresolved incidents and
// maintenances underway.
func Overall(comps []*Component, open []*Incident) PageStatus {
	worst := ImpactNone
	worstComp := Operational
	allMajor, n := true, 0
	for _, c := range comps {
		if c.Group {
			continue
		}
		n++
		if c.Status.Worse(worstComp) {
			worstComp = c.Status
		}
		if c.Status != MajorOutage {
			allMajor = false
		}
		if c.Status.Impact().Rank() > worst.Rank() {
			worst = c.Status.Impact()
		}
	}
	maintenance := worstComp == UnderMaintenance
	for _, inc := range open {
		if inc.IsMaintenance() {
			if inc.Open() {
				maintenance = true
			}
			continue
		}
		if !inc.Open() {
			continue
		}
		if inc.Impact.Rank() > worst.Rank() {
			worst = inc.Impact
		}
	}
	switch worst {
	case ImpactCritical:
		if allMajor && n > 1 {
			return PageStatus{"critical", "Major System Outage"}
		}
		return PageStatus{"critical", "Major Service Outage"}
	case ImpactMajor:
		return PageStatus{"major", "Partial System Outage"}
	case ImpactMinor:
		if worstComp == DegradedPerformance {
			return PageStatus{"minor", "Partially Degraded Service"}
		}
		return PageStatus{"minor", "Minor Service Outage"}
	}
	if maintenance {
		return PageStatus{"maintenance", "Service Under Maintenance"}
	}
	return PageStatus{"none", "All Systems Operational"}
}

package redis

import (
	"time"

	"github.com/heraldhq/herald/incident"
)

// Stored times are UTC at millisecond precision, the precision the Service
// keeps and the SQLite engine stores, so both engines return the same
// values. These helpers normalise copies; the caller's objects are not
// modified.

func utcMS(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

func utcMSPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := utcMS(*t)
	return &v
}

func normPage(p *incident.Page) *incident.Page {
	c := *p
	c.CreatedAt, c.UpdatedAt = utcMS(p.CreatedAt), utcMS(p.UpdatedAt)
	return &c
}

func normComponent(comp *incident.Component) *incident.Component {
	c := *comp
	c.CreatedAt, c.UpdatedAt = utcMS(comp.CreatedAt), utcMS(comp.UpdatedAt)
	return &c
}

func normIncident(inc *incident.Incident) *incident.Incident {
	c := *inc
	c.CreatedAt, c.UpdatedAt, c.StartedAt = utcMS(inc.CreatedAt), utcMS(inc.UpdatedAt), utcMS(inc.StartedAt)
	c.MonitoringAt, c.ResolvedAt = utcMSPtr(inc.MonitoringAt), utcMSPtr(inc.ResolvedAt)
	c.ScheduledFor, c.ScheduledUntil = utcMSPtr(inc.ScheduledFor), utcMSPtr(inc.ScheduledUntil)
	c.PostmortemPublishedAt = utcMSPtr(inc.PostmortemPublishedAt)
	// Updates are rows in SQLite: none comes back as nil, whatever went in.
	c.Updates = nil
	for _, u := range inc.Updates {
		v := *u
		v.CreatedAt, v.UpdatedAt, v.DisplayAt = utcMS(u.CreatedAt), utcMS(u.UpdatedAt), utcMS(u.DisplayAt)
		c.Updates = append(c.Updates, &v)
	}
	return &c
}

func normStatusChange(sc incident.StatusChange) incident.StatusChange {
	sc.At = utcMS(sc.At)
	return sc
}

func normAudit(a *incident.AuditEntry) *incident.AuditEntry {
	c := *a
	c.At = utcMS(a.At)
	return &c
}

func normBroadcast(b *incident.Broadcast) *incident.Broadcast {
	c := *b
	c.CreatedAt = utcMS(b.CreatedAt)
	return &c
}

func normToken(t *incident.Token) *incident.Token {
	c := *t
	c.CreatedAt = utcMS(t.CreatedAt)
	c.LastUsedAt, c.RevokedAt = utcMSPtr(t.LastUsedAt), utcMSPtr(t.RevokedAt)
	return &c
}

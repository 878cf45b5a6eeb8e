package wire

import "github.com/heraldhq/herald/incident"

// Webhook is the body of Statuspage's subscriber webhook: meta, the page's
// status and the incident.
type Webhook struct {
	Meta     WebhookMeta      `json:"meta"`
	Page     WebhookPage      `json:"page"`
	Incident *WebhookIncident `json:"incident"`
}

// WebhookMeta is where to unsubscribe, the payload's documentation and
// when the payload was made.
type WebhookMeta struct {
	Unsubscribe   string `json:"unsubscribe"`
	Documentation string `json:"documentation"`
	GeneratedAt   Time   `json:"generated_at"`
}

// WebhookPage is the page's ID and overall status.
type WebhookPage struct {
	ID                string `json:"id"`
	StatusIndicator   string `json:"status_indicator"`
	StatusDescription string `json:"status_description"`
}

// WebhookIncident is an incident with the public v2 API's fields, in its
// order, plus the fields the management API and webhooks add.
type WebhookIncident struct {
	IncidentHead
	IncidentUpdates               []Update    `json:"incident_updates"`
	Components                    []Component `json:"components"`
	ScheduledFor                  Time        `json:"scheduled_for"`
	ScheduledUntil                Time        `json:"scheduled_until"`
	ScheduledRemindPrior          bool        `json:"scheduled_remind_prior"`
	ScheduledAutoInProgress       bool        `json:"scheduled_auto_in_progress"`
	ScheduledAutoCompleted        bool        `json:"scheduled_auto_completed"`
	ReminderIntervals             *string     `json:"reminder_intervals"`
	Backfilled                    bool        `json:"backfilled"`
	ImpactOverride                *string     `json:"impact_override"`
	PostmortemBody                *string     `json:"postmortem_body"`
	PostmortemPublishedAt         Time        `json:"postmortem_published_at"`
	PostmortemIgnored             bool        `json:"postmortem_ignored"`
	PostmortemNotifiedSubscribers bool        `json:"postmortem_notified_subscribers"`
}

// NewWebhookIncident writes inc in UTC with its updates, newest first, and
// the components among comps (the page's) that it affects; p gives the
// short link.
func NewWebhookIncident(p *incident.Page, inc *incident.Incident, comps []*incident.Component) *WebhookIncident {
	z := UTC
	wi := &WebhookIncident{
		IncidentHead: NewIncidentHead(p, inc, z), IncidentUpdates: NewUpdates(inc, z), Components: []Component{},
		ScheduledFor: z.AtPtr(inc.ScheduledFor), ScheduledUntil: z.AtPtr(inc.ScheduledUntil),
		ScheduledRemindPrior: inc.ScheduledRemindPrior, ScheduledAutoInProgress: inc.ScheduledAutoInProgress,
		ScheduledAutoCompleted: inc.ScheduledAutoCompleted, Backfilled: inc.Backfilled,
		ImpactOverride: Nullable(string(inc.ImpactOverride)), PostmortemBody: Nullable(inc.PostmortemBody),
		PostmortemPublishedAt: z.AtPtr(inc.PostmortemPublishedAt),
	}
	for _, c := range comps {
		if inc.Affects(c.ID) {
			wi.Components = append(wi.Components, NewComponent(c, z))
		}
	}
	return wi
}

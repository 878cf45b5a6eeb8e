package console

import (
	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
)

// subscriberStates are the subscribers page's tabs.
var subscriberStates = []audience.SubscriberState{audience.SubscriberActive, audience.SubscriberPending, audience.SubscriberUnsubscribed}

// subscriberPageSize is how many subscribers one page of the list shows.
const subscriberPageSize = 50

// subscribersPage is GET /console/subscribers (?state=, ?kind=, ?after=,
// ?q=): the page's subscribers by state, 50 at a time, or those found by
// an address or ID; each with what it is subscribed to and, while live,
// an unsubscribe button.
func (cs *Console) subscribersPage(c *fiber.Ctx) error {
	return cs.subscribersView(c, fiber.StatusOK, "")
}

func (cs *Console) subscribersView(c *fiber.Ctx, status int, msg string) error {
	if cs.cfg.Notify == nil {
		return fiber.ErrNotFound
	}
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	state := audience.SubscriberState(c.Query("state"))
	if state != audience.SubscriberPending && state != audience.SubscriberUnsubscribed {
		state = audience.SubscriberActive
	}
	kind := channel.Kind(c.Query("kind"))
	if kind != channel.SMS && kind != channel.Email && kind != channel.Webhook && kind != channel.Slack {
		kind = ""
	}
	q := c.Query("q")
	var subs, followers []*audience.Subscriber
	next := ""
	if q != "" {
		if subs, err = cs.cfg.Notify.FindSubscribersByAddress(ctx, p.ID, q, cs.cfg.DefaultRegion); err != nil {
			return err
		}
	} else {
		if subs, err = cs.cfg.Notify.Subscribers(ctx, audience.SubscriberFilter{PageID: p.ID, State: state, Kind: kind,
			After: c.Query("after"), Limit: subscriberPageSize + 1}); err != nil {
			return err
		}
		if len(subs) > subscriberPageSize {
			subs = subs[:subscriberPageSize]
			next = subs[len(subs)-1].ID
		}
		// Followers of one incident are not page-wide: those of the open
		// incidents come after, on the first page.
		if c.Query("after") == "" {
			open, _, err := cs.cfg.Incidents.Incidents(ctx, incident.IncidentFilter{PageID: p.ID, Statuses: openStatuses})
			if err != nil {
				return err
			}
			for _, inc := range open {
				fs, err := cs.cfg.Notify.Subscribers(ctx, audience.SubscriberFilter{PageID: p.ID, State: state, Kind: kind,
					IncidentID: inc.ID, Following: true, Limit: subscriberPageSize})
				if err != nil {
					return err
				}
				followers = append(followers, fs...)
			}
		}
	}
	counts := map[audience.SubscriberState]int{}
	for _, st := range subscriberStates {
		if counts[st], err = cs.cfg.Notify.CountSubscribers(ctx, p.ID, st); err != nil {
			return err
		}
	}
	comps, err := cs.cfg.Incidents.Components(ctx, p.ID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, comp := range comps {
		names[comp.ID] = comp.Name
	}
	incidents := map[string]string{}
	for _, s := range append(append([]*audience.Subscriber{}, subs...), followers...) {
		if s.IncidentID != "" && incidents[s.IncidentID] == "" {
			if inc, err := cs.cfg.Incidents.Incident(ctx, p.ID, s.IncidentID); err == nil {
				incidents[s.IncidentID] = inc.Name
			} else {
				incidents[s.IncidentID] = s.IncidentID
			}
		}
	}
	v := cs.newView(c, "ConsoleSubscribersTitle", fiber.Map{"Subscribers": subs, "Followers": followers, "State": string(state), "States": subscriberStates,
		"Kind": string(kind), "Kinds": []channel.Kind{channel.SMS, channel.Email, channel.Webhook, channel.Slack}, "Q": q, "Next": next,
		"Counts": counts, "Names": names, "Incidents": incidents, "Error": msg})
	v.Nav = "subscribers"
	return cs.renderView(c, status, "subscribers", v)
}

// unsubscribe is POST /console/subscribers/:id/unsubscribe: as the API's
// DELETE does (notify.Service.DeleteSubscriber).
func (cs *Console) unsubscribe(c *fiber.Ctx) error {
	if cs.cfg.Notify == nil {
		return fiber.ErrNotFound
	}
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	if err := cs.cfg.Notify.DeleteSubscriber(ctx, p.ID, c.Params("id")); err != nil {
		if msg := formError(err); msg != "" {
			return cs.subscribersView(c, fiber.StatusUnprocessableEntity, msg)
		}
		return err
	}
	back := c.FormValue("back")
	if back == "" || back[0] != '/' || (len(back) > 1 && (back[1] == '/' || back[1] == '\\')) {
		back = Prefix + "/subscribers"
	}
	return c.Redirect(back, fiber.StatusSeeOther)
}

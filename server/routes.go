package server

import (
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/statuspage"
)

// Routes is what Mount hands a later feature (sandbox inbox, subscriber
// pages, webhooks) so it can add its routes beside these.
type Routes struct {
	// Root is the app: public routes go here.
	Root fiber.Router
	// API is /api/v1, without authentication; add Require(role) per route.
	API fiber.Router
	// Require returns middleware admitting tokens of at least role.
	Require func(role incident.Role) fiber.Handler
}

// Mount calls fn with the app's routers so a feature can add routes. Call
// it before Listen or Serve: fiber's route table is not safe to change
// while serving.
func (s *Server) Mount(fn func(Routes)) {
	fn(Routes{Root: s.app, API: s.api, Require: s.requireRole})
}

// routes defines every route herald serves (features add theirs through
// Mount, from their own routes.go).
func (s *Server) routes(reg *prometheus.Registry) {
	app := s.app
	app.Use(s.observe)

	// Operations.
	app.Get("/healthz", healthz)
	app.Get("/readyz", s.readyz())
	app.Get("/metrics", netHTTP(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))

	// Public status page, from the pre-rendered site: GET and HEAD (fiber
	// registers HEAD with every GET); no store query.
	page, api := s.servePublic(false), s.servePublic(true)
	app.Get("/", page)
	app.Get("/history", page)
	app.Get("/incidents/:id", page)
	app.Get("/static/*", page)
	app.Get("/i/:id", shortLink)
	app.Get("/i/:id/:lang", shortLink)
	app.Get("/api/v2/*", api) // summary, status, components, incidents[/unresolved], scheduled-maintenances[/upcoming|/active]
	app.Get("/history.rss", api)
	app.Get("/history.atom", api)
	app.Options("/api/v2/*", preflight)
	app.Options("/history.rss", preflight)
	app.Options("/history.atom", preflight)
	app.Get("/events", s.events())

	// Management API, Statuspage v1 compatible, at both /v1 (where
	// Statuspage clients put it) and /api/v1.
	agent, manager, admin := s.requireRole(incident.RoleAgent), s.requireRole(incident.RoleManager), s.requireRole(incident.RoleAdmin)
	s.api = app.Group("/api/v1")
	for _, v1 := range []fiber.Router{app.Group("/v1"), s.api} {
		v1.Get("/pages", agent, s.listPages())
		v1.Post("/pages", admin, s.createPage())
		v1.Get("/pages/:page_id", agent, s.getPage())
		v1.Patch("/pages/:page_id", admin, s.updatePage())
		v1.Put("/pages/:page_id", admin, s.updatePage())
		v1.Delete("/pages/:page_id", admin, s.deletePage())

		v1.Get("/pages/:page_id/components", agent, s.listComponents())
		v1.Post("/pages/:page_id/components", manager, s.createComponent())
		v1.Get("/pages/:page_id/components/:component_id", agent, s.getComponent())
		v1.Patch("/pages/:page_id/components/:component_id", manager, s.updateComponent())
		v1.Put("/pages/:page_id/components/:component_id", manager, s.updateComponent())
		v1.Delete("/pages/:page_id/components/:component_id", manager, s.deleteComponent(false))

		v1.Get("/pages/:page_id/component-groups", agent, s.listGroups())
		v1.Post("/pages/:page_id/component-groups", manager, s.saveGroup(true))
		v1.Get("/pages/:page_id/component-groups/:id", agent, s.getGroup())
		v1.Patch("/pages/:page_id/component-groups/:id", manager, s.saveGroup(false))
		v1.Put("/pages/:page_id/component-groups/:id", manager, s.saveGroup(false))
		v1.Delete("/pages/:page_id/component-groups/:id", manager, s.deleteComponent(true))

		v1.Get("/pages/:page_id/incidents", agent, s.listIncidents(listAll))
		v1.Post("/pages/:page_id/incidents", manager, s.createIncident())
		// The named lists before :incident_id, which would match them too.
		v1.Get("/pages/:page_id/incidents/unresolved", agent, s.listIncidents(listUnresolved))
		v1.Get("/pages/:page_id/incidents/scheduled", agent, s.listIncidents(listScheduled))
		v1.Get("/pages/:page_id/incidents/upcoming", agent, s.listIncidents(listUpcoming))
		v1.Get("/pages/:page_id/incidents/active_maintenance", agent, s.listIncidents(listActiveMaintenance))
		v1.Get("/pages/:page_id/incidents/:incident_id", agent, s.getIncident())
		v1.Patch("/pages/:page_id/incidents/:incident_id", manager, s.updateIncident())
		v1.Put("/pages/:page_id/incidents/:incident_id", manager, s.updateIncident())
		v1.Delete("/pages/:page_id/incidents/:incident_id", manager, s.deleteIncident())
		v1.Patch("/pages/:page_id/incidents/:incident_id/incident_updates/:update_id", manager, s.editUpdate())
		v1.Put("/pages/:page_id/incidents/:incident_id/incident_updates/:update_id", manager, s.editUpdate())
	}

	// herald extras, under /api/v1 only.
	s.api.Get("/audit", manager, s.listAudit())
	s.api.Get("/tokens", admin, s.listTokens())
	s.api.Post("/tokens", admin, s.createToken())
	s.api.Delete("/tokens/:id", admin, s.revokeToken())
}

// broadcastRoutes defines the routes EnableBroadcast adds: the subscriber
// API (Statuspage v1), customers, broadcasts and dry runs, the public
// subscription pages and the inbound webhooks.
func (s *Server) broadcastRoutes() {
	app := s.app
	agent, manager := s.requireRole(incident.RoleAgent), s.requireRole(incident.RoleManager)

	// Subscribers, Statuspage v1 compatible, at /v1 and /api/v1.
	for _, v1 := range []fiber.Router{app.Group("/v1"), s.api} {
		v1.Get("/pages/:page_id/subscribers", agent, s.listSubscribers(audience.SubscriberActive, false))
		v1.Post("/pages/:page_id/subscribers", manager, s.createSubscriber(false))
		// The named lists before :subscriber_id, which would match them too.
		v1.Get("/pages/:page_id/subscribers/count", agent, s.countSubscribers())
		v1.Get("/pages/:page_id/subscribers/unsubscribed", agent, s.listSubscribers(audience.SubscriberUnsubscribed, false))
		v1.Get("/pages/:page_id/subscribers/:subscriber_id", agent, s.getSubscriber())
		v1.Patch("/pages/:page_id/subscribers/:subscriber_id", manager, s.updateSubscriber())
		v1.Delete("/pages/:page_id/subscribers/:subscriber_id", manager, s.deleteSubscriber())
		v1.Post("/pages/:page_id/subscribers/:subscriber_id/resend_confirmation", manager, s.resendConfirmation())
		v1.Get("/pages/:page_id/incidents/:incident_id/subscribers", agent, s.listSubscribers(audience.SubscriberActive, true))
		v1.Post("/pages/:page_id/incidents/:incident_id/subscribers", manager, s.createSubscriber(true))
	}

	// herald extras, under /api/v1 only.
	api := s.api
	api.Post("/pages/:page_id/customers/import", manager, s.importCustomers()) // body up to ImportLimit (limitBody)
	api.Get("/pages/:page_id/customers", agent, s.listCustomers())
	api.Get("/pages/:page_id/customers/:customer_id", agent, s.getCustomer())
	api.Delete("/pages/:page_id/customers/:customer_id", manager, s.deleteCustomer())
	api.Get("/pages/:page_id/customers/:customer_id/deliveries", agent, s.customerDeliveries())
	api.Get("/pages/:page_id/incidents/:incident_id/broadcasts", agent, s.listBroadcasts())
	api.Get("/pages/:page_id/incidents/:incident_id/dry-run", agent, s.dryRun())
	api.Get("/broadcasts/:broadcast_id", agent, s.getBroadcast())
	api.Post("/broadcasts/:broadcast_id/cancel", manager, s.cancelBroadcast())
	api.Get("/broadcasts/:broadcast_id/events", agent, s.broadcastEvents())

	// Public subscription pages, on the status page's host.
	app.Get("/subscribe", s.subscribePage())
	app.Post("/subscribe", s.subscribe())
	app.Post("/subscribe/confirm-code", s.confirmCode())
	app.Get("/subscriptions/confirm/:token", s.linkPage(statuspage.FormConfirm))
	app.Post("/subscriptions/confirm/:token", s.confirm())
	app.Get("/unsubscribe/:token", s.linkPage(statuspage.FormUnsubscribe))
	app.Post("/unsubscribe/:token", s.unsubscribe())

	// Inbound webhooks, signature checked.
	app.Post("/webhooks/twilio/sms", s.twilioSMS())
	app.Post("/webhooks/twilio/status", s.twilioStatus())
	app.Post("/webhooks/slack/commands", s.slackCommand())
	app.Post("/webhooks/slack/interactions", s.slackInteraction())

	// The sandbox inbox, when herald runs without provider credentials.
	if h := s.bc.cfg.Sandbox; h != nil {
		inbox := netHTTP(h)
		if g := s.bc.cfg.SandboxGuarded; g != nil {
			guarded := netHTTP(g)
			// Emptying the inbox destroys what others are looking at: a
			// manager's token, as for the API's destructive calls.
			app.Delete("/sandbox/messages", manager, guarded)
			// A texted reply speaks to herald as a customer, signed with
			// the sandbox's Twilio token; the credentials are the secrets
			// themselves. The inbox's reply box sends the token as a form
			// field (a browser form cannot set a header).
			app.Post("/sandbox/reply", tokenFromForm, manager, guarded)
			app.Get("/sandbox/credentials", manager, guarded)
		}
		// The rest reads only: net/http's mux behind it decodes the path,
		// so /sandbox/%63redentials, which the routes above do not
		// match, must find no guarded route there.
		app.All("/sandbox", inbox)
		app.All("/sandbox/*", inbox)
	}
}

// complaintRoutes defines the routes EnableComplaints adds: the agents'
// complaint API and the status page's report-a-problem form. Inbound SMS
// reaches complaints through /webhooks/twilio/sms (broadcastRoutes).
func (s *Server) complaintRoutes() {
	app, api := s.app, s.api
	agent := s.requireRole(incident.RoleAgent)

	api.Get("/pages/:page_id/complaints", agent, s.listComplaints())
	api.Post("/pages/:page_id/complaints", agent, s.recordComplaint())
	// stats before :complaint_id, which would match it too.
	api.Get("/pages/:page_id/complaints/stats", agent, s.complaintStats())
	api.Get("/pages/:page_id/complaints/:complaint_id", agent, s.getComplaint())
	api.Patch("/pages/:page_id/complaints/:complaint_id", agent, s.updateComplaint())
	api.Post("/pages/:page_id/complaints/:complaint_id/assign", agent, s.assignComplaint())
	api.Post("/pages/:page_id/complaints/:complaint_id/tag", agent, s.tagComplaint())
	api.Post("/pages/:page_id/complaints/:complaint_id/notes", agent, s.noteComplaint())
	api.Post("/pages/:page_id/complaints/:complaint_id/reply", agent, s.replyComplaint())
	api.Post("/pages/:page_id/complaints/:complaint_id/state", agent, s.moveComplaint())
	api.Post("/pages/:page_id/complaints/:complaint_id/resolve", agent, s.resolveComplaint())

	// The report-a-problem form, on the status page's host.
	app.Get("/report", s.reportPage())
	app.Post("/report", s.report())
}

package console

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/heraldhq/herald/incident"
)

// route is one console route and the least role it needs ("" : none, the
// sign-in pages).
type route struct {
	method, path string
	role         incident.Role
	handler      fiber.Handler
}

// routes lists every console route. The role is checked here, by need,
// for every route: a page hiding a button is never the only guard.
func (cs *Console) routes() []route {
	const agent, manager, admin = incident.RoleAgent, incident.RoleManager, incident.RoleAdmin
	rs := []route{
		{"GET", "/signin", "", cs.signInPage},
		{"POST", "/signin", "", cs.signIn},
		{"GET", "/link/:secret", "", cs.linkPage},
		{"POST", "/link", "", cs.takeLink},
		{"POST", "/lang", "", cs.setLanguage},
		{"POST", "/signout", agent, cs.signOut},

		{"GET", "/", agent, cs.overview},
		{"GET", "/live", agent, cs.live},
		{"GET", "/incidents/new", manager, cs.declarePage},
		{"POST", "/incidents", manager, cs.declare},
		{"GET", "/incidents/:id", agent, cs.incidentPage},
		{"GET", "/incidents/:id/update", manager, cs.updatePage},
		{"GET", "/incidents/:id/audience", manager, cs.audience},
		{"POST", "/incidents/:id/update", manager, cs.update},
		{"POST", "/broadcasts/:id/cancel", manager, cs.cancelBroadcast},
		{"GET", "/maintenance/new", manager, cs.maintenancePage},
		{"POST", "/maintenance", manager, cs.scheduleMaintenance},
		{"GET", "/incidents/:id/compensation", manager, cs.decisionPage},
		{"POST", "/incidents/:id/compensation", manager, cs.decideCompensation},
		{"POST", "/incidents/:id/compensation/announce", manager, cs.announceCompensation},
		{"GET", "/components", manager, cs.componentsPage},
		{"POST", "/components", manager, cs.addComponent},
		{"POST", "/components/:id", manager, cs.setComponent},
		{"GET", "/groups", manager, cs.groupsPage},
		{"POST", "/groups", manager, cs.createGroup},
		{"POST", "/groups/:id", manager, cs.updateGroup},
		{"POST", "/groups/:id/delete", manager, cs.deleteGroup},
		{"GET", "/subscribers", manager, cs.subscribersPage},
		{"POST", "/subscribers/:id/unsubscribe", manager, cs.unsubscribe},
		{"GET", "/customers/import", manager, cs.importPage},
		{"POST", "/customers/import", manager, cs.importCustomers},
		{"GET", "/tokens", admin, cs.tokensPage},
		{"POST", "/tokens", admin, cs.createToken},
		{"POST", "/tokens/:id/revoke", admin, cs.revokeToken},
	}
	if cs.cfg.Complaints != nil {
		rs = append(rs,
			route{"GET", "/queue", agent, cs.queue},
			route{"GET", "/complaints/:id", agent, cs.complaintPage},
			route{"POST", "/complaints/:id/take", agent, cs.take},
			route{"POST", "/complaints/:id/tag", agent, cs.retag},
			route{"POST", "/complaints/:id/note", agent, cs.note},
			route{"POST", "/complaints/:id/reply", agent, cs.reply},
			route{"POST", "/complaints/:id/hold", agent, cs.hold},
			route{"POST", "/complaints/:id/resolve", agent, cs.resolve},
			route{"POST", "/complaints/:id/offer", agent, cs.offer},
			route{"GET", "/calls/new", agent, cs.callPage},
			route{"POST", "/calls", agent, cs.recordCall},
			route{"GET", "/customers", agent, cs.customerSearch},
		)
	}
	if cs.cfg.Reports != nil {
		for _, f := range []string{"", "json", "csv"} {
			suffix := ""
			if f != "" {
				suffix = "." + f
			}
			rs = append(rs,
				route{"GET", "/incidents/:id/report" + suffix, agent, cs.incidentReport(f)},
				route{"GET", "/reports/period" + suffix, agent, cs.periodReport(f)})
		}
		rs = append(rs, route{"GET", "/reports", agent, cs.reportsPage})
	}
	return rs
}

// Mount adds the console's routes under Prefix to r (the app's root).
func (cs *Console) Mount(r fiber.Router) {
	g := r.Group(Prefix, cs.securityHeaders)
	g.Use("/assets", filesystem.New(filesystem.Config{Root: httpFS(), MaxAge: 3600}))
	g.Use(cs.handleErrors, cs.loadSession, cs.checkCSRF)
	for _, rt := range cs.routes() {
		hs := []fiber.Handler{}
		if rt.role != "" {
			hs = append(hs, cs.need(rt.role))
		}
		hs = append(hs, rt.handler)
		g.Add(rt.method, rt.path, hs...)
	}
	// Anything else under the prefix is a console 404, not the API's JSON.
	g.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
}

// Route describes one console route: its method, path (under Prefix) and
// the least role it needs ("" for the sign-in pages). Tests use it to try
// every route with every role.
type Route struct {
	Method, Path string
	Role         incident.Role
}

// Routes lists the console's routes.
func (cs *Console) Routes() []Route {
	var out []Route
	for _, r := range cs.routes() {
		out = append(out, Route{Method: r.method, Path: Prefix + r.path, Role: r.role})
	}
	return out
}

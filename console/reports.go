package console

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/reports"
)

// The reports in the console: an incident's post-incident report and the
// evaluation of a period, drawn by the reports package as on the API, for
// a person signed in to the console (the API needs a token).

// recentReports is how many resolved incidents the reports page lists.
const recentReports = 30

// sendReport answers with r in format (HTML in the console's language),
// its download links under base.
func (cs *Console) sendReport(c *fiber.Ctx, r reports.Renderable, format, base, name, back string) error {
	format, err := reports.Format(format, c.Query("format"))
	if err != nil {
		return err
	}
	q := ""
	if raw := string(c.Request().URI().QueryString()); raw != "" {
		q = "?" + raw
	}
	out, err := reports.Render(r, format, cs.lang(c), base, q, name, back) // "": HTML
	if err != nil {
		return err
	}
	for _, h := range out.Headers {
		c.Set(h[0], h[1]) // the report's own policy replaces the console's
	}
	return c.Send(out.Body)
}

// incidentReport is GET /console/incidents/:id/report[.json|.csv].
func (cs *Console) incidentReport(format string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := cs.page(c.UserContext())
		if err != nil {
			return err
		}
		r, err := cs.cfg.Reports.Incident(c.UserContext(), p.ID, c.Params("id"))
		if err != nil {
			return err
		}
		return cs.sendReport(c, r, format, Prefix+"/incidents/"+r.Incident.ID+"/report", "herald-report-"+r.Incident.ID, Prefix+"/incidents/"+r.Incident.ID)
	}
}

// reportsPage is GET /console/reports: the period form (this year so far
// by default) and the latest resolved incidents, each with its report.
func (cs *Console) reportsPage(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	no := false
	resolved, _, err := cs.cfg.Incidents.Incidents(ctx, incident.IncidentFilter{PageID: p.ID, Maintenance: &no,
		Statuses: []incident.Status{incident.Resolved, incident.Postmortem}, Limit: recentReports})
	if err != nil {
		return err
	}
	now := cs.now().UTC()
	v := cs.newView(c, "ConsoleReportsTitle", fiber.Map{"Incidents": resolved,
		"From": time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), "To": now.Format(time.DateOnly)})
	v.Nav = "reports"
	return cs.renderView(c, fiber.StatusOK, "reports", v)
}

// periodReport is GET /console/reports/period[.json|.csv]?from=&to=: the
// evaluation of the days from and to (both included).
func (cs *Console) periodReport(format string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		p, err := cs.page(ctx)
		if err != nil {
			return err
		}
		from, until, err := reports.ParsePeriod(c.Query("from"), c.Query("to"))
		if err != nil {
			return err
		}
		to := until.AddDate(0, 0, -1)
		r, err := cs.cfg.Reports.Period(ctx, p.ID, from, until)
		if err != nil {
			return err
		}
		return cs.sendReport(c, r, format, Prefix+"/reports/period", "herald-period-"+from.Format("20060102")+"-"+to.Format("20060102"), Prefix+"/reports")
	}
}

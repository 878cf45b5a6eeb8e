package server

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/console"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/reports"
)

// The reports API: an incident's post-incident report and the evaluation
// of a period, as HTML (for people), JSON and CSV (for machines), chosen
// by the path's suffix, else by ?format=, else by Accept. Every one goes through
// reports.Service.

// EnableReports adds the reports API. Call it once.
func (s *Server) EnableReports(svc *reports.Service) error {
	switch {
	case svc == nil:
		return errors.New("server: EnableReports needs a reports.Service")
	case s.rp != nil:
		return errors.New("server: EnableReports called twice")
	}
	s.rp = svc
	agent := s.requireRole(incident.RoleAgent)
	// A path ending in .json reaches the suffix-less route (jsonSuffix
	// takes the suffix off every /api/v1 path); reportFormat answers it
	// in JSON.
	for _, suffix := range []string{"", ".html", ".csv"} {
		s.api.Get("/pages/:page_id/incidents/:incident_id/report"+suffix, agent, s.incidentReport(strings.TrimPrefix(suffix, ".")))
		s.api.Get("/pages/:page_id/reports/period"+suffix, agent, s.periodReport(strings.TrimPrefix(suffix, ".")))
	}
	return nil
}

// reportFormat is the suffix's format (.json, taken off by jsonSuffix,
// too), else ?format= (html, json or csv; another is refused with 400,
// as is one the suffix contradicts), else what Accept prefers (HTML for
// a browser, JSON for an API client that asks for it, CSV likewise).
func reportFormat(c *fiber.Ctx, suffix string) (string, error) {
	if suffix == "" && askedForJSONSuffix(c) {
		suffix = "json"
	}
	f, err := reports.Format(suffix, c.Query("format"))
	if err != nil || f != "" {
		return f, err
	}
	switch c.Accepts(fiber.MIMETextHTML, fiber.MIMEApplicationJSON, "text/csv") {
	case fiber.MIMEApplicationJSON:
		return "json", nil
	case "text/csv":
		return "csv", nil
	}
	return "html", nil
}

// consoleLink is the console's absolute URL for path, or "" when this
// node has no console. The HTML report's download links point there: a
// browser showing the report (from the API, or a file the CLI wrote)
// signs in to the console, and cannot send the API's bearer token, so a
// link to the API would answer 401, and a root-relative one opened from
// a file would go nowhere.
func (s *Server) consoleLink(path string) string {
	if s.console == nil {
		return ""
	}
	return strings.TrimSuffix(s.cfg.PublicURL, "/") + console.Prefix + path
}

// sendReport answers with r in format; base is the URL of the report's
// other formats without suffix (the HTML's download links; "" for none),
// name the CSV's file name.
func (s *Server) sendReport(c *fiber.Ctx, r reports.Renderable, format, base, name string) error {
	if err := langQueryProblem(c); err != nil {
		return err
	}
	q := ""
	if raw := string(c.Request().URI().QueryString()); raw != "" {
		q = "?" + raw
	}
	out, err := reports.Render(r, format, pickLanguage(c), base, q, name, "")
	if err != nil {
		return err
	}
	for _, h := range out.Headers {
		c.Set(h[0], h[1])
	}
	c.Vary(fiber.HeaderAccept)
	return c.Send(out.Body)
}

func (s *Server) incidentReport(suffix string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		format, err := reportFormat(c, suffix)
		if err != nil {
			return err
		}
		r, err := s.rp.Incident(c.UserContext(), c.Params("page_id"), c.Params("incident_id"))
		if err != nil {
			return err
		}
		base := s.consoleLink("/incidents/" + r.Incident.ID + "/report")
		return s.sendReport(c, r, format, base, "herald-report-"+r.Incident.ID)
	}
}

func (s *Server) periodReport(suffix string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		format, err := reportFormat(c, suffix)
		if err != nil {
			return err
		}
		from, until, err := reports.ParsePeriod(c.Query("from"), c.Query("to"))
		if err != nil {
			return err
		}
		to := until.AddDate(0, 0, -1)
		r, err := s.rp.Period(c.UserContext(), c.Params("page_id"), from, until)
		if err != nil {
			return err
		}
		base := s.consoleLink("/reports/period")
		return s.sendReport(c, r, format, base, "herald-period-"+from.Format("20060102")+"-"+to.Format("20060102"))
	}
}

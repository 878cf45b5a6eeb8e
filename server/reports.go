package server

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/reports"
)

// The reports API: an incident's post-incident report and the evaluation
// of a period, as HTML (for people), JSON and CSV (for machines), chosen
// by the path's suffix or else by Accept. Every one goes through
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
	for _, suffix := range []string{"", ".html", ".json", ".csv"} {
		s.api.Get("/pages/:page_id/incidents/:incident_id/report"+suffix, agent, s.incidentReport(strings.TrimPrefix(suffix, ".")))
		s.api.Get("/pages/:page_id/reports/period"+suffix, agent, s.periodReport(strings.TrimPrefix(suffix, ".")))
	}
	return nil
}

// reportFormat is the suffix's format, or what Accept prefers (HTML for
// a browser, JSON for an API client that asks for it, CSV likewise).
func reportFormat(c *fiber.Ctx, suffix string) string {
	if suffix != "" {
		return suffix
	}
	switch c.Accepts(fiber.MIMETextHTML, fiber.MIMEApplicationJSON, "text/csv") {
	case fiber.MIMEApplicationJSON:
		return "json"
	case "text/csv":
		return "csv"
	}
	return "html"
}

// reportBody is one of a report's renderings.
type reportBody interface {
	HTML(lang string, links map[string]string) ([]byte, error)
	JSON() ([]byte, error)
	CSV() ([]byte, error)
}

// sendReport answers with r in format; base is the report's path without
// suffix (for the HTML's download links), name the CSV's file name.
func (s *Server) sendReport(c *fiber.Ctx, r reportBody, format, base, name string) error {
	var b []byte
	var err error
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Vary(fiber.HeaderAccept)
	switch format {
	case "json":
		b, err = r.JSON()
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	case "csv":
		b, err = r.CSV()
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	default:
		q := ""
		if raw := string(c.Request().URI().QueryString()); raw != "" {
			q = "?" + raw
		}
		b, err = r.HTML(pickLanguage(c, nil), map[string]string{"JSON": base + ".json" + q, "CSV": base + ".csv" + q})
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		// No script, no outside resource: the charts are inline SVG.
		c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		c.Set("X-Robots-Tag", "noindex")
	}
	if err != nil {
		return err
	}
	return c.Send(b)
}

func (s *Server) incidentReport(suffix string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		r, err := s.rp.Incident(c.UserContext(), c.Params("page_id"), c.Params("incident_id"))
		if err != nil {
			return err
		}
		base := "/api/v1/pages/" + r.Page.ID + "/incidents/" + r.Incident.ID + "/report"
		return s.sendReport(c, r, reportFormat(c, suffix), base, "herald-report-"+r.Incident.ID)
	}
}

// periodDate parses a YYYY-MM-DD query parameter (UTC midnight).
func periodDate(c *fiber.Ctx, field string) (time.Time, error) {
	v := c.Query(field)
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, incident.Invalid(field, "want a date like 2026-01-31, got %q", v)
	}
	return t, nil
}

func (s *Server) periodReport(suffix string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		from, err := periodDate(c, "from")
		if err != nil {
			return err
		}
		to, err := periodDate(c, "to")
		if err != nil {
			return err
		}
		// to is the last day, included.
		r, err := s.rp.Period(c.UserContext(), c.Params("page_id"), from, to.AddDate(0, 0, 1))
		if err != nil {
			return err
		}
		base := "/api/v1/pages/" + r.Page.ID + "/reports/period"
		return s.sendReport(c, r, reportFormat(c, suffix), base, "herald-period-"+from.Format("20060102")+"-"+to.Format("20060102"))
	}
}

package server

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/contact"
	"github.com/heraldhq/herald/ratelimit"
	"github.com/heraldhq/herald/statuspage"
)

// The status page's report-a-problem form (/report, linked from each
// incident page). Bot resistance without a third-party captcha: the form
// token (host, form, time; see subscribe.go) and the same-origin check
// keep other sites from posting it, a honeypot field that people never
// see catches the bots that fill in every field, and a per-IP and a
// per-contact limit hold the rest. A complaint from the form is stored
// before the thank-you page is sent; its acknowledgement goes through the
// pipeline like every other.

const (
	reportForm     = "report"
	reportHoneypot = "website" // hidden from people (and screen readers); bots fill it in
)

// reportFormData is the report form, filled in from d.
func (s *Server) reportFormData(c *fiber.Ctx, page *incident.Page, d statuspage.FormData) (statuspage.FormData, error) {
	comps, err := s.svc.Components(c.UserContext(), page.ID)
	if err != nil {
		return statuspage.FormData{}, err
	}
	d.Action = withLang(c, "/report")
	d.CSRF = s.bc.formToken(s.hostOf(c), reportForm, s.svc.Now())
	d.Components = nil
	for _, cp := range comps {
		if cp.Group {
			continue
		}
		d.Components = append(d.Components, statuspage.FormComponent{ID: cp.ID, Name: cp.Name, Checked: cp.ID == d.Component})
	}
	return d, nil
}

// reportIncident returns the ID of the page's incident id names, or "":
// the link from an incident page carries it, and anything else in it is
// dropped rather than shown back.
func (s *Server) reportIncident(c *fiber.Ctx, page *incident.Page, id string) string {
	id = strings.TrimSpace(id)
	if id == "" || len(id) > 64 {
		return ""
	}
	inc, err := s.svc.Incident(c.UserContext(), page.ID, id)
	if err != nil {
		return ""
	}
	return inc.ID
}

// reportPage is GET /report: the form, preselecting the component when
// it comes from an incident page that affects just one.
func (s *Server) reportPage() fiber.Handler {
	return func(c *fiber.Ctx) error {
		page, err := s.publicPage(c)
		if err != nil {
			return err
		}
		d := statuspage.FormData{Incident: s.reportIncident(c, page, c.Query("incident"))}
		if d.Incident != "" {
			if inc, err := s.svc.Incident(c.UserContext(), page.ID, d.Incident); err == nil && len(inc.ComponentIDs) == 1 {
				d.Component = inc.ComponentIDs[0]
			}
		}
		if d, err = s.reportFormData(c, page, d); err != nil {
			return err
		}
		return s.sendForm(c, http.StatusOK, page, statuspage.FormReport, d)
	}
}

// report is POST /report: checks, limits, files the complaint, and says
// thank you with its reference number.
func (s *Server) report() fiber.Handler {
	return func(c *fiber.Ctx) error {
		page, err := s.publicPage(c)
		if err != nil {
			return err
		}
		ctx := c.UserContext()
		posted := statuspage.FormData{Contact: strings.TrimSpace(c.FormValue("contact")), Reporter: strings.TrimSpace(c.FormValue("name")),
			Message: strings.TrimSpace(formText(c.FormValue("message"))), Component: strings.TrimSpace(c.FormValue("component")),
			Incident: s.reportIncident(c, page, c.FormValue("incident"))}
		again := func(status int, problem string, cause error) error {
			if !acceptsHTML(c) {
				return cause
			}
			d, err := s.reportFormData(c, page, posted)
			if err != nil {
				return err
			}
			d.Problem = problem
			return s.sendForm(c, status, page, statuspage.FormReport, d)
		}
		if !s.sameOrigin(c) || !s.bc.checkFormToken(s.hostOf(c), reportForm, c.FormValue("csrf"), s.svc.Now()) {
			return again(http.StatusForbidden, statuspage.ProblemExpired,
				incident.Errorf(incident.EFORBIDDEN, "the form is stale or was posted from another site; load /report again"))
		}
		ip := s.clientIP(c)
		if c.FormValue(reportHoneypot) != "" {
			// A bot: thank it as if it were a person, so it learns nothing,
			// and file nothing.
			s.log.Info("report form: honeypot filled; nothing filed", "ip", ip)
			return s.sendForm(c, http.StatusOK, page, statuspage.FormReported, statuspage.FormData{})
		}
		ct := complaint.Contact{Name: posted.Reporter}
		switch {
		case posted.Contact == "":
			return again(http.StatusBadRequest, statuspage.ProblemContact, incident.Invalid("contact", "is required: an email address or a phone number"))
		case strings.Contains(posted.Contact, "@"):
			e, err := contact.NormalizeEmail(posted.Contact)
			if err != nil {
				return again(http.StatusBadRequest, statuspage.ProblemContact, incident.Invalid("contact", "is not an email address"))
			}
			ct.Email = e
		default:
			p, err := contact.NormalizePhone(posted.Contact, s.bc.cfg.DefaultRegion)
			if err != nil {
				return again(http.StatusBadRequest, statuspage.ProblemContact, incident.Invalid("contact", "is neither an email address nor a phone number with its country code"))
			}
			ct.Phone = p
		}
		switch {
		case posted.Message == "":
			return again(http.StatusBadRequest, statuspage.ProblemMessage, incident.Invalid("message", "is required: what happened"))
		case utf8.RuneCountInString(posted.Message) > complaint.MaxTextLen:
			return again(http.StatusBadRequest, statuspage.ProblemMessage, incident.Invalid("message", "is longer than %d characters", complaint.MaxTextLen))
		case utf8.RuneCountInString(posted.Reporter) > complaint.MaxNameLen:
			return again(http.StatusBadRequest, statuspage.ProblemInvalid, incident.Invalid("name", "is longer than %d characters", complaint.MaxNameLen))
		}
		var comps []string
		if posted.Component != "" {
			if err := s.checkComponents(c, page.ID, "component", []string{posted.Component}); err != nil {
				return again(http.StatusBadRequest, statuspage.ProblemInvalid, incident.Invalid("component", "is no component of this page"))
			}
			comps = []string{posted.Component}
		}
		// The limits come after the checks: a report refused for its input
		// changes nothing, so a customer's typo does not use up a turn of
		// the address the family or the office shares. They are the page's
		// (one server may serve several pages): a report on one company's
		// page never counts against the same person's on another's.
		if err := s.cp.limit(ctx, reportLimitKey(page.ID, "ip", ratelimit.IPKey(ip)), s.cp.cfg.ReportIPLimit); err != nil {
			return again(http.StatusTooManyRequests, statuspage.ProblemRateLimited, err)
		}
		if err := s.cp.limit(ctx, reportLimitKey(page.ID, "contact", ct.Key()), s.cp.cfg.ReportContactLimit); err != nil {
			return again(http.StatusTooManyRequests, statuspage.ProblemRateLimited, err)
		}
		lang := s.requestLanguage(c)
		if !contains(incident.Languages, lang) {
			lang = ""
		}
		// The incident page the form came from is not passed as ReplyTo:
		// the tagger would give "reply to a message about …" as the reason,
		// which is untrue. The component it preselected is the evidence.
		// Anyone can type anyone's contact here (Unverified): the report
		// is a complaint of its own, never added to the complaint of the
		// person whose number or address it gives, whose reference the
		// thank-you would then show.
		cp, _, err := s.cp.svc.Receive(ctx, complaint.Intake{PageID: page.ID, Channel: complaint.Web, Contact: ct,
			Text: posted.Message, Components: comps, Language: lang, Unverified: true})
		if err != nil {
			if _, internal := asDomainError(err); !internal {
				return again(http.StatusBadRequest, statuspage.ProblemInvalid, err)
			}
			return err
		}
		// Whether an answer can reach them, from what was typed and the
		// configuration only (FormCanAnswer): the page must not promise a
		// confirmation that will never come, nor tell whoever typed a
		// number whether its owner sent STOP (or is a customer). The
		// thank-you for an answer says it comes unless the contact opted
		// out, true either way.
		reply := s.bc.notify.FormCanAnswer(answerKind(ct), ct.Phone+ct.Email)
		if !acceptsHTML(c) {
			return c.Status(http.StatusCreated).JSON(fiber.Map{"ref": cp.Ref, "answered": reply})
		}
		return s.sendForm(c, http.StatusOK, page, statuspage.FormReported, statuspage.FormData{Ref: cp.Ref, NoReply: !reply})
	}
}

// answerKind is the channel of the one address the form's contact holds.
func answerKind(ct complaint.Contact) channel.Kind {
	if ct.Phone != "" {
		return channel.SMS
	}
	return channel.Email
}

// formText is a textarea's value with its line breaks as LF: browsers
// send every line break as CRLF (HTML's form encoding), while the
// textarea's maxlength counts each as one character, as herald does once
// they are LF. Counted as sent, a report the browser accepted (350 lines
// of 9 799 characters) was refused as longer than MaxTextLen.
func formText(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// reportLimitKey is the bucket of the report form's limit of kind (ip,
// contact) for who, on the page.
func reportLimitKey(pageID, kind, who string) string {
	return "report:" + pageID + ":" + kind + ":" + who
}

// limit takes one from key's bucket, or answers rate_limited.
func (cp *complaints) limit(ctx context.Context, key string, l ratelimit.Limit) error {
	wait, err := cp.cfg.Limiter.Take(ctx, key, l, 0)
	if err != nil {
		return err
	}
	if wait > 0 {
		// In whole minutes, rounded up: "try again in 0s" for a wait of
		// twenty seconds would be refused again.
		mins := (wait + time.Minute - 1) / time.Minute
		return incident.Errorf(notify.ERATELIMITED, "too many reports; try again in %d min", mins)
	}
	return nil
}

package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/contact"
	"github.com/heraldhq/herald/notify/twilio"
	"github.com/heraldhq/herald/surveys"
)

// The survey front doors: the page a survey link opens (public, the
// signed token is the credential), an SMS digit (through the Twilio
// inbound route), the results and settings API. Every one goes through
// surveys.Service.

// EnableSurveys adds the survey page, SMS answers and the survey API.
// Call it once, after EnableBroadcast.
func (s *Server) EnableSurveys(svc *surveys.Service) error {
	switch {
	case svc == nil:
		return errors.New("server: EnableSurveys needs a surveys.Service")
	case s.bc == nil:
		return errors.New("server: EnableSurveys needs EnableBroadcast first")
	case s.sv != nil:
		return errors.New("server: EnableSurveys called twice")
	}
	s.sv = svc
	agent, manager := s.requireRole(incident.RoleAgent), s.requireRole(incident.RoleManager)
	s.app.Get(surveys.LinkPath+":token", s.surveyPage())
	s.app.Post(surveys.LinkPath+":token", s.surveySubmit())
	s.api.Get("/pages/:page_id/incidents/:incident_id/survey", agent, s.surveyResults())
	s.api.Post("/pages/:page_id/incidents/:incident_id/survey/send", manager, s.surveySendNow())
	s.api.Get("/pages/:page_id/survey-settings", agent, s.surveySettings())
	s.api.Put("/pages/:page_id/survey-settings", manager, s.saveSurveySettings())
	return nil
}

// surveyHTML answers with the survey page.
func (s *Server) surveyHTML(c *fiber.Ctx, status int, v surveys.PageView) error {
	b, err := surveys.RenderPage(v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Referrer-Policy", "no-referrer") // the link is the credential
	c.Set("X-Robots-Tag", "noindex")
	csp := "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	if v.Chosen > 0 {
		csp += "; script-src " + surveys.AutoSendHash // the one script: it sends a one-click score
	}
	c.Set(fiber.HeaderContentSecurityPolicy, csp)
	return c.Status(status).Send(b)
}

// surveyView fills a PageView for a survey (names of the page and the
// incident, the language).
func (s *Server) surveyView(c *fiber.Ctx, sv *surveys.Survey, kind string) surveys.PageView {
	v := surveys.PageView{Lang: sv.Language, Action: surveys.LinkPath + c.Params("token"), Survey: sv, Kind: kind}
	if l := pickLanguage(c); v.Lang == "" && l != "" {
		v.Lang = l
	}
	ctx := c.UserContext()
	if p, err := s.svc.Store.FindPageByID(ctx, sv.PageID); err == nil {
		v.PageName = p.Name
	}
	if inc, err := s.svc.Store.FindIncidentByID(ctx, sv.IncidentID); err == nil {
		v.Incident = inc.NameIn(sv.Language) // as the survey message named it
	}
	// "Sorry it went badly; a person will contact you" for the unhappy
	// whose answer opened a win-back task.
	v.FollowUp = sv.FollowsUp()
	return v
}

// surveyLinkFailed answers a survey link that does not work, or a closed survey.
func (s *Server) surveyLinkFailed(c *fiber.Ctx, err error) error {
	lang := pickLanguage(c)
	switch {
	case errors.Is(err, surveys.ErrLink):
		return s.surveyHTML(c, http.StatusNotFound, surveys.PageView{Lang: lang, Kind: "link"})
	case errors.Is(err, surveys.ErrClosed):
		return s.surveyHTML(c, http.StatusGone, surveys.PageView{Lang: lang, Kind: "closed"})
	}
	return err
}

// surveyPage is GET /survey/{token}: the survey's page. ?score=N (the
// email's and Slack's one-click links) records nothing itself: the page
// shows the score chosen, with what the customer said before, and sends
// the form at once (surveys.AutoSendScript). Mail scanners and link
// previews open every link in a message, with GET or HEAD; a score, or a
// win-back task for an unhappy one, must come from the customer.
func (s *Server) surveyPage() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, token := c.UserContext(), c.Params("token")
		sv, err := s.sv.Open(ctx, token)
		if err != nil {
			return s.surveyLinkFailed(c, err)
		}
		if !sv.Open(time.Now()) {
			return s.surveyHTML(c, http.StatusGone, surveys.PageView{Lang: sv.Language, Kind: "closed"})
		}
		if q := c.Query("score"); q != "" {
			n, err := strconv.Atoi(q)
			if err != nil || n < 1 || n > 5 {
				v := s.surveyView(c, sv, "form")
				v.Problem = surveys.ProblemScore
				return s.surveyHTML(c, http.StatusBadRequest, v)
			}
			v := s.surveyView(c, sv, "form")
			v.Chosen = n
			return s.surveyHTML(c, http.StatusOK, v)
		}
		kind := "form"
		if sv.Answer.Scored() {
			// Words without a score (a reply by email or SMS) ask for
			// the score still: the form, with their words in it.
			kind = "thanks"
		}
		return s.surveyHTML(c, http.StatusOK, s.surveyView(c, sv, kind))
	}
}

// surveySubmit is POST /survey/{token}: the page's form.
func (s *Server) surveySubmit() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, token := c.UserContext(), c.Params("token")
		n, _ := strconv.Atoi(strings.TrimSpace(c.FormValue("score")))
		a := surveys.Answer{Score: n, Informed: surveys.Informed(c.FormValue("informed")),
			Received: surveys.Received(c.FormValue("received")), Comment: c.FormValue("comment")}
		sv, err := s.sv.AnswerLink(ctx, token, a)
		if incident.ErrorCode(err) == incident.EINVALID {
			cur, oerr := s.sv.Open(ctx, token)
			if oerr != nil {
				return s.surveyLinkFailed(c, oerr)
			}
			v := s.surveyView(c, cur, "form")
			v.Problem = surveys.ProblemOf(err)
			return s.surveyHTML(c, http.StatusBadRequest, v)
		}
		if err != nil {
			return s.surveyLinkFailed(c, err)
		}
		return s.surveyHTML(c, http.StatusOK, s.surveyView(c, sv, "thanks"))
	}
}

// surveySMS answers an inbound SMS that replies to an open survey of its
// number (a score, or an answer without one, which is asked again: see
// surveys.ParseAnswer), and returns the TwiML reply text ("" for a number
// that opted out); ok false when the SMS is no survey reply.
func (s *Server) surveySMS(c *fiber.Ctx, in twilio.InboundSMS) (string, bool, error) {
	if s.sv == nil {
		return "", false, nil
	}
	if _, _, kind := surveys.ParseAnswer(in.Body); kind == surveys.NotAnAnswer {
		return "", false, nil
	}
	phone := strings.TrimPrefix(in.From, "whatsapp:")
	if e164, err := contact.NormalizePhone(phone, s.bc.cfg.DefaultRegion); err == nil {
		phone = e164
	}
	ctx := c.UserContext()
	pages, err := s.svc.Store.FindPages(ctx)
	if err != nil {
		return "", false, err
	}
	for _, p := range pages {
		r, err := s.sv.AnswerSMS(ctx, p.ID, phone, in.Body)
		if err != nil {
			return "", false, err
		}
		if r == nil {
			continue
		}
		if r.Recorded {
			s.log.Info("inbound sms: survey answer", "message_sid", in.MessageSid, "survey_id", r.Survey.ID, "score", r.Survey.Answer.Score, "replied", r.Text != "")
		} else {
			s.log.Info("inbound sms: survey reply without a score, asked again", "message_sid", in.MessageSid, "survey_id", r.Survey.ID, "replied", r.Text != "")
		}
		text := r.Text
		if text != "" {
			// Named as every other SMS (and the keyword answers) are.
			text = p.Name + ": " + text
		}
		return text, true, nil
	}
	return "", false, nil
}

func (s *Server) surveyResults() fiber.Handler {
	return func(c *fiber.Ctx) error {
		r, err := s.sv.Results(c.UserContext(), c.Params("page_id"), c.Params("incident_id"))
		if err != nil {
			return err
		}
		return c.JSON(r)
	}
}

func (s *Server) surveySendNow() fiber.Handler {
	return func(c *fiber.Ctx) error {
		n, err := s.sv.SendNow(c.UserContext(), c.Params("page_id"), c.Params("incident_id"))
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"sent": n})
	}
}

// settingsJSON is the settings as the API shows them: durations as
// strings ("24h0m0s"), daytime as "09:00".
type settingsJSON struct {
	Mode          string `json:"mode"`
	SamplePercent int    `json:"sample_percent"`
	Delay         string `json:"delay"`
	Gap           string `json:"gap"`
	DayStart      string `json:"day_start"`
	DayEnd        string `json:"day_end"`
	Weekends      bool   `json:"weekends"`
	WinBackGap    string `json:"win_back_gap"`
	WinBackMax    int    `json:"win_back_max"`
}

func clockText(m int) string {
	return strconv.Itoa(m/60/10) + strconv.Itoa(m/60%10) + ":" + strconv.Itoa(m%60/10) + strconv.Itoa(m%10)
}

func toSettingsJSON(st surveys.Settings) settingsJSON {
	return settingsJSON{Mode: string(st.Mode), SamplePercent: st.SamplePercent, Delay: st.Delay.String(), Gap: st.Gap.String(),
		DayStart: clockText(st.DayStart), DayEnd: clockText(st.DayEnd), Weekends: st.Weekends, WinBackGap: st.WinBackGap.String(), WinBackMax: st.WinBackMax}
}

func (r *settingsJSON) Valid() error { return nil }

func (s *Server) surveySettings() fiber.Handler {
	return func(c *fiber.Ctx) error {
		st, err := s.sv.Settings(c.UserContext(), c.Params("page_id"))
		if err != nil {
			return err
		}
		return c.JSON(toSettingsJSON(st))
	}
}

// saveSurveySettings is PUT …/survey-settings: fields left out keep
// their current values.
func (s *Server) saveSurveySettings() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		cur, err := s.sv.Settings(ctx, c.Params("page_id"))
		if err != nil {
			return err
		}
		req := toSettingsJSON(cur)
		if err := decodeStrict(c, &req); err != nil {
			return err
		}
		st := cur
		st.Mode, st.SamplePercent, st.Weekends, st.WinBackMax = surveys.Mode(req.Mode), req.SamplePercent, req.Weekends, req.WinBackMax
		for _, d := range []struct {
			field string
			in    string
			out   *time.Duration
		}{{"delay", req.Delay, &st.Delay}, {"gap", req.Gap, &st.Gap}, {"win_back_gap", req.WinBackGap, &st.WinBackGap}} {
			v, err := time.ParseDuration(d.in)
			if err != nil {
				return incident.Invalid(d.field, "want a duration like 24h or 720h, not %q", d.in)
			}
			*d.out = v
		}
		for _, cl := range []struct {
			field string
			in    string
			out   *int
		}{{"day_start", req.DayStart, &st.DayStart}, {"day_end", req.DayEnd, &st.DayEnd}} {
			t, err := time.Parse("15:04", cl.in)
			if err != nil && cl.in != "24:00" {
				return incident.Invalid(cl.field, "want a time like 09:00, not %q", cl.in)
			}
			*cl.out = t.Hour()*60 + t.Minute()
			if cl.in == "24:00" {
				*cl.out = 24 * 60
			}
		}
		saved, err := s.sv.SaveSettings(ctx, st)
		if err != nil {
			return err
		}
		return c.JSON(toSettingsJSON(saved))
	}
}

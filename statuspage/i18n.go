package statuspage

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	"golang.org/x/text/language"
)

// staticIDs are the page's messages without template data or plural forms,
// from the word catalogue (package locale). They are looked up once per
// language when the package loads, so a render only indexes a map.
var staticIDs = []string{
	"SkipToContent", "Language", "CurrentStatus", "LastUpdated", "LiveUpdated", "Components",
	"ActiveIncidents", "PastIncidents", "ActiveMaintenance", "UpcomingMaintenance", "IncidentHistory", "ViewHistory",
	"BackToStatus", "NoIncidentsInMonth", "NoIncidents", "Updates", "AffectedComponents", "IncidentAffected", "MaintenanceAffected", "ImpactLabel", "WorstImpactLabel",
	"StatusLabel", "Starts", "Ends", "Ended", "Postmortem", "ReadPostmortem",
	"MaintenanceInProgressText", "MaintenanceVerifyingText", "MaintenanceCompletedText", "IncidentResolvedAuto", "MaintenanceScheduledAuto", "Uptime", "Today", "NoDowntime", "NoData",
	"DaysWithDowntime", "HoursShort", "MinutesShort", "Feeds", "FeedUpdate", "FeedDescription", "PoweredBy", "NotFoundTitle", "NotFoundText",
	"OverallAllOperational", "OverallMinorOutage", "OverallPartialOutage", "OverallMajorServiceOutage",
	"OverallMajorSystemOutage", "OverallDegraded", "OverallMaintenance",
	"ComponentOperational", "ComponentUnderMaintenance", "ComponentDegradedPerformance",
	"ComponentPartialOutage", "ComponentMajorOutage",
	"StatusInvestigating", "StatusIdentified", "StatusMonitoring", "StatusResolved", "StatusPostmortem",
	"StatusScheduled", "StatusInProgress", "StatusVerifying", "StatusCompleted",
	"ImpactNone", "ImpactMinor", "ImpactMajor", "ImpactCritical", "ImpactMaintenance",
	"DateLayout", "DateTimeLayout",
	"SubscribeToUpdates", "FormSubscribeTitle", "FormSubscribeIntro", "FormChannel", "FormChannelEmail", "FormChannelSMS",
	"FormChannelWebhook", "FormChannelSlack", "FormAddress", "FormAddressHint", "FormComponents", "FormComponentsHint",
	"FormLanguage", "FormSubscribe", "FormCheckEmailTitle", "FormCheckEmail", "FormEnterCodeTitle", "FormEnterCode",
	"FormCode", "FormConfirm", "FormSubscribedTitle", "FormSubscribed", "FormConfirmTitle", "FormConfirmIntro",
	"FormUnsubscribeTitle", "FormUnsubscribeIntro", "FormUnsubscribe", "FormUnsubscribedTitle", "FormUnsubscribed",
	"FormLinkInvalidTitle", "FormProblemAddress", "FormProblemCode", "FormProblemRateLimited", "FormProblemInvalid",
	"FormProblemLink", "FormProblemExpired", "FormBack",
	"Started", "Lasted", "OngoingFor", "SubscribeToIncident", "FormFollowingIncident",
	"ReportProblem", "FormReportTitle", "FormReportIntro", "FormReportLeaveEmpty", "FormReportContact", "FormReportContactHint",
	"FormReportName", "FormReportComponent", "FormReportComponentNone", "FormReportMessage", "FormReportSend",
	"FormReportedTitle", "FormReported", "FormReportedNoReply", "FormReportedRef", "FormProblemContact", "FormProblemMessage",
	"Month1", "Month2", "Month3", "Month4", "Month5", "Month6", "Month7", "Month8", "Month9", "Month10", "Month11", "Month12",
}

// overallIDs maps incident.Overall's descriptions to message IDs.
var overallIDs = map[string]string{
	"All Systems Operational":    "OverallAllOperational",
	"Minor Service Outage":       "OverallMinorOutage",
	"Partial System Outage":      "OverallPartialOutage",
	"Major Service Outage":       "OverallMajorServiceOutage",
	"Major System Outage":        "OverallMajorSystemOutage",
	"Partially Degraded Service": "OverallDegraded",
	"Service Under Maintenance":  "OverallMaintenance",
}

// lang is one language's page text, prepared once per process.
type lang struct {
	Code string
	T    map[string]string // static messages by ID
	cat  *locale.Lang

	percent   *locale.Pattern   // UptimePercent
	monthYear *locale.Pattern   // MonthYear
	quiet     *locale.Pattern   // NoIncidentsBetween
	enums     map[string]string // "Component"+status etc. → name, so lookups do not build IDs
}

var (
	langsOnce sync.Once
	langs     map[string]*lang
	langsErr  error
)

// loadLangs prepares every language from the word catalogue. A message the
// page needs and the catalogue lacks is an error: TestLocalesComplete keeps
// that from shipping.
func loadLangs() (map[string]*lang, error) {
	langsOnce.Do(func() {
		cat, err := locale.Default()
		if err != nil {
			langsErr = fmt.Errorf("statuspage: %w", err)
			return
		}
		out := map[string]*lang{}
		for _, code := range incident.Languages {
			cl := cat.Lang(code)
			if cl.Code() != code {
				langsErr = fmt.Errorf("statuspage: the word catalogue lacks the language %s", code)
				return
			}
			l := &lang{Code: code, T: map[string]string{}, cat: cl,
				percent: cl.Pattern("UptimePercent"), monthYear: cl.Pattern("MonthYear"), quiet: cl.Pattern("NoIncidentsBetween")}
			if l.percent == nil || l.monthYear == nil || l.quiet == nil {
				langsErr = fmt.Errorf("statuspage: locale %s: UptimePercent, MonthYear or NoIncidentsBetween is missing", code)
				return
			}
			for _, id := range staticIDs {
				s, ok := cl.Lookup(id)
				if !ok {
					langsErr = fmt.Errorf("statuspage: locale %s: message %s is missing", code, id)
					return
				}
				l.T[id] = s
			}
			l.enums = map[string]string{}
			for _, st := range incident.ComponentStatuses {
				l.enums["Component"+string(st)] = l.T["Component"+camel(string(st))]
			}
			for _, st := range append(append([]incident.Status{}, incident.IncidentStatuses...), incident.MaintenanceStatuses...) {
				l.enums["Status"+string(st)] = l.T["Status"+camel(string(st))]
			}
			for _, i := range []incident.Impact{incident.ImpactNone, incident.ImpactMinor, incident.ImpactMajor, incident.ImpactCritical, incident.ImpactMaintenance} {
				l.enums["Impact"+string(i)] = l.T["Impact"+camel(string(i))]
			}
			out[code] = l
		}
		langs = out
	})
	return langs, langsErr
}

// Plural renders a plural message with its count. The catalogue prepared
// its forms at load: no template runs here.
func (l *lang) Plural(id string, n int) string { return l.cat.Plural(id, n) }

// Overall translates incident.Overall's description.
func (l *lang) Overall(description string) string {
	if id, ok := overallIDs[description]; ok {
		return l.T[id]
	}
	return description
}

// ComponentStatus names a component status.
func (l *lang) ComponentStatus(s incident.ComponentStatus) string {
	return l.enums["Component"+string(s)]
}

// Status names an incident or maintenance status.
func (l *lang) Status(s incident.Status) string { return l.enums["Status"+string(s)] }

// Impact names an impact.
func (l *lang) Impact(i incident.Impact) string { return l.enums["Impact"+string(i)] }

// Date formats a date in the language's layout.
func (l *lang) Date(t time.Time) string { return t.Format(l.T["DateLayout"]) }

// DateTime formats a date and time in the language's layout.
func (l *lang) DateTime(t time.Time) string { return t.Format(l.T["DateTimeLayout"]) }

// MonthYear names a month of a year ("March 2026", "2026. március").
func (l *lang) MonthYear(t time.Time) string {
	s := l.monthYear.Fill("Month", l.T["Month"+strconv.Itoa(int(t.Month()))], "Year", strconv.Itoa(t.Year()))
	// It heads a month or starts a line: capitalised, though Croatian and
	// Polish write months in lower case in a sentence ("Prosinac 2026.").
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// NoIncidentsBetween says that no incident was reported from one month
// to another ("July 2026 – November 2026: no incidents reported.").
func (l *lang) NoIncidentsBetween(from, to time.Time) string {
	return l.quiet.Fill("From", l.MonthYear(from), "To", l.MonthYear(to))
}

// Percent formats a percentage with two decimals and the language's
// decimal separator.
func (l *lang) Percent(p float64) string {
	s := strconv.FormatFloat(p, 'f', 2, 64)
	if l.Code != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return l.percent.Fill("Percent", s)
}

// Duration formats a duration as hours and minutes ("2 h 5 min").
func (l *lang) Duration(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	if m < 1 {
		m = 1
	}
	h, m := m/60, m%60
	switch {
	case h == 0:
		return strconv.Itoa(m) + " " + l.T["MinutesShort"]
	case m == 0:
		return strconv.Itoa(h) + " " + l.T["HoursShort"]
	}
	return strconv.Itoa(h) + " " + l.T["HoursShort"] + " " + strconv.Itoa(m) + " " + l.T["MinutesShort"]
}

// camel turns an enum value such as under_maintenance into UnderMaintenance.
func camel(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

// pickLang chooses the language variant for a request: lang may be a bare
// code ("hu"), a tag ("hu-HU") or a whole Accept-Language header; it is
// matched against the page's languages, falling back to the page's first
// language and then to English.
func pickLang(pageLangs []string, matcher language.Matcher, want string) string {
	want = strings.TrimSpace(want)
	if want != "" && matcher != nil {
		for _, code := range pageLangs {
			if strings.EqualFold(want, code) {
				return code
			}
		}
		tags, _, err := language.ParseAcceptLanguage(want)
		if err == nil && len(tags) > 0 {
			_, idx, conf := matcher.Match(tags...)
			if conf != language.No && idx >= 0 && idx < len(pageLangs) {
				return pageLangs[idx]
			}
		}
	}
	if len(pageLangs) > 0 {
		return pageLangs[0]
	}
	return "en"
}

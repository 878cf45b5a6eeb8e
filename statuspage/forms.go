package statuspage

import (
	"fmt"

	"github.com/heraldhq/herald/incident"
)

// FormName names one of the subscription pages Forms renders.
type FormName string

// The subscription pages. GET-able ones (subscribe, confirm, unsubscribe)
// show the language menu; the answers to a POST do not, since their URL
// cannot be fetched again.
const (
	FormSubscribe    FormName = "subscribe"    // the sign-up form
	FormCheckEmail   FormName = "check_email"  // email sign-up: the confirm link is on its way
	FormEnterCode    FormName = "enter_code"   // SMS sign-up: the code form
	FormSubscribed   FormName = "subscribed"   // active (webhook, Slack, a code or link confirmed)
	FormConfirm      FormName = "confirm"      // the confirm link's page: one button that POSTs
	FormUnsubscribe  FormName = "unsubscribe"  // the unsubscribe link's page: one button that POSTs
	FormUnsubscribed FormName = "unsubscribed" // done
	FormLinkInvalid  FormName = "link_invalid" // a forged, cut or expired link
	FormReport       FormName = "report"       // the report-a-problem form
	FormReported     FormName = "reported"     // thanks, with the complaint's reference
)

const (
	formProblemPrefix = "FormProblem" // message ID prefix of each Problem
	formChannelPrefix = "FormChannel" // message ID prefix of each channel's name
	formTemplate      = "form"        // the template in templates/forms.html
	formSizeHint      = 8 << 10       // bytes, for the render buffer
)

// formTitles maps each page to its heading's message ID.
var formTitles = map[FormName]string{
	FormSubscribe:    "FormSubscribeTitle",
	FormCheckEmail:   "FormCheckEmailTitle",
	FormEnterCode:    "FormEnterCodeTitle",
	FormSubscribed:   "FormSubscribedTitle",
	FormConfirm:      "FormConfirmTitle",
	FormUnsubscribe:  "FormUnsubscribeTitle",
	FormUnsubscribed: "FormUnsubscribedTitle",
	FormLinkInvalid:  "FormLinkInvalidTitle",
	FormReport:       "FormReportTitle",
	FormReported:     "FormReportedTitle",
}

// Problems a form page can show above the form; each has a message
// FormProblem<Problem> in every language.
const (
	ProblemAddress     = "Address"     // the address is not valid for the channel
	ProblemCode        = "Code"        // wrong or expired SMS code
	ProblemRateLimited = "RateLimited" // a sign-up limit was hit
	ProblemInvalid     = "Invalid"     // anything else the form got wrong
	ProblemLink        = "Link"        // a forged, cut or expired link
	ProblemExpired     = "Expired"     // the form's anti-forgery token is stale or missing
	ProblemContact     = "Contact"     // report form: the contact is no email address or phone number
	ProblemMessage     = "Message"     // report form: the message is missing or too long
)

// FormComponent is one component checkbox of the sign-up form.
type FormComponent struct {
	ID, Name string
	Checked  bool
}

// FormData is what a subscription page shows. Every string is escaped by
// html/template; none is trusted.
type FormData struct {
	// Action is the path the page's form POSTs to (same origin).
	Action string
	// CSRF is the anti-forgery token put in a hidden "csrf" field.
	CSRF string
	// Problem is one of the Problem… constants, or "".
	Problem string
	// Channel and Address refill the sign-up form after a problem.
	Channel, Address string
	// Components are the page's components for the checkboxes (groups left out).
	Components []FormComponent
	// Language preselects the messages' language.
	Language string
	// Phone is the number the code form confirms (hidden field).
	Phone string
	// The report form: Contact (email or phone), Reporter (their name)
	// and Message refill it after a problem; Incident is the incident page
	// it was opened from (hidden field); Component preselects one of
	// Components. (Not "Name": the view's Name is the page's FormName.)
	Contact, Reporter, Message, Incident, Component string
	// Ref is the reference number the thank-you page shows.
	Ref string
	// NoReply: herald cannot write to the contact given (an SMS to a
	// country outside sms_countries, no channel for it): the thank-you
	// page says so instead of promising a confirmation.
	NoReply bool
	// IncidentName names the incident a sign-up follows ("subscribe to
	// this incident"; its ID is Incident): the form then offers no
	// components, as it follows that incident only.
	IncidentName string
}

// formView is FormData with what the template derives from it.
type formView struct {
	FormData
	Name        FormName
	Heading     string
	ProblemText string
	Channels    []formOption
	Languages   []formOption
}

type formOption struct {
	Value, Label string
	Selected     bool
}

// Forms renders the public subscription pages (sign-up, code, confirm,
// unsubscribe) with the status page's layout, stylesheet and messages, in
// the page's languages. Unlike the status page they are rendered per
// request: they carry a per-form token, and they are rarely visited.
type Forms struct {
	langs map[string]*lang
}

// NewForms loads the languages; it fails only if a locale is broken.
func NewForms() (*Forms, error) {
	all, err := loadLangs()
	if err != nil {
		return nil, err
	}
	return &Forms{langs: all}, nil
}

// Render renders page name for the status page p in lang (a code of the
// page's languages; anything else falls back to the page's first).
func (f *Forms) Render(p *incident.Page, lang string, name FormName, d FormData) ([]byte, error) {
	title, ok := formTitles[name]
	if !ok {
		return nil, fmt.Errorf("statuspage: no form %q", name)
	}
	code := pickLang(p.Languages, nil, "")
	for _, c := range p.Languages {
		if c == lang {
			code = c
		}
	}
	l := f.langs[code]
	if l == nil {
		code, l = "en", f.langs["en"]
	}
	fv := &formView{FormData: d, Name: name, Heading: l.T[title]}
	if d.Problem != "" {
		fv.ProblemText = l.T[formProblemPrefix+d.Problem]
		if fv.ProblemText == "" {
			fv.ProblemText = l.T[formProblemPrefix+ProblemInvalid]
		}
	}
	for _, ch := range []struct{ value, id string }{{"email", "Email"}, {"sms", "SMS"}, {"webhook", "Webhook"}, {"slack", "Slack"}} {
		fv.Channels = append(fv.Channels, formOption{Value: ch.value, Label: l.T[formChannelPrefix+ch.id],
			Selected: d.Channel == ch.value || (d.Channel == "" && ch.value == "email")})
	}
	pageLangs := p.Languages
	if len(pageLangs) == 0 {
		pageLangs = []string{"en"}
	}
	want := d.Language
	if want == "" {
		want = code
	}
	var links []langLink
	for _, c := range pageLangs {
		if f.langs[c] == nil {
			continue
		}
		fv.Languages = append(fv.Languages, formOption{Value: c, Label: langNames[c], Selected: c == want})
		links = append(links, langLink{Code: c, Name: langNames[c], Current: c == code})
	}
	if name != FormSubscribe && name != FormConfirm && name != FormUnsubscribe && name != FormReport {
		links = nil // the answer to a POST: its URL cannot be fetched with ?lang=
	}
	data := &pageData{L: l, V: &view{Page: p, LogoSrc: logoSrc(p)}, Title: fv.Heading + " – " + p.Name, Langs: links, Form: fv}
	return execute(formTemplate, data, formSizeHint)
}

package surveys

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"strconv"
	"sync"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
)

// PageView is what the survey page shows.
type PageView struct {
	Lang     string
	PageName string // the status page's name
	Incident string // the incident's name
	Action   string // the form's URL (the survey link)
	Survey   *Survey
	// Kind is "form" (ask), "thanks" (answered; the form stays to change
	// it), "closed", or "link" (a link that does not work).
	Kind     string
	FollowUp bool // a person will contact them (a win-back task opened)
	// Problem says why the last submission was refused (ProblemOf): the
	// page names what to correct; "" when nothing was refused.
	Problem string
	// Chosen is the score a message's one-click link carries: the form
	// shows it chosen and sends itself (AutoSendScript), so that the
	// person records it in one click, and a mail scanner or link preview
	// that opens every link, running no script, records nothing.
	Chosen int
}

// AutoSendScript is the one script the survey page may run: it sends the
// form a one-click link filled in. AutoSendHash is its CSP hash
// ("sha256-…"), for the page's Content-Security-Policy.
const AutoSendScript = `document.getElementById("survey").submit();`

// AutoSendHash is AutoSendScript's Content-Security-Policy source.
var AutoSendHash = func() string {
	sum := sha256.Sum256([]byte(AutoSendScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

var (
	pageOnce sync.Once
	pageTmpl *template.Template
	pageCat  *locale.Catalogue
	pageErr  error
)

// RenderPage renders the survey page: a small form in the recipient's
// language that works without JavaScript, on a phone, and meets WCAG 2.1
// AA (a label for every control, grouped questions with legends, 4.5:1
// contrast, a visible focus, 44 px targets).
func RenderPage(v PageView) ([]byte, error) {
	pageOnce.Do(loadPage)
	if pageErr != nil {
		return nil, pageErr
	}
	l := pageCat.Lang(v.Lang)
	w := func(id string) string { return l.Text(id) }
	data := map[string]any{
		"V": v, "Lang": l.Code(), "T": w,
		"Intro":  l.Pattern("SurveyIntro").Fill("Name", v.Incident),
		"Scores": []int{1, 2, 3, 4, 5},
	}
	if s := v.Survey; s != nil && s.Answer != nil {
		data["Score"] = s.Answer.Score
		data["Informed"] = string(s.Answer.Informed)
		data["Received"] = string(s.Answer.Received)
		data["Comment"] = s.Answer.Comment
	}
	if text, ok := problemTexts[v.Problem]; ok {
		data["ProblemText"] = text
	} else {
		data["ProblemText"] = "SurveyProblem"
	}
	if v.Chosen >= 1 && v.Chosen <= 5 {
		data["Score"] = v.Chosen
		data["AutoSend"] = template.JS(AutoSendScript)
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Problems a refused submission names (PageView.Problem), each with the
// page's words for it.
const (
	ProblemScore     = "score"
	ProblemInformed  = "informed"
	ProblemReceived  = "received"
	ProblemNotAsked  = "received_not_asked" // an answer about a promise to someone promised nothing
	ProblemComment   = "comment"
	problemOtherwise = "other"
)

var problemTexts = map[string]string{
	ProblemScore: "SurveyProblemScore", ProblemInformed: "SurveyProblemInformed", ProblemReceived: "SurveyProblemReceived",
	ProblemNotAsked: "SurveyProblemNotAsked", ProblemComment: "SurveyProblemComment", problemOtherwise: "SurveyProblem",
}

// ProblemOf is the PageView.Problem of an answer's refusal (AnswerLink's
// EINVALID): the question to correct.
func ProblemOf(err error) string {
	if errors.Is(err, errNotAsked) {
		return ProblemNotAsked
	}
	var e *incident.Error
	if errors.As(err, &e) {
		if _, ok := problemTexts[e.Field]; ok && e.Field != "" {
			return e.Field
		}
	}
	return problemOtherwise
}

func loadPage() {
	pageCat, pageErr = locale.Default()
	if pageErr != nil {
		return
	}
	pageTmpl, pageErr = template.New("survey").Funcs(template.FuncMap{"scoreLabel": ScoreLabel}).Parse(pageHTML)
}

// ScoreLabel is the accessible name of a score's radio button.
func ScoreLabel(lang string, n int) string {
	pageOnce.Do(loadPage)
	if pageErr != nil {
		return strconv.Itoa(n)
	}
	l := pageCat.Lang(lang)
	switch n {
	case 1:
		return "1 – " + l.Text("SurveyScoreLow")
	case 5:
		return "5 – " + l.Text("SurveyScoreHigh")
	}
	return strconv.Itoa(n)
}

const pageHTML = `<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{if eq .V.Kind "link"}}{{call .T "SurveyLinkTitle"}}{{else if eq .V.Kind "closed"}}{{call .T "SurveyClosedTitle"}}{{else if eq .V.Kind "thanks"}}{{call .T "SurveyThanksTitle"}}{{else}}{{call .T "SurveyTitle"}}{{end}}{{if .V.PageName}} – {{.V.PageName}}{{end}}</title>
<style>
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#172b4d;background:#f4f5f7}
main{max-width:560px;margin:0 auto;padding:24px 16px 48px}
h1{font-size:24px;line-height:1.25;margin:0 0 8px}
.page{color:#42526e;font-size:14px;margin:0 0 20px}
.card{background:#fff;border:1px solid #c1c7d0;border-radius:8px;padding:20px}
fieldset{border:0;margin:0 0 20px;padding:0}
legend{font-weight:600;margin-bottom:8px;padding:0}
.scores{display:flex;gap:8px;flex-wrap:wrap}
.scores label,.choices label{display:flex;align-items:center;justify-content:center;min-width:48px;min-height:48px;padding:0 12px;border:2px solid #0052cc;border-radius:6px;color:#0052cc;font-weight:700;cursor:pointer;background:#fff}
.choices{display:flex;gap:8px;flex-wrap:wrap}
.choices label{font-weight:600}
input[type=radio]{position:absolute;opacity:0;width:1px;height:1px}
input[type=radio]:checked+span{color:#fff}
label:has(input:checked){background:#0052cc;color:#fff}
input[type=radio]:focus-visible+span{outline:3px solid #172b4d;outline-offset:4px}
.ends{display:flex;justify-content:space-between;font-size:14px;color:#42526e;margin-top:4px;max-width:280px}
label.text{display:block;font-weight:600;margin-bottom:8px}
textarea{width:100%;min-height:120px;font:inherit;padding:10px;border:2px solid #6b778c;border-radius:6px}
textarea:focus-visible,button:focus-visible{outline:3px solid #172b4d;outline-offset:2px}
button{min-height:48px;padding:0 24px;font:inherit;font-weight:700;color:#fff;background:#0052cc;border:0;border-radius:6px;cursor:pointer}
.note{border-left:4px solid #00875a;background:#e3fcef;padding:12px 16px;margin:0 0 20px;border-radius:4px}
.problem{border-left:4px solid #de350b;background:#ffebe6;padding:12px 16px;margin:0 0 20px;border-radius:4px}
</style>
</head>
<body>
<main>
{{if eq .V.Kind "link"}}
<h1>{{call .T "SurveyLinkTitle"}}</h1>
<p>{{call .T "SurveyLink"}}</p>
{{else if eq .V.Kind "closed"}}
<h1>{{call .T "SurveyClosedTitle"}}</h1>
<p>{{call .T "SurveyClosed"}}</p>
{{else}}
<h1>{{if eq .V.Kind "thanks"}}{{call .T "SurveyThanksTitle"}}{{else}}{{call .T "SurveyTitle"}}{{end}}</h1>
{{if .V.PageName}}<p class="page">{{.V.PageName}}</p>{{end}}
{{if eq .V.Kind "thanks"}}<div class="note" role="status"><p style="margin:0">{{call .T "SurveyThanks"}}</p>{{if .V.FollowUp}}<p style="margin:8px 0 0">{{call .T "SurveyFollowUp"}}</p>{{end}}</div>{{end}}
{{if .V.Problem}}<div class="problem" role="alert">{{call .T .ProblemText}}</div>{{end}}
<div class="card">
<p style="margin-top:0">{{.Intro}}</p>
{{if .AutoSend}}<noscript><div class="note"><p style="margin:0">{{call .T "SurveyChosen"}}</p></div></noscript>{{end}}
<form method="post" action="{{.V.Action}}" id="survey">
<fieldset>
<legend>{{call .T "SurveyQScore"}}</legend>
<div class="scores">{{range .Scores}}<label><input type="radio" name="score" value="{{.}}" {{if eq . (or $.Score 0)}}checked{{end}} required aria-label="{{scoreLabel $.Lang .}}"><span>{{.}}</span></label>{{end}}</div>
<div class="ends" aria-hidden="true"><span>1 = {{call .T "SurveyScoreLow"}}</span><span>5 = {{call .T "SurveyScoreHigh"}}</span></div>
</fieldset>
<fieldset>
<legend>{{call .T "SurveyQInformed"}}</legend>
<div class="choices">
<label><input type="radio" name="informed" value="yes" {{if eq (or .Informed "") "yes"}}checked{{end}}><span>{{call .T "SurveyYes"}}</span></label>
<label><input type="radio" name="informed" value="partly" {{if eq (or .Informed "") "partly"}}checked{{end}}><span>{{call .T "SurveyPartly"}}</span></label>
<label><input type="radio" name="informed" value="no" {{if eq (or .Informed "") "no"}}checked{{end}}><span>{{call .T "SurveyNo"}}</span></label>
</div>
</fieldset>
{{if and .V.Survey .V.Survey.Granted}}
<fieldset>
<legend>{{call .T "SurveyQReceived"}}</legend>
<div class="choices">
<label><input type="radio" name="received" value="yes" {{if eq (or .Received "") "yes"}}checked{{end}}><span>{{call .T "SurveyYes"}}</span></label>
<label><input type="radio" name="received" value="not_yet" {{if eq (or .Received "") "not_yet"}}checked{{end}}><span>{{call .T "SurveyNotYet"}}</span></label>
<label><input type="radio" name="received" value="no" {{if eq (or .Received "") "no"}}checked{{end}}><span>{{call .T "SurveyNo"}}</span></label>
</div>
</fieldset>
{{end}}
<label class="text" for="comment">{{call .T "SurveyQComment"}}</label>
<textarea id="comment" name="comment" maxlength="2000">{{.Comment}}</textarea>
<p><button type="submit">{{call .T "SurveySend"}}</button></p>
</form>
{{with .AutoSend}}<script>{{.}}</script>{{end}}
</div>
{{end}}
</main>
</body>
</html>
`

// winBackWords returns the words of a win-back task in lang: a pattern
// filled with its name, value pairs (WinBack… keys).
func winBackWords(lang string) func(id string, kv ...string) string {
	pageOnce.Do(loadPage)
	return func(id string, kv ...string) string {
		if pageErr != nil {
			return id
		}
		l := pageCat.Lang(lang)
		if p := l.Pattern(id); p != nil {
			return p.Fill(kv...)
		}
		return l.Text(id)
	}
}

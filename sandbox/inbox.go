package sandbox

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"strconv"
)

// inboxPageLimit is how many messages the HTML inbox shows by default.
const inboxPageLimit = 200

// routes serves the fake provider APIs and, for convenience, the inbox.
func (s *Sandbox) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{AccountSid}/Messages.json", s.handleTwilioCreate)
	mux.HandleFunc("GET /2010-04-01/Accounts/{AccountSid}/Messages/{file}", s.handleTwilioGet)
	mux.HandleFunc("POST /api/chat.postMessage", s.handleSlackPostMessage)
	mux.HandleFunc("POST /api/chat.update", s.handleSlackUpdate)
	mux.HandleFunc("/api/conversations.history", s.handleSlackHistory)
	mux.HandleFunc("/api/auth.test", s.handleSlackAuthTest)
	mux.HandleFunc("POST /api/chat.postEphemeral", s.handleSlackPostEphemeral)
	mux.HandleFunc("POST /api/views.open", s.handleSlackViewsOpen)
	mux.HandleFunc("POST /api/views.update", s.handleSlackViewsUpdate)
	mux.HandleFunc("/api/users.info", s.handleSlackUsersInfo)
	mux.HandleFunc("/api/usergroups.users.list", s.handleSlackGroupMembers)
	mux.HandleFunc("/api/", s.handleSlackUnknown)
	mux.HandleFunc("POST /services/{name...}", s.handleSlackWebhook)
	mux.HandleFunc("POST /webhooks/{name...}", s.handleWebhook)
	// On its own listener the sandbox has no tokens to check, so it
	// serves no credentials: `herald sandbox` prints them.
	inbox := s.inboxMux(true, false)
	mux.Handle("/sandbox", inbox)
	mux.Handle("/sandbox/", inbox)
	return mux
}

// Handler serves the inbox's reading routes, for a server to mount with
// no authentication:
//
//	GET    /sandbox            HTML, newest first (?kind=&to=&limit=)
//	GET    /sandbox/messages   JSON {"counts":{kind:n},"total":n,"messages":[…]}, newest first (?kind=&to=&limit=)
//	GET    /sandbox/views      JSON {"views":[…]}: the Slack modals opened (views.open, views.update), newest first
//
// It has no route that changes anything or tells a secret, so no spelling
// of a path (percent-encoded, another case) that the mounting server's
// own routing does not recognise can reach one. Message content comes
// from untrusted incident text, so the page escapes all of it and never
// renders a message's HTML.
func (s *Sandbox) Handler() http.Handler { return s.inboxMux(false, false) }

// GuardedHandler serves Handler's routes and these, which the mounting
// server must put behind a manager's token, mounting it at exactly these
// routes:
//
//	DELETE /sandbox/messages   empties the inbox, the views and the counters
//	POST   /sandbox/reply      texts herald as a customer (SendReply)
//	GET    /sandbox/credentials JSON: the credentials herald trusts from this sandbox (Credentials)
//
// They destroy what others look at, speak to herald as a customer with
// the sandbox's Twilio token, and hand out the secrets.
func (s *Sandbox) GuardedHandler() http.Handler { return s.inboxMux(true, true) }

// Credentials are the secrets a herald using this sandbox trusts: the
// Twilio token signs inbound SMS and status callbacks, the Slack signing
// secret signs slash commands and interactions.
type Credentials struct {
	TwilioAccountSID   string `json:"twilio_account_sid"`
	TwilioAuthToken    string `json:"twilio_auth_token"`
	SlackToken         string `json:"slack_token"`
	SlackSigningSecret string `json:"slack_signing_secret"`
}

// Credentials returns the sandbox's credentials (random per start unless
// Config named them).
func (s *Sandbox) Credentials() Credentials {
	return Credentials{TwilioAccountSID: s.cfg.AccountSID, TwilioAuthToken: s.cfg.AuthToken,
		SlackToken: s.cfg.SlackToken, SlackSigningSecret: s.cfg.SlackSigningSecret}
}

// inboxMux is the inbox's reading routes; with writes, emptying it and
// texting herald; with credentials, GET /sandbox/credentials.
func (s *Sandbox) inboxMux(writes, credentials bool) http.Handler {
	mux := http.NewServeMux()
	if credentials {
		mux.HandleFunc("GET /sandbox/credentials", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusOK, s.Credentials())
		})
	}
	mux.HandleFunc("GET /sandbox", s.handleInboxPage)
	mux.HandleFunc("GET /sandbox/{$}", s.handleInboxPage)
	mux.HandleFunc("GET /sandbox/messages", s.handleInboxJSON)
	mux.HandleFunc("GET /sandbox/views", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{"views": newestViewsFirst(s.Views())})
	})
	if writes {
		mux.HandleFunc("POST /sandbox/reply", s.handleReply)
		mux.HandleFunc("DELETE /sandbox/messages", func(w http.ResponseWriter, _ *http.Request) {
			s.Reset()
			w.WriteHeader(http.StatusNoContent)
		})
	}
	return mux
}

// queryFilter reads ?kind=&to=&limit= into a Filter; bad limits fall back
// to def.
func queryFilter(r *http.Request, def int) Filter {
	q := r.URL.Query()
	f := Filter{Kind: q.Get("kind"), To: q.Get("to"), Limit: def}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		f.Limit = n
	}
	return f
}

func newestViewsFirst(vs []View) []View {
	slices.Reverse(vs)
	return vs
}

func newestFirst(ms []Message) []Message {
	slices.Reverse(ms)
	return ms
}

func (s *Sandbox) handleInboxJSON(w http.ResponseWriter, r *http.Request) {
	f := queryFilter(r, 0)
	msgs := newestFirst(s.Messages(f))
	if msgs == nil {
		msgs = []Message{}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"counts":   s.inbox.counters(),
		"total":    s.Count(""),
		"messages": msgs,
	})
}

// inboxView is what the inbox template renders.
type inboxView struct {
	Filter   Filter
	Counts   map[string]int
	Total    int
	Kinds    []string
	Messages []inboxRow
	Views    []viewRow
	CanReply bool // a texted reply has somewhere to go
	CanEmail bool // an emailed reply has somewhere to go (SetEmailReceiver)
}

type inboxRow struct {
	Message
	BlocksText string
	Preview    []previewBlock
}

type viewRow struct {
	View
	Preview []previewBlock
}

func (s *Sandbox) handleInboxPage(w http.ResponseWriter, r *http.Request) {
	f := queryFilter(r, inboxPageLimit)
	msgs := newestFirst(s.Messages(f))
	v := inboxView{
		Filter:   f,
		Counts:   s.inbox.counters(),
		Total:    s.Count(""),
		Kinds:    []string{KindSMS, KindEmail, KindSlack, KindWebhook},
		CanReply: s.cfg.InboundSMSURL != "", CanEmail: s.emailReceiver.Load() != nil,
	}
	for _, m := range msgs {
		row := inboxRow{Message: m}
		if len(m.Blocks) > 0 {
			var buf bytes.Buffer
			if json.Indent(&buf, m.Blocks, "", "  ") == nil {
				row.BlocksText = buf.String()
			} else {
				row.BlocksText = string(m.Blocks)
			}
			row.Preview = previewBlocks(m.Blocks)
		}
		v.Messages = append(v.Messages, row)
	}
	if f.Kind == "" || f.Kind == KindSlack {
		for _, vw := range newestViewsFirst(s.Views()) {
			v.Views = append(v.Views, viewRow{View: vw, Preview: previewBlocks(vw.Blocks)})
		}
	}
	var buf bytes.Buffer
	if err := inboxTemplate.Execute(&buf, v); err != nil {
		s.log.Error("inbox page render failed", "err", err)
		http.Error(w, "inbox render failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The page shows untrusted text: forbid scripts and framing outright.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(buf.Bytes())
}

var inboxTemplate = template.Must(template.New("inbox").Funcs(template.FuncMap{"md": mrkdwn}).Parse(`{{define "bk"}}<div class="bk">{{range .}}{{if eq .Type "header"}}<h3>{{md .Text}}</h3>{{else if eq .Type "section"}}{{if .Text}}<p>{{md .Text}}</p>{{end}}{{if .Fields}}<div class="fields">{{range .Fields}}<div>{{md .}}</div>{{end}}</div>{{end}}{{if .Value}}<p class="ctx">{{.Value}}</p>{{end}}{{else if eq .Type "context"}}<div class="ctx">{{md .Text}}</div>{{else if eq .Type "divider"}}<hr>{{else if eq .Type "actions"}}<div class="btns">{{range .Buttons}}<span class="btn{{if .Style}} btn-{{.Style}}{{end}}"{{if .URL}} title="{{.URL}}"{{end}}>{{.Text}}</span>{{end}}</div>{{else if eq .Type "input"}}<div class="in"><b>{{.Text}}</b><span>{{.Value}}</span></div>{{else}}<p class="ctx">{{.Text}}</p>{{end}}{{end}}</div>{{end}}
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>herald sandbox inbox</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1f24;background:#f6f7f9}
h1{font-size:1.4rem;margin:.2rem 0 .6rem}
nav a{margin-right:.8rem}
.msg{background:#fff;border:1px solid #d6dae0;border-radius:6px;padding:.7rem .9rem;margin:.7rem 0}
.meta{color:#57606a;font-size:.85rem}
.kind{display:inline-block;font-weight:600;text-transform:uppercase;font-size:.75rem;padding:.05rem .4rem;border-radius:4px;background:#e7ecf3;margin-right:.4rem}
.status-failed,.status-undelivered{color:#b42318;font-weight:600}
.status-delivered,.status-sent{color:#1a7f37}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.5rem;border-radius:4px;margin:.4rem 0;font-size:.85rem}
.subject{font-weight:600}
.bk{border-left:4px solid #4a154b;padding:.1rem .7rem;margin:.5rem 0;background:#fff}
.bk h3{font-size:1.05rem;margin:.4rem 0}.bk p{margin:.35rem 0;white-space:pre-wrap;word-break:break-word}
.bk .fields{display:grid;grid-template-columns:repeat(auto-fit,minmax(13rem,1fr));gap:.2rem 1rem;margin:.3rem 0}
.bk .fields div{white-space:pre-wrap;word-break:break-word}
.bk .ctx{color:#57606a;font-size:.85rem;margin:.3rem 0;white-space:pre-wrap}
.bk hr{border:0;border-top:1px solid #e1e4e8;margin:.5rem 0}
.bk .btns{display:flex;flex-wrap:wrap;gap:.4rem;margin:.4rem 0}
.bk .btn{border:1px solid #c9ccd1;border-radius:4px;padding:.2rem .7rem;font-weight:600;font-size:.9rem;background:#fff;color:#1d1c1d}
.bk .btn-primary{background:#007a5a;border-color:#007a5a;color:#fff}.bk .btn-danger{background:#e01e5a;border-color:#e01e5a;color:#fff}
.bk .in{margin:.45rem 0}.bk .in b{display:block;font-size:.9rem}.bk .in span{display:block;border:1px solid #c9ccd1;border-radius:4px;padding:.25rem .5rem;min-height:1.2rem;color:#454a50;white-space:pre-wrap;word-break:break-word}
.dot{display:inline-block;width:.8em;height:.8em;border-radius:50%;vertical-align:-.05em;margin-right:.15em}
.views h2{font-size:1.15rem;margin:1.2rem 0 .2rem}
.reply{display:flex;flex-wrap:wrap;gap:.4rem;margin-top:.4rem}.reply input{flex:2 1 14rem;font:inherit;padding:.3rem .5rem;border:1px solid #d6dae0;border-radius:4px;min-width:0}.reply input[type=password]{flex:1 1 9rem}.reply button{font:inherit;padding:.3rem .8rem}
</style>
</head>
<body>
<h1>herald sandbox inbox</h1>
<p class="meta">{{.Total}} messages accepted
{{- range $k := .Kinds}} · {{$k}}: {{index $.Counts $k}}{{end}}. Showing the newest {{len .Messages}}{{if .Filter.Kind}} of kind {{.Filter.Kind}}{{end}}{{if .Filter.To}} to {{.Filter.To}}{{end}}. Nothing here left this machine.</p>
<nav><a href="?">all</a>{{range .Kinds}}<a href="?kind={{.}}">{{.}}</a>{{end}}<a href="/sandbox/messages">JSON</a></nav>
{{range .Messages}}
<div class="msg">
  <div class="meta"><span class="kind">{{.Kind}}</span>{{.At.Format "2006-01-02 15:04:05.000Z07:00"}} · to <b>{{.To}}</b>{{if .From}} · from {{.From}}{{end}} · <span class="status-{{.Status}}">{{.Status}}</span>{{if .Error}} ({{.Error}}){{end}}{{if .Segments}} · {{.Segments}} segment{{if gt .Segments 1}}s{{end}}{{end}}{{if .Edits}} · edited {{.Edits}}×{{end}}{{with index .Headers "thread_ts"}} · reply in the thread of <code>{{.}}</code>{{end}} · <code>{{.ID}}</code></div>
  {{if .Subject}}<div class="subject">{{.Subject}}</div>{{end}}
  {{if .Body}}<pre>{{.Body}}</pre>{{end}}
  {{if .HTML}}<details><summary>HTML part (source)</summary><pre>{{.HTML}}</pre></details>{{end}}
  {{if .Preview}}{{template "bk" .Preview}}{{end}}
  {{if .BlocksText}}<details><summary>Block Kit</summary><pre>{{.BlocksText}}</pre></details>{{end}}
  {{if .Headers}}<details><summary>headers</summary><pre>{{range $k, $v := .Headers}}{{$k}}: {{$v}}
{{end}}</pre></details>{{end}}
  {{if and $.CanReply (eq .Kind "sms")}}<form class="reply" method="post" action="/sandbox/reply"><input type="hidden" name="from" value="{{.To}}"><input type="hidden" name="to" value="{{.From}}"><input type="password" name="token" placeholder="Manager token" aria-label="Manager token" autocomplete="current-password" required><input name="body" placeholder="Reply as {{.To}}…" aria-label="Reply as {{.To}}" required maxlength="1600"><button>Send reply</button></form>{{end}}
  {{if and $.CanEmail (eq .Kind "email")}}<form class="reply" method="post" action="/sandbox/reply"><input type="hidden" name="channel" value="email"><input type="hidden" name="from" value="{{.To}}"><input type="hidden" name="subject" value="Re: {{.Subject}}"><input type="hidden" name="in_reply_to" value="{{.ID}}"><input type="password" name="token" placeholder="Manager token" aria-label="Manager token" autocomplete="current-password" required><input name="body" placeholder="Email a reply as {{.To}}…" aria-label="Email a reply as {{.To}}" required maxlength="10000"><button>Send email reply</button></form>{{end}}
</div>
{{else}}
<p>No messages yet.</p>
{{end}}
{{if .Views}}<section class="views"><h2>Slack modals opened</h2>
{{range .Views}}<div class="msg"><div class="meta"><span class="kind">modal</span>{{.OpenedAt.Format "2006-01-02 15:04:05.000Z07:00"}} · <b>{{.Title}}</b>{{if .CallbackID}} · {{.CallbackID}}{{end}}{{if .Updates}} · updated {{.Updates}}×{{end}} · <code>{{.ID}}</code></div>
{{template "bk" .Preview}}</div>
{{end}}</section>{{end}}
</body>
</html>
`))

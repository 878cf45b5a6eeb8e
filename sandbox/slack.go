package sandbox

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Identity the fake Slack workspace reports: the workspace, and the app
// Config.SlackToken is the bot token of (herald's).
const (
	slackTeamID = "T0SANDBOX"
	slackUserID = "U0SANDBOX"
	slackBotID  = "B0SANDBOX"
	slackAppID  = "A0SANDBOX"
)

// SlackIdentity is who a token speaks for in the fake workspace. A bot
// token is an app's bot: UserID is the bot's user, and BotID and AppID
// are set. A person's user token has only UserID. As in Slack, a message
// posted with a token carries its identity (user, bot_id, app_id and
// bot_profile in conversations.history), auth.test answers it, and only
// that identity may edit the message.
type SlackIdentity struct {
	UserID, BotID, AppID string
	// Name is the bot's or the person's name.
	Name string
}

// heraldSlack is Config.SlackToken's identity.
var heraldSlack = SlackIdentity{UserID: slackUserID, BotID: slackBotID, AppID: slackAppID, Name: "herald"}

// SlackIdentity is the identity of Config.SlackToken: herald's app.
func (s *Sandbox) SlackIdentity() SlackIdentity { return heraldSlack }

// AddSlackToken makes the fake Slack accept token too, as another app's
// bot or a person (id), so that a test can post to a channel as someone
// else than herald. Config.SlackToken cannot be redefined.
func (s *Sandbox) AddSlackToken(token string, id SlackIdentity) error {
	switch {
	case token == "" || s.slackTokenOK(token):
		return fmt.Errorf("sandbox: AddSlackToken: token %q is empty or herald's", token)
	case id.UserID == "" || (id.BotID == "") != (id.AppID == ""):
		return fmt.Errorf("sandbox: AddSlackToken: an identity needs a UserID, and a BotID with an AppID or neither")
	}
	s.slackTokens.Store(token, id)
	return nil
}

// slackAuth returns the identity of a token the fake Slack accepts.
func (s *Sandbox) slackAuth(token string) (SlackIdentity, bool) {
	if s.slackTokenOK(token) {
		return heraldSlack, true
	}
	if v, ok := s.slackTokens.Load(token); ok {
		return v.(SlackIdentity), true
	}
	return SlackIdentity{}, false
}

// slackKnown reports whether the fake Slack accepts token.
func (s *Sandbox) slackKnown(token string) bool {
	_, ok := s.slackAuth(token)
	return ok
}

// slackAuthor adds to msg, a message as the Web API returns it, who
// posted it, as Slack does: the user, and for a bot its bot_id, app_id
// and bot_profile.
func slackAuthor(msg map[string]any, m *Message) {
	msg["user"] = m.User
	if m.BotID != "" {
		msg["bot_id"], msg["app_id"] = m.BotID, m.AppID
		msg["bot_profile"] = map[string]any{"id": m.BotID, "app_id": m.AppID, "name": m.From, "team_id": slackTeamID, "deleted": false}
	}
}

// slackTS issues message timestamps: Slack's ts is seconds and a
// per-workspace sequence, unique within a channel.
var slackSeq atomic.Uint64

func newSlackTS(now time.Time) string {
	return fmt.Sprintf("%d.%06d", now.Unix(), slackSeq.Add(1)%1000000)
}

// slackPost is the part of chat.postMessage the sandbox understands.
type slackPost struct {
	Token    string          `json:"token"`
	Channel  string          `json:"channel"`
	Text     string          `json:"text"`
	Blocks   json.RawMessage `json:"blocks"`
	ThreadTS string          `json:"thread_ts"`
	Username string          `json:"username"`
	TS       string          `json:"ts"`   // chat.update: the message to edit
	User     string          `json:"user"` // chat.postEphemeral: who sees it
	// Metadata is the message metadata: a JSON object, or (in a form, and
	// as Slack also takes it in JSON) a string holding one.
	Metadata json.RawMessage `json:"metadata"`

	// as is who the call's token speaks for (readSlackMessage).
	as SlackIdentity
}

func writeSlackError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]any{"ok": false, "error": code})
}

// writeSlackFault answers an injected fault the way Slack would: 429 with
// Retry-After in seconds, or a 5xx (whose body slack-go ignores).
func writeSlackFault(w http.ResponseWriter, v verdict) {
	switch v.status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", retryAfterHeader(v.retryAfter))
		writeSlackError(w, v.status, "ratelimited")
	case http.StatusServiceUnavailable:
		writeSlackError(w, v.status, "service_unavailable")
	default:
		writeSlackError(w, http.StatusInternalServerError, "internal_error")
	}
}

// readSlackPost decodes a Web API call sent as a form or as JSON, and finds
// its token in the Authorization header or the token field.
func readSlackPost(r *http.Request) (slackPost, string, error) {
	var p slackPost
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil && err != io.EOF {
			return p, "", err
		}
	} else {
		if err := r.ParseForm(); err != nil {
			return p, "", err
		}
		p.Token = r.Form.Get("token")
		p.Channel = r.Form.Get("channel")
		p.Text = r.Form.Get("text")
		p.ThreadTS = r.Form.Get("thread_ts")
		p.Username = r.Form.Get("username")
		p.TS = r.Form.Get("ts")
		p.User = r.Form.Get("user")
		if md := r.Form.Get("metadata"); md != "" {
			p.Metadata, _ = json.Marshal(md)
		}
		if b := r.Form.Get("blocks"); b != "" {
			p.Blocks = json.RawMessage(b)
		}
	}
	token := p.Token
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	return p, token, nil
}

func (s *Sandbox) slackTokenOK(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.SlackToken)) == 1
}

// slackMetadata checks a message's metadata as Slack does: a JSON object
// (or a string holding one) with an event_type and an event_payload
// object. It returns the object compacted; nil with set for "{}" (an edit
// that removes the metadata), nil and unset when there is none, and a
// Slack error code for metadata Slack would refuse.
func slackMetadata(raw json.RawMessage) (md json.RawMessage, set bool, code string) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, ""
	}
	var inner string
	if json.Unmarshal(raw, &inner) == nil {
		if inner == "" {
			return nil, false, ""
		}
		raw = json.RawMessage(inner)
	}
	var m struct {
		EventType    *string         `json:"event_type"`
		EventPayload json.RawMessage `json:"event_payload"`
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || json.Unmarshal(raw, &m) != nil {
		return nil, false, "invalid_metadata_format"
	}
	if len(obj) == 0 {
		return nil, true, ""
	}
	var payload map[string]any
	if m.EventType == nil || *m.EventType == "" || json.Unmarshal(m.EventPayload, &payload) != nil || payload == nil {
		return nil, false, "invalid_metadata_schema"
	}
	out, _ := json.Marshal(map[string]any{"event_type": *m.EventType, "event_payload": payload})
	return out, true, ""
}

// readSlackMessage reads a chat.postMessage or chat.update call and checks
// it as Slack does: the token, an injected fault, the blocks, a channel,
// some text and the metadata. It answers a refused call itself and reports
// false; otherwise it returns the token's identity in p.
func (s *Sandbox) readSlackMessage(w http.ResponseWriter, r *http.Request) (slackPost, []json.RawMessage, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	p, token, err := readSlackPost(r)
	id, known := s.slackAuth(token)
	switch {
	case err != nil:
		writeSlackError(w, http.StatusOK, "invalid_form_data")
		return p, nil, false
	case token == "":
		writeSlackError(w, http.StatusOK, "not_authed")
		return p, nil, false
	case !known:
		writeSlackError(w, http.StatusOK, "invalid_auth")
		return p, nil, false
	}
	p.as = id
	if v := s.faults.check(r.Context(), surfSlack); v.status != 0 {
		writeSlackFault(w, v)
		return p, nil, false
	}
	var blocks []json.RawMessage
	if len(p.Blocks) > 0 && json.Unmarshal(p.Blocks, &blocks) != nil {
		writeSlackError(w, http.StatusOK, "invalid_blocks")
		return p, nil, false
	}
	switch {
	case p.Channel == "":
		writeSlackError(w, http.StatusOK, "channel_not_found")
		return p, nil, false
	case p.Text == "" && len(blocks) == 0:
		writeSlackError(w, http.StatusOK, "no_text")
		return p, nil, false
	case len(p.Text) > 40000:
		writeSlackError(w, http.StatusOK, "msg_too_long")
		return p, nil, false
	}
	if _, _, code := slackMetadata(p.Metadata); code != "" {
		writeSlackError(w, http.StatusOK, code)
		return p, nil, false
	}
	return p, blocks, true
}

// handleSlackPostMessage is POST /api/chat.postMessage.
func (s *Sandbox) handleSlackPostMessage(w http.ResponseWriter, r *http.Request) {
	p, blocks, ok := s.readSlackMessage(w, r)
	if !ok {
		return
	}
	if code, ok := s.faults.failCode(p.Channel); ok {
		writeSlackError(w, http.StatusOK, code)
		return
	}
	now := time.Now().UTC()
	ts := newSlackTS(now)
	channel := slackChannelID(p.Channel)
	from := p.Username
	if from == "" {
		from = p.as.Name
	}
	m := Message{ID: ts, Kind: KindSlack, From: from, To: p.Channel, Body: p.Text, Status: "sent", At: now,
		User: p.as.UserID, BotID: p.as.BotID, AppID: p.as.AppID}
	if len(blocks) > 0 {
		m.Blocks = append(json.RawMessage(nil), p.Blocks...)
	}
	if p.ThreadTS != "" {
		m.Headers = map[string]string{"thread_ts": p.ThreadTS}
	}
	m.Metadata, _, _ = slackMetadata(p.Metadata)
	s.inbox.add(m)
	if s.faults.dropSlackPost() {
		// Kept, and never answered: the caller cannot know the ts.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		writeSlackError(w, http.StatusInternalServerError, "internal_error")
		return
	}

	msg := map[string]any{"type": "message", "text": p.Text, "ts": ts, "team": slackTeamID}
	slackAuthor(msg, &m)
	if len(blocks) > 0 {
		msg["blocks"] = m.Blocks
	}
	if p.ThreadTS != "" {
		msg["thread_ts"] = p.ThreadTS
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": channel, "ts": ts, "message": msg})
}

// handleSlackUpdate is POST /api/chat.update: it edits a message the
// sandbox kept, in place, as Slack does (message_not_found otherwise).
func (s *Sandbox) handleSlackUpdate(w http.ResponseWriter, r *http.Request) {
	p, blocks, ok := s.readSlackMessage(w, r)
	if !ok {
		return
	}
	if p.TS == "" {
		writeSlackError(w, http.StatusOK, "message_not_found")
		return
	}
	now := time.Now().UTC()
	theirs := false
	ok = s.inbox.replace(p.TS, func(m *Message) bool {
		if m.Kind != KindSlack || slackChannelID(m.To) != slackChannelID(p.Channel) {
			return false
		}
		if m.User != p.as.UserID {
			// As Slack: only who posted a message may edit it.
			theirs = true
			return false
		}
		m.Body = p.Text
		m.Blocks = nil
		if len(blocks) > 0 {
			m.Blocks = append(json.RawMessage(nil), p.Blocks...)
		}
		m.EditedAt = &now
		// As Slack: an edit without metadata keeps the message's, "{}"
		// removes it.
		if md, set, _ := slackMetadata(p.Metadata); set {
			m.Metadata = md
		}
		return true
	})
	switch {
	case theirs:
		writeSlackError(w, http.StatusOK, "cant_update_message")
		return
	case !ok:
		writeSlackError(w, http.StatusOK, "message_not_found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": slackChannelID(p.Channel), "ts": p.TS, "text": p.Text})
}

// handleSlackHistory is /api/conversations.history: the channel's
// top-level messages (not thread replies, not ephemeral ones), newest
// first, after oldest and before latest (both excluded unless inclusive),
// limit at a time (default 100, at most 999) with a cursor for the next
// page, as Slack answers. A message's metadata is returned only with
// include_all_metadata. Faults.SlackHistory, or the channel's code in
// Faults.FailTo, fails the call ("not_in_channel"; "missing_scope" says,
// as Slack does, which scopes are needed).
func (s *Sandbox) handleSlackHistory(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		writeSlackError(w, http.StatusOK, "invalid_form_data")
		return
	}
	token := r.Form.Get("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	switch _, known := s.slackAuth(token); {
	case token == "":
		writeSlackError(w, http.StatusOK, "not_authed")
		return
	case !known:
		writeSlackError(w, http.StatusOK, "invalid_auth")
		return
	}
	if v := s.faults.check(r.Context(), surfSlack); v.status != 0 {
		writeSlackFault(w, v)
		return
	}
	ch := r.Form.Get("channel")
	if ch == "" {
		writeSlackError(w, http.StatusOK, "channel_not_found")
		return
	}
	code, ok := s.faults.failCode(ch)
	if h := s.faults.get().SlackHistory; h != "" {
		code, ok = h, true
	}
	if ok {
		if code == "missing_scope" {
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code,
				"needed": "channels:history", "provided": "commands,chat:write,chat:write.public,users:read,usergroups:read"})
			return
		}
		writeSlackError(w, http.StatusOK, code)
		return
	}
	flag := func(k string) bool { v := r.Form.Get(k); return v == "1" || v == "true" }
	withMetadata := flag("include_all_metadata")
	inclOldest, inclLatest := flag("inclusive"), flag("inclusive")
	var oldest, latest slackTime
	if oldest, ok = parseSlackTime(r.Form.Get("oldest"), slackTime{}); !ok {
		writeSlackError(w, http.StatusOK, "invalid_ts_oldest")
		return
	}
	if latest, ok = parseSlackTime(r.Form.Get("latest"), slackTime{sec: 1 << 62}); !ok {
		writeSlackError(w, http.StatusOK, "invalid_ts_latest")
		return
	}
	limit := 100
	if l := r.Form.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			writeSlackError(w, http.StatusOK, "invalid_limit")
			return
		}
		if n > 0 {
			limit = min(n, 999)
		}
	}
	if c := r.Form.Get("cursor"); c != "" {
		// The cursor is the ts the next page starts before, as Slack's
		// "next_ts:…" cursors are.
		raw, err := base64.StdEncoding.DecodeString(c)
		next, found := strings.CutPrefix(string(raw), "next_ts:")
		t, ok := parseSlackTime(next, slackTime{})
		if err != nil || !found || !ok || next == "" {
			writeSlackError(w, http.StatusOK, "invalid_cursor")
			return
		}
		latest, inclLatest = t, false
	}
	id := slackChannelID(ch)
	var in []Message
	for _, m := range s.inbox.list([]Filter{{Kind: KindSlack}}) {
		if slackChannelID(m.To) != id || m.Status == "ephemeral" || m.Headers["thread_ts"] != "" {
			continue
		}
		t, ok := parseSlackTime(m.ID, slackTime{})
		if !ok || t.before(oldest) || latest.before(t) || !inclOldest && t == oldest || !inclLatest && t == latest {
			continue
		}
		in = append(in, m)
	}
	sort.SliceStable(in, func(i, j int) bool {
		a, _ := parseSlackTime(in[i].ID, slackTime{})
		b, _ := parseSlackTime(in[j].ID, slackTime{})
		return b.before(a)
	})
	more := len(in) > limit
	if more {
		in = in[:limit]
	}
	msgs := make([]map[string]any, 0, len(in))
	for _, m := range in {
		msg := map[string]any{"type": "message", "text": m.Body, "ts": m.ID, "team": slackTeamID}
		slackAuthor(msg, &m)
		if len(m.Blocks) > 0 {
			msg["blocks"] = m.Blocks
		}
		if m.EditedAt != nil {
			msg["edited"] = map[string]any{"user": m.User, "ts": fmt.Sprintf("%d.000000", m.EditedAt.Unix())}
		}
		if withMetadata && len(m.Metadata) > 0 {
			msg["metadata"] = m.Metadata
		}
		msgs = append(msgs, msg)
	}
	next := ""
	if more {
		next = base64.StdEncoding.EncodeToString([]byte("next_ts:" + in[len(in)-1].ID))
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "messages": msgs, "has_more": more, "pin_count": 0,
		"response_metadata": map[string]any{"next_cursor": next}})
}

// slackTime is a Slack ts ("1700000000.000123") in a form that compares.
type slackTime struct{ sec, micro int64 }

func (t slackTime) before(u slackTime) bool {
	return t.sec < u.sec || t.sec == u.sec && t.micro < u.micro
}

// parseSlackTime reads a ts or a Unix time ("1700000000", "1700000000.5");
// "" is def.
func parseSlackTime(s string, def slackTime) (slackTime, bool) {
	if s == "" {
		return def, true
	}
	secs, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || sec < 0 || len(frac) > 6 {
		return slackTime{}, false
	}
	var micro int64
	if frac != "" {
		frac += strings.Repeat("0", 6-len(frac))
		if micro, err = strconv.ParseInt(frac, 10, 64); err != nil || micro < 0 {
			return slackTime{}, false
		}
	}
	return slackTime{sec: sec, micro: micro}, true
}

// handleSlackAuthTest is /api/auth.test, which clients call to check a token.
func (s *Sandbox) handleSlackAuthTest(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	_, token, err := readSlackPost(r)
	id, known := s.slackAuth(token)
	switch {
	case err != nil:
		writeSlackError(w, http.StatusOK, "invalid_form_data")
	case token == "":
		writeSlackError(w, http.StatusOK, "not_authed")
	case !known:
		writeSlackError(w, http.StatusOK, "invalid_auth")
	default:
		res := map[string]any{
			"ok": true, "url": "https://herald-sandbox.slack.com/", "team": "herald sandbox",
			"user": id.Name, "team_id": slackTeamID, "user_id": id.UserID,
		}
		if id.BotID != "" {
			res["bot_id"] = id.BotID
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// handleSlackUnknown answers methods the sandbox does not fake, as Slack does.
func (s *Sandbox) handleSlackUnknown(w http.ResponseWriter, _ *http.Request) {
	writeSlackError(w, http.StatusOK, "unknown_method")
}

// slackChannelID turns a channel name such as "#ops" into a stable fake ID;
// IDs (C…, D…, G…) pass through, as Slack answers with the ID.
func slackChannelID(ch string) string {
	if len(ch) >= 9 && strings.ContainsRune("CDG", rune(ch[0])) && strings.ToUpper(ch) == ch && !strings.ContainsAny(ch, "#- ") {
		return ch
	}
	sum := sha1.Sum([]byte(strings.TrimPrefix(ch, "#")))
	return "C" + strings.ToUpper(hex.EncodeToString(sum[:5]))
}

// slackWebhookStatus maps an incoming-webhook error to Slack's HTTP status.
func slackWebhookStatus(code string) int {
	switch code {
	case "no_service", "channel_not_found", "no_team", "no_such_team":
		return http.StatusNotFound
	case "action_prohibited", "posting_to_general_channel_denied":
		return http.StatusForbidden
	case "channel_is_archived", "team_disabled":
		return http.StatusGone
	}
	return http.StatusBadRequest
}

// handleSlackWebhook is POST /services/{name...}, a Slack incoming webhook:
// JSON {text, blocks} in, plain "ok" out, plain-text error codes otherwise.
func (s *Sandbox) handleSlackWebhook(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		writeText(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	if name == "" {
		writeText(w, http.StatusNotFound, "no_service")
		return
	}
	if v := s.faults.check(r.Context(), surfWebhook); v.status != 0 {
		if v.retryAfter > 0 {
			w.Header().Set("Retry-After", retryAfterHeader(v.retryAfter))
		}
		writeText(w, v.status, http.StatusText(v.status))
		return
	}
	if code, ok := s.faults.failCode(name); ok {
		writeText(w, slackWebhookStatus(code), code)
		return
	}
	var p slackPost
	var blocks []json.RawMessage
	if json.Unmarshal(raw, &p) != nil || (len(p.Blocks) > 0 && string(p.Blocks) != "null" && json.Unmarshal(p.Blocks, &blocks) != nil) {
		writeText(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	if p.Text == "" && len(blocks) == 0 {
		writeText(w, http.StatusBadRequest, "no_text")
		return
	}
	now := time.Now().UTC()
	m := Message{ID: newSlackTS(now), Kind: KindSlack, From: "webhook", To: s.SlackWebhookURL(name), Body: p.Text, Status: "sent", At: now}
	if len(blocks) > 0 {
		m.Blocks = append(json.RawMessage(nil), p.Blocks...)
	}
	s.inbox.add(m)
	writeText(w, http.StatusOK, "ok")
}

// secretHeaders are request headers kept out of the inbox, which anyone on
// the machine can read.
var secretHeaders = map[string]bool{"Authorization": true, "Cookie": true, "Proxy-Authorization": true}

// handleWebhook is POST /webhooks/{name...}, a sink for herald's outgoing
// webhooks: any JSON body is accepted and recorded with its headers, so
// tests can check signatures.
func (s *Sandbox) handleWebhook(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		writeText(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	if v := s.faults.check(r.Context(), surfWebhook); v.status != 0 {
		if v.retryAfter > 0 {
			w.Header().Set("Retry-After", retryAfterHeader(v.retryAfter))
		}
		writeText(w, v.status, http.StatusText(v.status))
		return
	}
	if code, ok := s.faults.failCode(name); ok {
		status, err := strconv.Atoi(code)
		if err != nil || status < 400 || status > 599 {
			status = http.StatusBadRequest
		}
		writeText(w, status, http.StatusText(status))
		return
	}
	if !json.Valid(raw) {
		writeText(w, http.StatusBadRequest, "body is not JSON")
		return
	}
	headers := make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		if !secretHeaders[k] && len(v) > 0 {
			headers[k] = v[0]
		}
	}
	now := time.Now().UTC()
	s.inbox.add(Message{ID: newSID("WH"), Kind: KindWebhook, To: s.WebhookURL(name), Body: string(raw), Headers: headers, Status: "delivered", At: now})
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

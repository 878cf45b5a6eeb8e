package sandbox

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Identity the fake Slack workspace reports.
const (
	slackTeamID = "T0SANDBOX"
	slackUserID = "U0SANDBOX"
	slackBotID  = "B0SANDBOX"
)

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

// readSlackMessage reads a chat.postMessage or chat.update call and checks
// it as Slack does: the token, an injected fault, the blocks, a channel and
// some text. It answers a refused call itself and reports false.
func (s *Sandbox) readSlackMessage(w http.ResponseWriter, r *http.Request) (slackPost, []json.RawMessage, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	p, token, err := readSlackPost(r)
	switch {
	case err != nil:
		writeSlackError(w, http.StatusOK, "invalid_form_data")
		return p, nil, false
	case token == "":
		writeSlackError(w, http.StatusOK, "not_authed")
		return p, nil, false
	case !s.slackTokenOK(token):
		writeSlackError(w, http.StatusOK, "invalid_auth")
		return p, nil, false
	}
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
		from = slackBotID
	}
	m := Message{ID: ts, Kind: KindSlack, From: from, To: p.Channel, Body: p.Text, Status: "sent", At: now}
	if len(blocks) > 0 {
		m.Blocks = append(json.RawMessage(nil), p.Blocks...)
	}
	if p.ThreadTS != "" {
		m.Headers = map[string]string{"thread_ts": p.ThreadTS}
	}
	s.inbox.add(m)

	msg := map[string]any{"type": "message", "text": p.Text, "user": slackUserID, "bot_id": slackBotID, "ts": ts, "team": slackTeamID}
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
	ok = s.inbox.replace(p.TS, func(m *Message) bool {
		if m.Kind != KindSlack || slackChannelID(m.To) != slackChannelID(p.Channel) {
			return false
		}
		m.Body = p.Text
		m.Blocks = nil
		if len(blocks) > 0 {
			m.Blocks = append(json.RawMessage(nil), p.Blocks...)
		}
		m.EditedAt = &now
		return true
	})
	if !ok {
		writeSlackError(w, http.StatusOK, "message_not_found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": slackChannelID(p.Channel), "ts": p.TS, "text": p.Text})
}

// handleSlackAuthTest is /api/auth.test, which clients call to check a token.
func (s *Sandbox) handleSlackAuthTest(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	_, token, err := readSlackPost(r)
	switch {
	case err != nil:
		writeSlackError(w, http.StatusOK, "invalid_form_data")
	case token == "":
		writeSlackError(w, http.StatusOK, "not_authed")
	case !s.slackTokenOK(token):
		writeSlackError(w, http.StatusOK, "invalid_auth")
	default:
		writeJSON(w, http.StatusOK, map[string]any{
			"ok": true, "url": "https://herald-sandbox.slack.com/", "team": "herald sandbox",
			"user": "herald", "team_id": slackTeamID, "user_id": slackUserID, "bot_id": slackBotID,
		})
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

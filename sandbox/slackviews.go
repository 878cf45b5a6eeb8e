package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The Slack app surface herald's front door uses: modals (views.open,
// views.update), ephemeral answers (chat.postEphemeral), users.info for a
// user's locale and usergroups.users.list for role mapping. Views are
// recorded so tests and the inbox page can see what a user was shown.

// SlackUser is a member of the fake workspace, as users.info describes them.
type SlackUser struct {
	Name   string
	Locale string // like en-US, hu-HU; "" answers en-US
}

// View is a modal the sandbox opened (views.open) and maybe updated since
// (views.update), as a user would see it now.
type View struct {
	ID              string          `json:"id"`
	TriggerID       string          `json:"trigger_id"`
	CallbackID      string          `json:"callback_id,omitempty"`
	Title           string          `json:"title,omitempty"`
	PrivateMetadata string          `json:"private_metadata,omitempty"`
	Hash            string          `json:"hash"`
	Blocks          json.RawMessage `json:"blocks,omitempty"`
	View            json.RawMessage `json:"view"` // the whole view as last sent
	OpenedAt        time.Time       `json:"opened_at"`
	UpdatedAt       *time.Time      `json:"updated_at,omitempty"`
	Updates         int             `json:"updates,omitempty"`
}

// views keeps the opened modals and the trigger IDs used (Slack's work once).
type views struct {
	mu       sync.Mutex
	seq      int
	list     []*View
	byID     map[string]*View
	triggers map[string]bool
}

func newViews() *views { return &views{byID: map[string]*View{}, triggers: map[string]bool{}} }

// Views returns the modals opened since Start or the last Reset, oldest first.
func (s *Sandbox) Views() []View {
	s.views.mu.Lock()
	defer s.views.mu.Unlock()
	out := make([]View, 0, len(s.views.list))
	for _, v := range s.views.list {
		out = append(out, *v)
	}
	return out
}

func (vs *views) reset() {
	vs.mu.Lock()
	vs.list, vs.byID, vs.triggers = nil, map[string]*View{}, map[string]bool{}
	vs.mu.Unlock()
}

// viewRequest is the part of views.open and views.update the sandbox reads.
type viewRequest struct {
	TriggerID  string          `json:"trigger_id"`
	ViewID     string          `json:"view_id"`
	ExternalID string          `json:"external_id"`
	Hash       string          `json:"hash"`
	View       json.RawMessage `json:"view"`
}

// modalView is the part of a view the sandbox checks.
type modalView struct {
	Type  string `json:"type"`
	Title *struct {
		Text string `json:"text"`
	} `json:"title"`
	CallbackID      string            `json:"callback_id"`
	PrivateMetadata string            `json:"private_metadata"`
	Blocks          []json.RawMessage `json:"blocks"`
}

// readViewCall reads a views.* call (JSON, as slack-go sends it) and checks
// the token and the view as Slack does. It answers a refused call itself.
func (s *Sandbox) readViewCall(w http.ResponseWriter, r *http.Request) (viewRequest, modalView, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	var req viewRequest
	var mv modalView
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeSlackError(w, http.StatusOK, "invalid_json")
		return req, mv, false
	}
	switch {
	case token == "":
		writeSlackError(w, http.StatusOK, "not_authed")
		return req, mv, false
	case !s.slackKnown(token):
		writeSlackError(w, http.StatusOK, "invalid_auth")
		return req, mv, false
	}
	if v := s.faults.check(r.Context(), surfSlack); v.status != 0 {
		writeSlackFault(w, v)
		return req, mv, false
	}
	if json.Unmarshal(req.View, &mv) != nil || mv.Type != "modal" || mv.Title == nil || mv.Title.Text == "" || len(mv.Blocks) == 0 {
		writeSlackError(w, http.StatusOK, "invalid_arguments")
		return req, mv, false
	}
	if len(mv.Blocks) > 100 || len(mv.PrivateMetadata) > 3000 || len(mv.Title.Text) > 24 {
		writeSlackError(w, http.StatusOK, "invalid_arguments")
		return req, mv, false
	}
	return req, mv, true
}

func (s *Sandbox) viewAnswer(v *View) map[string]any {
	var doc map[string]any
	_ = json.Unmarshal(v.View, &doc)
	if doc == nil {
		doc = map[string]any{}
	}
	doc["id"], doc["hash"], doc["team_id"] = v.ID, v.Hash, slackTeamID
	doc["state"] = map[string]any{"values": map[string]any{}}
	return map[string]any{"ok": true, "view": doc}
}

// handleSlackViewsOpen is POST /api/views.open: a trigger ID opens one
// modal, once (a second use is exchanged_trigger_id, as on Slack).
func (s *Sandbox) handleSlackViewsOpen(w http.ResponseWriter, r *http.Request) {
	req, mv, ok := s.readViewCall(w, r)
	if !ok {
		return
	}
	if req.TriggerID == "" {
		writeSlackError(w, http.StatusOK, "invalid_trigger_id")
		return
	}
	vs := s.views
	vs.mu.Lock()
	if vs.triggers[req.TriggerID] {
		vs.mu.Unlock()
		writeSlackError(w, http.StatusOK, "exchanged_trigger_id")
		return
	}
	vs.triggers[req.TriggerID] = true
	vs.seq++
	now := time.Now().UTC()
	v := &View{ID: fmt.Sprintf("V0SANDBOX%05d", vs.seq), TriggerID: req.TriggerID, CallbackID: mv.CallbackID, Title: mv.Title.Text,
		PrivateMetadata: mv.PrivateMetadata, Hash: fmt.Sprintf("%d.%d", now.Unix(), vs.seq), View: append(json.RawMessage(nil), req.View...),
		OpenedAt: now}
	v.Blocks, _ = json.Marshal(mv.Blocks)
	vs.list = append(vs.list, v)
	vs.byID[v.ID] = v
	ans := s.viewAnswer(v)
	vs.mu.Unlock()
	writeJSON(w, http.StatusOK, ans)
}

// handleSlackViewsUpdate is POST /api/views.update: replaces an open view,
// refusing a stale hash (hash_conflict) as Slack does.
func (s *Sandbox) handleSlackViewsUpdate(w http.ResponseWriter, r *http.Request) {
	req, mv, ok := s.readViewCall(w, r)
	if !ok {
		return
	}
	vs := s.views
	vs.mu.Lock()
	v := vs.byID[req.ViewID]
	switch {
	case v == nil:
		vs.mu.Unlock()
		writeSlackError(w, http.StatusOK, "not_found")
		return
	case req.Hash != "" && req.Hash != v.Hash:
		vs.mu.Unlock()
		writeSlackError(w, http.StatusOK, "hash_conflict")
		return
	}
	now := time.Now().UTC()
	vs.seq++
	v.CallbackID, v.Title, v.PrivateMetadata = mv.CallbackID, mv.Title.Text, mv.PrivateMetadata
	v.View = append(json.RawMessage(nil), req.View...)
	v.Blocks, _ = json.Marshal(mv.Blocks)
	v.Hash, v.UpdatedAt = fmt.Sprintf("%d.%d", now.Unix(), vs.seq), &now
	v.Updates++
	ans := s.viewAnswer(v)
	vs.mu.Unlock()
	writeJSON(w, http.StatusOK, ans)
}

// handleSlackPostEphemeral is POST /api/chat.postEphemeral: a message only
// one user sees, kept in the inbox with status "ephemeral" and the user
// in its headers.
func (s *Sandbox) handleSlackPostEphemeral(w http.ResponseWriter, r *http.Request) {
	p, blocks, ok := s.readSlackMessage(w, r)
	if !ok {
		return
	}
	user := p.User
	if user == "" {
		writeSlackError(w, http.StatusOK, "user_not_found")
		return
	}
	now := time.Now().UTC()
	ts := newSlackTS(now)
	m := Message{ID: ts, Kind: KindSlack, From: p.as.Name, To: p.Channel, Body: p.Text, Status: "ephemeral", At: now,
		Headers: map[string]string{"user": user}, User: p.as.UserID, BotID: p.as.BotID, AppID: p.as.AppID}
	if len(blocks) > 0 {
		m.Blocks = append(json.RawMessage(nil), p.Blocks...)
	}
	s.inbox.add(m)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message_ts": ts})
}

// handleSlackUsersInfo is /api/users.info: the workspace's members from
// Config.SlackUsers; anyone else is a member named after their ID who
// reads English.
func (s *Sandbox) handleSlackUsersInfo(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	_, token, err := readSlackPost(r)
	switch {
	case err != nil:
		writeSlackError(w, http.StatusOK, "invalid_form_data")
		return
	case !s.slackKnown(token):
		writeSlackError(w, http.StatusOK, "invalid_auth")
		return
	}
	id := r.Form.Get("user")
	if id == "" {
		writeSlackError(w, http.StatusOK, "user_not_found")
		return
	}
	u, ok := s.cfg.SlackUsers[id]
	if !ok {
		u = SlackUser{Name: strings.ToLower(id)}
	}
	if u.Locale == "" {
		u.Locale = "en-US"
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "user": map[string]any{
		"id": id, "team_id": slackTeamID, "name": u.Name, "real_name": u.Name, "locale": u.Locale}})
}

// handleSlackGroupMembers is /api/usergroups.users.list, from
// Config.SlackUserGroups.
func (s *Sandbox) handleSlackGroupMembers(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	_, token, err := readSlackPost(r)
	switch {
	case err != nil:
		writeSlackError(w, http.StatusOK, "invalid_form_data")
		return
	case !s.slackKnown(token):
		writeSlackError(w, http.StatusOK, "invalid_auth")
		return
	}
	members, ok := s.cfg.SlackUserGroups[r.Form.Get("usergroup")]
	if !ok {
		writeSlackError(w, http.StatusOK, "no_such_subteam")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "users": append([]string{}, members...)})
}

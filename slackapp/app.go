// Package slackapp is herald's Slack front door: the /herald command
// (declare, status, list, help), its modals (declare, post an update,
// resolve), the buttons on an incident's message, and that message
// itself: one message per incident in the page's incident channel, kept
// current with chat.update as the incident changes from any door and as
// its broadcast goes out, with each update replied in its thread.
//
// Like the server it is a front door: it calls incident.Service for every
// change, and all its Slack traffic goes through the one Slack client
// (notify/slack), Block Kit built with slack-go's types. The server checks
// each request's signature and hands it here; what takes longer than
// Slack's 3 seconds runs after the answer, and a failure is shown to the
// user (an ephemeral message, a modal error), never dropped.
package slackapp

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/livemsg"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/queue"
)

// Slack is the Slack client the app speaks through; notify/slack.Channel
// implements it.
type Slack interface {
	Send(ctx context.Context, m *channel.Message) (channel.Receipt, error)
	OpenView(ctx context.Context, triggerID string, v slackgo.ModalViewRequest) (*slackgo.View, error)
	UpdateView(ctx context.Context, viewID, hash string, v slackgo.ModalViewRequest) (*slackgo.View, error)
	PostEphemeral(ctx context.Context, channelID, userID, text string) error
	UserLocale(ctx context.Context, userID string) (string, error)
	GroupMembers(ctx context.Context, groupID string) ([]string, error)
	// FindMessage returns the ts of the oldest top-level message in a
	// channel, posted by herald's own bot after since, whose metadata
	// matches want, reading at most pages pages of the channel's history
	// (conversations.history); "" when there is none. complete is false
	// when the history since since goes on beyond those pages.
	FindMessage(ctx context.Context, channelID string, since time.Time, want channel.Metadata, pages int) (ts string, complete bool, err error)
}

// Fanout is what the app reads of the fan-out; notify.Service implements it.
type Fanout interface {
	// DraftAudience counts, per channel, whom declaring an incident with
	// these components would notify.
	DraftAudience(ctx context.Context, pageID string, componentIDs []string) (map[channel.Kind]int, error)
	// Broadcasts returns the progress of an incident's broadcasts.
	Broadcasts(ctx context.Context, incidentID string) ([]*queue.Progress, error)
}

// DefaultEditEvery is the least time between two edits of one incident's
// message: Slack's chat.update allows about 50 a minute per workspace.
const DefaultEditEvery = 3 * time.Second

// Config is the app's settings.
type Config struct {
	// IncidentChannel is the channel ID incident messages go to; "" posts
	// none (the commands and modals still work).
	IncidentChannel string
	// PublicURL is herald's public base URL, for links and the manifest.
	PublicURL string
	// Roles maps herald roles to Slack user IDs (U…, W…) and user group
	// IDs (S…). A user has the highest role that names them or a group
	// they are in; a user named nowhere has none and may only read.
	Roles map[incident.Role][]string
	// EditEvery throttles edits of one incident's message; 0 means
	// DefaultEditEvery.
	EditEvery time.Duration
	// Node is this process's event-bus origin, "" on SQLite: it names
	// the node in the lease it holds while it sends an incident's message
	// (every node keeps every incident's message; see live.go).
	Node string
}

// App is the Slack front door. Its methods are safe for concurrent use.
type App struct {
	cfg    Config
	inc    *incident.Service
	fan    Fanout
	slack  Slack
	store  livemsg.Store
	events incident.Events
	log    *slog.Logger
	words  *locale.Catalogue
	now    func() time.Time

	cache cache

	bgMu    sync.Mutex
	bgCtx   context.Context
	bgStop  context.CancelFunc
	bg      sync.WaitGroup
	kick    chan string
	stopped bool
	// holder names this App in the incident messages' leases.
	holder string
	// historyWarned holds the Slack error codes that refused a look in
	// the incident channel's history, each logged once.
	historyWarned sync.Map
}

// New returns an App; Run starts its incident messages.
func New(cfg Config, inc *incident.Service, fan Fanout, sl Slack, store livemsg.Store, events incident.Events, log *slog.Logger) (*App, error) {
	if log == nil {
		log = slog.Default()
	}
	if cfg.EditEvery <= 0 {
		cfg.EditEvery = DefaultEditEvery
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	words, err := locale.Default()
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, inc: inc, fan: fan, slack: sl, store: store, events: events, log: log.With("component", "slack"),
		words: words, now: time.Now, kick: make(chan string, 256), holder: cfg.Node + "/" + incident.NewID()}
	a.cache.init()
	a.bgCtx, a.bgStop = context.WithCancel(context.Background())
	return a, nil
}

// Close stops the work begun after answering Slack and waits for it.
func (a *App) Close() {
	a.bgMu.Lock()
	a.stopped = true
	a.bgMu.Unlock()
	a.bgStop()
	a.bg.Wait()
}

// later runs fn after the answer to Slack has gone, with a bounded context.
func (a *App) later(fn func(ctx context.Context)) {
	a.bgMu.Lock()
	defer a.bgMu.Unlock()
	if a.stopped {
		return
	}
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		ctx, cancel := context.WithTimeout(a.bgCtx, 30*time.Second)
		defer cancel()
		fn(ctx)
	}()
}

// Manifest is the Slack app manifest for herald at publicURL: the /herald
// and /complaint commands, interactivity, and the bot scopes they need.
func Manifest(publicURL string) slackgo.Manifest {
	base := strings.TrimRight(publicURL, "/")
	return slackgo.Manifest{
		Display: slackgo.Display{Name: "herald", Description: "Declare, update and resolve outages; tell every customer.",
			BackgroundColor: "#4a154b"},
		Features: slackgo.Features{
			BotUser: slackgo.BotUser{DisplayName: "herald", AlwaysOnline: true},
			SlashCommands: []slackgo.ManifestSlashCommand{
				{Command: "/herald", Description: "Declare an incident, see the status, list open incidents", UsageHint: "declare | status [page] | list | help",
					Url: base + "/webhooks/slack/commands", ShouldEscape: false},
				{Command: "/complaint", Description: "File a complaint", UsageHint: "what happened", Url: base + "/webhooks/slack/commands"},
			},
			Shortcuts: []slackgo.Shortcut{{Name: "File as complaint", CallbackID: "herald_file_complaint",
				Description: "File this customer's message as a complaint", Type: slackgo.MessageShortcut}},
		},
		OAuthConfig: slackgo.OAuthConfig{Scopes: slackgo.OAuthScopes{Bot: []string{
			"commands", "chat:write", "chat:write.public", "users:read", "usergroups:read",
			// conversations.history: find an incident message a node
			// posted and died before recording (live.go).
			"channels:history", "groups:history"}}},
		Settings: slackgo.Settings{Interactivity: &slackgo.Interactivity{IsEnabled: true, RequestUrl: base + "/webhooks/slack/interactions"}},
	}
}

// ---- words ----

// lang is the herald language of a Slack locale ("hu-HU" → "hu"), English
// for any other.
func lang(slackLocale string) string {
	code := strings.ToLower(slackLocale)
	if i := strings.IndexAny(code, "-_"); i >= 0 {
		code = code[:i]
	}
	for _, l := range locale.Languages {
		if l == code {
			return l
		}
	}
	return locale.Fallback
}

// text returns a catalogue message in lang, filled with kv.
func (a *App) text(lang, id string, kv ...string) string {
	l := a.words.Lang(lang)
	if len(kv) == 0 {
		if s := l.Text(id); s != "" {
			return s
		}
	}
	if p := l.Pattern(id); p != nil {
		return p.Fill(kv...)
	}
	return id
}

func (a *App) statusWord(lang string, s incident.Status) string {
	return a.text(lang, "Status"+locale.Camel(string(s)))
}

func (a *App) componentWord(lang string, s incident.ComponentStatus) string {
	return a.text(lang, "Component"+locale.Camel(string(s)))
}

func (a *App) impactWord(lang string, i incident.Impact) string {
	return a.text(lang, "Impact"+locale.Camel(string(i)))
}

func (a *App) channelWord(lang string, k channel.Kind) string {
	return a.text(lang, "SlackChannel"+map[channel.Kind]string{channel.SMS: "SMS", channel.Email: "Email", channel.Slack: "Slack", channel.Webhook: "Webhook"}[k])
}

// ---- who may do what ----

// Person is the Slack user behind a request.
type Person struct {
	ID, Name string
	Locale   string // herald language, from users.info
}

// actor is how the audit log records p.
func (p Person) actor(role incident.Role) incident.Actor {
	name := "slack:" + p.ID
	if p.Name != "" {
		name += " (" + p.Name + ")"
	}
	return incident.Actor{Name: name, Role: role}
}

// role returns the highest herald role Config.Roles gives the user, or "".
func (a *App) role(ctx context.Context, userID string) (incident.Role, error) {
	for _, r := range []incident.Role{incident.RoleAdmin, incident.RoleManager, incident.RoleAgent} {
		for _, id := range a.cfg.Roles[r] {
			if id == userID {
				return r, nil
			}
			if strings.HasPrefix(id, "S") {
				members, err := a.groupMembers(ctx, id)
				if err != nil {
					return "", err
				}
				for _, m := range members {
					if m == userID {
						return r, nil
					}
				}
			}
		}
	}
	return "", nil
}

// refused is what a user is told whose role does not allow what they
// asked: that they have no herald role, or, when they have one, that the
// action needs a manager's (an agent told "no role" would ask an admin
// for the wrong thing), naming their role in their language as the
// console does.
func (a *App) refused(lang string, role incident.Role) string {
	if role == "" {
		return a.text(lang, "SlackRefused")
	}
	return a.text(lang, "SlackNeedsManager", "Role", a.roleWord(lang, role))
}

// roleWord is a herald role in lang, the word the console shows for it.
func (a *App) roleWord(lang string, r incident.Role) string {
	return a.text(lang, "ConsoleRole"+locale.Camel(string(r)))
}

// errRefused is a request from a user without the role it needs.
var errRefused = errors.New("slack user has no herald role for this")

// may reports whether the user has at least need.
func (a *App) may(ctx context.Context, userID string, need incident.Role) (incident.Role, error) {
	r, err := a.role(ctx, userID)
	if err != nil {
		a.log.Warn("slack: the user's role (usergroups.users.list)", "user", userID, "err", err)
		return "", err
	}
	if !r.Allows(need) {
		return r, errRefused
	}
	return r, nil
}

// ---- caches: locales and group members, for a few minutes ----

const cacheFor = 5 * time.Minute

type cached struct {
	val []string
	at  time.Time
}

type cache struct {
	mu      sync.Mutex
	locales map[string]cached
	groups  map[string]cached
}

func (c *cache) init() {
	c.locales, c.groups = map[string]cached{}, map[string]cached{}
}

func (c *cache) get(m map[string]cached, key string, now time.Time) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := m[key]
	if !ok || now.Sub(v.at) > cacheFor {
		return nil, false
	}
	return v.val, true
}

func (c *cache) put(m map[string]cached, key string, val []string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(m) > 10000 {
		clear(m)
	}
	m[key] = cached{val: val, at: now}
}

func (a *App) groupMembers(ctx context.Context, groupID string) ([]string, error) {
	if v, ok := a.cache.get(a.cache.groups, groupID, a.now()); ok {
		return v, nil
	}
	// Slack's 3 seconds hold this, the locale and the answer.
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	ids, err := a.slack.GroupMembers(ctx, groupID)
	if err != nil {
		return nil, err
	}
	a.cache.put(a.cache.groups, groupID, ids, a.now())
	return ids, nil
}

// userLang is the herald language of a user's Slack locale; English when
// Slack cannot say (logged: the answer still goes, in English).
func (a *App) userLang(ctx context.Context, userID string) string {
	if v, ok := a.cache.get(a.cache.locales, userID, a.now()); ok {
		return v[0]
	}
	ctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
	defer cancel()
	loc, err := a.slack.UserLocale(ctx, userID)
	if err != nil {
		a.log.Warn("slack: users.info for the locale", "user", userID, "err", err)
		return locale.Fallback
	}
	l := lang(loc)
	a.cache.put(a.cache.locales, userID, []string{l}, a.now())
	return l
}

package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/statuspage"
)

// Defaults of BroadcastConfig's zero values.
const (
	// DefaultImportLimit caps a customer import's body: a million rows of
	// CSV fit in well under 256 MiB.
	DefaultImportLimit = 256 << 20
	// DefaultProgressInterval is how often a broadcast's SSE stream looks
	// for progress: a live bar wants a few frames a second.
	DefaultProgressInterval = 250 * time.Millisecond
	// importReadTimeout bounds reading an import's body once the handler
	// has it (256 MiB at 1 MB/s takes about 4 minutes).
	importReadTimeout = 10 * time.Minute
	// formTokenLifetime is how long a rendered sign-up form may be posted.
	formTokenLifetime = 24 * time.Hour
	// formSecretName names the anti-forgery key in SecretStore.
	formSecretName = "forms"
)

// SecretStore keeps named secrets shared by every node; notify.Store
// implementations (store/sqlite, store/redis) have it.
type SecretStore interface {
	// Secret returns the named secret, creating it from gen the first time.
	Secret(ctx context.Context, name string, gen func() []byte) ([]byte, error)
}

// BroadcastConfig configures the fan-out's front doors.
type BroadcastConfig struct {
	// PublicURL is the base Twilio signs webhook URLs with (the URL it was
	// told to call, before any proxy); "" uses Config.PublicURL, and when
	// that is empty too, the request's own scheme and host (X-Forwarded-Proto
	// and -Host only from Config.TrustedProxies).
	PublicURL string
	// TwilioAuthToken checks X-Twilio-Signature on /webhooks/twilio/*.
	// With no Twilio credentials (sandbox mode) pass the sandbox's token
	// (sandbox.Config().AuthToken), which signs its status callbacks; empty
	// refuses every Twilio request with 403.
	TwilioAuthToken string
	// SlackSigningSecret checks Slack's request signature on
	// /webhooks/slack/*; empty refuses every Slack request with 403.
	SlackSigningSecret string
	// Sandbox, when set, is the sandbox inbox's reading routes
	// (sandbox.Handler()), mounted at /sandbox and /sandbox/* with no
	// authentication: only without provider credentials.
	Sandbox http.Handler
	// SandboxGuarded is the inbox with its guarded routes as well
	// (sandbox.GuardedHandler(): emptying it, texting herald as a
	// customer, its credentials), mounted at exactly those routes behind
	// a manager's token. Any other spelling of their paths reaches
	// Sandbox, which has no such route.
	SandboxGuarded http.Handler
	// Secrets keeps the sign-up forms' anti-forgery key, so any node
	// accepts a form another node rendered; nil uses a key of this process.
	Secrets SecretStore
	// ImportLimit caps a customer import's body (default DefaultImportLimit).
	ImportLimit int
	// ProgressInterval is the broadcast SSE poll (default DefaultProgressInterval).
	ProgressInterval time.Duration
	// DefaultRegion reads a subscriber's phone number without a country
	// code or phone_country (as notify.Config.DefaultRegion).
	DefaultRegion string
}

// broadcast is what EnableBroadcast adds to the Server.
type broadcast struct {
	cfg     BroadcastConfig
	notify  *notify.Service
	forms   *statuspage.Forms
	formKey []byte
}

// EnableBroadcast adds the fan-out's routes (routes.go, broadcastRoutes):
// the subscriber API, customers, broadcasts and dry runs, the public
// subscription pages and the inbound Twilio and Slack webhooks. Call it
// once, after New and before Listen or Serve. Without it the server runs
// without notify.
func (s *Server) EnableBroadcast(n *notify.Service, cfg BroadcastConfig) error {
	if n == nil {
		return errors.New("server: EnableBroadcast needs a notify.Service")
	}
	if s.bc != nil {
		return errors.New("server: EnableBroadcast called twice")
	}
	if cfg.ImportLimit <= 0 {
		cfg.ImportLimit = DefaultImportLimit
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultProgressInterval
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = s.cfg.PublicURL
	}
	forms, err := statuspage.NewForms()
	if err != nil {
		return err
	}
	key, err := formKey(cfg.Secrets)
	if err != nil {
		return err
	}
	s.bc = &broadcast{cfg: cfg, notify: n, forms: forms, formKey: key}
	s.broadcastRoutes()
	return nil
}

// limitBody holds every route but the customer import to Config.BodyLimit.
// The server streams bodies over the limit (fiber's StreamRequestBody) so
// the import can read a large file as it arrives; here the other routes
// refuse them, and a chunked body of unknown length is read up to the limit.
//
// fasthttp does not drain a stream the handler left unread, so the next
// request on the connection would be read from the rest of the body:
// within the limit the body is read here, before any handler can refuse
// the request; the import's connection is closed after the answer.
//
// A nil error lets the request on to its route.
func (s *Server) limitBody(c *fiber.Ctx) error {
	req := c.Request()
	if !req.IsBodyStream() {
		return nil
	}
	if s.bc != nil && c.Method() == fiber.MethodPost && isImportPath(c.Path()) {
		c.Context().SetConnectionClose()
		return nil
	}
	n := req.Header.ContentLength()
	if n > s.cfg.BodyLimit {
		return s.refuseLarge(c)
	}
	if n >= 0 {
		req.Body() // within the limit: read it whole now
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(req.BodyStream(), int64(s.cfg.BodyLimit)+1))
	if err != nil {
		return fiber.ErrBadRequest
	}
	if len(b) > s.cfg.BodyLimit {
		return s.refuseLarge(c)
	}
	req.SetBody(b)
	return nil
}

// refuseLarge answers 413 to a body over the limit. The unread rest of it
// is still on the connection: up to twice BodyLimit of it is read and
// dropped first, so the client, which may still be sending, reads the 413
// rather than a connection reset (closing a socket with unread data sends
// a TCP reset, which can discard the answer before the client reads it),
// and the connection stays usable. A larger rest is not read: the
// connection is closed after the answer, or the next request would be
// read from the body.
func (s *Server) refuseLarge(c *fiber.Ctx) error {
	limit := 2 * int64(s.cfg.BodyLimit)
	dropped, err := io.Copy(io.Discard, io.LimitReader(c.Request().BodyStream(), limit+1))
	if err != nil || dropped > limit {
		c.Context().SetConnectionClose()
	}
	return fiber.ErrRequestEntityTooLarge
}

// isImportPath reports whether p is /api/v1/pages/{id}/customers/import.
func isImportPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/api/v1/pages/")
	if !ok {
		return false
	}
	id, tail, ok := strings.Cut(rest, "/")
	return ok && id != "" && strings.TrimSuffix(tail, "/") == "customers/import"
}

// ---- customers ----

// errImportTooLarge marks an import body over BroadcastConfig.ImportLimit.
var errImportTooLarge = errors.New("import body over the limit")

// cappedReader reads at most n bytes, then fails with errImportTooLarge.
type cappedReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		if k, _ := c.r.Read(one[:]); k > 0 {
			c.over = true
			return 0, errImportTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	k, err := c.r.Read(p)
	c.n -= int64(k)
	return k, err
}

// importFormat picks the import's format: ?format=, else the Content-Type.
func importFormat(c *fiber.Ctx) (string, error) {
	if f := strings.ToLower(c.Query("format")); f != "" {
		if f != "csv" && f != "json" {
			return "", incident.Invalid("format", "must be csv or json, got %q", truncate(f, 20))
		}
		return f, nil
	}
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	switch {
	case strings.Contains(ct, "csv"):
		return "csv", nil
	case strings.Contains(ct, "json"):
		return "json", nil
	}
	return "", incident.Invalid("format", "send Content-Type text/csv or application/json, or ?format=csv|json")
}

// queryBool reads a boolean query parameter ("" is def).
func queryBool(c *fiber.Ctx, name string, def bool) (bool, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, incident.Invalid(name, "must be true or false")
	}
	return b, nil
}

// importResultJSON is an import's answer; Error is set on 422.
type importResultJSON struct {
	*notify.ImportResult
	Error *errorDetail `json:"error,omitempty"`
}

// importCustomers streams the body into notify.ImportCustomers: a small
// body is already in memory, a large one is read as it arrives, never
// held twice. A file with bad rows answers 422 with every bad row and the
// error; with ?skip_invalid=true the good rows are imported (200).
func (s *Server) importCustomers() fiber.Handler {
	return func(c *fiber.Ctx) error {
		format, err := importFormat(c)
		if err != nil {
			return err
		}
		skip, err := queryBool(c, "skip_invalid", false)
		if err != nil {
			return err
		}
		var body io.Reader
		if c.Request().IsBodyStream() {
			// ReadTimeout covers reading a request before the handler; a
			// large file is still arriving here, so give it longer.
			_ = c.Context().Conn().SetReadDeadline(time.Now().Add(importReadTimeout))
			body = c.Context().RequestBodyStream()
		} else {
			body = bytes.NewReader(c.Body())
		}
		capped := &cappedReader{r: body, n: int64(s.bc.cfg.ImportLimit)}
		res, err := s.bc.notify.ImportCustomers(c.UserContext(), c.Params("page_id"), capped, format, skip)
		if capped.over {
			c.Context().SetConnectionClose()
			return fiber.ErrRequestEntityTooLarge
		}
		if err != nil {
			if res != nil && incident.ErrorCode(err) == incident.EINVALID {
				de, _ := asDomainError(err)
				return c.Status(http.StatusUnprocessableEntity).JSON(importResultJSON{ImportResult: res,
					Error: &errorDetail{Code: de.Code, Message: de.Message, Field: de.Field}})
			}
			return err
		}
		return c.JSON(importResultJSON{ImportResult: res})
	}
}

// listCustomers pages through customers by ID: ?after= (the last ID of
// the previous page) and ?limit= (1..1000, default 100); X-Total-Count has
// the total and X-Next-After the cursor of the next page, when there is one.
func (s *Server) listCustomers() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if q := c.Query("q"); q != "" {
			// A search as a person types it: phone, email, ID or name.
			limit, err := queryInt(c, "limit", 20, 1, audience.MaxNameResults)
			if err != nil {
				return err
			}
			cs, err := s.bc.notify.FindCustomers(c.UserContext(), c.Params("page_id"), q, s.bc.cfg.DefaultRegion, limit)
			if err != nil {
				return err
			}
			return c.JSON(cs)
		}
		limit, err := queryInt(c, "limit", 100, 1, 1000)
		if err != nil {
			return err
		}
		cs, total, err := s.bc.notify.Customers(c.UserContext(), c.Params("page_id"), c.Query("after"), limit)
		if err != nil {
			return err
		}
		if cs == nil {
			cs = []*audience.Customer{}
		}
		c.Set("X-Total-Count", strconv.Itoa(total))
		if len(cs) == limit {
			c.Set("X-Next-After", cs[len(cs)-1].ID)
		}
		return c.JSON(cs)
	}
}

func (s *Server) getCustomer() fiber.Handler {
	return func(c *fiber.Ctx) error {
		cu, err := s.customer(c)
		if err != nil {
			return err
		}
		return c.JSON(cu)
	}
}

// customer returns the route's customer, after checking the page exists
// (so an unknown page is "page not found", not "customer not found").
func (s *Server) customer(c *fiber.Ctx) (*audience.Customer, error) {
	ctx, pageID := c.UserContext(), c.Params("page_id")
	if _, err := s.svc.Page(ctx, pageID); err != nil {
		return nil, err
	}
	id, err := pathParam(c, "customer_id")
	if err != nil {
		return nil, err
	}
	return s.bc.notify.Customer(ctx, pageID, id)
}

// pathParam is a route parameter decoded from the URL: fiber hands them
// over as they were written, and a customer's ID (which an import may give
// spaces, a slash or letters beyond ASCII) arrives percent-encoded
// ("a%2Fb", "%C3%BC"). An encoding that does not decode is a 400 naming
// the parameter.
func pathParam(c *fiber.Ctx, name string) (string, error) {
	v, err := url.PathUnescape(c.Params(name))
	if err != nil {
		return "", incident.Invalid(name, "is not a valid URL-encoded ID")
	}
	return v, nil
}

func (s *Server) deleteCustomer() fiber.Handler {
	return func(c *fiber.Ctx) error {
		cu, err := s.customer(c)
		if err != nil {
			return err
		}
		if err := s.bc.notify.DeleteCustomer(c.UserContext(), c.Params("page_id"), cu.ID); err != nil {
			return err
		}
		return c.SendStatus(http.StatusNoContent)
	}
}

// customerDeliveries lists every message sent to a customer, newest
// first, with its state (?limit= 1..1000, default 100).
func (s *Server) customerDeliveries() fiber.Handler {
	return func(c *fiber.Ctx) error {
		limit, err := queryInt(c, "limit", 100, 1, 1000)
		if err != nil {
			return err
		}
		cu, err := s.customer(c)
		if err != nil {
			return err
		}
		ds, err := s.bc.notify.Deliveries(c.UserContext(), queue.DeliveryFilter{PageID: cu.PageID, RecipientID: cu.ID, Limit: limit})
		if err != nil {
			return err
		}
		out := make([]*queue.Delivery, 0, len(ds))
		for _, d := range ds {
			if d.RecipientType != queue.FromCustomer {
				continue // a subscriber's ID that happens to equal the customer's
			}
			cp := *d
			cp.Vars = nil // a confirmation's code or link is no one else's business
			out = append(out, &cp)
		}
		return c.JSON(out)
	}
}

// ---- broadcasts ----

func (s *Server) listBroadcasts() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		inc, err := s.svc.Incident(ctx, c.Params("page_id"), c.Params("incident_id"))
		if err != nil {
			return err
		}
		ps, err := s.bc.notify.Broadcasts(ctx, inc.ID)
		if err != nil {
			return err
		}
		if ps == nil {
			ps = []*queue.Progress{}
		}
		return c.JSON(ps)
	}
}

func (s *Server) getBroadcast() fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := s.bc.notify.Progress(c.UserContext(), c.Params("broadcast_id"))
		if err != nil {
			return err
		}
		return c.JSON(p)
	}
}

// cancelBroadcast stops a broadcast and answers its progress after.
func (s *Server) cancelBroadcast() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, id := c.UserContext(), c.Params("broadcast_id")
		if err := s.bc.notify.Cancel(ctx, id); err != nil {
			return err
		}
		p, err := s.bc.notify.Progress(ctx, id)
		if err != nil {
			return err
		}
		return c.JSON(p)
	}
}

// heldAfter is how long a broadcast's progress stands still before its
// event stream asks whether the rest is held (notify.Service.Held).
const heldAfter = 2 * time.Second

// broadcastEvents streams a broadcast's progress as server-sent events:
// a "progress" event with the queue.Progress JSON at once and then
// whenever it changes (polled every ProgressInterval), a comment every
// HeartbeatInterval, and a final "done" event (the last progress) when the
// broadcast has finished, after which the stream ends. When the progress
// has stood still for heldAfter and every message left waits on purpose
// (notify.Service.Held: quiet hours, the frequency cap, a provider's
// retry), the stream ends with a "held" event instead: the progress with
// Held set, saying until when.
func (s *Server) broadcastEvents() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Params("broadcast_id")
		first, err := s.bc.notify.Progress(c.UserContext(), id)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set("X-Accel-Buffering", "no")
		c.Status(http.StatusOK)
		if c.Method() == fiber.MethodHead {
			return nil
		}
		n, every, heartbeat, done, log, allowed := s.bc.notify, s.bc.cfg.ProgressInterval, s.cfg.HeartbeatInterval, s.done, s.log, s.streamAuth(c)
		wrote := s.keepWriting(c, heartbeat)
		gone := watchClose(c) // else a closed stream is noticed at the next heartbeat, after that many progress reads
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			_, _ = w.WriteString("retry: 2000\n\n")
			var last []byte
			p := first
			lastWrite, changed, asked := time.Now(), time.Now(), time.Time{}
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				if !allowed(false) {
					return
				}
				b, err := json.Marshal(p)
				if err != nil {
					log.Error("broadcast events: encode progress", "broadcast_id", id, "err", err)
					return
				}
				end := p.Finished()
				if !end && bytes.Equal(b, last) && time.Since(changed) >= heldAfter && time.Since(asked) >= heldAfter {
					asked = time.Now()
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					h, err := n.Held(ctx, p)
					cancel()
					if err != nil {
						log.Warn("broadcast events: held", "broadcast_id", id, "err", err)
					} else if h != nil {
						held := *p
						held.Held = h
						if hb, err := json.Marshal(&held); err == nil {
							writeEvent(w, "held", hb)
							_ = w.Flush()
							return
						}
					}
				}
				switch {
				case end:
					writeEvent(w, "done", b)
				case !bytes.Equal(b, last):
					writeEvent(w, "progress", b)
					last = b
					lastWrite, changed = time.Now(), time.Now()
				case time.Since(lastWrite) >= heartbeat:
					_, _ = w.WriteString(": heartbeat\n\n")
					lastWrite = time.Now()
				}
				if err := w.Flush(); err != nil {
					log.Debug("broadcast events client gone", "broadcast_id", id, "err", err)
					return
				}
				wrote()
				if end {
					return
				}
				select {
				case <-done:
					return
				case <-gone:
					log.Debug("broadcast events client gone", "broadcast_id", id)
					return
				case <-t.C:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				next, err := n.Progress(ctx, id)
				cancel()
				if err != nil {
					log.Warn("broadcast events: progress", "broadcast_id", id, "err", err)
					continue // keep the last one; the store may be back next tick
				}
				p = next
			}
		})
		return nil
	}
}

// dryRun answers what broadcasting ?kind= for the incident's newest
// update would do. Without kind it takes what the incident's state
// suggests: resolved (or completed) for a closed one, updated once it has
// more than one update, else declared.
func (s *Server) dryRun() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, pageID, id := c.UserContext(), c.Params("page_id"), c.Params("incident_id")
		kind := incident.BroadcastKind(strings.ToLower(c.Query("kind")))
		if kind == "" {
			inc, err := s.svc.Incident(ctx, pageID, id)
			if err != nil {
				return err
			}
			kind = defaultBroadcastKind(inc)
		}
		res, err := s.bc.notify.DryRun(ctx, pageID, id, kind)
		if err != nil {
			return err
		}
		return c.JSON(res)
	}
}

func defaultBroadcastKind(inc *incident.Incident) incident.BroadcastKind {
	switch {
	case inc.Status == incident.Resolved || inc.Status == incident.Postmortem:
		return incident.BroadcastResolved
	case inc.Status == incident.Completed:
		return incident.BroadcastCompleted
	case inc.Status == incident.Scheduled:
		return incident.BroadcastScheduled
	case inc.Status == incident.InProgress || inc.Status == incident.Verifying:
		return incident.BroadcastStarted
	case len(inc.Updates) > 1:
		return incident.BroadcastUpdated
	}
	return incident.BroadcastDeclared
}

// fieldFor renames notify's generic "address" field to the request's own
// field (email, phone_number, endpoint) under prefix.
func fieldFor(err error, prefix, addressField string) error {
	var de *incident.Error
	if !errors.As(err, &de) {
		return err
	}
	if de.Field == "address" || de.Field == "phone" || de.Field == "email" {
		cp := *de
		cp.Field = addressField
		err = &cp
	}
	return withField(err, prefix)
}

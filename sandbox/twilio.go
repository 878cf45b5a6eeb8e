package sandbox

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	twilioAPIVersion  = "2010-04-01"
	twilioMaxBody     = 1600
	twilioMoreInfo    = "https://www.twilio.com/docs/errors/"
	callbackWorkers   = 8
	callbackQueue     = 1 << 16
	callbackTimeout   = 10 * time.Second
	rawDlrDoneDateFmt = "0601021504" // YYMMDDhhmm, as Twilio sends it
)

// twilioMessages are the texts Twilio answers its synchronous errors with.
var twilioMessages = map[int]string{
	20003: "Authenticate",
	20404: "The requested resource was not found",
	20429: "Too Many Requests",
	20500: "An internal server error has occurred",
	20503: "Service unavailable",
	21211: "The 'To' number is not a valid phone number.",
	21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
	21602: "Message body is required.",
	21603: "A 'From' phone number is required.",
	21604: "A 'To' phone number is required.",
	21610: "Attempt to send to unsubscribed recipient",
	21612: "The 'To' phone number is not currently reachable via SMS.",
	21614: "'To' number is not a valid mobile number",
	21617: "The concatenated message body exceeds the 1600 character limit.",
}

// twilioError is Twilio's legacy error body, which twilio-go decodes into
// *client.TwilioRestError.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// twilioMessage is the Message resource as Twilio renders it.
type twilioMessage struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

func writeTwilioError(w http.ResponseWriter, status, code int, msg string) {
	if msg == "" {
		msg = twilioMessages[code]
	}
	writeJSON(w, status, twilioError{Code: code, Message: msg, MoreInfo: twilioMoreInfo + strconv.Itoa(code), Status: status})
}

// writeTwilioFault answers an injected fault the way Twilio would.
func writeTwilioFault(w http.ResponseWriter, v verdict) {
	switch v.status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", retryAfterHeader(v.retryAfter))
		writeTwilioError(w, v.status, 20429, "")
	case http.StatusServiceUnavailable:
		writeTwilioError(w, v.status, 20503, "")
	default:
		writeTwilioError(w, http.StatusInternalServerError, 20500, "")
	}
}

func (s *Sandbox) twilioAuthorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	return ok && r.PathValue("AccountSid") == s.cfg.AccountSID &&
		subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.AccountSID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.AuthToken)) == 1
}

// handleTwilioCreate is POST /2010-04-01/Accounts/{AccountSid}/Messages.json.
// It is the benchmark's hot path: no lock is held across I/O, and the
// status callbacks go to a worker pool.
func (s *Sandbox) handleTwilioCreate(w http.ResponseWriter, r *http.Request) {
	if !s.twilioAuthorized(r) {
		writeTwilioError(w, http.StatusUnauthorized, 20003, "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		writeTwilioError(w, http.StatusBadRequest, 21602, "The request body could not be parsed.")
		return
	}
	if v := s.faults.check(r.Context(), surfTwilio); v.status != 0 {
		writeTwilioFault(w, v)
		return
	}
	to := r.PostForm.Get("To")
	from := r.PostForm.Get("From")
	service := r.PostForm.Get("MessagingServiceSid")
	body := r.PostForm.Get("Body")
	callback := r.PostForm.Get("StatusCallback")
	switch {
	case to == "":
		writeTwilioError(w, http.StatusBadRequest, 21604, "")
		return
	case from == "" && service == "":
		writeTwilioError(w, http.StatusBadRequest, 21603, "")
		return
	case body == "" && r.PostForm.Get("MediaUrl") == "":
		writeTwilioError(w, http.StatusBadRequest, 21602, "")
		return
	case utf8.RuneCountInString(body) > twilioMaxBody:
		writeTwilioError(w, http.StatusBadRequest, 21617, "")
		return
	case !validNumber(to):
		writeTwilioError(w, http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
		return
	}
	if vp := r.PostForm.Get("ValidityPeriod"); vp != "" {
		if n, err := strconv.Atoi(vp); err != nil || n < 1 || n > 36000 {
			writeTwilioError(w, http.StatusBadRequest, 21623, "ValidityPeriod must be between 1 and 36000 seconds.")
			return
		}
	}
	if mp := r.PostForm.Get("MaxPrice"); mp != "" {
		if _, err := strconv.ParseFloat(mp, 64); err != nil {
			writeTwilioError(w, http.StatusBadRequest, 21620, "MaxPrice must be a number.")
			return
		}
	}
	final, asyncCode := "delivered", ""
	if code, ok := s.faults.failCode(to); ok {
		n, _ := strconv.Atoi(code)
		if n < 30000 || n >= 40000 {
			if n == 0 {
				n = 21211
			}
			writeTwilioError(w, http.StatusBadRequest, n, "")
			return
		}
		final, asyncCode = asyncFailure(n), code
	}

	now := time.Now().UTC()
	sid := newSID("SM")
	segments, _ := CountSegments(body)
	status := "queued"
	if service != "" {
		status = "accepted" // no sender assigned yet
	}
	sender := from
	if sender == "" {
		sender = service
	}
	msg := Message{ID: sid, Kind: KindSMS, From: sender, To: to, Body: body, Status: status, At: now, Segments: segments}
	if callback != "" && loopbackURL(callback) {
		s.inbox.add(msg)
		s.callbacks.enqueue(callbackJob{msg: msg, service: service, url: callback, final: final, code: asyncCode})
	} else {
		if callback != "" {
			s.log.Warn("twilio status callback skipped: not a loopback URL", "channel", KindSMS)
		}
		// Nobody will be told, so record how the message ended at once.
		msg.Status, msg.Error = final, asyncCode
		s.inbox.add(msg)
	}

	res := s.twilioResource(sid, from, service, to, body, status, now)
	if service != "" {
		res.NumSegments = "0"
	} else {
		res.NumSegments = strconv.Itoa(segments)
	}
	writeJSON(w, http.StatusCreated, res)
}

// handleTwilioGet is GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json.
func (s *Sandbox) handleTwilioGet(w http.ResponseWriter, r *http.Request) {
	if !s.twilioAuthorized(r) {
		writeTwilioError(w, http.StatusUnauthorized, 20003, "")
		return
	}
	sid, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	m, found := s.inbox.get(sid)
	if !ok || !found || m.Kind != KindSMS {
		writeTwilioError(w, http.StatusNotFound, 20404, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
		return
	}
	from, service := m.From, ""
	if strings.HasPrefix(from, "MG") {
		from, service = "", m.From
	}
	res := s.twilioResource(m.ID, from, service, m.To, m.Body, m.Status, m.At)
	res.NumSegments = strconv.Itoa(m.Segments)
	if m.Error != "" {
		code, _ := strconv.Atoi(m.Error)
		res.ErrorCode = &code
	}
	if m.Status != "queued" && m.Status != "accepted" {
		sent := m.At.Format(time.RFC1123Z)
		res.DateSent = &sent
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Sandbox) twilioResource(sid, from, service, to, body, status string, at time.Time) twilioMessage {
	date := at.Format(time.RFC1123Z)
	uri := "/" + twilioAPIVersion + "/Accounts/" + s.cfg.AccountSID + "/Messages/" + sid
	m := twilioMessage{
		AccountSID:      s.cfg.AccountSID,
		APIVersion:      twilioAPIVersion,
		Body:            body,
		DateCreated:     date,
		DateUpdated:     date,
		Direction:       "outbound-api",
		NumMedia:        "0",
		PriceUnit:       "USD",
		SID:             sid,
		Status:          status,
		SubresourceURIs: map[string]string{"media": uri + "/Media.json"},
		To:              to,
		URI:             uri + ".json",
	}
	if from != "" {
		m.From = &from
	}
	if service != "" {
		m.MessagingServiceSID = &service
	}
	return m
}

// asyncFailure says how a message to a number configured with a 30xxx code
// ends: carrier-side losses are undelivered, refusals before the carrier
// failed.
func asyncFailure(code int) string {
	switch code {
	case 30003, 30004, 30005, 30006, 30007, 30008:
		return "undelivered"
	}
	return "failed"
}

// validNumber accepts E.164 numbers and channel addresses such as
// "whatsapp:+15551234567", the forms Twilio takes for To.
func validNumber(to string) bool {
	if i := strings.IndexByte(to, ':'); i > 0 {
		to = to[i+1:]
	}
	if len(to) < 8 || len(to) > 16 || to[0] != '+' || to[1] == '0' {
		return false
	}
	for _, c := range to[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// newSID returns prefix plus 32 hex digits, the shape of Twilio's SIDs.
func newSID(prefix string) string {
	var b [16]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i] = byte(a >> (8 * i))
		b[8+i] = byte(c >> (8 * i))
	}
	return prefix + hex.EncodeToString(b[:])
}

// loopbackURL reports whether u is an http(s) URL on this machine; the
// sandbox never calls anywhere else.
func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") {
		return false
	}
	host := p.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TwilioSignature computes X-Twilio-Signature for a form POST to fullURL:
// base64(HMAC-SHA1(authToken, fullURL + each key and value, keys sorted)),
// the scheme twilio-go's RequestValidator checks.
func TwilioSignature(authToken, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		b.WriteString(k)
		if v := form[k]; len(v) > 0 {
			b.WriteString(v[0])
		}
	}
	h := hmac.New(sha1.New, []byte(authToken))
	h.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// callbackJob is the status story of one accepted message.
type callbackJob struct {
	msg     Message
	service string
	url     string
	final   string // delivered, undelivered or failed
	code    string // asynchronous error code for undelivered or failed
}

// callbackPool posts status callbacks with a fixed number of workers and a
// bounded queue, so a slow or absent receiver never slows the API.
type callbackPool struct {
	s      *Sandbox
	jobs   chan callbackJob
	client *http.Client
	ctx    context.Context
	wg     sync.WaitGroup
}

func newCallbackPool(ctx context.Context, s *Sandbox, workers, queue int) *callbackPool {
	p := &callbackPool{
		s:    s,
		jobs: make(chan callbackJob, queue),
		ctx:  ctx,
		client: &http.Client{
			Timeout: callbackTimeout,
			Transport: &http.Transport{
				MaxIdleConnsPerHost: workers,
				IdleConnTimeout:     90 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

// enqueue never blocks: when the queue is full the callbacks are dropped,
// logged, and the inbox records the final status.
func (p *callbackPool) enqueue(j callbackJob) {
	select {
	case p.jobs <- j:
	default:
		p.s.log.Warn("twilio status callback dropped: queue full", "channel", KindSMS)
		p.s.inbox.setStatus(j.msg.ID, j.final, j.code)
	}
}

func (p *callbackPool) wait() {
	p.wg.Wait()
	p.client.CloseIdleConnections()
}

func (p *callbackPool) work() {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case j := <-p.jobs:
			p.run(j)
		}
	}
}

func (p *callbackPool) run(j callbackJob) {
	steps := []string{"sent", j.final}
	if j.final == "failed" {
		steps = []string{"failed"} // never left Twilio
	}
	for _, status := range steps {
		code := ""
		if status == j.final {
			code = j.code
		}
		p.s.inbox.setStatus(j.msg.ID, status, code)
		if status == j.final {
			if drop := p.s.faults.get().DropReceipts; drop > 0 && rand.Float64() < drop {
				p.s.log.Debug("twilio status callback dropped (fault)", "channel", KindSMS, "status", status)
				continue
			}
		}
		if err := p.post(j, status, code); err != nil {
			p.s.log.Warn("twilio status callback failed", "channel", KindSMS, "status", status, "err", err)
		}
	}
}

func (p *callbackPool) post(j callbackJob, status, code string) error {
	form := url.Values{
		"MessageSid":    {j.msg.ID},
		"SmsSid":        {j.msg.ID},
		"MessageStatus": {status},
		"SmsStatus":     {status},
		"AccountSid":    {p.s.cfg.AccountSID},
		"From":          {j.msg.From},
		"To":            {j.msg.To},
		"ApiVersion":    {twilioAPIVersion},
	}
	if j.service != "" {
		form.Set("MessagingServiceSid", j.service)
	}
	if code != "" {
		form.Set("ErrorCode", code)
	}
	if status == "delivered" || status == "undelivered" {
		form.Set("RawDlrDoneDate", time.Now().UTC().Format(rawDlrDoneDateFmt))
	}
	req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, j.url, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("X-Twilio-Signature", TwilioSignature(p.s.cfg.AuthToken, j.url, form))
	res, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return fmt.Errorf("callback answered %s", res.Status)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

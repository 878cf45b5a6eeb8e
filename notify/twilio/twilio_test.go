package twilio

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/notify"
)

const (
	testSID   = "ACtest0123456789"
	testToken = "tok0123456789"
)

func validConfig() Config {
	return Config{AccountSID: testSID, AuthToken: testToken, From: "+15005550006"}
}

func TestConfigValidate(t *testing.T) {
	mod := func(f func(*Config)) Config { c := validConfig(); f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"valid with From", validConfig(), true},
		{"valid with messaging service", mod(func(c *Config) { c.From = ""; c.MessagingServiceSID = "MG0123abc" }), true},
		{"alphanumeric sender ID", mod(func(c *Config) { c.From = "Herald" }), true},
		{"all options", mod(func(c *Config) {
			c.APIURL = "http://127.0.0.1:8080/twilio"
			c.StatusCallbackURL = "https://status.example/webhooks/twilio/status"
			c.MaxPrice = "0.05"
			c.ValidityPeriod = time.Hour
			c.Timeout = 5 * time.Second
		}), true},
		{"missing SID", mod(func(c *Config) { c.AccountSID = "" }), false},
		{"SID with dash (twilio-go 21222)", mod(func(c *Config) { c.AccountSID = "AC-test" }), false},
		{"token with symbol (twilio-go 21224)", mod(func(c *Config) { c.AuthToken = "tok$en" }), false},
		{"neither From nor service", mod(func(c *Config) { c.From = "" }), false},
		{"both From and service", mod(func(c *Config) { c.MessagingServiceSID = "MG1" }), false},
		{"From not E.164", mod(func(c *Config) { c.From = "06201234567" }), false},
		{"sender ID too long", mod(func(c *Config) { c.From = "HeraldStatus1" }), false},
		{"service SID wrong prefix", mod(func(c *Config) { c.From = ""; c.MessagingServiceSID = "AC123" }), false},
		{"relative APIURL", mod(func(c *Config) { c.APIURL = "/twilio" }), false},
		{"bad callback URL", mod(func(c *Config) { c.StatusCallbackURL = "ftp://x/y" }), false},
		{"bad max price", mod(func(c *Config) { c.MaxPrice = "cheap" }), false},
		{"validity too long", mod(func(c *Config) { c.ValidityPeriod = 11 * time.Hour }), false},
		{"validity fractional", mod(func(c *Config) { c.ValidityPeriod = 1500 * time.Millisecond }), false},
		{"negative timeout", mod(func(c *Config) { c.Timeout = -time.Second }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("%v does not wrap ErrInvalidConfig", err)
			}
			if _, err := New(tt.cfg, nil); (err == nil) != tt.ok {
				t.Fatalf("New() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestBuildParams(t *testing.T) {
	cfg := validConfig()
	cfg.StatusCallbackURL = "https://status.example/cb"
	cfg.ValidityPeriod = 30 * time.Minute
	cfg.MaxPrice = "0.25"
	p, err := BuildParams(cfg, &channel.Message{To: "+36201234567", Text: "Szolgáltatás helyreállt"})
	if err != nil {
		t.Fatal(err)
	}
	if *p.To != "+36201234567" || *p.Body != "Szolgáltatás helyreállt" || *p.From != cfg.From ||
		p.MessagingServiceSid != nil || *p.StatusCallback != cfg.StatusCallbackURL ||
		*p.ValidityPeriod != 1800 || *p.MaxPrice != 0.25 {
		t.Fatalf("params = %+v", p)
	}

	svc := validConfig()
	svc.From, svc.MessagingServiceSID = "", "MGabc"
	p, err = BuildParams(svc, &channel.Message{To: "+48601234567", Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if p.From != nil || *p.MessagingServiceSid != "MGabc" || p.StatusCallback != nil || p.ValidityPeriod != nil {
		t.Fatalf("params with service = %+v", p)
	}

	refusals := []struct {
		name string
		msg  channel.Message
		code string
	}{
		{"no recipient", channel.Message{Text: "x"}, "21604"},
		{"blank body", channel.Message{To: "+36201234567", Text: "  "}, "21602"},
		{"1601 characters", channel.Message{To: "+36201234567", Text: strings.Repeat("a", 1601)}, "21617"},
		// 1600 runes of a two-byte letter are 3200 bytes: the limit is characters.
		{"1601 accented characters", channel.Message{To: "+36201234567", Text: strings.Repeat("ő", 1601)}, "21617"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BuildParams(cfg, &tt.msg)
			var se *channel.SendError
			if !errors.As(err, &se) || !se.Permanent || se.Code != tt.code {
				t.Fatalf("BuildParams = %v, want permanent %s", err, tt.code)
			}
		})
	}
	if _, err := BuildParams(cfg, &channel.Message{To: "+36201234567", Text: strings.Repeat("ő", 1600)}); err != nil {
		t.Fatalf("1600 characters refused: %v", err)
	}
}

// fakeTwilio speaks the Messages API's shapes. prefix is where it is mounted.
type fakeTwilio struct {
	hits    atomic.Int32
	form    chan url.Values
	respond func(w http.ResponseWriter, r *http.Request)
}

func (f *fakeTwilio) handler(t *testing.T, prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		want := prefix + "/2010-04-01/Accounts/" + testSID + "/Messages.json"
		if r.Method != http.MethodPost || r.URL.Path != want {
			t.Errorf("request %s %s, want POST %s", r.Method, r.URL.Path, want)
			http.NotFound(w, r)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != testSID || p != testToken {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			fmt.Fprint(w, `{"code":20003,"message":"Authenticate","status":401}`)
			return
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("ParseForm: %v", err)
		}
		select {
		case f.form <- r.PostForm:
		default:
		}
		f.respond(w, r)
	})
}

func jsonReply(status int, body string, headers ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func TestSend(t *testing.T) {
	tests := []struct {
		name      string
		respond   func(w http.ResponseWriter, r *http.Request)
		ctxWait   time.Duration
		wantSID   string
		permanent bool
		code      string // "" with wantSID "" means a plain (transient) error
		retry     time.Duration
		plain     error
	}{
		{name: "201 created", respond: jsonReply(201, `{"sid":"SM0123456789abcdef","status":"queued","num_segments":"1"}`), wantSID: "SM0123456789abcdef"},
		{name: "21211 invalid To is permanent", respond: jsonReply(400, `{"code":21211,"message":"The 'To' number +1 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`),
			permanent: true, code: "21211"},
		{name: "21610 unsubscribed is permanent", respond: jsonReply(400, `{"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}`),
			permanent: true, code: "21610"},
		{name: "30008 is permanent per herald's rule", respond: jsonReply(400, `{"code":30008,"message":"Unknown error","status":400}`),
			permanent: true, code: "30008"},
		{name: "other 4xx is permanent", respond: jsonReply(400, `{"code":21606,"message":"The From phone number is not a valid, SMS-capable inbound phone number","status":400}`),
			permanent: true, code: "21606"},
		{name: "20429 with Retry-After is transient", respond: jsonReply(429, `{"code":20429,"message":"Too Many Requests","status":429}`, "Retry-After", "3"),
			code: "20429", retry: 3 * time.Second},
		{name: "429 without Twilio code is transient", respond: jsonReply(429, `{"message":"slow down","status":429}`, "Retry-After", "2"),
			code: "HTTP 429", retry: 2 * time.Second},
		{name: "21611 queue full is transient", respond: jsonReply(400, `{"code":21611,"message":"This 'From' number has exceeded the maximum number of queued messages","status":400}`),
			code: "21611"},
		{name: "500 JSON is transient", respond: jsonReply(500, `{"code":20500,"message":"Internal Server Error","status":500}`),
			code: "20500"},
		{name: "502 HTML is transient", respond: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			fmt.Fprint(w, "<html>bad gateway</html>")
		}, code: "HTTP 502"},
		{name: "slow answer vs ctx deadline", respond: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, ctxWait: 150 * time.Millisecond, plain: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeTwilio{form: make(chan url.Values, 1), respond: tt.respond}
			srv := httptest.NewServer(fake.handler(t, ""))
			defer srv.Close()

			cfg := validConfig()
			cfg.APIURL = srv.URL
			cfg.StatusCallbackURL = "https://status.example/cb"
			cfg.ValidityPeriod = time.Hour
			ch, err := New(cfg, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.ctxWait > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxWait)
				defer cancel()
			}
			start := time.Now()
			rc, err := ch.Send(ctx, &channel.Message{DeliveryID: "d1", Kind: channel.SMS, To: "+36201234567", Text: "Áramszünet: dolgozunk rajta."})
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Fatalf("Send took %s; ctx was not honoured", elapsed)
			}
			switch {
			case tt.wantSID != "":
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if rc.ProviderID != tt.wantSID || rc.Status != "queued" {
					t.Fatalf("receipt = %+v", rc)
				}
				f := <-fake.form
				for k, want := range map[string]string{
					"To": "+36201234567", "From": cfg.From, "Body": "Áramszünet: dolgozunk rajta.",
					"StatusCallback": "https://status.example/cb", "ValidityPeriod": "3600",
				} {
					if got := f.Get(k); got != want {
						t.Errorf("form %s = %q, want %q", k, got, want)
					}
				}
			case tt.plain != nil:
				var se *channel.SendError
				if errors.As(err, &se) {
					t.Fatalf("got SendError %v, want a plain transient error", se)
				}
				if !errors.Is(err, tt.plain) {
					t.Fatalf("err = %v, want it to wrap %v", err, tt.plain)
				}
			default:
				var se *channel.SendError
				if !errors.As(err, &se) {
					t.Fatalf("err = %T %v, want *channel.SendError", err, err)
				}
				if se.Permanent != tt.permanent || se.Code != tt.code || se.RetryAfter != tt.retry {
					t.Fatalf("SendError = %+v, want permanent=%v code=%s retry=%s", se, tt.permanent, tt.code, tt.retry)
				}
				if channel.IsPermanent(err) != tt.permanent {
					t.Fatal("channel.IsPermanent disagrees")
				}
			}
		})
	}
}

func TestSendCallerCancel(t *testing.T) {
	fake := &fakeTwilio{form: make(chan url.Values, 1), respond: func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}}
	srv := httptest.NewServer(fake.handler(t, ""))
	defer srv.Close()
	cfg := validConfig()
	cfg.APIURL = srv.URL
	ch, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-fake.form // the request reached the server
		cancel()
	}()
	_, err = ch.Send(ctx, &channel.Message{To: "+36201234567", Text: "x"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
}

func TestSendAPIURLPrefixAndLocalRefusal(t *testing.T) {
	fake := &fakeTwilio{form: make(chan url.Values, 1), respond: jsonReply(201, `{"sid":"SMx","status":"accepted"}`)}
	mux := http.NewServeMux()
	mux.Handle("/twilio/", fake.handler(t, "/twilio"))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cfg := validConfig()
	cfg.From, cfg.MessagingServiceSID = "", "MGservice1"
	cfg.APIURL = srv.URL + "/twilio/"
	ch, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ch.Send(context.Background(), &channel.Message{To: "+48601234567", Text: "Przepraszamy"})
	if err != nil || rc.ProviderID != "SMx" || rc.Status != "accepted" {
		t.Fatalf("Send = %+v, %v", rc, err)
	}
	if f := <-fake.form; f.Get("MessagingServiceSid") != "MGservice1" || f.Get("From") != "" {
		t.Fatalf("form = %v", f)
	}

	_, err = ch.Send(context.Background(), &channel.Message{To: "+48601234567", Text: strings.Repeat("x", 1601)})
	var se *channel.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Code != "21617" {
		t.Fatalf("long body: %v", err)
	}
	if n := fake.hits.Load(); n != 1 {
		t.Fatalf("server saw %d requests, want 1: over-long bodies must be refused before calling", n)
	}
}

func TestSendWrongCredentialsIsPermanent(t *testing.T) {
	fake := &fakeTwilio{form: make(chan url.Values, 1), respond: jsonReply(201, `{"sid":"SMx","status":"queued"}`)}
	srv := httptest.NewServer(fake.handler(t, ""))
	defer srv.Close()
	cfg := validConfig()
	cfg.AuthToken = "wrongtoken"
	cfg.APIURL = srv.URL
	ch, _ := New(cfg, nil)
	_, err := ch.Send(context.Background(), &channel.Message{To: "+36201234567", Text: "x"})
	var se *channel.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Code != "20003" {
		t.Fatalf("Send = %v, want permanent 20003", err)
	}
}

// twilioSign is an independent implementation of Twilio's webhook signature:
// base64(HMAC-SHA1(token, URL + each sorted key followed by its value)).
func twilioSign(token, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		b.WriteString(k + form.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifySignature(t *testing.T) {
	const hook = "https://status.example/webhooks/twilio/sms?page=p1"
	form := url.Values{
		"MessageSid": {"SM123"}, "From": {"+36201234567"}, "To": {"+15005550006"},
		"Body": {"STOP"}, "OptOutType": {"STOP"}, "AccountSid": {testSID},
	}
	sig := twilioSign(testToken, hook, form)
	tampered := url.Values{}
	for k, v := range form {
		tampered[k] = v
	}
	tampered.Set("Body", "START")
	tests := []struct {
		name  string
		token string
		url   string
		form  url.Values
		sig   string
		want  bool
	}{
		{"valid", testToken, hook, form, sig, true},
		{"valid with explicit :443", testToken, "https://status.example:443/webhooks/twilio/sms?page=p1", form, sig, true},
		{"tampered body", testToken, hook, tampered, sig, false},
		{"wrong token", "othertoken", hook, form, sig, false},
		{"wrong URL", testToken, "https://status.example/webhooks/twilio/other?page=p1", form, sig, false},
		{"empty signature", testToken, hook, form, "", false},
		{"empty token", "", hook, form, sig, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifySignature(tt.token, tt.url, tt.form, tt.sig); got != tt.want {
				t.Fatalf("VerifySignature = %v, want %v", got, tt.want)
			}
		})
	}

	// Round trip through a real HTTP request, as server will do it.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		full := "http://" + r.Host + r.URL.RequestURI()
		if !VerifySignature(testToken, full, r.PostForm, r.Header.Get(HeaderSignature)) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		in, err := ParseInbound(r.PostForm)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		reply, _ := Reply("Received: " + in.Body)
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, reply)
	}))
	defer srv.Close()
	target := srv.URL + "/sms?x=1"
	for _, tc := range []struct {
		name   string
		sig    string
		status int
	}{{"signed", twilioSign(testToken, target, form), 200}, {"forged", twilioSign("nottoken", target, form), 403}} {
		t.Run("http "+tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(HeaderSignature, tc.sig)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestParseInbound(t *testing.T) {
	tests := []struct {
		name string
		form url.Values
		want InboundSMS
		err  bool
	}{
		{"plain reply", url.Values{"MessageSid": {"SM1"}, "From": {"+36201234567"}, "To": {"+15005550006"}, "Body": {"Mikor lesz vége?"}, "NumMedia": {"0"}, "FromCountry": {"HU"}},
			InboundSMS{MessageSid: "SM1", From: "+36201234567", To: "+15005550006", Body: "Mikor lesz vége?", FromCountry: "HU"}, false},
		{"opt-out keyword", url.Values{"SmsMessageSid": {"SM2"}, "From": {"+48601234567"}, "Body": {"stop"}, "OptOutType": {"stop"}},
			InboundSMS{MessageSid: "SM2", From: "+48601234567", Body: "stop", OptOutType: "STOP"}, false},
		{"media", url.Values{"MessageSid": {"SM3"}, "From": {"+1"}, "NumMedia": {"2"}, "MediaUrl0": {"https://m/0"}, "MediaUrl1": {"https://m/1"}},
			InboundSMS{MessageSid: "SM3", From: "+1", NumMedia: 2, MediaURLs: []string{"https://m/0", "https://m/1"}}, false},
		{"missing sid", url.Values{"From": {"+1"}}, InboundSMS{}, true},
		{"bad NumMedia", url.Values{"MessageSid": {"SM4"}, "From": {"+1"}, "NumMedia": {"lots"}}, InboundSMS{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInbound(tt.form)
			if tt.err {
				if !errors.Is(err, ErrInvalidForm) {
					t.Fatalf("err = %v, want ErrInvalidForm", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseStatusCallback(t *testing.T) {
	cb, err := ParseStatusCallback(url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "To": {"+36201234567"}, "RawDlrDoneDate": {"2402141215"}})
	if err != nil {
		t.Fatal(err)
	}
	if cb.MessageSid != "SM1" || cb.Status != "undelivered" || cb.ErrorCode != "30003" || !cb.Permanent() || cb.RawDlrDoneDate != "2402141215" {
		t.Fatalf("cb = %+v", cb)
	}
	cb, err = ParseStatusCallback(url.Values{"SmsSid": {"SM2"}, "SmsStatus": {"sent"}})
	if err != nil || cb.Status != "sent" || cb.Permanent() {
		t.Fatalf("legacy fields: %+v %v", cb, err)
	}
	if _, err := ParseStatusCallback(url.Values{"MessageSid": {"SM1"}}); !errors.Is(err, ErrInvalidForm) {
		t.Fatalf("missing status: %v", err)
	}
}

func TestStatusRank(t *testing.T) {
	order := [][]string{{"accepted", "scheduled"}, {"queued"}, {"sending"}, {"sent"}, {"delivered", "undelivered", "failed"}}
	for i := range order {
		for _, s := range order[i] {
			for _, same := range order[i] {
				if StatusRank(s) != StatusRank(same) {
					t.Errorf("rank(%s) != rank(%s)", s, same)
				}
			}
			if i > 0 {
				for _, prev := range order[i-1] {
					if StatusRank(s) <= StatusRank(prev) {
						t.Errorf("rank(%s)=%d not after rank(%s)=%d", s, StatusRank(s), prev, StatusRank(prev))
					}
				}
			}
		}
	}
	if StatusRank("bogus") != 0 || StatusRank("Delivered") != StatusRank("delivered") {
		t.Error("unknown must rank 0 and ranks must ignore case")
	}
}

func TestTwiML(t *testing.T) {
	empty, err := EmptyReply()
	if err != nil || !strings.HasSuffix(empty, "<Response/>") {
		t.Fatalf("EmptyReply = %q, %v", empty, err)
	}
	reply, err := Reply("Köszönjük <3 & viszlát")
	if err != nil || !strings.HasSuffix(reply, "<Response><Message>Köszönjük &lt;3 &amp; viszlát</Message></Response>") {
		t.Fatalf("Reply = %q, %v", reply, err)
	}
}

func TestDescribe(t *testing.T) {
	var c Channel
	for code, want := range map[string]string{"30003": "unreachable destination handset", "30001": "queue overflow", "21610": "recipient unsubscribed (replied STOP)",
		"99999": "", "": "", "3000x": ""} {
		if got := c.Describe(code); got != want {
			t.Errorf("Describe(%q) = %q, want %q", code, got, want)
		}
	}
}

// Channel implements notify.Channel: the pipeline sends through it.
var _ notify.Channel = (*Channel)(nil)

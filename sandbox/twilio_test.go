package sandbox

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	testSID   = "ACtest0000000000000000000000000001"
	testToken = "testtoken123"
)

// twilioClient is twilio-go's real REST client pointed at the sandbox.
func twilioClient(t *testing.T, sb *Sandbox, sid, token string) *twilio.RestClient {
	t.Helper()
	target, err := url.Parse(sb.TwilioURL())
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{
		Credentials: client.NewCredentials(sid, token),
		HTTPClient:  &http.Client{Transport: rewriteTransport{target}, Timeout: 10 * time.Second},
	}
	c.SetAccountSid(sid)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
}

func smsParams(to, body string) *openapi.CreateMessageParams {
	p := &openapi.CreateMessageParams{}
	p.SetTo(to).SetFrom("+15005550006").SetBody(body)
	return p
}

func TestTwilioCreateMessage(t *testing.T) {
	sb := start(t, Config{AccountSID: testSID, AuthToken: testToken, Faults: Faults{FailTo: map[string]string{
		"+36201234567": "21211",
		"+48601234567": "21610",
	}}})
	rc := twilioClient(t, sb, testSID, testToken)

	t.Run("accepted with sid and segments", func(t *testing.T) {
		m, err := rc.Api.CreateMessage(smsParams("+385912345678", "Ispričavamo se zbog prekida."))
		if err != nil {
			t.Fatalf("CreateMessage: %v", err)
		}
		if m.Sid == nil || !strings.HasPrefix(*m.Sid, "SM") || len(*m.Sid) != 34 {
			t.Fatalf("sid = %v, want SM + 32 hex", m.Sid)
		}
		if *m.Status != "queued" || *m.NumSegments != "1" || *m.To != "+385912345678" || *m.AccountSid != testSID {
			t.Errorf("resource = status %s segments %s to %s account %s", *m.Status, *m.NumSegments, *m.To, *m.AccountSid)
		}
		if m.ErrorCode != nil {
			t.Errorf("error_code = %d, want null", *m.ErrorCode)
		}
		if _, err := time.Parse(time.RFC1123Z, *m.DateCreated); err != nil {
			t.Errorf("date_created %q is not RFC1123Z: %v", *m.DateCreated, err)
		}
		got := sb.Messages(Filter{Kind: KindSMS, To: "+385912345678"})
		if len(got) != 1 || got[0].ID != *m.Sid || got[0].Body != "Ispričavamo se zbog prekida." || got[0].Segments != 1 {
			t.Fatalf("inbox = %+v", got)
		}
		fetched, err := rc.Api.FetchMessage(*m.Sid, &openapi.FetchMessageParams{})
		if err != nil {
			t.Fatalf("FetchMessage: %v", err)
		}
		if *fetched.Sid != *m.Sid || *fetched.Status != "delivered" {
			t.Errorf("fetched sid %s status %s, want %s delivered", *fetched.Sid, *fetched.Status, *m.Sid)
		}
	})

	t.Run("messaging service is accepted", func(t *testing.T) {
		p := &openapi.CreateMessageParams{}
		p.SetTo("+36301234567").SetMessagingServiceSid("MG00000000000000000000000000000001").SetBody("hi").SetValidityPeriod(600)
		m, err := rc.Api.CreateMessage(p)
		if err != nil {
			t.Fatal(err)
		}
		if *m.Status != "accepted" || *m.NumSegments != "0" || *m.MessagingServiceSid != "MG00000000000000000000000000000001" {
			t.Errorf("status %s segments %s service %v", *m.Status, *m.NumSegments, m.MessagingServiceSid)
		}
	})

	errCases := []struct {
		name   string
		params *openapi.CreateMessageParams
		client *twilio.RestClient
		code   int
		status int
	}{
		{"failto invalid number", smsParams("+36201234567", "x"), rc, 21211, 400},
		{"failto unsubscribed", smsParams("+48601234567", "x"), rc, 21610, 400},
		{"not e164", smsParams("06201234567", "x"), rc, 21211, 400},
		{"no from", (&openapi.CreateMessageParams{}).SetTo("+36301234567").SetBody("x"), rc, 21603, 400},
		{"no to", (&openapi.CreateMessageParams{}).SetFrom("+15005550006").SetBody("x"), rc, 21604, 400},
		{"no body", (&openapi.CreateMessageParams{}).SetTo("+36301234567").SetFrom("+15005550006"), rc, 21602, 400},
		{"body over 1600", smsParams("+36301234567", strings.Repeat("a", 1601)), rc, 21617, 400},
		{"bad validity period", smsParams("+36301234567", "x").SetValidityPeriod(40000), rc, 21623, 400},
		{"wrong token", smsParams("+36301234567", "x"), twilioClient(t, sb, testSID, "wrong"), 20003, 401},
		{"wrong account", smsParams("+36301234567", "x"), twilioClient(t, sb, "ACother", testToken), 20003, 401},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.Api.CreateMessage(tt.params)
			var te *client.TwilioRestError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v (%T), want *client.TwilioRestError", err, err)
			}
			if te.Code != tt.code || te.Status != tt.status || te.MoreInfo == "" || te.Message == "" {
				t.Errorf("error = %+v, want code %d status %d", te, tt.code, tt.status)
			}
		})
	}

	t.Run("1600 chars are fine", func(t *testing.T) {
		m, err := rc.Api.CreateMessage(smsParams("+36301234567", strings.Repeat("ő", 1600)))
		if err != nil {
			t.Fatal(err)
		}
		if *m.NumSegments != "24" { // ceil(1600/67)
			t.Errorf("segments = %s, want 24", *m.NumSegments)
		}
	})

	t.Run("fetch unknown is 20404", func(t *testing.T) {
		_, err := rc.Api.FetchMessage("SM00000000000000000000000000000000", &openapi.FetchMessageParams{})
		var te *client.TwilioRestError
		if !errors.As(err, &te) || te.Code != 20404 || te.Status != 404 {
			t.Fatalf("err = %v", err)
		}
	})
}

// callbackRecorder is an httptest receiver for status callbacks that checks
// each signature with twilio-go's RequestValidator.
type callbackRecorder struct {
	t     *testing.T
	token string
	srv   *httptest.Server
	mu    sync.Mutex
	got   []url.Values
	bad   int
	wake  chan struct{}
}

func newCallbackRecorder(t *testing.T, token string) *callbackRecorder {
	cr := &callbackRecorder{t: t, token: token, wake: make(chan struct{}, 100)}
	cr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Errorf("callback body: %v", err)
		}
		params := map[string]string{}
		for k, v := range form {
			params[k] = v[0]
		}
		rv := client.NewRequestValidator(token)
		fullURL := cr.srv.URL + r.URL.RequestURI()
		ok := rv.Validate(fullURL, params, r.Header.Get("X-Twilio-Signature"))
		cr.mu.Lock()
		if ok {
			cr.got = append(cr.got, form)
		} else {
			cr.bad++
		}
		cr.mu.Unlock()
		select {
		case cr.wake <- struct{}{}:
		default: // a wake is already pending; await rechecks the count
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(cr.srv.Close)
	return cr
}

// await waits for n callbacks in all.
func (cr *callbackRecorder) await(n int) ([]url.Values, int) {
	cr.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		cr.mu.Lock()
		got, bad := append([]url.Values(nil), cr.got...), cr.bad
		cr.mu.Unlock()
		if len(got)+bad >= n {
			return got, bad
		}
		select {
		case <-cr.wake:
		case <-timeout:
			cr.t.Fatalf("got %d callbacks (%d badly signed), want %d", len(got), bad, n)
		}
	}
}

func TestTwilioStatusCallbacks(t *testing.T) {
	tests := []struct {
		name     string
		to       string
		statuses []string
		code     string
	}{
		{"delivered", "+36301234567", []string{"sent", "delivered"}, ""},
		{"unknown handset undelivered", "+36309999999", []string{"sent", "undelivered"}, "30005"},
		{"queue overflow failed", "+36308888888", []string{"failed"}, "30001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := start(t, Config{AccountSID: testSID, AuthToken: testToken, Faults: Faults{FailTo: map[string]string{
				"+36309999999": "30005", "+36308888888": "30001",
			}}})
			cr := newCallbackRecorder(t, testToken)
			cbURL := cr.srv.URL + "/twilio/status?d=abc"
			m, err := twilioClient(t, sb, testSID, testToken).Api.CreateMessage(smsParams(tt.to, "Outage update").SetStatusCallback(cbURL))
			if err != nil {
				t.Fatal(err)
			}
			got, bad := cr.await(len(tt.statuses))
			if bad != 0 {
				t.Fatalf("%d callbacks failed signature validation", bad)
			}
			for i, want := range tt.statuses {
				f := got[i]
				if f.Get("MessageStatus") != want || f.Get("SmsStatus") != want || f.Get("MessageSid") != *m.Sid ||
					f.Get("SmsSid") != *m.Sid || f.Get("AccountSid") != testSID || f.Get("To") != tt.to ||
					f.Get("From") != "+15005550006" || f.Get("ApiVersion") != "2010-04-01" {
					t.Errorf("callback %d = %v, want status %s", i, f, want)
				}
				wantCode := ""
				if i == len(tt.statuses)-1 {
					wantCode = tt.code
				}
				if f.Get("ErrorCode") != wantCode {
					t.Errorf("callback %d ErrorCode = %q, want %q", i, f.Get("ErrorCode"), wantCode)
				}
			}
			last := tt.statuses[len(tt.statuses)-1]
			msgs := sb.Messages(Filter{Kind: KindSMS})
			if len(msgs) != 1 || msgs[0].Status != last || msgs[0].Error != tt.code {
				t.Errorf("inbox = %+v, want status %s error %s", msgs, last, tt.code)
			}
		})
	}
}

func TestTwilioSignatureMatchesValidator(t *testing.T) {
	form := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"sent"}, "Body": {"ő & ł"}}
	u := "https://example.com/twilio/status?x=1"
	rv := client.NewRequestValidator("tok")
	if !rv.ValidateBody(u, []byte(form.Encode()), TwilioSignature("tok", u, form)) {
		t.Fatal("TwilioSignature does not validate with twilio-go")
	}
	if rv.ValidateBody(u, []byte(form.Encode()), TwilioSignature("other", u, form)) {
		t.Fatal("signature with another token validates")
	}
}

func TestTwilioCallbackOnlyToLoopback(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"http://127.0.0.1:8080/cb", true},
		{"http://localhost/cb", true},
		{"http://[::1]:9/cb", true},
		{"https://status.example.com/cb", false},
		{"http://10.0.0.1/cb", false},
		{"ftp://127.0.0.1/cb", false},
		{"::not a url", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			if got := loopbackURL(tt.url); got != tt.want {
				t.Errorf("loopbackURL = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTwilioConcurrentSendsWithCallbacks(t *testing.T) {
	sb := start(t, Config{AccountSID: testSID, AuthToken: testToken})
	cr := newCallbackRecorder(t, testToken)
	rc := twilioClient(t, sb, testSID, testToken)
	const senders, each = 8, 25
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				to := "+3630" + strings.Repeat("0", 5) + string(rune('0'+g)) + string(rune('0'+i%10))
				if _, err := rc.Api.CreateMessage(smsParams(to, "x").SetStatusCallback(cr.srv.URL + "/cb")); err != nil {
					t.Error(err)
					return
				}
				_ = sb.Messages(Filter{Kind: KindSMS, Limit: 5}) // readers race the writers
			}
		}()
	}
	if err := sb.WaitFor(waitCtx(t), senders*each, KindSMS); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	got, bad := cr.await(2 * senders * each)
	if bad != 0 || len(got) != 2*senders*each {
		t.Fatalf("callbacks: %d good, %d bad", len(got), bad)
	}
}

package sandbox

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
)

func TestTwilioFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		codes  []int // Twilio error code per request, 0 for accepted
		retry  string
	}{
		{"error rate 1 gives 5xx", Faults{ErrorRate: 1}, []int{-5, -5, -5}, ""},
		{"429 burst", Faults{Burst429Every: 1, Burst429Len: 2, RetryAfter: 2 * time.Second}, []int{0, 20429, 20429, 0}, "2"},
		{"rate ceiling", Faults{RatePerSecond: 0.5, RateBurst: 2}, []int{0, 0, 20429}, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := start(t, Config{AccountSID: testSID, AuthToken: testToken, Faults: tt.faults})
			for i, want := range tt.codes {
				req, _ := http.NewRequest(http.MethodPost, sb.TwilioURL()+"/2010-04-01/Accounts/"+testSID+"/Messages.json",
					strings.NewReader("To=%2B36301234567&From=%2B15005550006&Body=hi"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(testSID, testToken)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				switch {
				case want == 0 && res.StatusCode != http.StatusCreated:
					t.Errorf("request %d: status %d, want 201", i, res.StatusCode)
				case want == -5 && res.StatusCode != 500 && res.StatusCode != 503:
					t.Errorf("request %d: status %d, want 5xx", i, res.StatusCode)
				case want == 20429:
					if res.StatusCode != 429 || res.Header.Get("Retry-After") != tt.retry {
						t.Errorf("request %d: status %d Retry-After %q, want 429 %q", i, res.StatusCode, res.Header.Get("Retry-After"), tt.retry)
					}
				}
			}
		})
	}
}

func TestTwilio5xxShapeThroughClient(t *testing.T) {
	sb := start(t, Config{AccountSID: testSID, AuthToken: testToken, Faults: Faults{ErrorRate: 1}})
	_, err := twilioClient(t, sb, testSID, testToken).Api.CreateMessage(smsParams("+36301234567", "x"))
	var te *client.TwilioRestError
	if !errors.As(err, &te) || (te.Code != 20500 && te.Code != 20503) || te.Status < 500 {
		t.Fatalf("err = %v", err)
	}
	if sb.Count("") != 0 {
		t.Error("a refused message reached the inbox")
	}
}

func TestLatencyAndSetFaults(t *testing.T) {
	sb := start(t, Config{SlackToken: "xoxb-test", Faults: Faults{Latency: 150 * time.Millisecond}})
	post := func() time.Duration {
		begin := time.Now()
		res, err := http.PostForm(sb.SlackURL()+"chat.postMessage", map[string][]string{"token": {"xoxb-test"}, "channel": {"C0OPS12345"}, "text": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return time.Since(begin)
	}
	if d := post(); d < 150*time.Millisecond {
		t.Errorf("answer took %v with 150ms latency", d)
	}
	if err := sb.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	if d := post(); d >= 150*time.Millisecond {
		t.Errorf("answer took %v after latency was removed", d)
	}
	if err := sb.SetFaults(Faults{ErrorRate: 2}); err == nil {
		t.Error("SetFaults accepted ErrorRate 2")
	}
}

func TestTokenBucket(t *testing.T) {
	g := &gate{tokens: 2, last: time.Unix(0, 0)}
	now := time.Unix(0, 0)
	steps := []struct {
		at   time.Duration
		ok   bool
		wait time.Duration
	}{
		{0, true, 0},
		{0, true, 0},
		{0, false, 100 * time.Millisecond},
		{50 * time.Millisecond, false, 50 * time.Millisecond},
		{100 * time.Millisecond, true, 0},
		{100 * time.Millisecond, false, 100 * time.Millisecond},
		{time.Second, true, 0}, // refilled to the burst, not beyond
		{time.Second, true, 0},
		{time.Second, false, 100 * time.Millisecond},
	}
	for i, s := range steps {
		wait, ok := g.take(10, 2, now.Add(s.at))
		if ok != s.ok || (wait-s.wait).Abs() > time.Millisecond {
			t.Errorf("step %d: take = %v %v, want %v %v", i, wait, ok, s.wait, s.ok)
		}
	}
}

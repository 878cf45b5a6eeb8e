package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/sandbox"
)

// TestSubscriberAPIStatuspageClients: what clients generated from
// Statuspage's v1 API send and read works unchanged.
func TestSubscriberAPIStatuspageClients(t *testing.T) {
	b := newBroadcastEnv(t, false)
	base := "/v1/pages/" + b.page.ID + "/subscribers"
	var ids []string
	for i := 0; i < 3; i++ {
		var s wire.Subscriber
		b.mustDo(t, http.StatusCreated, "POST", base, b.manager,
			`{"subscriber":{"email":"reader`+strconv.Itoa(i)+`@example.com","skip_confirmation_notification":true}}`).json(t, &s)
		ids = append(ids, s.ID)
	}

	t.Run("webhook subscriber with its email", func(t *testing.T) {
		// Statuspage's webhook subscribers carry an email too (told when
		// the endpoint fails): "email ... for creating Email and Webhook
		// subscribers".
		r := b.do(t, "POST", base, b.manager, `{"subscriber":{"endpoint":"`+b.sb.WebhookURL("ops")+`","email":"ops@example.com"}}`)
		if r.status != http.StatusCreated {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var s wire.Subscriber
		r.json(t, &s)
		if s.Mode != "webhook" || s.Endpoint == nil || *s.Endpoint != b.sb.WebhookURL("ops") {
			t.Errorf("got %+v", s)
		}
		ids = append(ids, s.ID)
	})

	t.Run("count by type", func(t *testing.T) {
		var n map[string]int
		b.do(t, "GET", base+"/count", b.agent, "").json(t, &n)
		if n["email"] != 3 || n["webhook"] != 1 || n["sms"] != 0 || n["slack"] != 0 {
			t.Errorf("count %v, want email 3, webhook 1, sms 0, slack 0", n)
		}
		n = nil
		b.do(t, "GET", base+"/count?type=webhook", b.agent, "").json(t, &n)
		if n["webhook"] != 1 || n["email"] != 0 {
			t.Errorf("count of webhooks %v", n)
		}
	})

	t.Run("page offsets", func(t *testing.T) {
		// page is 0-based and skips page*limit subscribers; a client reads
		// pages until one comes back short.
		seen := map[string]int{}
		for p := 0; p < 10; p++ {
			var got []wire.Subscriber
			b.do(t, "GET", base+"?limit=3&page="+strconv.Itoa(p), b.agent, "").json(t, &got)
			for _, s := range got {
				seen[s.ID]++
			}
			if len(got) < 3 {
				break
			}
		}
		if len(seen) != len(ids) {
			t.Errorf("read %d distinct subscribers over the pages, want %d", len(seen), len(ids))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s read %d times", id, n)
			}
		}
		if r := b.do(t, "GET", base+"?page=-1", b.agent, ""); r.status != http.StatusBadRequest || r.errorOf(t).Field != "page" {
			t.Errorf("page=-1: %d %s", r.status, r.body)
		}
	})

	t.Run("patch component_ids: absent, null and []", func(t *testing.T) {
		// Absent leaves the components as they are; null and [] both mean
		// the whole page (a Statuspage client clearing the field sends null).
		path := base + "/" + ids[0]
		tests := []struct {
			name, body string
			want       []string // nil: the whole page
		}{
			{"absent", `{"language":"pl"}`, []string{b.compA.ID}},
			{"absent in the wrapper", `{"subscriber":{"language":"hr"}}`, []string{b.compA.ID}},
			{"null", `{"component_ids":null}`, nil},
			{"null in the wrapper", `{"subscriber":{"component_ids":null}}`, nil},
			{"empty list", `{"component_ids":[]}`, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b.mustDo(t, http.StatusOK, "PATCH", path, b.manager, `{"component_ids":["`+b.compA.ID+`"]}`)
				var got wire.Subscriber
				b.mustDo(t, http.StatusOK, "PATCH", path, b.manager, tc.body).json(t, &got)
				if strings.Join(got.ComponentIDs, ",") != strings.Join(tc.want, ",") {
					t.Errorf("component_ids %v, want %v", got.ComponentIDs, tc.want)
				}
				if (got.Components == nil) != (tc.want == nil) || (got.Components != nil && *got.Components != strings.Join(tc.want, ",")) {
					t.Errorf("components %v, want %q (null for the whole page)", got.Components, strings.Join(tc.want, ","))
				}
			})
		}
		if d := b.mustDo(t, http.StatusBadRequest, "PATCH", path, b.manager, `{"component_ids":"all"}`).errorOf(t); d.Field != "component_ids" {
			t.Errorf("a string for component_ids: field %q, want component_ids", d.Field)
		}
	})
}

// TestTwilioOptOutType: when Twilio's Advanced Opt-Out matched a keyword
// herald does not know (OptOutType), herald mirrors it, so it does not
// keep sending to a number Twilio now blocks.
func TestTwilioOptOutType(t *testing.T) {
	b := newBroadcastEnv(t, false)
	ctx := context.Background()
	const num = "+36207777778"
	suppressed := func() bool {
		_, err := b.db.FindSuppression(ctx, b.page.ID, channel.SMS, num)
		return err == nil
	}
	sms := func(body, optOut string) url.Values {
		return url.Values{"MessageSid": {"SM" + strings.Repeat("b", 32)}, "AccountSid": {sandbox.DefaultAccountSID}, "From": {num},
			"To": {"+15005550006"}, "Body": {body}, "OptOutType": {optOut}, "SmsStatus": {"received"}}
	}
	tests := []struct {
		name, body, optOut string
		suppressed         bool
	}{
		{"opt-out word of the messaging service", "Nem kérek több üzenetet", "STOP", true},
		{"opt-in word of the messaging service", "Kérem újra", "START", false},
		{"no OptOutType: not a keyword", "Nem kérek több üzenetet", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.twilioPost(t, "/webhooks/twilio/sms", sms(tc.body, tc.optOut), sandbox.DefaultAuthToken)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if strings.Contains(r.String(), "<Message>") {
				t.Errorf("replied %s: Twilio answers its own opt-out words", r.body)
			}
			if got := suppressed(); got != tc.suppressed {
				t.Errorf("suppressed %v, want %v", got, tc.suppressed)
			}
		})
	}
}

// TestWebhookGoneUnsubscribes: a webhook subscriber whose endpoint (here a
// local server on 127.0.0.1, allowed by AllowPrivate) answers 410 Gone is
// unsubscribed, and the API says why.
func TestWebhookGoneUnsubscribes(t *testing.T) {
	b := newBroadcastEnv(t, true)
	var calls atomic.Int32
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusGone)
	}))
	t.Cleanup(gone.Close)
	base := "/v1/pages/" + b.page.ID + "/subscribers"
	var s wire.Subscriber
	b.mustDo(t, http.StatusCreated, "POST", base, b.manager, `{"subscriber":{"endpoint":"`+gone.URL+`/hook"}}`).json(t, &s)
	if s.UnsubscribeReason != nil {
		t.Errorf("new subscriber has reason %q", *s.UnsubscribeReason)
	}
	incID := b.declare(t, "Webhook gone")
	deadline := time.Now().Add(20 * time.Second)
	for {
		ps := b.broadcasts(t, incID)
		if len(ps) == 1 && ps[0].Finished() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broadcast not finished: %+v", ps)
		}
		time.Sleep(20 * time.Millisecond) // polling for the end, not waiting out a race
	}
	b.mustDo(t, http.StatusOK, "GET", base+"/"+s.ID, b.agent, "").json(t, &s)
	if s.State != "unsubscribed" || s.UnsubscribeReason == nil || *s.UnsubscribeReason != "webhook:410" {
		t.Errorf("after 410: state %s, reason %v; want unsubscribed, webhook:410", s.State, s.UnsubscribeReason)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("endpoint called %d times, want 1 (410 is not retried)", n)
	}
}

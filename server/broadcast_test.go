package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/customerfile"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
	"github.com/valyala/fasthttp"
)

// TestSubscriberAPI drives the Statuspage v1 subscriber endpoints as a
// Statuspage client would.
func TestSubscriberAPI(t *testing.T) {
	b := newBroadcastEnv(t, true)
	base := "/v1/pages/" + b.page.ID + "/subscribers"

	var email, sms, hook wire.Subscriber
	b.mustDo(t, http.StatusCreated, "POST", base, b.manager,
		`{"subscriber":{"email":"Ops@Example.com","component_ids":["`+b.compA.ID+`"],"skip_confirmation_notification":true}}`).json(t, &email)
	b.mustDo(t, http.StatusCreated, "POST", base, b.manager, `{"subscriber":{"phone_number":"20 123 4567","phone_country":"HU"}}`).json(t, &sms)
	b.mustDo(t, http.StatusCreated, "POST", "/api/v1/pages/"+b.page.ID+"/subscribers", b.admin,
		`{"subscriber":{"endpoint":"`+b.sb.WebhookURL("ops")+`"}}`).json(t, &hook)

	t.Run("shapes", func(t *testing.T) {
		tests := []struct {
			name  string
			got   wire.Subscriber
			mode  string
			state string
			addr  *string
			want  string
		}{
			{"email, admin-added, skip confirmation", email, "email", "active", email.Email, "Ops@example.com"},
			{"sms with phone_country, confirmation sent", sms, "sms", "pending", sms.PhoneNumber, "+36201234567"},
			{"webhook, active at once", hook, "webhook", "active", hook.Endpoint, b.sb.WebhookURL("ops")},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if tc.got.Mode != tc.mode || tc.got.State != tc.state || tc.addr == nil || *tc.addr != tc.want || !incident.ValidID(tc.got.ID) {
					t.Errorf("got %+v", tc.got)
				}
			})
		}
		if !email.SkipConfirmationNotification || len(email.ComponentIDs) != 1 || email.ComponentIDs[0] != b.compA.ID ||
			email.Components == nil || *email.Components != b.compA.ID {
			t.Errorf("email subscriber: %+v", email)
		}
		if sms.PhoneCountry == nil || *sms.PhoneCountry != "HU" {
			t.Errorf("sms phone_country: %+v", sms)
		}
		b.waitSandbox(t, 1, sandbox.KindSMS) // the confirmation code
		if body := b.lastTo(t, sandbox.KindSMS, "+36201234567").Body; !regexp.MustCompile(`\d{6}`).MatchString(body) {
			t.Errorf("confirmation SMS has no code: %q", body)
		}
	})

	t.Run("lists and count", func(t *testing.T) {
		tests := []struct {
			path string
			want []string
		}{
			{base, []string{email.ID, hook.ID}},
			{base + "?state=unconfirmed", []string{sms.ID}},
			{base + "?state=all&type=sms", []string{sms.ID}},
			{base + "?type=webhook", []string{hook.ID}},
		}
		for _, tc := range tests {
			var got []wire.Subscriber
			b.mustDo(t, http.StatusOK, "GET", tc.path, b.agent, "").json(t, &got)
			ids := map[string]bool{}
			for _, s := range got {
				ids[s.ID] = true
			}
			if len(got) != len(tc.want) {
				t.Errorf("%s: %d subscribers, want %d", tc.path, len(got), len(tc.want))
			}
			for _, id := range tc.want {
				if !ids[id] {
					t.Errorf("%s: %s missing", tc.path, id)
				}
			}
		}
		var n struct{ Count int }
		b.mustDo(t, http.StatusOK, "GET", base+"/count", b.agent, "").json(t, &n)
		if n.Count != 2 {
			t.Errorf("count %d, want 2", n.Count)
		}
		b.mustDo(t, http.StatusOK, "GET", base+"/count?type=email&state=all", b.agent, "").json(t, &n)
		if n.Count != 1 {
			t.Errorf("email count %d, want 1", n.Count)
		}
	})

	t.Run("get, patch, resend, delete, unsubscribed", func(t *testing.T) {
		var got wire.Subscriber
		b.mustDo(t, http.StatusOK, "GET", base+"/"+email.ID, b.agent, "").json(t, &got)
		if got.ID != email.ID {
			t.Fatalf("got %+v", got)
		}
		b.mustDo(t, http.StatusOK, "PATCH", base+"/"+email.ID, b.manager, `{"component_ids":["`+b.compB.ID+`"]}`).json(t, &got)
		if len(got.ComponentIDs) != 1 || got.ComponentIDs[0] != b.compB.ID {
			t.Errorf("patched components %v", got.ComponentIDs)
		}
		b.mustDo(t, http.StatusOK, "PATCH", base+"/"+email.ID, b.manager, `{"subscriber":{"component_ids":[],"language":"hu"}}`).json(t, &got)
		if len(got.ComponentIDs) != 0 || got.Components != nil || got.Language != "hu" {
			t.Errorf("patched to whole page in hu: %+v", got)
		}
		b.mustDo(t, http.StatusCreated, "POST", base+"/"+sms.ID+"/resend_confirmation", b.manager, "")
		b.waitSandbox(t, 2, sandbox.KindSMS)
		if d := b.mustDo(t, http.StatusConflict, "POST", base+"/"+email.ID+"/resend_confirmation", b.manager, "").errorOf(t); d.Code != incident.ECONFLICT {
			t.Errorf("resend to active: %+v", d)
		}
		b.mustDo(t, http.StatusOK, "DELETE", base+"/"+hook.ID, b.manager, "").json(t, &got)
		if got.State != "unsubscribed" || got.UnsubscribedAt.IsZero() {
			t.Errorf("deleted: %+v", got)
		}
		var gone []wire.Subscriber
		b.mustDo(t, http.StatusOK, "GET", base+"/unsubscribed", b.agent, "").json(t, &gone)
		if len(gone) != 1 || gone[0].ID != hook.ID {
			t.Errorf("unsubscribed list %+v", gone)
		}
	})

	t.Run("incident followers", func(t *testing.T) {
		var inc struct{ ID string }
		b.mustDo(t, http.StatusCreated, "POST", "/v1/pages/"+b.page.ID+"/incidents", b.manager,
			`{"incident":{"name":"Slow API","status":"investigating","body":"Looking.","deliver_notifications":false}}`).json(t, &inc)
		path := "/v1/pages/" + b.page.ID + "/incidents/" + inc.ID + "/subscribers"
		var f wire.Subscriber
		b.mustDo(t, http.StatusCreated, "POST", path, b.manager, `{"subscriber":{"email":"follower@example.com","skip_confirmation_notification":true}}`).json(t, &f)
		if f.IncidentID == nil || *f.IncidentID != inc.ID {
			t.Errorf("follower %+v", f)
		}
		var list []wire.Subscriber
		b.mustDo(t, http.StatusOK, "GET", path, b.agent, "").json(t, &list)
		if len(list) != 1 || list[0].ID != f.ID {
			t.Errorf("followers %+v", list)
		}
		b.mustDo(t, http.StatusNotFound, "GET", "/v1/pages/"+b.page.ID+"/incidents/nosuchinc123/subscribers", b.agent, "")
	})

	t.Run("roles", func(t *testing.T) {
		b.mustDo(t, http.StatusForbidden, "POST", base, b.agent, `{"subscriber":{"email":"x@example.com"}}`)
		b.mustDo(t, http.StatusUnauthorized, "GET", base, "", "")
	})
}

// TestBroadcastBadInput: every new route answers bad input with a 4xx
// JSON error naming the field, and writes nothing.
func TestBroadcastBadInput(t *testing.T) {
	b := newBroadcastEnv(t, false)
	p := "/v1/pages/" + b.page.ID
	api := "/api/v1/pages/" + b.page.ID
	var inc struct{ ID string }
	b.mustDo(t, http.StatusCreated, "POST", p+"/incidents", b.manager, `{"incident":{"name":"x","status":"investigating"}}`).json(t, &inc)
	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
		headers                  []string
	}{
		{"subscriber without wrapper", "POST", p + "/subscribers", `{"email":"a@example.com"}`, 400, "subscriber", nil},
		{"subscriber with two channels", "POST", p + "/subscribers", `{"subscriber":{"email":"a@example.com","phone_number":"+36201234567"}}`, 400, "subscriber", nil},
		{"subscriber with two channels and an email", "POST", p + "/subscribers", `{"subscriber":{"email":"a@example.com","phone_number":"+36201234567","endpoint":"https://x.example.com"}}`, 400, "subscriber", nil},
		{"subscriber bad email", "POST", p + "/subscribers", `{"subscriber":{"email":"not an email"}}`, 400, "subscriber.email", nil},
		{"subscriber bad phone_country", "POST", p + "/subscribers", `{"subscriber":{"phone_number":"201234567","phone_country":"HUN"}}`, 400, "subscriber.phone_country", nil},
		{"subscriber phone not of country", "POST", p + "/subscribers", `{"subscriber":{"phone_number":"12","phone_country":"HU"}}`, 400, "subscriber.phone_number", nil},
		{"subscriber private webhook", "POST", p + "/subscribers", `{"subscriber":{"endpoint":"ftp://example.com/x"}}`, 400, "subscriber.endpoint", nil},
		{"subscriber unknown component", "POST", p + "/subscribers", `{"subscriber":{"email":"a@example.com","component_ids":["nosuchcomp1"]}}`, 400, "subscriber.component_ids", nil},
		{"subscriber bad language", "POST", p + "/subscribers", `{"subscriber":{"email":"a@example.com","language":"!!"}}`, 400, "subscriber.language", nil},
		{"subscriber wrong type", "POST", p + "/subscribers", `{"subscriber":{"email":5}}`, 400, "subscriber.email", nil},
		{"subscribers bad state", "GET", p + "/subscribers?state=happy", ``, 400, "state", nil},
		{"subscribers bad type", "GET", p + "/subscribers?type=fax", ``, 400, "type", nil},
		{"subscribers bad limit", "GET", p + "/subscribers?limit=0", ``, 400, "limit", nil},
		{"count bad state", "GET", p + "/subscribers/count?state=x", ``, 400, "state", nil},
		{"patch nothing", "PATCH", p + "/subscribers/abcdefabcdef", `{}`, 400, "component_ids", nil},
		{"unknown subscriber", "GET", p + "/subscribers/nosuchsub123", ``, 404, "", nil},
		{"patch unknown subscriber", "PATCH", p + "/subscribers/nosuchsub123", `{"component_ids":[]}`, 404, "", nil},
		{"delete unknown subscriber", "DELETE", p + "/subscribers/nosuchsub123", ``, 404, "", nil},
		{"resend unknown subscriber", "POST", p + "/subscribers/nosuchsub123/resend_confirmation", ``, 404, "", nil},
		{"follow unknown incident", "POST", p + "/incidents/nosuchinc123/subscribers", `{"subscriber":{"email":"a@example.com"}}`, 404, "", nil},
		{"follow without wrapper", "POST", p + "/incidents/" + inc.ID + "/subscribers", `{}`, 400, "subscriber", nil},
		{"subscribers of unknown page", "GET", "/v1/pages/nosuchpage1/subscribers", ``, 404, "", nil},
		{"broadcasts of unknown incident", "GET", api + "/incidents/nosuchinc123/broadcasts", ``, 404, "", nil},
		{"import to unknown page", "POST", "/api/v1/pages/nosuchpage1/customers/import?format=csv", "id,name\nx,y\n", 404, "", nil},
		{"import bad format", "POST", api + "/customers/import?format=xml", `id`, 400, "format", nil},
		{"import no format", "POST", api + "/customers/import", `id`, 400, "format", []string{"Content-Type", "application/octet-stream"}},
		{"import bad skip_invalid", "POST", api + "/customers/import?format=csv&skip_invalid=maybe", `id`, 400, "skip_invalid", nil},
		{"customers bad limit", "GET", api + "/customers?limit=5000", ``, 400, "limit", nil},
		{"unknown customer", "GET", api + "/customers/nobody", ``, 404, "", nil},
		{"deliveries bad limit", "GET", api + "/customers/nobody/deliveries?limit=x", ``, 400, "limit", nil},
		{"dry run bad kind", "GET", api + "/incidents/" + inc.ID + "/dry-run?kind=exploded", ``, 400, "kind", nil},
		{"dry run unknown incident", "GET", api + "/incidents/nosuchinc123/dry-run?kind=declared", ``, 404, "", nil},
		{"unknown broadcast", "GET", "/api/v1/broadcasts/nosuchbc1234", ``, 404, "", nil},
		{"cancel unknown broadcast", "POST", "/api/v1/broadcasts/nosuchbc1234/cancel", ``, 404, "", nil},
		{"events unknown broadcast", "GET", "/api/v1/broadcasts/nosuchbc1234/events", ``, 404, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a0, _ := b.writes(t)
			n0, err := b.n.CountSubscribers(context.Background(), b.page.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			r := b.do(t, tc.method, tc.path, b.admin, tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if d := r.errorOf(t); d.Field != tc.field {
				t.Errorf("field %q, want %q (%s)", d.Field, tc.field, d.Message)
			}
			a1, _ := b.writes(t)
			n1, _ := b.n.CountSubscribers(context.Background(), b.page.ID, "")
			if a1 != a0 || n1 != n0 {
				t.Errorf("bad input wrote something: audit %d→%d, subscribers %d→%d", a0, a1, n0, n1)
			}
		})
	}
}

const customersCSV = "id,name,phone,email,slack,language,time_zone,plan,region,components\n" +
	"c1,Anna,+36201111111,anna@example.com,,hu,Europe/Budapest,gold,eu,API\n" +
	"c2,Bob,+36202222222,bob@example.com,,en,,silver,eu,API\n"

func TestImportCustomers(t *testing.T) {
	b := newBroadcastEnv(t, false)
	imp := "/api/v1/pages/" + b.page.ID + "/customers/import"
	bad := customersCSV + "c3,Cy,not a phone,,,,,,,\n"
	jsonBody := `[{"id":"j1","name":"Jo","email":"jo@example.com"}]`

	tests := []struct {
		name, path, ctype, body string
		status                  int
		created, updated, inv   int
	}{
		{"good CSV", imp, "text/csv", customersCSV, 200, 2, 0, 0},
		{"re-import upserts", imp + "?format=csv", "application/octet-stream", customersCSV, 200, 0, 2, 0},
		{"bad row: nothing imported", imp, "text/csv; charset=utf-8", bad, 422, 0, 0, 1},
		{"bad row skipped", imp + "?skip_invalid=true", "text/csv", bad, 200, 0, 2, 1},
		{"JSON", imp, "application/json", jsonBody, 200, 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do(t, "POST", tc.path, b.manager, tc.body, "Content-Type", tc.ctype)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			var res struct {
				Created, Updated, Invalid int
				Errors                    []customerfile.RowError
				Error                     *errorDetail
			}
			r.json(t, &res)
			if res.Created != tc.created || res.Updated != tc.updated || res.Invalid != tc.inv || len(res.Errors) != tc.inv {
				t.Errorf("result %s", r.body)
			}
			if tc.inv > 0 && (res.Errors[0].Line != 4 || res.Errors[0].ID != "c3" || res.Errors[0].Field == "") {
				t.Errorf("row error %+v", res.Errors[0])
			}
			if (tc.status == 422) != (res.Error != nil && res.Error.Field == "file") {
				t.Errorf("error body %s", r.body)
			}
		})
	}

	t.Run("a landline beside an email is left out, noted", func(t *testing.T) {
		r := b.mustDo(t, http.StatusOK, "POST", imp, b.manager, "id,name,phone,email\nl1,Lou,+44 20 7946 0958,lou@example.com\n", "Content-Type", "text/csv")
		var res struct {
			Created int
			Notes   []customerfile.RowError
		}
		r.json(t, &res)
		if res.Created != 1 || len(res.Notes) != 1 || res.Notes[0].Line != 2 || res.Notes[0].Field != "phone" {
			t.Fatalf("result %s, want l1 created with one note on its phone", r.body)
		}
		var c audience.Customer
		b.mustDo(t, http.StatusOK, "GET", "/api/v1/pages/"+b.page.ID+"/customers/l1", b.agent, "").json(t, &c)
		if c.Phone != "" || c.Email != "lou@example.com" {
			t.Errorf("l1 kept phone %q, email %q", c.Phone, c.Email)
		}
		b.mustDo(t, http.StatusNoContent, "DELETE", "/api/v1/pages/"+b.page.ID+"/customers/l1", b.manager, "")
	})

	t.Run("list pages by id", func(t *testing.T) {
		var page1, page2 []audience.Customer
		r := b.mustDo(t, http.StatusOK, "GET", "/api/v1/pages/"+b.page.ID+"/customers?limit=2", b.agent, "")
		r.json(t, &page1)
		if len(page1) != 2 || page1[0].ID != "c1" || r.header.Get("X-Total-Count") != "3" || r.header.Get("X-Next-After") != "c2" {
			t.Fatalf("first page %s, headers %v", r.body, r.header)
		}
		b.mustDo(t, http.StatusOK, "GET", "/api/v1/pages/"+b.page.ID+"/customers?limit=2&after=c2", b.agent, "").json(t, &page2)
		if len(page2) != 1 || page2[0].ID != "j1" {
			t.Errorf("second page %+v", page2)
		}
	})

	t.Run("get and delete", func(t *testing.T) {
		var c audience.Customer
		b.mustDo(t, http.StatusOK, "GET", "/api/v1/pages/"+b.page.ID+"/customers/c1", b.agent, "").json(t, &c)
		if c.Phone != "+36201111111" || c.Language != "hu" || len(c.Components) != 1 || c.Components[0] != b.compA.ID {
			t.Errorf("customer %+v", c)
		}
		b.mustDo(t, http.StatusForbidden, "DELETE", "/api/v1/pages/"+b.page.ID+"/customers/j1", b.agent, "")
		b.mustDo(t, http.StatusNoContent, "DELETE", "/api/v1/pages/"+b.page.ID+"/customers/j1", b.manager, "")
		b.mustDo(t, http.StatusNotFound, "GET", "/api/v1/pages/"+b.page.ID+"/customers/j1", b.agent, "")
	})

	t.Run("large body streams past BodyLimit, up to ImportLimit", func(t *testing.T) {
		var sb strings.Builder
		sb.WriteString("id,name,email\n")
		for i := 0; sb.Len() < 300<<10; i++ { // BodyLimit is 64 KiB, ImportLimit 1 MiB
			fmt.Fprintf(&sb, "big%05d,Customer %d,big%d@example.com\n", i, i, i)
		}
		var res struct{ Created int }
		b.mustDo(t, http.StatusOK, "POST", imp, b.manager, sb.String(), "Content-Type", "text/csv").json(t, &res)
		if res.Created < 5000 {
			t.Errorf("created %d", res.Created)
		}
		for sb.Len() < 1100<<10 {
			sb.WriteString("x,y,z@example.com\n")
		}
		if d := b.mustDo(t, http.StatusRequestEntityTooLarge, "POST", imp, b.manager, sb.String(), "Content-Type", "text/csv").errorOf(t); d.Code != "too_large" {
			t.Errorf("over ImportLimit: %+v", d)
		}
		// Other routes keep BodyLimit.
		b.mustDo(t, http.StatusRequestEntityTooLarge, "POST", "/v1/pages/"+b.page.ID+"/subscribers", b.manager,
			`{"subscriber":{"email":"`+strings.Repeat("a", 70<<10)+`@example.com"}}`)
		b.mustDo(t, http.StatusOK, "GET", "/healthz", "", "")
	})
}

// declare declares an incident on component A through the API.
func (b *bcEnv) declare(t *testing.T, name string) string {
	t.Helper()
	var inc struct{ ID string }
	b.mustDo(t, http.StatusCreated, "POST", "/v1/pages/"+b.page.ID+"/incidents", b.manager,
		`{"incident":{"name":"`+name+`","status":"investigating","body":"We are looking into it.","components":{"`+b.compA.ID+`":"major_outage"},"component_ids":["`+b.compA.ID+`"]}}`).json(t, &inc)
	return inc.ID
}

// broadcasts returns an incident's broadcasts' progress through the API.
func (b *bcEnv) broadcasts(t *testing.T, incID string) []queue.Progress {
	t.Helper()
	var ps []queue.Progress
	b.mustDo(t, http.StatusOK, "GET", "/api/v1/pages/"+b.page.ID+"/incidents/"+incID+"/broadcasts", b.agent, "").json(t, &ps)
	return ps
}

func TestBroadcastLifecycle(t *testing.T) {
	b := newBroadcastEnv(t, true)
	b.mustDo(t, http.StatusOK, "POST", "/api/v1/pages/"+b.page.ID+"/customers/import", b.manager, customersCSV, "Content-Type", "text/csv")
	incID := b.declare(t, "API down")

	ps := b.broadcasts(t, incID)
	if len(ps) != 1 || ps[0].Kind != incident.BroadcastDeclared {
		t.Fatalf("broadcasts %+v", ps)
	}
	bid := ps[0].BroadcastID

	t.Run("SSE progress until done", func(t *testing.T) {
		req, _ := http.NewRequest("GET", b.base+"/api/v1/broadcasts/"+bid+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+b.agent)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		evs := readEvents(t, resp) // returns when the server ends the stream
		if len(evs) == 0 || evs[len(evs)-1].name != "done" {
			t.Fatalf("events %+v", evs)
		}
		var last queue.Progress
		if err := json.Unmarshal([]byte(evs[len(evs)-1].data), &last); err != nil {
			t.Fatal(err)
		}
		if last.State != queue.PlanDone || last.Planned != 4 || !last.Finished() {
			t.Errorf("final progress %+v", last)
		}
		for _, ev := range evs[:len(evs)-1] {
			if ev.name != "progress" {
				t.Errorf("event %q before done", ev.name)
			}
		}
	})

	t.Run("progress", func(t *testing.T) {
		var p queue.Progress
		b.mustDo(t, http.StatusOK, "GET", "/api/v1/broadcasts/"+bid, b.agent, "").json(t, &p)
		sent := 0
		for _, st := range []queue.DeliveryState{queue.StateSent, queue.StateDelivered} {
			sent += p.Counts[channel.SMS][st] + p.Counts[channel.Email][st]
		}
		if p.IncidentID != incID || sent != 4 {
			t.Errorf("progress %+v", p)
		}
	})

	t.Run("customer deliveries; Twilio status callback marks SMS delivered", func(t *testing.T) {
		b.waitSandbox(t, 2, sandbox.KindSMS)
		b.waitSandbox(t, 2, sandbox.KindEmail)
		var ds []queue.Delivery
		poll(t, "SMS delivered through the signed status callback", func() bool {
			b.mustDo(t, http.StatusOK, "GET", "/api/v1/pages/"+b.page.ID+"/customers/c1/deliveries", b.agent, "").json(t, &ds)
			for _, d := range ds {
				if d.Kind == channel.SMS && d.State == queue.StateDelivered {
					return true
				}
			}
			return false
		})
		kinds := map[channel.Kind]bool{}
		for _, d := range ds {
			kinds[d.Kind] = true
			if d.RecipientID != "c1" || d.IncidentID != incID || d.Vars != nil {
				t.Errorf("delivery %+v", d)
			}
		}
		if !kinds[channel.SMS] || !kinds[channel.Email] {
			t.Errorf("deliveries %+v", ds)
		}
		// The sandbox calls back at once, so a receipt may come before the
		// dispatcher has written the SID: then it is kept and applied later.
		if m := b.mustDo(t, 200, "GET", "/metrics", "", "").String(); !strings.Contains(m, `herald_inbound_webhooks_total{kind="twilio_status",result="ok"}`) &&
			!strings.Contains(m, `herald_inbound_webhooks_total{kind="twilio_status",result="kept"}`) {
			t.Error("status callbacks not counted")
		}
	})

	t.Run("dry run", func(t *testing.T) {
		var dr notify.DryRunResult
		b.mustDo(t, http.StatusOK, "GET", "/api/v1/pages/"+b.page.ID+"/incidents/"+incID+"/dry-run?kind=resolved", b.agent, "").json(t, &dr)
		if dr.Kind != incident.BroadcastResolved || dr.Recipients[channel.SMS] != 2 || dr.Recipients[channel.Email] != 2 || dr.SMSSegments < 2 {
			t.Errorf("dry run %+v", dr)
		}
		if dr.Samples[channel.Email]["hu"] == nil || dr.Samples[channel.Email]["en"] == nil {
			t.Errorf("samples %+v", dr.Samples)
		}
		// Samples speak the API's snake_case, carry no recipient address,
		// and webhook bodies are JSON, not base64.
		raw := b.mustDo(t, http.StatusOK, "GET", "/api/v1/pages/"+b.page.ID+"/incidents/"+incID+"/dry-run?kind=resolved", b.agent, "").String()
		for _, bad := range []string{`"DeliveryID"`, `"Subject"`, `"Text"`, `"To"`, `"to"`} {
			if strings.Contains(raw, bad) {
				t.Errorf("the dry run's samples carry %s: %s", bad, raw)
			}
		}
		if !strings.Contains(raw, `"subject":`) || !strings.Contains(raw, `"language":"hu"`) {
			t.Errorf("the dry run's samples lack snake_case fields: %s", raw)
		}
		b.mustDo(t, http.StatusOK, "GET", "/api/v1/pages/"+b.page.ID+"/incidents/"+incID+"/dry-run", b.agent, "").json(t, &dr)
		if dr.Kind != incident.BroadcastDeclared {
			t.Errorf("default kind %q", dr.Kind)
		}
	})
}

func (r response) String() string { return string(r.body) }

func TestBroadcastCancel(t *testing.T) {
	b := newBroadcastEnv(t, false) // nothing runs: the broadcast waits
	b.mustDo(t, http.StatusOK, "POST", "/api/v1/pages/"+b.page.ID+"/customers/import", b.manager, customersCSV, "Content-Type", "text/csv")
	incID := b.declare(t, "API down")
	bid := b.broadcasts(t, incID)[0].BroadcastID

	// A watcher sees the pending broadcast at once, then the cancellation,
	// and then the stream ends.
	req, _ := http.NewRequest("GET", b.base+"/api/v1/broadcasts/"+bid+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+b.agent)
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan sseEvent, 16)
	go func() {
		defer close(events)
		var cur sseEvent
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "" && cur.name != "":
				events <- cur
				cur = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				cur.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				cur.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	next := func() (sseEvent, bool) {
		select {
		case ev, ok := <-events:
			return ev, ok
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
			return sseEvent{}, false
		}
	}
	if ev, _ := next(); ev.name != "progress" || !strings.Contains(ev.data, `"state":"pending"`) {
		t.Fatalf("first event %+v", ev)
	}

	b.mustDo(t, http.StatusForbidden, "POST", "/api/v1/broadcasts/"+bid+"/cancel", b.agent, "")
	var p queue.Progress
	b.mustDo(t, http.StatusOK, "POST", "/api/v1/broadcasts/"+bid+"/cancel", b.manager, "").json(t, &p)
	if p.State != queue.PlanCancelled {
		t.Fatalf("after cancel %+v", p)
	}
	var last sseEvent
	for {
		ev, ok := next()
		if !ok {
			break
		}
		last = ev
	}
	if last.name != "done" || !strings.Contains(last.data, `"state":"cancelled"`) {
		t.Errorf("stream ended with %+v", last)
	}
	// A finished broadcast's stream is one done event.
	r := b.mustDo(t, http.StatusOK, "GET", "/api/v1/broadcasts/"+bid+"/events", b.agent, "")
	if !strings.Contains(r.String(), "event: done\n") || strings.Contains(r.String(), "event: progress") {
		t.Errorf("stream %s", r.body)
	}
	if b.sb.Count("") != 0 {
		t.Errorf("a cancelled broadcast sent %d messages", b.sb.Count(""))
	}
}

var confirmLinkRe = regexp.MustCompile(`https://status\.example\.com(/subscriptions/confirm/[A-Za-z0-9_-]+)`)

func TestPublicSubscribe(t *testing.T) {
	b := newBroadcastEnv(t, true)
	html := []string{"Accept", "text/html"}

	t.Run("status page form in four languages", func(t *testing.T) {
		for _, tc := range []struct{ lang, want string }{{"en", "Subscribe to updates"}, {"hu", "Feliratkozás"}, {"pl", "Subskrybuj"}, {"hr", "Pretplatite"}} {
			r := b.mustDo(t, http.StatusOK, "GET", "/subscribe?lang="+tc.lang, "", "", html...)
			if !strings.Contains(r.String(), tc.want) || !strings.Contains(r.String(), `value="`+b.compA.ID+`"`) {
				t.Errorf("%s: %s", tc.lang, r.body)
			}
			if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "sha256-") || strings.Contains(csp, "unsafe-inline") || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: headers %v", tc.lang, r.header)
			}
		}
	})

	t.Run("email: form, link, GET shows, POST confirms", func(t *testing.T) {
		csrf := csrfOf(t, b.mustDo(t, http.StatusOK, "GET", "/subscribe", "", "", html...))
		r := b.form(t, "/subscribe", url.Values{"channel": {"email"}, "address": {"Reader@Example.com"}, "components": {b.compA.ID},
			"language": {"hu"}, "csrf": {csrf}}, "Accept", "text/html", "Origin", "http://status.example.com")
		if r.status != 200 || !strings.Contains(r.String(), "Check your email") {
			t.Fatalf("POST /subscribe: %d %s", r.status, r.body)
		}
		subs, err := b.n.Subscribers(context.Background(), audience.SubscriberFilter{PageID: b.page.ID, Kind: channel.Email})
		if err != nil || len(subs) != 1 || subs[0].State != audience.SubscriberPending || subs[0].Language != "hu" || subs[0].Source != "page" {
			t.Fatalf("subscribers %+v %v", subs, err)
		}
		b.waitSandbox(t, 1, sandbox.KindEmail)
		m := confirmLinkRe.FindStringSubmatch(b.lastTo(t, sandbox.KindEmail, "Reader@example.com").Body)
		if m == nil {
			t.Fatalf("no confirm link in %q", b.lastTo(t, sandbox.KindEmail, "Reader@example.com").Body)
		}
		page := b.mustDo(t, http.StatusOK, "GET", m[1], "", "", html...)
		if !strings.Contains(page.String(), `action="`+m[1]+`"`) {
			t.Errorf("confirm page has no button posting back: %s", page.body)
		}
		if sub, _ := b.n.Subscriber(context.Background(), b.page.ID, subs[0].ID); sub.State != audience.SubscriberPending {
			t.Fatal("GET confirmed the subscription: mail scanners would too")
		}
		b.mustDo(t, http.StatusOK, "POST", m[1], "", "", "Accept", "text/html", "Origin", "http://status.example.com")
		if sub, _ := b.n.Subscriber(context.Background(), b.page.ID, subs[0].ID); sub.State != audience.SubscriberActive {
			t.Errorf("after POST: %s", sub.State)
		}
		if d := b.mustDo(t, http.StatusBadRequest, "POST", "/subscriptions/confirm/forgedtokenAAAAAAAAAAAAAAAA", "", "").errorOf(t); d.Field != "token" {
			t.Errorf("forged token: %+v", d)
		}
	})

	t.Run("SMS: code form", func(t *testing.T) {
		csrf := csrfOf(t, b.mustDo(t, http.StatusOK, "GET", "/subscribe", "", "", html...))
		r := b.form(t, "/subscribe", url.Values{"channel": {"sms"}, "address": {"+36 30 555 1234"}, "csrf": {csrf}}, html...)
		if r.status != 200 || !strings.Contains(r.String(), `name="phone" value="&#43;36305551234"`) && !strings.Contains(r.String(), `name="phone" value="+36305551234"`) {
			t.Fatalf("POST /subscribe sms: %d %s", r.status, r.body)
		}
		codeCSRF := csrfOf(t, r)
		b.waitSandbox(t, 1, sandbox.KindSMS)
		code := regexp.MustCompile(`\d{6}`).FindString(b.lastTo(t, sandbox.KindSMS, "+36305551234").Body)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		tests := []struct {
			name, code, csrf string
			status           int
		}{
			{"no token", code, "", 403},
			{"wrong code", wrong, codeCSRF, 400},
			{"short code", "12", codeCSRF, 400},
			{"right code", code, codeCSRF, 200},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := b.form(t, "/subscribe/confirm-code", url.Values{"phone": {"+36305551234"}, "code": {tc.code}, "csrf": {tc.csrf}}, html...)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
			})
		}
		subs, _ := b.n.Subscribers(context.Background(), audience.SubscriberFilter{PageID: b.page.ID, Kind: channel.SMS})
		if len(subs) != 1 || subs[0].State != audience.SubscriberActive {
			t.Errorf("sms subscriber %+v", subs)
		}
	})

	t.Run("forgery and bad input", func(t *testing.T) {
		csrf := csrfOf(t, b.mustDo(t, http.StatusOK, "GET", "/subscribe", "", "", html...))
		good := url.Values{"channel": {"email"}, "address": {"x@example.com"}, "csrf": {csrf}}
		with := func(k, v string) url.Values {
			c := url.Values{}
			for kk, vv := range good {
				c[kk] = vv
			}
			c.Set(k, v)
			return c
		}
		tests := []struct {
			name    string
			form    url.Values
			headers []string
			status  int
			field   string
		}{
			{"no token", with("csrf", ""), nil, 403, ""},
			{"forged token", with("csrf", "abc.def"), nil, 403, ""},
			{"token of another host", good, []string{"Host", "127.0.0.1"}, 403, ""},
			{"cross-site origin", good, []string{"Origin", "https://evil.example"}, 403, ""},
			{"bad channel", with("channel", "fax"), nil, 400, "channel"},
			{"no address", with("address", " "), nil, 400, "address"},
			{"bad email", with("address", "nope"), nil, 400, "address"},
			{"unknown component", with("components", "nosuchcomp1"), nil, 400, "component_ids"},
			{"private webhook", url.Values{"channel": {"webhook"}, "address": {"ftp://x"}, "csrf": {csrf}}, nil, 400, "address"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				n0, _ := b.n.CountSubscribers(context.Background(), b.page.ID, "")
				r := b.form(t, "/subscribe", tc.form, append([]string{"Accept", "application/json"}, tc.headers...)...)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				if d := r.errorOf(t); d.Field != tc.field {
					t.Errorf("field %q, want %q", d.Field, tc.field)
				}
				if n1, _ := b.n.CountSubscribers(context.Background(), b.page.ID, ""); n1 != n0 {
					t.Errorf("subscribers %d → %d", n0, n1)
				}
				// A browser gets the form again, with the problem shown.
				h := b.form(t, "/subscribe", tc.form, append([]string{"Accept", "text/html"}, tc.headers...)...)
				if h.status != tc.status || !strings.Contains(h.String(), `class="problem"`) {
					t.Errorf("HTML answer %d %s", h.status, h.body)
				}
			})
		}
	})

	t.Run("confirmation emails per address are limited: 429 JSON", func(t *testing.T) {
		post := func() response {
			csrf := csrfOf(t, b.mustDo(t, http.StatusOK, "GET", "/subscribe", "", "", html...))
			return b.form(t, "/subscribe", url.Values{"channel": {"email"}, "address": {"flooded@example.com"}, "csrf": {csrf}}, "Accept", "application/json")
		}
		for i := 0; i < 3; i++ {
			if r := post(); r.status != http.StatusOK {
				t.Fatalf("sign-up %d: %d %s", i, r.status, r.body)
			}
		}
		r := post()
		d := r.errorOf(t)
		if r.status != http.StatusTooManyRequests || d.Code != notify.ERATELIMITED {
			t.Fatalf("4th: %d %+v", r.status, d)
		}
		if strings.Contains(d.Message, "subscri") {
			t.Errorf("the 429 %q speaks of the subscription", d.Message)
		}
		subs, err := b.n.Subscribers(context.Background(), audience.SubscriberFilter{PageID: b.page.ID})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range subs {
			if s.Address != "flooded@example.com" {
				continue
			}
			found = true
			ds, err := b.n.Deliveries(context.Background(), queue.DeliveryFilter{PageID: b.page.ID, RecipientID: s.ID})
			if err != nil || len(ds) != 3 {
				t.Errorf("confirmations queued = %d, %v; want 3", len(ds), err)
			}
		}
		if !found {
			t.Error("no subscriber for flooded@example.com")
		}
	})

	t.Run("sign-ups per IP are limited: 429", func(t *testing.T) {
		for i := 0; ; i++ {
			csrf := csrfOf(t, b.mustDo(t, http.StatusOK, "GET", "/subscribe", "", "", html...))
			r := b.form(t, "/subscribe", url.Values{"channel": {"email"}, "address": {fmt.Sprintf("many%d@example.com", i)}, "csrf": {csrf}}, html...)
			if r.status == http.StatusTooManyRequests {
				if !strings.Contains(r.String(), "Too many attempts") {
					t.Errorf("429 page: %s", r.body)
				}
				break
			}
			if r.status != 200 || i > 12 {
				t.Fatalf("sign-up %d: %d (the default limit is 10 per IP per 4 h)", i, r.status)
			}
		}
		csrf := csrfOf(t, b.mustDo(t, http.StatusOK, "GET", "/subscribe", "", "", html...))
		r := b.form(t, "/subscribe", url.Values{"channel": {"email"}, "address": {"more@example.com"}, "csrf": {csrf}})
		if d := r.errorOf(t); r.status != http.StatusTooManyRequests || d.Code != notify.ERATELIMITED {
			t.Errorf("JSON answer %d %+v", r.status, d)
		}
	})

	t.Run("one-click unsubscribe without cookies or token", func(t *testing.T) {
		ctx := context.Background()
		sub, err := b.n.Subscribe(ctx, notify.SubscribeRequest{PageID: b.page.ID, Kind: channel.Email, Address: "leaver@example.com", Confirmed: true})
		if err != nil {
			t.Fatal(err)
		}
		link, err := b.n.SubscriberUnsubscribeURL(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		path := strings.TrimPrefix(link, "https://status.example.com")
		if r := b.mustDo(t, http.StatusOK, "GET", path, "", "", html...); !strings.Contains(r.String(), `action="`+path+`"`) {
			t.Errorf("unsubscribe page: %s", r.body)
		}
		if got, _ := b.n.Subscriber(ctx, b.page.ID, sub.ID); got.State != audience.SubscriberActive {
			t.Fatal("GET unsubscribed")
		}
		// What a mail provider sends (RFC 8058): the body, no cookie, no Origin.
		b.mustDo(t, http.StatusOK, "POST", path, "", "List-Unsubscribe=One-Click", "Content-Type", "application/x-www-form-urlencoded")
		if got, _ := b.n.Subscriber(ctx, b.page.ID, sub.ID); got.State != audience.SubscriberUnsubscribed {
			t.Errorf("after one-click POST: %s", got.State)
		}
		b.mustDo(t, http.StatusOK, "POST", path, "", "List-Unsubscribe=One-Click", "Content-Type", "application/x-www-form-urlencoded") // again: fine
		if d := b.mustDo(t, http.StatusBadRequest, "POST", "/unsubscribe/AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", "").errorOf(t); d.Field != "token" {
			t.Errorf("forged: %+v", d)
		}
	})

	t.Run("status page links to the form", func(t *testing.T) {
		e := newRealSiteEnv(t)
		r := e.mustDo(t, http.StatusOK, "GET", "/", "", "")
		if !strings.Contains(r.String(), `href="/subscribe?lang=en">Subscribe to updates</a>`) {
			t.Errorf("no subscribe link: %s", r.body)
		}
	})
}

func TestInboundWebhooks(t *testing.T) {
	b := newBroadcastEnv(t, true)
	ctx := context.Background()
	const num = "+36207777777"
	suppressed := func() bool {
		_, err := b.db.FindSuppression(ctx, b.page.ID, channel.SMS, num)
		return err == nil
	}
	sms := func(body string) url.Values {
		return url.Values{"MessageSid": {"SM" + strings.Repeat("a", 32)}, "AccountSid": {sandbox.DefaultAccountSID}, "From": {num},
			"To": {"+15005550006"}, "Body": {body}, "NumMedia": {"0"}, "SmsStatus": {"received"}}
	}
	tests := []struct {
		name       string
		body       string
		token      string
		status     int
		reply      string // in the TwiML
		suppressed bool
	}{
		{"forged STOP", "STOP", "", 403, "", false},
		{"STOP signed with another token", "STOP", "othertoken", 403, "", false},
		{"signed STOP", "STOP", sandbox.DefaultAuthToken, 200, "Leiratkozott", true}, // a +36 number herald knows nothing of: Hungarian
		{"forged START", "START", "", 403, "", true},
		{"signed Hungarian START", "FELIRATKOZ", sandbox.DefaultAuthToken, 200, "Újra kaphat", false}, // the number follows no page
		{"not a keyword", "my internet is down", sandbox.DefaultAuthToken, 200, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.twilioPost(t, "/webhooks/twilio/sms", sms(tc.body), tc.token)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 403 {
				if d := r.errorOf(t); d.Code != incident.EFORBIDDEN {
					t.Errorf("error %+v", d)
				}
			} else {
				if !strings.HasPrefix(r.header.Get("Content-Type"), "text/xml") || !strings.Contains(r.String(), "<Response>") && !strings.Contains(r.String(), "<Response/>") && !strings.Contains(r.String(), "<Response></Response>") {
					t.Errorf("not TwiML: %s", r.body)
				}
				if tc.reply == "" && strings.Contains(r.String(), "<Message>") {
					t.Errorf("unexpected reply: %s", r.body)
				}
				if tc.reply != "" && !strings.Contains(r.String(), tc.reply) {
					t.Errorf("reply %s, want %q", r.body, tc.reply)
				}
			}
			if got := suppressed(); got != tc.suppressed {
				t.Errorf("suppressed %v, want %v", got, tc.suppressed)
			}
		})
	}

	t.Run("bad forms", func(t *testing.T) {
		v := url.Values{"Body": {"STOP"}}
		if d := b.mustDo(t, 403, "POST", "/webhooks/twilio/sms", "", "").errorOf(t); d.Code != incident.EFORBIDDEN {
			t.Errorf("unsigned empty: %+v", d)
		}
		if d := b.twilioPost(t, "/webhooks/twilio/sms", v, sandbox.DefaultAuthToken).errorOf(t); d.Field != "MessageSid" {
			t.Errorf("no MessageSid: %+v", d)
		}
		if d := b.twilioPost(t, "/webhooks/twilio/status", url.Values{"MessageSid": {"SMx"}}, sandbox.DefaultAuthToken).errorOf(t); d.Field != "MessageStatus" {
			t.Errorf("no status: %+v", d)
		}
		b.mustDo(t, 403, "POST", "/webhooks/twilio/status", "", "MessageSid=SMx&MessageStatus=delivered", "Content-Type", "application/x-www-form-urlencoded")
		// A final receipt for a message not recorded (yet) is kept and
		// answered at once: Twilio wants a fast 2xx, and the handler must
		// not hold a connection waiting for the dispatcher.
		start := time.Now()
		r := b.twilioPost(t, "/webhooks/twilio/status", url.Values{"MessageSid": {"SMunknown"}, "MessageStatus": {"delivered"}}, sandbox.DefaultAuthToken)
		if r.status != http.StatusNoContent {
			t.Errorf("unknown message: %d %s", r.status, r.body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("a receipt for an unknown message took %s to answer", d)
		}
		rs, err := b.db.TakeReceipts(ctx, []string{"SMunknown"}, time.Now())
		if err != nil || len(rs) != 1 || rs[0].State != queue.StateDelivered {
			t.Errorf("kept receipts = %+v, %v; want the delivered one", rs, err)
		}
		r = b.twilioPost(t, "/webhooks/twilio/status", url.Values{"MessageSid": {"SMunknown2"}, "MessageStatus": {"sent"}}, sandbox.DefaultAuthToken)
		if r.status != http.StatusNoContent {
			t.Errorf("unknown message, sent: %d %s", r.status, r.body)
		}
		if rs, err := b.db.TakeReceipts(ctx, []string{"SMunknown2"}, time.Now()); err != nil || len(rs) != 0 {
			t.Errorf("kept receipts = %+v, %v; want none for a status that is not final", rs, err)
		}
	})

	t.Run("slack", func(t *testing.T) {
		now := time.Now()
		cmd := url.Values{"command": {"/herald"}, "text": {"status"}, "user_id": {"U1"}, "team_id": {"T1"}}.Encode()
		help := url.Values{"command": {"/herald"}, "text": {"declare everything"}}.Encode()
		inter := url.Values{"payload": {`{"type":"block_actions","user":{"id":"U1"},"actions":[]}`}}.Encode()
		tests := []struct {
			name, path, body, secret string
			at                       time.Time
			status                   int
			want                     string
		}{
			{"forged command", "/webhooks/slack/commands", cmd, "wrong", now, 403, "signature does not match"},
			// A stale timestamp is a replay or a clock that is off: the
			// answer says which check refused it, and by how much.
			{"replayed command", "/webhooks/slack/commands", cmd, testSlackSecret, now.Add(-10 * time.Minute), 403, "s before this server's time; herald accepts 5m0s either way"},
			{"command from the future", "/webhooks/slack/commands", cmd, testSlackSecret, now.Add(7 * time.Minute), 403, "s after this server's time"},
			{"status", "/webhooks/slack/commands", cmd, testSlackSecret, now, 200, "All Systems Operational"},
			{"help", "/webhooks/slack/commands", help, testSlackSecret, now, 200, "/herald status"},
			{"not a command", "/webhooks/slack/commands", "x=1", testSlackSecret, now, 400, ""},
			{"forged interaction", "/webhooks/slack/interactions", inter, "wrong", now, 403, "signature does not match"},
			{"interaction", "/webhooks/slack/interactions", inter, testSlackSecret, now, 200, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := b.slackPost(t, tc.path, tc.body, tc.secret, tc.at)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				if tc.status >= 400 {
					if e := r.errorOf(t); !strings.Contains(e.Message, tc.want) {
						t.Errorf("error %q, want it to say %q", e.Message, tc.want)
					}
					return
				}
				if tc.want != "" && (!strings.Contains(r.String(), tc.want) || !strings.Contains(r.String(), `"ephemeral"`)) {
					t.Errorf("answer %s", r.body)
				}
			})
		}
		// A proxy that drops Slack's headers is named as such.
		r := b.do(t, "POST", "/webhooks/slack/commands", "", cmd, "Content-Type", "application/x-www-form-urlencoded")
		if e := r.errorOf(t); r.status != 403 || !strings.Contains(e.Message, "has no X-Slack-Signature or X-Slack-Request-Timestamp header") {
			t.Errorf("no headers: %d %q", r.status, e.Message)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		m := b.mustDo(t, 200, "GET", "/metrics", "", "").String()
		for _, want := range []string{
			`herald_inbound_webhooks_total{kind="twilio_sms",result="forged"} 4`,
			`herald_inbound_webhooks_total{kind="twilio_sms",result="ok"} 2`,
			`herald_inbound_webhooks_total{kind="twilio_sms",result="ignored"} 1`,
			`herald_inbound_webhooks_total{kind="slack_command",result="forged"} 4`,
			`herald_inbound_webhooks_total{kind="twilio_status",result="kept"} 1`,
			`herald_inbound_webhooks_total{kind="twilio_status",result="ignored"} 1`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})

	t.Run("sandbox inbox mounted", func(t *testing.T) {
		r := b.mustDo(t, 200, "GET", "/sandbox/messages", "", "")
		if !strings.Contains(r.String(), `"counts"`) {
			t.Errorf("inbox %s", r.body)
		}
		b.mustDo(t, 200, "GET", "/sandbox", "", "")
	})
}

// TestSubscribeDoesNotTellWhoIsSubscribed: the public sign-up form answers
// an address already subscribed exactly as it answers a new one, and an
// attempt for a known address counts against the per-IP limit like any.
func TestSubscribeDoesNotTellWhoIsSubscribed(t *testing.T) {
	b := newBroadcastEnv(t, false)
	base := "/v1/pages/" + b.page.ID + "/subscribers"
	b.mustDo(t, http.StatusCreated, "POST", base, b.manager, `{"subscriber":{"email":"known@example.com","skip_confirmation_notification":true}}`)
	b.mustDo(t, http.StatusCreated, "POST", base, b.manager, `{"subscriber":{"phone_number":"+36305551234","skip_confirmation_notification":true}}`)
	csrfRe := regexp.MustCompile(`name="csrf" value="[^"]*"`)
	post := func(t *testing.T, kind, addr string) response {
		t.Helper()
		csrf := csrfOf(t, b.mustDo(t, http.StatusOK, "GET", "/subscribe", "", "", "Accept", "text/html"))
		r := b.form(t, "/subscribe", url.Values{"channel": {kind}, "address": {addr}, "csrf": {csrf}}, "Accept", "text/html")
		r.body = csrfRe.ReplaceAll(r.body, []byte(`name="csrf" value=""`))
		r.body = bytes.ReplaceAll(r.body, []byte(strings.TrimPrefix(addr, "+")), []byte("ADDRESS"))
		return r
	}
	for _, tc := range []struct{ kind, known, unknown string }{
		{"email", "known@example.com", "stranger@example.com"},
		{"sms", "+36305551234", "+36305559876"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			k, u := post(t, tc.kind, tc.known), post(t, tc.kind, tc.unknown)
			if k.status != u.status || !bytes.Equal(k.body, u.body) {
				t.Errorf("known %d and unknown %d answers differ:\n%s\n---\n%s", k.status, u.status, k.body, u.body)
			}
		})
	}
	t.Run("a known address counts against the per-IP limit", func(t *testing.T) {
		for i := 0; ; i++ {
			r := post(t, "email", "known@example.com")
			if r.status == http.StatusTooManyRequests {
				break
			}
			if i > 20 {
				t.Fatal("20 sign-ups of a subscribed address from one IP were never limited")
			}
		}
	})
}

// TestCustomerIDShapes: every ID shape an import accepts can be shown,
// listed for deliveries and deleted through the API, percent-encoded as
// clients (and the CLI, with url.PathEscape) write it.
func TestCustomerIDShapes(t *testing.T) {
	b := newBroadcastEnv(t, false)
	api := "/api/v1/pages/" + b.page.ID + "/customers"
	ids := []string{"plain-1", "with space", "a/b", "ünïcödé", "100%", "a+b", "dot.ted", "q?x=1", "#hash", "semi;colon", "..", "back\\slash", "x%2Fy", "客户"}
	var csv strings.Builder
	csv.WriteString("id,name,email\n")
	for i, id := range ids {
		fmt.Fprintf(&csv, "\"%s\",Customer %d,c%d@example.com\n", strings.ReplaceAll(id, `"`, `""`), i, i)
	}
	r := b.do(t, "POST", api+"/import?format=csv", b.manager, csv.String(), "Content-Type", "text/csv")
	if r.status != http.StatusOK && r.status != http.StatusCreated {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			p := api + "/" + url.PathEscape(id)
			var got struct {
				ID string `json:"id"`
			}
			b.mustDo(t, http.StatusOK, "GET", p, b.agent, "").json(t, &got)
			if got.ID != id {
				t.Fatalf("GET %s answered customer %q", p, got.ID)
			}
			b.mustDo(t, http.StatusOK, "GET", p+"/deliveries", b.agent, "")
			b.mustDo(t, http.StatusNoContent, "DELETE", p, b.manager, "")
			b.mustDo(t, http.StatusNotFound, "GET", p, b.agent, "")
		})
	}
}

// TestSandboxInboxDeleteNeedsManager: reading the sandbox inbox stays open
// (it is the local stand-in's whole point), emptying it takes a manager's
// token.
func TestSandboxInboxDeleteNeedsManager(t *testing.T) {
	b := newBroadcastEnv(t, false)
	b.mustDo(t, http.StatusOK, "GET", "/sandbox/messages", "", "")
	b.mustDo(t, http.StatusUnauthorized, "DELETE", "/sandbox/messages", "", "")
	b.mustDo(t, http.StatusForbidden, "DELETE", "/sandbox/messages", b.agent, "")
	b.mustDo(t, http.StatusNoContent, "DELETE", "/sandbox/messages", b.manager, "")
}

// TestSandboxGuardHoldsForEverySpelling: the guarded sandbox routes
// (emptying the inbox, texting herald, the credentials) answer no other
// spelling of their paths without a manager's token. net/http's mux
// behind the inbox decodes /sandbox/%63redentials to the credentials
// route, which fiber's routes, matching the path as sent, did not guard.
func TestSandboxGuardHoldsForEverySpelling(t *testing.T) {
	b := newBroadcastEnv(t, false)
	resp, err := http.Post(b.sb.WebhookURL("guard"), "application/json", strings.NewReader(`{"text":"kept"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := b.sb.Count(""); n != 1 {
		t.Fatalf("%d messages in the inbox; want the one posted", n)
	}
	secrets := b.sb.Credentials()
	form := url.Values{"from": {"+36201234567"}, "body": {"STOP"}}.Encode()
	for _, c := range []struct{ method, path string }{
		{"GET", "/sandbox/%63redentials"},
		{"GET", "/sandbox/%2563redentials"},
		{"GET", "/sandbox/credentials%2F"},
		{"GET", "/SANDBOX/CREDENTIALS"},
		{"GET", "/sandbox//credentials"},
		{"GET", "/sandbox/./credentials"},
		{"GET", "/sandbox/x/../credentials"},
		{"POST", "/sandbox/%72eply"},
		{"POST", "/sandbox/repl%79"},
		{"DELETE", "/sandbox/%6Dessages"},
		{"DELETE", "/sandbox/messages%2F"},
		{"DELETE", "/Sandbox/Messages"},
	} {
		r := b.do(t, c.method, c.path, "", form, "Content-Type", "application/x-www-form-urlencoded")
		if r.status < 300 || r.status == http.StatusOK {
			t.Errorf("%s %s with no token: %d %s; want it refused", c.method, c.path, r.status, r.body)
		}
		for _, secret := range []string{secrets.TwilioAuthToken, secrets.SlackSigningSecret, secrets.SlackToken} {
			if strings.Contains(string(r.body)+fmt.Sprint(r.header), secret) {
				t.Errorf("%s %s with no token told a sandbox secret: %s", c.method, c.path, r.body)
			}
		}
	}
	if n := b.sb.Count(""); n != 1 {
		t.Errorf("%d messages in the inbox after the spellings; want the one posted, untouched", n)
	}
}

// TestSandboxReplyAndCredentialsNeedManager: texting herald as a customer
// (POST /sandbox/reply, signed with the sandbox's Twilio token) and
// reading the sandbox's credentials take a manager's token, as emptying
// the inbox does; the inbox's reply box may send it as the form field
// "token". The credentials are the ones this sandbox started with, and
// its Slack signing secret is no constant.
func TestSandboxReplyAndCredentialsNeedManager(t *testing.T) {
	b := newBroadcastEnv(t, false)
	form := url.Values{"from": {"+36201234567"}, "body": {"STOP"}}.Encode()
	formCT := []string{"Content-Type", "application/x-www-form-urlencoded"}
	b.mustDo(t, http.StatusUnauthorized, "POST", "/sandbox/reply", "", form, formCT...)
	b.mustDo(t, http.StatusForbidden, "POST", "/sandbox/reply", b.agent, form, formCT...)
	b.mustDo(t, http.StatusUnauthorized, "POST", "/sandbox/reply", "", form+"&token=not-a-token", formCT...)
	b.mustDo(t, http.StatusForbidden, "POST", "/sandbox/reply", "", form+"&token="+url.QueryEscape(b.agent), formCT...)
	// Past the token, the sandbox answers: this one has nowhere to send
	// a reply (no inbound SMS URL), which it says with a 400.
	for _, r := range []response{
		b.do(t, "POST", "/sandbox/reply", b.manager, form, formCT...),
		b.do(t, "POST", "/sandbox/reply", "", form+"&token="+url.QueryEscape(b.manager), formCT...),
	} {
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "no inbound SMS URL") {
			t.Errorf("a manager's reply: %d %s; want the sandbox's own 400", r.status, r.body)
		}
	}

	b.mustDo(t, http.StatusUnauthorized, "GET", "/sandbox/credentials", "", "")
	b.mustDo(t, http.StatusForbidden, "GET", "/sandbox/credentials", b.agent, "")
	var creds sandbox.Credentials
	b.mustDo(t, http.StatusOK, "GET", "/sandbox/credentials", b.manager, "").json(t, &creds)
	if creds != b.sb.Credentials() {
		t.Errorf("credentials %+v; want the sandbox's %+v", creds, b.sb.Credentials())
	}
	if len(creds.SlackSigningSecret) < 32 || creds.SlackSigningSecret == "sandbox-signing-secret" {
		t.Errorf("Slack signing secret %q: want a random one", creds.SlackSigningSecret)
	}
}

// TestSubscribeAgainTellsTheSubscriber: an address already subscribed
// that signs up again on the public form gets a message saying so, with
// the link to unsubscribe, in its language; the form's answer stays the
// one a new address gets (TestSubscribeDoesNotTellWhoIsSubscribed), and a
// new address gets its confirmation, not this.
func TestSubscribeAgainTellsTheSubscriber(t *testing.T) {
	b := newBroadcastEnv(t, true)
	base := "/v1/pages/" + b.page.ID + "/subscribers"
	b.mustDo(t, http.StatusCreated, "POST", base, b.manager, `{"subscriber":{"email":"known@example.com","skip_confirmation_notification":true}}`)
	b.mustDo(t, http.StatusCreated, "POST", base, b.manager, `{"subscriber":{"phone_number":"+36305551234","skip_confirmation_notification":true}}`)
	if n := b.sb.Count(""); n != 0 {
		t.Fatalf("%d messages before the sign-ups; want none (confirmation skipped)", n)
	}
	post := func(kind, addr string) {
		t.Helper()
		csrf := csrfOf(t, b.mustDo(t, http.StatusOK, "GET", "/subscribe", "", "", "Accept", "text/html"))
		r := b.form(t, "/subscribe", url.Values{"channel": {kind}, "address": {addr}, "csrf": {csrf}}, "Accept", "text/html")
		if r.status != http.StatusOK {
			t.Fatalf("subscribe %s: %d %s", addr, r.status, r.body)
		}
	}
	post("email", "known@example.com")
	post("sms", "+36305551234")
	post("email", "stranger@example.com")
	b.waitSandbox(t, 2, sandbox.KindEmail)
	b.waitSandbox(t, 1, sandbox.KindSMS)

	m := b.lastTo(t, sandbox.KindEmail, "known@example.com")
	if !strings.Contains(m.Subject, "already subscribed") || !strings.Contains(m.Body, "/unsubscribe/") || strings.Contains(m.Body, "/subscriptions/confirm/") {
		t.Errorf("the known address's email: %q\n%s", m.Subject, m.Body)
	}
	if !strings.Contains(m.HTML, "Manage notifications") {
		t.Errorf("the known address's email has no manage button:\n%s", m.HTML)
	}
	s := b.lastTo(t, sandbox.KindSMS, "+36305551234")
	if !strings.Contains(s.Body, "already gets status alerts") || !strings.Contains(s.Body, "STOP") {
		t.Errorf("the known number's SMS: %q", s.Body)
	}
	n := b.lastTo(t, sandbox.KindEmail, "stranger@example.com")
	if !strings.Contains(n.Body, "/subscriptions/confirm/") {
		t.Errorf("the new address did not get its confirmation: %q\n%s", n.Subject, n.Body)
	}
}

// TestNetHTTPHandlerContext: a net/http handler mounted in herald (the
// sandbox inbox) gets a request context of its own that carries herald's
// actor, never fasthttp's RequestCtx, which a context.WithTimeout over it
// (as the sandbox's reply does) raced with the server's Shutdown.
func TestNetHTTPHandlerContext(t *testing.T) {
	type seen struct {
		fast  bool
		actor incident.Actor
	}
	got := make(chan seen, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		_, fast := r.Context().(*fasthttp.RequestCtx)
		got <- seen{fast: fast, actor: incident.ActorFrom(ctx)}
		w.WriteHeader(http.StatusNoContent)
	})
	b := newBroadcastEnv(t, false, bcOption{broadcast: func(c *BroadcastConfig) { c.SandboxGuarded = h }})
	b.mustDo(t, http.StatusNoContent, "POST", "/sandbox/reply", b.manager, "from=x", "Content-Type", "application/x-www-form-urlencoded")
	s := <-got
	if s.fast {
		t.Error("the net/http handler's request context is fasthttp's RequestCtx")
	}
	if s.actor.Role != incident.RoleManager || s.actor.TokenID == "" {
		t.Errorf("the net/http handler's context carries actor %+v, want the manager's token", s.actor)
	}
}

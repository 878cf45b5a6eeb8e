package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
)

// TestStatuspageClientFlow drives the v1 API the way an existing
// Statuspage client does: OAuth header, wrapped bodies, bare answers.
func TestStatuspageClientFlow(t *testing.T) {
	for _, prefix := range []string{"/v1", "/api/v1"} {
		t.Run(prefix, func(t *testing.T) {
			e := newEnv(t)
			base := prefix + "/pages/" + e.page.ID

			var pages []wire.Page
			e.mustDo(t, http.StatusOK, "GET", prefix+"/pages", e.agent, "").json(t, &pages)
			if len(pages) != 1 || pages[0].ID != e.page.ID {
				t.Fatalf("pages = %+v", pages)
			}

			var api, db wire.V1Component
			e.mustDo(t, http.StatusCreated, "POST", base+"/components", e.manager,
				`{"component":{"name":"API","description":"The REST API","status":"operational","showcase":true,"only_show_if_degraded":false,"start_date":"2024-01-15","automation_email":"ignored@example.com"}}`).json(t, &api)
			e.mustDo(t, http.StatusCreated, "POST", base+"/components", e.manager, `{"component":{"name":"Database"}}`).json(t, &db)
			if api.ID == "" || api.PageID != e.page.ID || api.Status != "operational" || api.StartDate == nil || *api.StartDate != "2024-01-15" || api.Description == nil {
				t.Fatalf("component = %+v", api)
			}
			if db.Description != nil || db.GroupID != nil {
				t.Fatalf("empty optional fields must be null: %+v", db)
			}

			var group wire.ComponentGroup
			e.mustDo(t, http.StatusCreated, "POST", base+"/component-groups", e.manager,
				fmt.Sprintf(`{"description":"Backend","component_group":{"name":"Backend","components":[%q,%q]}}`, api.ID, db.ID)).json(t, &group)
			if len(group.Components) != 2 || group.Description == nil || *group.Description != "Backend" {
				t.Fatalf("group = %+v", group)
			}
			var groups []wire.ComponentGroup
			e.mustDo(t, http.StatusOK, "GET", base+"/component-groups", e.agent, "").json(t, &groups)
			if len(groups) != 1 || groups[0].ID != group.ID {
				t.Fatalf("groups = %+v", groups)
			}
			e.mustDo(t, http.StatusOK, "PATCH", base+"/component-groups/"+group.ID, e.manager, `{"component_group":{"name":"Core"}}`)

			// Declare with a components map and a status.
			var inc wire.V1Incident
			e.mustDo(t, http.StatusCreated, "POST", base+"/incidents", e.manager, fmt.Sprintf(
				`{"incident":{"name":"API errors","status":"investigating","body":"We are looking into it.","components":{%q:"partial_outage"},"deliver_notifications":true,"metadata":{"x":1},"auto_tweet_on_creation":false}}`, api.ID)).json(t, &inc)
			if inc.Status != "investigating" || inc.Impact != "major" || inc.PageID != e.page.ID || inc.Name != "API errors" {
				t.Fatalf("incident = %+v", inc)
			}
			if inc.Shortlink != "https://status.example.com/i/"+inc.ID {
				t.Errorf("shortlink = %q", inc.Shortlink)
			}
			if len(inc.Components) != 1 || inc.Components[0].ID != api.ID || inc.Components[0].Status != "partial_outage" {
				t.Errorf("components = %+v", inc.Components)
			}
			if len(inc.IncidentUpdates) != 1 || inc.IncidentUpdates[0].AffectedComponents == nil ||
				(*inc.IncidentUpdates[0].AffectedComponents)[0].NewStatus != "partial_outage" {
				t.Errorf("updates = %+v", inc.IncidentUpdates)
			}
			raw := string(e.mustDo(t, http.StatusOK, "GET", base+"/incidents/"+inc.ID, e.agent, "").body)
			for _, want := range []string{`"monitoring_at":null`, `"resolved_at":null`, `"scheduled_for":null`, `"impact_override":null`, `"postmortem_body":null`, `"created_at":"20`} {
				if !strings.Contains(raw, want) {
					t.Errorf("incident JSON lacks %s: %s", want, raw)
				}
			}
			var group2 wire.ComponentGroup
			e.mustDo(t, http.StatusOK, "GET", base+"/component-groups/"+group.ID, e.agent, "").json(t, &group2)
			if group2.Name != "Core" {
				t.Errorf("group after PATCH = %+v", group2)
			}

			// identified, then monitoring.
			e.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID, e.manager, `{"incident":{"status":"identified","body":"Found it."}}`).json(t, &inc)
			if inc.Status != "identified" || len(inc.IncidentUpdates) != 2 {
				t.Fatalf("after identified: %+v", inc)
			}
			e.mustDo(t, http.StatusOK, "PUT", base+"/incidents/"+inc.ID, e.manager, `{"incident":{"status":"monitoring","body":"Fix deployed."}}`).json(t, &inc)
			if inc.Status != "monitoring" || inc.MonitoringAt.IsZero() {
				t.Fatalf("after monitoring: %+v", inc)
			}
			var unresolved []wire.V1Incident
			e.mustDo(t, http.StatusOK, "GET", base+"/incidents/unresolved", e.agent, "").json(t, &unresolved)
			if len(unresolved) != 1 || unresolved[0].ID != inc.ID {
				t.Fatalf("unresolved = %d", len(unresolved))
			}

			// Resolve: the component returns to operational.
			e.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID, e.manager, `{"incident":{"status":"resolved","body":"All good."}}`).json(t, &inc)
			if inc.Status != "resolved" || inc.ResolvedAt.IsZero() {
				t.Fatalf("after resolve: %+v", inc)
			}
			var got wire.V1Component
			e.mustDo(t, http.StatusOK, "GET", base+"/components/"+api.ID, e.agent, "").json(t, &got)
			if got.Status != "operational" {
				t.Fatalf("component after resolve = %s", got.Status)
			}
			e.mustDo(t, http.StatusOK, "GET", base+"/incidents/unresolved", e.agent, "").json(t, &unresolved)
			if len(unresolved) != 0 {
				t.Fatalf("unresolved after resolve = %d", len(unresolved))
			}

			// Correct the first update's text.
			first := inc.IncidentUpdates[len(inc.IncidentUpdates)-1]
			var upd wire.V1Update
			e.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID+"/incident_updates/"+first.ID, e.manager,
				`{"incident_update":{"body":"We are investigating elevated API errors.","display_at":"2024-05-01T10:00:00Z","wants_twitter_update":false}}`).json(t, &upd)
			if upd.Body != "We are investigating elevated API errors." || upd.DisplayAt.Time().Format(time.RFC3339) != "2024-05-01T10:00:00Z" {
				t.Fatalf("edited update = %+v", upd)
			}

			// A maintenance: scheduled, listed as upcoming, started, active.
			from := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
			until := time.Now().Add(4 * time.Hour).UTC().Format(time.RFC3339)
			var m wire.V1Incident
			e.mustDo(t, http.StatusCreated, "POST", base+"/incidents", e.manager, fmt.Sprintf(
				`{"incident":{"name":"DB upgrade","status":"scheduled","scheduled_for":%q,"scheduled_until":%q,"scheduled_remind_prior":true,"scheduled_auto_transition":false,"component_ids":[%q],"body":"Upgrading."}}`,
				from, until, db.ID)).json(t, &m)
			if m.Status != "scheduled" || m.Impact != "maintenance" || !m.ScheduledRemindPrior || m.ScheduledAutoInProgress || m.ScheduledFor.IsZero() {
				t.Fatalf("maintenance = %+v", m)
			}
			for _, c := range []struct {
				list string
				want int
			}{{"upcoming", 1}, {"scheduled", 1}, {"active_maintenance", 0}, {"unresolved", 0}} {
				var list []wire.V1Incident
				e.mustDo(t, http.StatusOK, "GET", base+"/incidents/"+c.list, e.agent, "").json(t, &list)
				if len(list) != c.want {
					t.Errorf("%s: %d, want %d", c.list, len(list), c.want)
				}
			}
			e.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+m.ID, e.manager, `{"incident":{"status":"in_progress"}}`).json(t, &m)
			var active []wire.V1Incident
			e.mustDo(t, http.StatusOK, "GET", base+"/incidents/active_maintenance", e.agent, "").json(t, &active)
			if len(active) != 1 || active[0].ID != m.ID || active[0].Components[0].Status != "under_maintenance" {
				t.Fatalf("active maintenance = %+v", active)
			}

			// Listing: q, limit and page.
			var all []wire.V1Incident
			r := e.mustDo(t, http.StatusOK, "GET", base+"/incidents?limit=1&page=2", e.agent, "")
			r.json(t, &all)
			if len(all) != 1 || r.header.Get("X-Total-Count") != "2" {
				t.Fatalf("page 2 of 1: %d rows, total %s", len(all), r.header.Get("X-Total-Count"))
			}
			e.mustDo(t, http.StatusOK, "GET", base+"/incidents?q=upgrad", e.agent, "").json(t, &all)
			if len(all) != 1 || all[0].ID != m.ID {
				t.Fatalf("q=upgrad: %d", len(all))
			}
			e.mustDo(t, http.StatusOK, "GET", base+"/incidents?q=elevated&per_page=5", e.agent, "").json(t, &all)
			if len(all) != 1 || all[0].ID != inc.ID {
				t.Fatalf("q=elevated (update text): %d", len(all))
			}

			// Deletes.
			e.mustDo(t, http.StatusOK, "DELETE", base+"/incidents/"+inc.ID, e.manager, "")
			e.mustDo(t, http.StatusNotFound, "GET", base+"/incidents/"+inc.ID, e.agent, "")
			e.mustDo(t, http.StatusNotFound, "DELETE", base+"/components/"+group.ID, e.manager, "") // a group is not a component here
			e.mustDo(t, http.StatusOK, "DELETE", base+"/component-groups/"+group.ID, e.manager, "")
			e.mustDo(t, http.StatusNoContent, "DELETE", base+"/components/"+db.ID, e.manager, "")
			e.mustDo(t, http.StatusNotFound, "GET", base+"/components/"+db.ID, e.agent, "")

			// The audit log names the token that acted.
			var entries []incident.AuditEntry
			e.mustDo(t, http.StatusOK, "GET", "/api/v1/audit?page_id="+e.page.ID+"&object_id="+m.ID, e.manager, "").json(t, &entries)
			if len(entries) != 2 || !strings.Contains(entries[0].Actor, "manager token") {
				t.Fatalf("audit = %+v", entries)
			}
		})
	}
}

func TestPagesAndTokens(t *testing.T) {
	e := newEnv(t)
	var p wire.Page
	e.mustDo(t, http.StatusCreated, "POST", "/api/v1/pages", e.admin,
		`{"page":{"name":"Brand B","url":"https://status.b.example","time_zone":"Europe/Budapest","languages":["hu","en"],"domain":"status.b.example"}}`).json(t, &p)
	if p.Name != "Brand B" || p.TimeZone != "Europe/Budapest" || p.Domain == nil || *p.Domain != "status.b.example" {
		t.Fatalf("page = %+v", p)
	}
	e.mustDo(t, http.StatusOK, "PATCH", "/v1/pages/"+p.ID, e.admin, `{"page":{"name":"Brand B2"}}`).json(t, &p)
	if p.Name != "Brand B2" {
		t.Fatalf("renamed page = %+v", p)
	}
	e.mustDo(t, http.StatusBadRequest, "PATCH", "/v1/pages/"+p.ID, e.admin, `{"page":{"time_zone":"Mars/Olympus"}}`)
	e.mustDo(t, http.StatusNoContent, "DELETE", "/v1/pages/"+p.ID, e.admin, "")
	if d := e.mustDo(t, http.StatusConflict, "DELETE", "/v1/pages/"+e.page.ID, e.admin, "").errorOf(t); d.Code != incident.ECONFLICT {
		t.Fatalf("deleting the last page: %+v", d)
	}

	var tok wire.Token
	e.mustDo(t, http.StatusCreated, "POST", "/api/v1/tokens", e.admin, `{"token":{"name":"ci","role":"agent"}}`).json(t, &tok)
	if tok.Secret == "" || tok.Role != "agent" {
		t.Fatalf("token = %+v", tok)
	}
	e.mustDo(t, http.StatusOK, "GET", "/v1/pages", tok.Secret, "")
	var toks []wire.Token
	e.mustDo(t, http.StatusOK, "GET", "/api/v1/tokens", e.admin, "").json(t, &toks)
	for _, x := range toks {
		if x.Secret != "" {
			t.Fatal("a token list shows a secret")
		}
	}
	e.mustDo(t, http.StatusNoContent, "DELETE", "/api/v1/tokens/"+tok.ID, e.admin, "")
	e.mustDo(t, http.StatusUnauthorized, "GET", "/v1/pages", tok.Secret, "")
	if d := e.mustDo(t, http.StatusBadRequest, "POST", "/api/v1/tokens", e.admin, `{"token":{"role":"root"}}`).errorOf(t); d.Field != "token.role" {
		t.Fatalf("bad role field = %q", d.Field)
	}
	if strings.Contains(e.logs.String(), tok.Secret) || strings.Contains(e.logs.String(), e.admin) {
		t.Fatal("a token secret reached the log")
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	path := "/v1/pages/" + e.page.ID + "/incidents"
	body := `{"incident":{"name":"Login failures","body":"Investigating."}}`
	var first, second wire.V1Incident
	e.mustDo(t, http.StatusCreated, "POST", path, e.manager, body, "Idempotency-Key", "retry-123").json(t, &first)
	a1, n1 := e.writes(t)
	r := e.mustDo(t, http.StatusOK, "POST", path, e.manager, body, "Idempotency-Key", "retry-123")
	r.json(t, &second)
	if second.ID != first.ID || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay answered %s, want %s", second.ID, first.ID)
	}
	if a2, n2 := e.writes(t); a2 != a1 || n2 != n1 {
		t.Fatalf("replay wrote: audit %d→%d, incidents %d→%d", a1, a2, n1, n2)
	}
	// The same request in another spelling (fields reordered, as a form) replays.
	r = e.mustDo(t, http.StatusOK, "POST", path, e.manager, "incident[body]=Investigating.&incident[name]=Login+failures",
		"Idempotency-Key", "retry-123", "Content-Type", "application/x-www-form-urlencoded")
	if r.json(t, &second); second.ID != first.ID {
		t.Fatalf("form replay answered %s, want %s", second.ID, first.ID)
	}
	// A different request with the same key is refused and writes nothing.
	for _, other := range []string{`{"incident":{"name":"Login failures","body":"Fixed."}}`, `{"incident":{"name":"Other"}}`} {
		d := e.mustDo(t, http.StatusUnprocessableEntity, "POST", path, e.manager, other, "Idempotency-Key", "retry-123").errorOf(t)
		if d.Code != incident.EIDEMPOTENCY || d.Field != "Idempotency-Key" {
			t.Errorf("reuse with %s: %+v", other, d)
		}
	}
	if a2, n2 := e.writes(t); a2 != a1 || n2 != n1 {
		t.Fatalf("refused reuse wrote: audit %d→%d, incidents %d→%d", a1, a2, n1, n2)
	}
	e.mustDo(t, http.StatusCreated, "POST", path, e.manager, body, "Idempotency-Key", "another")
	e.mustDo(t, http.StatusCreated, "POST", path, e.manager, body) // no key: a new incident each time
	if _, n := e.writes(t); n != n1+2 {
		t.Fatalf("incidents = %d, want %d", n, n1+2)
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	comp, err := e.svc.CreateComponent(ctx, e.page.ID, incident.ComponentInput{Name: ptr("API")})
	if err != nil {
		t.Fatal(err)
	}
	resolved, _, err := e.svc.CreateIncident(ctx, e.page.ID, incident.IncidentInput{Name: ptr("Old"), Status: ptr(incident.Resolved)}, "")
	if err != nil {
		t.Fatal(err)
	}
	base := "/v1/pages/" + e.page.ID
	incidents := base + "/incidents"
	soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	later := time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"malformed JSON", "POST", incidents, `{"incident":{"name":`, 400, "invalid", ""},
		{"not JSON", "POST", incidents, `incident[name]=x`, 400, "invalid", ""},
		{"trailing garbage", "POST", incidents, `{"incident":{"name":"x"}} {}`, 400, "invalid", ""},
		{"empty body", "POST", incidents, ``, 400, "invalid", ""},
		{"array body", "POST", incidents, `[1]`, 400, "invalid", ""},
		{"missing wrapper", "POST", incidents, `{"name":"x"}`, 400, "invalid", "incident"},
		{"name wrong type", "POST", incidents, `{"incident":{"name":123}}`, 400, "invalid", "incident.name"},
		{"deliver_notifications wrong type", "POST", incidents, `{"incident":{"name":"x","deliver_notifications":"yes"}}`, 400, "invalid", "incident.deliver_notifications"},
		{"component_ids wrong type", "POST", incidents, `{"incident":{"name":"x","component_ids":"abc"}}`, 400, "invalid", "incident.component_ids"},
		{"components value wrong type", "POST", incidents, `{"incident":{"name":"x","components":{"` + comp.ID + `":5}}}`, 400, "invalid", "incident.components"},
		{"over-size body", "POST", incidents, `{"incident":{"name":"x","body":"` + strings.Repeat("a", 70<<10) + `"}}`, 413, "too_large", ""},
		{"empty name", "POST", incidents, `{"incident":{"name":"  "}}`, 400, "invalid", "incident.name"},
		{"missing name", "POST", incidents, `{"incident":{"body":"x"}}`, 400, "invalid", "incident.name"},
		{"300-char name", "POST", incidents, `{"incident":{"name":"` + strings.Repeat("n", 300) + `"}}`, 400, "invalid", "incident.name"},
		{"unknown component", "POST", incidents, `{"incident":{"name":"x","components":{"nosuchcomp1":"major_outage"}}}`, 400, "invalid", "incident.components"},
		{"unknown component id", "POST", incidents, `{"incident":{"name":"x","component_ids":["nosuchcomp1"]}}`, 400, "invalid", "incident.component_ids"},
		{"unknown page", "POST", "/v1/pages/nosuchpage1/incidents", `{"incident":{"name":"x"}}`, 404, "not_found", ""},
		{"bad status enum", "POST", incidents, `{"incident":{"name":"x","status":"on_fire"}}`, 400, "invalid", "incident.status"},
		{"bad component status", "POST", incidents, `{"incident":{"name":"x","components":{"` + comp.ID + `":"melted"}}}`, 400, "invalid", "incident.components"},
		{"bad impact_override", "POST", incidents, `{"incident":{"name":"x","impact_override":"apocalyptic"}}`, 400, "invalid", "incident.impact_override"},
		{"resolved to investigating", "PATCH", incidents + "/" + resolved.ID, `{"incident":{"status":"investigating"}}`, 422, "bad_transition", "incident.status"},
		{"maintenance status on incident", "POST", incidents, `{"incident":{"name":"x","status":"in_progress"}}`, 422, "bad_transition", "incident.status"},
		{"scheduled_until before scheduled_for", "POST", incidents, `{"incident":{"name":"x","scheduled_for":"` + later + `","scheduled_until":"` + soon + `"}}`, 400, "invalid", "incident.scheduled_until"},
		{"unparseable date", "POST", incidents, `{"incident":{"name":"x","scheduled_for":"next tuesday","scheduled_until":"` + later + `"}}`, 400, "invalid", "incident.scheduled_for"},
		{"absurd past date", "POST", incidents, `{"incident":{"name":"x","scheduled_for":"1900-01-01T00:00:00Z","scheduled_until":"` + later + `"}}`, 400, "invalid", "incident.scheduled_for"},
		{"absurd future date", "POST", incidents, `{"incident":{"name":"x","scheduled_for":"` + soon + `","scheduled_until":"9999-12-31T00:00:00Z"}}`, 400, "invalid", "incident.scheduled_until"},
		{"backfill in the future", "POST", incidents, `{"incident":{"name":"x","backfilled":true,"backfill_date":"2099-01-01"}}`, 400, "invalid", "incident.backfill_date"},
		{"unknown incident", "PATCH", incidents + "/nosuchinc123", `{"incident":{"status":"resolved"}}`, 404, "not_found", ""},
		{"bad limit", "GET", incidents + "?limit=5000", ``, 400, "invalid", "limit"},
		{"component bad status", "POST", base + "/components", `{"component":{"name":"x","status":"fine"}}`, 400, "invalid", "component.status"},
		{"component position wrong type", "POST", base + "/components", `{"component":{"name":"x","position":"first"}}`, 400, "invalid", "component.position"},
		{"component unknown group", "POST", base + "/components", `{"component":{"name":"x","group_id":"nosuchgroup1"}}`, 400, "invalid", "component.group_id"},
		{"group unknown member", "POST", base + "/component-groups", `{"component_group":{"name":"g","components":["nosuchcomp1"]}}`, 400, "invalid", "component_group.components"},
		{"update bad display_at", "PATCH", incidents + "/" + resolved.ID + "/incident_updates/" + resolved.Updates[0].ID, `{"incident_update":{"display_at":"yesterday"}}`, 400, "invalid", "incident_update.display_at"},
		{"page bad url", "POST", "/api/v1/pages", `{"page":{"name":"x","url":"ftp://x"}}`, 400, "invalid", "page.url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a0, n0 := e.writes(t)
			r := e.do(t, tc.method, tc.path, e.admin, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			d := r.errorOf(t)
			if d.Code != tc.code {
				t.Errorf("code %q, want %q (%s)", d.Code, tc.code, d.Message)
			}
			if d.Field != tc.field {
				t.Errorf("field %q, want %q (%s)", d.Field, tc.field, d.Message)
			}
			if a1, n1 := e.writes(t); a1 != a0 || n1 != n0 {
				t.Errorf("a rejected request wrote: audit %d→%d, incidents %d→%d", a0, a1, n0, n1)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	list := "/v1/pages/" + e.page.ID + "/incidents"
	create := `{"incident":{"name":"x"}}`
	tests := []struct {
		name, method, path, auth, body string
		status                         int
		code                           string
	}{
		{"no token", "GET", list, "", "", 401, "unauthorized"},
		{"bad token", "GET", list, "OAuth hrld_nope", "", 401, "unauthorized"},
		{"unknown scheme", "GET", list, "Basic " + e.admin, "", 401, "unauthorized"},
		{"scheme without token", "GET", list, "Bearer ", "", 401, "unauthorized"},
		{"revoked", "GET", list, "OAuth " + e.revoked, "", 401, "unauthorized"},
		{"query api_key not accepted", "GET", list + "?api_key=" + e.admin, "", "", 401, "unauthorized"},
		{"agent reads", "GET", list, "OAuth " + e.agent, "", 200, ""},
		{"agent POST", "POST", list, "OAuth " + e.agent, create, 403, "forbidden"},
		{"manager POST incident", "POST", list, "Bearer " + e.manager, create, 201, ""},
		{"manager POST page", "POST", "/v1/pages", "Bearer " + e.manager, `{"page":{"name":"x","url":"https://x.example"}}`, 403, "forbidden"},
		{"manager token list", "GET", "/api/v1/tokens", "Bearer " + e.manager, "", 403, "forbidden"},
		{"agent audit", "GET", "/api/v1/audit", "Bearer " + e.agent, "", 403, "forbidden"},
		{"manager audit", "GET", "/api/v1/audit", "Bearer " + e.manager, "", 200, ""},
		{"admin POST page", "POST", "/v1/pages", "Bearer " + e.admin, `{"page":{"name":"x","url":"https://x.example"}}`, 201, ""},
		{"OAuth accepted", "GET", "/api/v1/tokens", "OAuth " + e.admin, "", 200, ""},
		{"Bearer accepted", "GET", "/api/v1/tokens", "Bearer " + e.admin, "", 200, ""},
		{"scheme is case-insensitive", "GET", "/api/v1/tokens", "bearer " + e.admin, "", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.auth != "" {
				h = []string{"Authorization", tc.auth}
			}
			r := e.do(t, tc.method, tc.path, "", tc.body, h...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				if d := r.errorOf(t); d.Code != tc.code {
					t.Fatalf("code %q, want %q", d.Code, tc.code)
				}
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestOverSizeBodyKeepsConnection: a body over the limit gets its 413 after
// the server has read the body, so a client still sending reads the answer
// (not a reset), and the next request on the same connection is served.
// A body far over the limit closes the connection instead.
func TestOverSizeBodyKeepsConnection(t *testing.T) {
	e := newEnv(t)
	e.serve(t)
	post := func(size int) string {
		body := `{"incident":{"name":"x","body":"` + strings.Repeat("a", size) + `"}}`
		return "POST /v1/pages/" + e.page.ID + "/incidents HTTP/1.1\r\nHost: status.example.com\r\nAuthorization: OAuth " + e.admin +
			"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	const health = "GET /healthz HTTP/1.1\r\nHost: status.example.com\r\n\r\n"
	for _, tt := range []struct {
		name  string
		size  int
		reuse bool
	}{
		{"a little over: read, refused, kept", 70 << 10, true},
		{"far over: refused, closed", 200 << 10, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			if _, err := io.WriteString(conn, post(tt.size)); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading the answer to the over-size body: %v", err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusRequestEntityTooLarge || res.Close == tt.reuse {
				t.Fatalf("status %d, Connection: close %v; want 413 and close %v", res.StatusCode, res.Close, !tt.reuse)
			}
			if !tt.reuse {
				return
			}
			if _, err := io.WriteString(conn, health); err != nil {
				t.Fatal(err)
			}
			res, err = http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("the next request on the connection: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("the next request on the connection: status %d, want 200", res.StatusCode)
			}
		})
	}
}

// TestControlCharactersRefused: single-line fields refuse control
// characters, line separators, bidirectional overrides and bytes that are
// not UTF-8 with a 400 naming the field, in JSON and form bodies, and
// nothing is written.
func TestControlCharactersRefused(t *testing.T) {
	e := newEnv(t)
	base := "/v1/pages/" + e.page.ID
	comp, err := e.svc.CreateComponent(context.Background(), e.page.ID, incident.ComponentInput{Name: ptr("API")})
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"ESC":                `Pay\u001b[2Jments`,
		"BEL":                `Pay\u0007ments`,
		"BS":                 `Pay\bments`,
		"DEL":                "Pay\u007fments",
		"NUL":                `Pay\u0000ments`,
		"C1 CSI":             "Pay\u009bments",
		"line separator":     "Pay\u2028ments",
		"paragraph":          "Pay\u2029ments",
		"RLO":                "Pay\u202ements",
		"LRI isolate":        "Pay\u2066ments",
		"newline":            `Pay\nments`,
		"invalid UTF-8":      "Pay\xffments",
		"truncated sequence": "Pay\xc3",
	}
	targets := []struct {
		method, path, wrap, field string
	}{
		{"POST", base + "/incidents", `{"incident":{"name":"%s"}}`, "incident.name"},
		{"PATCH", base + "/components/" + comp.ID, `{"component":{"name":"%s"}}`, "component.name"},
		{"POST", base + "/component-groups", `{"component_group":{"name":"%s"}}`, "component_group.name"},
		{"PATCH", base, `{"page":{"name":"%s"}}`, "page.name"},
		{"POST", "/api/v1/tokens", `{"token":{"name":"%s","role":"agent"}}`, "token.name"},
	}
	a0, n0 := e.writes(t)
	for name, v := range bad {
		for _, tg := range targets {
			t.Run(name+" "+tg.field, func(t *testing.T) {
				body := strings.Replace(tg.wrap, "%s", v, 1)
				d := e.mustDo(t, http.StatusBadRequest, tg.method, tg.path, e.admin, body).errorOf(t)
				if d.Field != tg.field {
					t.Errorf("field %q, want %q (%s)", d.Field, tg.field, d.Message)
				}
			})
		}
	}
	// The same as a form.
	for name, v := range map[string]string{"ESC": "Pay\x1bments", "RLO": "Pay\u202ements", "invalid UTF-8": "Pay\xffments"} {
		t.Run("form "+name, func(t *testing.T) {
			r := e.do(t, "POST", base+"/incidents", e.manager, "incident%5Bname%5D="+url.QueryEscape(v), "Content-Type", "application/x-www-form-urlencoded")
			if r.status != http.StatusBadRequest || r.errorOf(t).Field != "incident.name" {
				t.Errorf("status %d, body %s", r.status, r.body)
			}
		})
	}
	if a, n := e.writes(t); a != a0 || n != n0 {
		t.Errorf("refused requests wrote: audit %d→%d, incidents %d→%d", a0, a, n0, n)
	}
	// Letters of every script, marks and emoji are fine.
	e.mustDo(t, http.StatusCreated, "POST", base+"/incidents", e.manager, `{"incident":{"name":"Płatności kartą – ügyfélszolgálat 支付 🔥 שלום"}}`)
}

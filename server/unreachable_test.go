package server

import (
	"context"
	"github.com/heraldhq/herald/internal/syncbuf"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/store/redis"
	"github.com/heraldhq/herald/store/redis/redistest"
)

// TestStoreUnreachable: with its Redis gone, a node answers API requests
// 503 unavailable with Retry-After (the README's error table), not 500
// internal: nothing was changed and the same request may be sent again.
// The Redis is this test's own redis-server process, killed as a crash
// would: the shared Redis is never touched.
func TestStoreUnreachable(t *testing.T) {
	redistest.NeedBinaries(t)
	ctx := context.Background()
	proc, err := redistest.NewProc(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Kill)
	db, err := redis.Open(ctx, "redis://"+proc.Addr()+"/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	events := incident.NewLocalEvents()
	svc := incident.NewService(db, events, log)
	page, err := svc.EnsureDefaultPage(ctx, "https://status.example.com")
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := svc.CreateToken(ctx, "admin token", incident.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{owner: t, svc: svc, events: events, page: page, logs: logs, reg: prometheus.NewRegistry()}
	e.site = newFakeSite(t, svc, events, page)
	e.srv = New(Config{PublicURL: "https://status.example.com"}, svc, e.site, e.reg, log)
	e.mustDo(t, http.StatusOK, "GET", "/api/v1/pages", admin, "")

	proc.Kill()
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v1/pages", ""},
		{"GET", "/api/v1/pages/" + page.ID + "/incidents", ""},
		{"POST", "/api/v1/pages/" + page.ID + "/incidents", `{"incident":{"name":"Payments down","status":"investigating","body":"Looking."}}`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.mustDo(t, http.StatusServiceUnavailable, tc.method, tc.path, admin, tc.body)
			if got := r.header.Get("Retry-After"); got == "" {
				t.Error("no Retry-After")
			}
			if d := r.errorOf(t); d.Code != "unavailable" || !strings.Contains(d.Message, "nothing was changed") {
				t.Errorf("error %+v, want code unavailable saying nothing was changed", d)
			}
		})
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("an unreachable store is logged as an error of herald's:\n%s", logs)
	}
}

package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
)

// BenchmarkPages renders the busiest console pages on SQLite with one
// open incident, 2 000 customers and 2 000 open complaints:
//
//	go test ./console -run '^$' -bench BenchmarkPages -benchtime 200x
//
// (A quick look while working on the views. The budget, with
// 1 000 000 customers and 100 000 complaints on both engines over HTTP,
// is measured by go run ./cmd/herald-bench console.)
func BenchmarkPages(b *testing.B) {
	cfg := node.DefaultConfig()
	cfg.DataDir = b.TempDir()
	e := startNode(b, cfg)
	ctx := context.Background()
	var csv []byte
	csv = append(csv, "id,name,phone,email,slack,language,time_zone,plan,region,components\n"...)
	for i := range 2000 {
		n := strconv.Itoa(1000000 + i)
		csv = append(csv, "b"+n+",Customer "+n+",+3630"+n+",b"+n+"@example.com,,en,,silver,eu,Payments\n"...)
	}
	e.seed(b, string(csv))
	name, body, st := "Payments down", "Card payments fail.", incident.Investigating
	no := false
	inc, _, err := e.n.Incidents.CreateIncident(e.as(incident.RoleManager), e.page.ID, incident.IncidentInput{Name: &name, Body: &body, Status: &st,
		DeliverNotifications: &no, ComponentIDs: []string{e.payments.ID}, Components: map[string]incident.ComponentStatus{e.payments.ID: incident.MajorOutage}}, "")
	if err != nil {
		b.Fatal(err)
	}
	var cpID string
	for i := range 2000 {
		cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Email,
			Contact: complaint.Contact{Email: "b" + strconv.Itoa(1000000+i) + "@example.com"}, Text: "payments fail for me"})
		if err != nil {
			b.Fatal(err)
		}
		cpID = cp.ID
	}
	c := e.client(b)
	c.signIn(incident.RoleManager, "bench")
	sess := c.cookies["herald_console"]
	for _, p := range []string{"/console/", "/console/queue", "/console/incidents/" + inc.ID, "/console/complaints/" + cpID} {
		b.Run(p, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("GET", p, nil)
				req.AddCookie(&http.Cookie{Name: "herald_console", Value: sess})
				res, err := e.n.Server.App().Test(req, 30_000)
				if err != nil || res.StatusCode != http.StatusOK {
					b.Fatalf("GET %s: %v %v", p, err, res.StatusCode)
				}
				_ = res.Body.Close()
			}
		})
	}
}

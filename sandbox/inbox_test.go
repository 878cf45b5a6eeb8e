package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestInboxJSONAndDelete(t *testing.T) {
	sb := start(t, Config{})
	now := time.Now()
	for i := range 5 {
		sb.inbox.add(Message{ID: fmt.Sprint("s", i), Kind: KindSMS, To: "+3630000000" + fmt.Sprint(i%2), Body: fmt.Sprint("sms ", i), At: now})
	}
	sb.inbox.add(Message{ID: "e1", Kind: KindEmail, To: "a@x", At: now})
	h := sb.Handler()

	type answer struct {
		Counts   map[string]int `json:"counts"`
		Total    int            `json:"total"`
		Messages []Message      `json:"messages"`
	}
	tests := []struct {
		name  string
		query string
		ids   []string
	}{
		{"all newest first", "", []string{"e1", "s4", "s3", "s2", "s1", "s0"}},
		{"kind", "?kind=sms", []string{"s4", "s3", "s2", "s1", "s0"}},
		{"kind and to", "?kind=sms&to=%2B36300000001", []string{"s3", "s1"}},
		{"limit keeps newest", "?kind=sms&limit=2", []string{"s4", "s3"}},
		{"bad limit ignored", "?kind=email&limit=x", []string{"e1"}},
		{"no match", "?kind=slack", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sandbox/messages"+tt.query, nil))
			if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("status %d type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			var a answer
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, m := range a.Messages {
				ids = append(ids, m.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.ids, ",") {
				t.Errorf("ids = %v, want %v", ids, tt.ids)
			}
			if a.Total != 6 || a.Counts[KindSMS] != 5 || a.Counts[KindEmail] != 1 {
				t.Errorf("counts = %v total %d", a.Counts, a.Total)
			}
		})
	}

	t.Run("the reading handler cannot delete", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/sandbox/messages", nil))
		if rec.Code == http.StatusNoContent || sb.Count("") != 6 {
			t.Fatalf("DELETE through Handler: status %d, %d messages left; want it refused, the inbox whole", rec.Code, sb.Count(""))
		}
	})
	t.Run("delete empties", func(t *testing.T) {
		rec := httptest.NewRecorder()
		sb.GuardedHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/sandbox/messages", nil))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("status %d", rec.Code)
		}
		if sb.Count("") != 0 || len(sb.Messages()) != 0 {
			t.Errorf("inbox not empty after DELETE")
		}
	})
}

func TestInboxHTMLEscapes(t *testing.T) {
	sb := start(t, Config{})
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	sb.inbox.add(Message{ID: "e1", Kind: KindEmail, To: "a@x", From: evil, Subject: evil, Body: evil, HTML: evil,
		Headers: map[string]string{"X-Evil": evil}, At: time.Now(), Status: "delivered"})
	sb.inbox.add(Message{ID: "s1", Kind: KindSlack, To: evil, Body: "second", Blocks: json.RawMessage(`[{"type":"section","text":{"type":"mrkdwn","text":"<b>hi</b>"}}]`), At: time.Now()})

	res, err := http.Get(sb.InboxURL()) // the API address serves the inbox too
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	page := string(body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d type %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "<img") || strings.Contains(page, "<b>hi</b>") {
		t.Errorf("page contains unescaped content:\n%s", page)
	}
	if !strings.Contains(page, "&lt;script&gt;") {
		t.Errorf("escaped text missing")
	}
	if strings.Index(page, "second") > strings.Index(page, `class="subject"`) {
		t.Errorf("page is not newest first")
	}
	if !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("no CSP header")
	}
}

func TestInboxRingKeepsNewestAndCountsAll(t *testing.T) {
	sb := start(t, Config{Capacity: 3})
	for i := range 7 {
		sb.inbox.add(Message{ID: fmt.Sprint("m", i), Kind: KindWebhook, At: time.Now()})
	}
	var ids []string
	for _, m := range sb.Messages() {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "m4,m5,m6" {
		t.Errorf("kept = %v, want m4,m5,m6", ids)
	}
	if sb.Count(KindWebhook) != 7 || sb.Count("") != 7 {
		t.Errorf("Count = %d", sb.Count(KindWebhook))
	}
	if _, ok := sb.inbox.get("m1"); ok {
		t.Error("evicted message still found by ID")
	}
	if _, ok := sb.inbox.get("m5"); !ok {
		t.Error("kept message not found by ID")
	}
	if got := sb.Messages(Filter{Limit: 2}); len(got) != 2 || got[1].ID != "m6" {
		t.Errorf("Limit = %+v", got)
	}
}

func TestWaitFor(t *testing.T) {
	sb := start(t, Config{})
	var wg sync.WaitGroup
	wg.Add(1)
	errc := make(chan error, 1)
	go func() {
		defer wg.Done()
		errc <- sb.WaitFor(waitCtx(t), 20, KindWebhook)
	}()
	for i := range 20 {
		sb.inbox.add(Message{ID: fmt.Sprint("w", i), Kind: KindWebhook})
		sb.inbox.add(Message{ID: fmt.Sprint("x", i), Kind: KindSMS})
	}
	wg.Wait()
	if err := <-errc; err != nil {
		t.Fatalf("WaitFor: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := sb.WaitFor(ctx, 21, KindWebhook); err == nil {
		t.Fatal("WaitFor returned without enough messages")
	}
}

func TestWebhookSink(t *testing.T) {
	sb := start(t, Config{Faults: Faults{FailTo: map[string]string{"gone": "410"}}})
	tests := []struct {
		name   string
		hook   string
		body   string
		status int
	}{
		{"json accepted", "crm", `{"event":"incident.declared","id":"abc"}`, 200},
		{"not json", "crm", `hello`, 400},
		{"failto status", "gone", `{}`, 410},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, sb.WebhookURL(tt.hook), strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Herald-Signature", "sha256=abc")
			req.Header.Set("Authorization", "Bearer secret")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.status)
			}
		})
	}
	got := sb.Messages(Filter{Kind: KindWebhook})
	if len(got) != 1 || got[0].To != sb.WebhookURL("crm") || got[0].Headers["X-Herald-Signature"] != "sha256=abc" || got[0].Body != `{"event":"incident.declared","id":"abc"}` {
		t.Fatalf("inbox = %+v", got)
	}
	if _, ok := got[0].Headers["Authorization"]; ok {
		t.Error("Authorization header recorded in the inbox")
	}
}

package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

func TestQuietHoursUntil(t *testing.T) {
	bud, _ := time.LoadLocation("Europe/Budapest")
	q := quietHours{start: 22 * 60, end: 7 * 60, on: true}
	day := quietHours{start: 12 * 60, end: 13 * 60, on: true}
	ny, _ := time.LoadLocation("America/New_York")
	late := quietHours{start: 22 * 60, end: 90, on: true} // 22:00–01:30
	tests := []struct {
		name string
		q    quietHours
		at   time.Time
		want time.Time
		loc  *time.Location // nil: Budapest
	}{
		{"before the window", q, time.Date(2027, 1, 15, 21, 59, 0, 0, bud), time.Time{}, nil},
		{"evening", q, time.Date(2027, 1, 15, 23, 30, 0, 0, bud), time.Date(2027, 1, 16, 7, 0, 0, 0, bud), nil},
		{"early morning", q, time.Date(2027, 1, 16, 3, 0, 0, 0, bud), time.Date(2027, 1, 16, 7, 0, 0, 0, bud), nil},
		{"end is exclusive", q, time.Date(2027, 1, 16, 7, 0, 0, 0, bud), time.Time{}, nil},
		{"across the spring DST change", q, time.Date(2027, 3, 27, 23, 0, 0, 0, bud), time.Date(2027, 3, 28, 7, 0, 0, 0, bud), nil},
		{"non-wrapping window", day, time.Date(2027, 1, 15, 12, 30, 0, 0, bud), time.Date(2027, 1, 15, 13, 0, 0, 0, bud), nil},
		{"off", quietHours{}, time.Date(2027, 1, 15, 23, 30, 0, 0, bud), time.Time{}, nil},
		// 01:30 comes twice on 7 November 2027 in New York: first EDT, then EST.
		{"repeated hour, first pass", late, time.Date(2027, 11, 7, 5, 15, 0, 0, time.UTC), time.Date(2027, 11, 7, 5, 30, 0, 0, time.UTC), ny},
		{"repeated hour, second pass", late, time.Date(2027, 11, 7, 6, 15, 0, 0, time.UTC), time.Date(2027, 11, 7, 6, 30, 0, 0, time.UTC), ny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := tt.loc
			if loc == nil {
				loc = bud
			}
			if got := tt.q.until(tt.at.UTC(), loc); !got.Equal(tt.want) {
				t.Errorf("until(%s) = %s, want %s", tt.at, got, tt.want)
			}
		})
	}
}

func TestClock(t *testing.T) {
	for _, s := range []string{"22:00", "07:05", "00:00", "23:59"} {
		if _, err := clock(s); err != nil {
			t.Errorf("clock(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "7", "24:00", "07:5", "ab:cd", "07:60"} {
		if _, err := clock(s); err == nil {
			t.Errorf("clock(%q) accepted", s)
		}
	}
}

func TestBackoff(t *testing.T) {
	base, max := 100*time.Millisecond, 2*time.Second
	for attempt := 1; attempt < 12; attempt++ {
		for i := 0; i < 200; i++ {
			d := backoff(attempt, base, max, 0)
			ceil := base << (attempt - 1)
			if ceil > max || ceil <= 0 {
				ceil = max
			}
			if d < base/4 || d > ceil {
				t.Fatalf("backoff(%d) = %s outside [%s, %s]", attempt, d, base/4, ceil)
			}
		}
	}
	if d := backoff(1, base, max, 3*time.Second); d < 3*time.Second {
		t.Errorf("backoff ignored Retry-After: %s", d)
	}
}

func TestFoldKeyword(t *testing.T) {
	tests := map[string]string{" Leiratkozás! ": "LEIRATKOZAS", "pomoć": "POMOC", "Stop.": "STOP", "Łódź": "LODZ", "đ": "D"}
	for in, want := range tests {
		if got := foldKeyword(in); got != want {
			t.Errorf("foldKeyword(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderConfirm(t *testing.T) {
	r := newTestRendererCached(t)
	page := &incident.Page{ID: "p", Name: "Acme & Co", URL: "https://status.example.com"}
	link := "https://status.example.com/subscriptions/confirm/tok"
	for _, lang := range incident.Languages {
		t.Run(lang, func(t *testing.T) {
			sms, err := r.RenderConfirm(channel.SMS, page, Recipient{Language: lang}, link, "123456")
			if err != nil || !strings.Contains(sms.Text, "123456") || !strings.Contains(sms.Text, "STOP") {
				t.Fatalf("sms %+v, %v", sms, err)
			}
			if _, _, n := Segments(sms.Text); n > 2 {
				t.Errorf("confirmation SMS takes %d segments", n)
			}
			em, err := r.RenderConfirm(channel.Email, page, Recipient{Language: lang}, link, "")
			if err != nil || !strings.Contains(em.Text, link) || !strings.Contains(em.HTML, `href="`+link+`"`) || em.Subject == "" {
				t.Fatalf("email %+v, %v", em, err)
			}
			if _, err := r.RenderConfirm(channel.Slack, page, Recipient{Language: lang}, link, ""); err == nil {
				t.Errorf("slack confirmation rendered")
			}
		})
	}
}

func TestPersonalise(t *testing.T) {
	tmpl := &Message{Kind: channel.Slack, Text: "Hello " + namePlaceholder + " " + unsubPlaceholder,
		Blocks: []byte(`[{"text":"Hello ` + namePlaceholder + `","u":"x/` + unsubPlaceholder + `"}]`)}
	before := tmpl.Text
	m := personalise(tmpl, &queue.Delivery{ID: "d", Kind: channel.Slack, Address: "C1", Name: `Ann "<@U1>"`}, "TOK")
	var blocks []map[string]string
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatalf("blocks are not JSON any more: %v: %s", err, m.Blocks)
	}
	if m.Text != `Hello Ann "&lt;@U1&gt;" TOK` || blocks[0]["text"] != `Hello Ann "&lt;@U1&gt;"` || blocks[0]["u"] != "x/TOK" || m.To != "C1" {
		t.Errorf("personalised %q %s", m.Text, m.Blocks)
	}
	if tmpl.Text != before {
		t.Errorf("the cached template was changed")
	}
	e := personalise(&Message{Kind: channel.Email, HTML: "<p>" + namePlaceholder + "</p>"}, &queue.Delivery{Kind: channel.Email, Name: "<b>"}, "T")
	if e.HTML != "<p>&lt;b&gt;</p>" {
		t.Errorf("html %q", e.HTML)
	}
	// A name that contains the token's placeholder stays as written.
	odd := personalise(&Message{Kind: channel.Email, Text: namePlaceholder + " " + unsubPlaceholder},
		&queue.Delivery{Kind: channel.Email, Name: unsubPlaceholder}, "T")
	if odd.Text != unsubPlaceholder+" T" {
		t.Errorf("text %q: the name was rewritten", odd.Text)
	}
}

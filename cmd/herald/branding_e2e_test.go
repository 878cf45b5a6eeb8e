package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPageBrandingEndToEnd: `herald pages rename` and `pages set` change
// the page's name, time zone and logo from the CLI, and every message
// follows the name: the email's sender, subject and signature and the
// SMS prefix (all said "Status" whatever the company was called).
func TestPageBrandingEndToEnd(t *testing.T) {
	dir := t.TempDir()
	n := startServe(t, nil, "--data", dir)
	token := mustCLI(t, nil, "token", "create", "--role", "admin", "--data", dir).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}

	logo := filepath.Join(dir, "logo.png")
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{200, 30, 30, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	notImage := filepath.Join(dir, "logo.txt")
	for path, b := range map[string][]byte{logo: buf.Bytes(), notImage: []byte("hello")} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	if r := mustCLI(t, env, "pages", "rename", "Acme Payments"); !strings.Contains(r.stdout, `"Acme Payments"`) {
		t.Fatalf("rename printed %q", r.stdout)
	}
	r := mustCLI(t, env, "pages", "set", "--time-zone", "Europe/Budapest", "--logo", logo)
	if !strings.Contains(r.stdout, "Europe/Budapest") || !strings.Contains(r.stdout, "a logo") || !strings.Contains(r.stdout, "Acme Payments") {
		t.Fatalf("set printed %q", r.stdout)
	}
	if l := mustCLI(t, env, "pages"); !strings.Contains(l.stdout, "Acme Payments") || !strings.Contains(l.stdout, "Europe/Budapest") {
		t.Fatalf("pages: %s", l.stdout)
	}
	if r := mustCLI(t, env, "pages", "set", "--languages", "hu, en", "--json"); !strings.Contains(r.stdout, `"languages": [
    "hu",
    "en"
  ]`) && !strings.Contains(r.stdout, `"languages":["hu","en"]`) {
		t.Fatalf("set --languages printed %q", r.stdout)
	}
	// Without --json too: the languages, the default first.
	if r := mustCLI(t, env, "pages", "set", "--languages", "hu,en"); !strings.Contains(r.stdout, "languages hu,en") {
		t.Errorf("pages set printed %q, want its languages", r.stdout)
	}
	if l := mustCLI(t, env, "pages"); !strings.Contains(l.stdout, "LANGUAGES") || !strings.Contains(l.stdout, "hu,en") {
		t.Errorf("pages does not show the languages:\n%s", l.stdout)
	}

	t.Run("bad input changes nothing", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"pages", "set", "--time-zone", "Mars/Olympus"}, 1, "time_zone"},
			{[]string{"pages", "set", "--logo", notImage}, 1, "PNG, JPEG, GIF or WebP"},
			{[]string{"pages", "set", "--url", "ftp://x"}, 1, "url"},
			{[]string{"pages", "set", "--languages", "hu,xx"}, 1, "languages"},
			{[]string{"pages", "set", "--languages", ","}, 2, "at least one"},
			{[]string{"pages", "set"}, 2, "nothing to change"},
			{[]string{"pages", "rename"}, 2, "NAME"},
		} {
			if r := cli(t, env, tc.args...); r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%v: exit %d, want %d with %q\n%s", tc.args, r.code, tc.code, tc.want, r.stderr)
			}
		}
		// An SVG through the API (it would run script on the page's origin).
		var pages []struct{ ID string }
		if err := json.Unmarshal([]byte(mustCLI(t, env, "pages", "--json").stdout), &pages); err != nil || len(pages) != 1 {
			t.Fatalf("pages --json: %v", err)
		}
		req, _ := http.NewRequest(http.MethodPatch, n.url+"/api/v1/pages/"+pages[0].ID,
			strings.NewReader(`{"page":{"logo":"data:image/svg+xml;base64,PHN2Zy8+"}}`))
		req.Header.Set("Authorization", "OAuth "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct{ Field string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.HasSuffix(e.Error.Field, "logo") {
			t.Errorf("SVG logo: %d field %q", resp.StatusCode, e.Error.Field)
		}
		if l := mustCLI(t, env, "pages"); !strings.Contains(l.stdout, "Europe/Budapest") || !strings.Contains(l.stdout, "Acme Payments") {
			t.Errorf("a refused change changed the page: %s", l.stdout)
		}
	})

	t.Run("the status page shows the name and logo", func(t *testing.T) {
		eventually(t, 5*time.Second, func() (bool, string) {
			_, body := get(t, n.url+"/")
			return strings.Contains(body, `<img src="/static/logo?v=`) && strings.Contains(body, "Acme Payments</a>"), body
		})
		resp, err := http.Get(n.url + "/static/logo")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Errorf("/static/logo: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})

	t.Run("messages are from the page's name", func(t *testing.T) {
		mustCLI(t, env, "components", "create", "--name", "Payments")
		csv := filepath.Join(dir, "c.csv")
		if err := os.WriteFile(csv, []byte("id,name,phone,email,slack,language,time_zone,plan,region,components\n"+
			"c1,John,+36 20 123 4567,john@example.com,,en,Europe/London,gold,eu,Payments\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mustCLI(t, env, "import", "customers", csv)
		mustCLI(t, env, "declare", "-q", "--name", "Card payments fail", "--component", "Payments=major_outage",
			"--message", "Some card payments fail.")
		type msg struct {
			Kind, From, To, Subject, Body string
		}
		var email, sms *msg
		eventually(t, 15*time.Second, func() (bool, string) {
			_, body := get(t, n.url+"/sandbox/messages")
			var v struct{ Messages []msg }
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				return false, err.Error()
			}
			for i := range v.Messages {
				switch m := &v.Messages[i]; {
				case m.Kind == "email" && m.To == "john@example.com":
					email = m
				case m.Kind == "sms" && m.To == "+36201234567":
					sms = m
				}
			}
			return email != nil && sms != nil, body
		})
		if !strings.HasPrefix(email.From, `"Acme Payments" <`) {
			t.Errorf("email From %q", email.From)
		}
		if !strings.HasPrefix(email.Subject, "[Acme Payments]") {
			t.Errorf("email subject %q", email.Subject)
		}
		if !strings.Contains(email.Body, "Acme Payments") || strings.Contains(email.Body, "Status team") || strings.Contains(email.Body, "[Status]") {
			t.Errorf("email body does not sign with the page's name:\n%s", email.Body)
		}
		if !strings.HasPrefix(sms.Body, "Acme Payments") {
			t.Errorf("SMS %q", sms.Body)
		}
	})
}

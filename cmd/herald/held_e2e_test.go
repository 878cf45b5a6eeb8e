package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWaitEndsWhenHeld: a declaration whose messages quiet hours defer
// (not critical, the customer's night) ends `--wait` at once, saying how
// many wait, why and until when, instead of watching until the morning;
// `broadcast watch` says the same.
func TestWaitEndsWhenHeld(t *testing.T) {
	onEachEngine(t, func(t *testing.T, dir string, storeArgs []string) {
		// Quiet hours around now in UTC, the customer's zone: the window
		// holds now wherever the test runs in the day.
		now := time.Now().UTC()
		window := now.Add(-time.Hour).Format("15:04") + "-" + now.Add(2*time.Hour).Format("15:04")
		n := startServe(t, map[string]string{"HERALD_QUIET_HOURS": window}, storeArgs...)
		token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
		env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
		mustCLI(t, env, "components", "create", "--name", "Search")
		file := filepath.Join(dir, "night.csv")
		if err := os.WriteFile(file, []byte("id,name,email,time_zone,components\nn1,Nora,nora@example.com,UTC,Search\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mustCLI(t, env, "import", "customers", file)

		start := time.Now()
		r := mustCLI(t, env, "declare", "--name", "Search is slow", "--component", "Search=degraded_performance",
			"--message", "Searches take a few seconds.", "--wait")
		if took := time.Since(start); took > time.Minute {
			t.Errorf("declare --wait took %s", took)
		}
		for _, want := range []string{"1 message held (quiet hours) until ", "; they go out then: herald broadcast watch "} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("declare --wait does not say %q:\n%s", want, r.stderr)
			}
		}
		id := r.stderr[strings.LastIndex(r.stderr, "herald broadcast watch ")+len("herald broadcast watch "):]
		id = strings.TrimSpace(id)
		if w := mustCLI(t, env, "broadcast", "watch", id); !strings.Contains(w.stdout+w.stderr, "held (quiet hours)") {
			t.Errorf("broadcast watch %s:\n%s\n%s", id, w.stdout, w.stderr)
		}
		if got := to(inbox(t, n), "email", "nora@example.com"); len(got) != 0 {
			t.Errorf("a message went out in quiet hours: %v", got)
		}
	})
}

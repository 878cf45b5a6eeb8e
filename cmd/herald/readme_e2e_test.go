package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// asHerald is set in the environment of a copy of this test binary that
// is to behave as the herald command (the README's ./herald).
const asHerald = "HERALD_TEST_BINARY_IS_HERALD"

func TestMain(m *testing.M) {
	if os.Getenv(asHerald) == "1" {
		main() // exits
	}
	os.Exit(m.Run())
}

// TestREADMEWalkthrough pastes the README's walkthrough ("Five minutes
// with herald" and "Broadcast") into bash, block after block as a reader
// would, against `herald serve` on a temporary data directory on
// loopback; only the port differs. Every command must succeed: the IDs the
// text uses later are captured, not placeholders.
func TestREADMEWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("the walkthrough takes a while; not with -short")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	from, to := strings.Index(text, "## Five minutes with herald"), strings.Index(text, "## Complaints")
	if from < 0 || to < from {
		t.Fatal("README: the walkthrough's sections are not where this test looks")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n := startServe(t, nil, "--data", filepath.Join(dir, "data"))
	addr := strings.TrimPrefix(n.url, "http://")

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text[from:to], -1) {
		block := m[1]
		if strings.Contains(block, "herald serve") {
			continue // terminal 1: startServe runs it
		}
		block = strings.ReplaceAll(block, "go build -o herald ./cmd/herald", `ln -sf "$HERALD_BIN" herald`)
		script.WriteString(strings.ReplaceAll(block, "127.0.0.1:8080", addr) + "\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-c", script.String())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), asHerald+"=1", "HERALD_BIN="+self, "HERALD_URL="+n.url)
	// A command left running (a `curl -N` of the event stream, which never
	// ends by itself) holds the output open: stop waiting for it soon
	// after bash is killed.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walkthrough failed (%v):\n%s\n--- script ---\n%s", err, out, script.String())
	}

	// What the text says happened did.
	var v struct {
		Messages []struct{ Kind, To, Subject, Body string }
	}
	_, body := get(t, n.url+"/sandbox/messages")
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range v.Messages {
		got[m.Kind+" "+m.To] = true
		if m.To == "anna@example.hu" && !strings.HasPrefix(m.Subject, "[Acme Payments]") {
			t.Errorf("Anna's email %q is not from the renamed page", m.Subject)
		}
	}
	for _, want := range []string{"sms +36201234567", "email anna@example.hu", "sms +48601234567", "email piotr@example.pl"} {
		if !got[want] {
			t.Errorf("no %s in the sandbox inbox", want)
		}
	}
	if got["email ivana@example.hr"] || got["sms +385912345678"] {
		t.Error("Ivana got a message, though Checkout is fine")
	}
}

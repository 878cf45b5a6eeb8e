package main

import (
	"strings"
	"testing"
)

// TestUsageErrorLast: a mistake on the command line prints at most a short
// usage line and a hint, then the error as the last line, so it stays on
// screen; -h lists the flags as the README writes them (--component
// NAME=STATUS).
func TestUsageErrorLast(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"declare"}, "herald: --name is required"},
		{[]string{"declare", "--name", "x", "--bogus"}, "herald: flag provided but not defined: --bogus"},
		{[]string{"declare", "--name", "x", "--component", "Payments=broken"}, "major_outage"},
		{[]string{"update"}, "herald: missing INCIDENT"},
		{[]string{"update", "abc", "--status"}, "herald: flag needs an argument: --status"},
		{[]string{"resolve", "a", "b"}, `herald: unexpected argument "b"`},
		{[]string{"update", "", "--status", "identified"}, "argument 1 is empty, want INCIDENT"},
		{[]string{"report", ""}, "argument 1 is empty"},
		// Enum values are checked before anything is sent, the valid ones listed.
		{[]string{"declare", "--name", "x", "--status", "resolved"}, `invalid value "resolved" for --status: want one of investigating, identified, monitoring`},
		{[]string{"update", "abc", "--status", "fixed"}, "want one of investigating, identified, monitoring, resolved, postmortem, scheduled, in_progress, verifying, completed"},
		{[]string{"update", "abc", "--impact", "maintenance"}, "want one of none, minor, major, critical"},
		{[]string{"components", "create", "--name", "x", "--status", "down"}, "want one of operational, under_maintenance"},
		{[]string{"complaints", "resolve", "C-1", "--remedy", "bogus"}, `invalid value "bogus" for --remedy: want one of apology, replacement, fix, price_reduction, refund, free_repeat, none`},
		{[]string{"complaints", "resolve", "C-1", "--remedy", "fix"}, "--outcome is required"},
		{[]string{"complaints", "resolve", "C-1", "--outcome", "Fixed"}, "--remedy is required: one of apology, replacement"},
		// Mistakes found after the flags parsed show the command's usage too.
		{[]string{"report", "abc", "--format", "pdf"}, `--format: want html, json or csv, got "pdf"`},
		{[]string{"report", "period", "--from", "yesterday", "--to", "2026-12-31"}, "want a date like 2026-01-31"},
		{[]string{"console", "link", "--role", "agent", "--name", "Ana", "--valid", "1s"}, "--valid: want between 1m and 168h"},
		{[]string{"postmortem", "abc"}, "--file is required"},
		// Survey settings: a value that is no setting is refused, never
		// read as another (weekends "True" as false), and an explicit 0 is
		// checked as given, not taken for "not given".
		{[]string{"surveys", "settings", "--weekends", "True"}, `invalid value "True" for --weekends: want one of true, false`},
		{[]string{"surveys", "settings", "--weekends", "maybe"}, `invalid value "maybe" for --weekends: want one of true, false`},
		{[]string{"surveys", "settings", "--weekends", "on"}, `invalid value "on" for --weekends`},
		{[]string{"surveys", "settings", "--sample", "0"}, "invalid value 0 for --sample: want a percentage from 1 to 100"},
		{[]string{"surveys", "settings", "--sample", "500"}, "invalid value 500 for --sample: want a percentage from 1 to 100"},
		{[]string{"surveys", "settings", "--mode", "some"}, `invalid value "some" for --mode: want one of off, notified, complained, sample`},
		{[]string{"surveys", "settings", "--daytime", "9-"}, `invalid value "9-" for --daytime: want HH:MM-HH:MM`},
		{[]string{"surveys", "settings", "--daytime", "25:00-26:00"}, `invalid value "25:00-26:00" for --daytime: want HH:MM-HH:MM`},
		{[]string{"surveys", "settings", "--delay", "-5h"}, `invalid value "-5h" for --delay`},
		{[]string{"surveys", "settings", "--gap", "1x"}, `invalid value "1x" for --gap`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			r := cli(t, nil, tt.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) > 3 {
				t.Errorf("%d lines on stderr, want at most 3:\n%s", len(lines), r.stderr)
			}
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "herald: ") || !strings.Contains(last, tt.err) {
				t.Errorf("last line %q, want the error %q:\n%s", last, tt.err, r.stderr)
			}
			// The hint names the command's own help.
			if strings.Contains(r.stderr, "herald help") || (len(lines) > 1 && !strings.Contains(r.stderr, " -h' for")) {
				t.Errorf("the hint should point to the command's -h:\n%s", r.stderr)
			}
		})
	}
	r := cli(t, nil, "declare", "-h")
	help := r.stdout + r.stderr
	for _, want := range []string{"  --component NAME=STATUS", "  --message-hu TEXT", "  --dry-run", "  -q\n"} {
		if !strings.Contains(help, want) {
			t.Errorf("declare -h lacks %q:\n%s", want, help)
		}
	}
}

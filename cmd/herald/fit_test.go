package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

// TestFitColumns: on a narrow terminal the columns that may be cut are
// cut with "…", the least useful ones are left out, and every line fits;
// without a width nothing changes.
func TestFitColumns(t *testing.T) {
	rows := [][]string{
		{"k0qgv89kssqu", "C-7KQ2", "acknowledged", "sms", "Anna Kovács, +36201234567, customer hu-1", "Card payments fail", "dora", "2026-12-06 05:58 UTC", "A kártyás fizetés nem működik, már harmadszor próbálom"},
		{"a1b2c3d4e5f6", "C-1AB2", "new", "email", "-", "-", "-", "2026-12-06 06:01 UTC", "short"},
	}
	for _, width := range []int{0, 60, 100, 200} {
		a := &app{getenv: envMap(map[string]string{"COLUMNS": map[bool]string{true: "", false: strconv.Itoa(width)}[width == 0]})}
		var out strings.Builder
		a.stdout = newSafeWriter(&out)
		if err := a.printFitted(complaintColumns, rows); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("width %d: %d lines:\n%s", width, len(lines), out.String())
		}
		for _, l := range lines {
			if width > 0 && utf8.RuneCountInString(l) > width {
				t.Errorf("width %d: a line of %d:\n%s", width, utf8.RuneCountInString(l), out.String())
			}
		}
		for _, want := range []string{"REF", "STATE", "FROM", "TEXT", "C-7KQ2", "acknowledged"} {
			if !strings.Contains(lines[0]+lines[1], want) {
				t.Errorf("width %d lacks %q:\n%s", width, want, out.String())
			}
		}
		switch width {
		case 0, 200:
			if strings.Contains(out.String(), "…") || !strings.Contains(out.String(), "harmadszor próbálom") || !strings.Contains(out.String(), "k0qgv89kssqu") {
				t.Errorf("width %d: rows cut:\n%s", width, out.String())
			}
		case 60:
			if strings.Contains(out.String(), "k0qgv89kssqu") || !strings.Contains(out.String(), "…") {
				t.Errorf("width 60: want the ID left out and long cells cut:\n%s", out.String())
			}
		}
	}
}

// checkFits runs `herald ARGS` at 60 and 100 columns ($COLUMNS, as on a
// terminal that wide) and checks that no line is wider, and that --json
// is the same whatever the width.
func checkFits(t *testing.T, env map[string]string, args ...string) {
	t.Helper()
	at := func(cols string) map[string]string {
		e := map[string]string{"COLUMNS": cols}
		for k, v := range env {
			e[k] = v
		}
		return e
	}
	for _, width := range []int{60, 100} {
		out := mustCLI(t, at(strconv.Itoa(width)), args...).stdout
		for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			if utf8.RuneCountInString(l) > width {
				t.Errorf("herald %s at %d columns: a line of %d:\n%s", strings.Join(args, " "), width, utf8.RuneCountInString(l), out)
				break
			}
		}
	}
	if narrow, wide := mustCLI(t, at("60"), append(args, "--json")...).stdout, mustCLI(t, env, append(args, "--json")...).stdout; narrow != wide {
		t.Errorf("herald %s --json changes with the width", strings.Join(args, " "))
	}
}

// TestBroadcastListFits: an incident's broadcasts fit 60 and 80 columns
// (every row wrapped onto two lines there), the time and then the kind
// giving way before the counts are cut, and the counts account for every
// planned message: collapsed ones had no column, so PLANNED 5, SENT 2,
// DELIVERED 1 left 2 unexplained.
func TestBroadcastListFits(t *testing.T) {
	created := time.Date(2026, 12, 6, 11, 27, 38, 0, time.UTC)
	list := []queue.Progress{
		{BroadcastID: "bm05ymfrl1x7", Kind: "declared", State: queue.PlanDone, Planned: 5, CreatedAt: created,
			Counts: map[channel.Kind]map[queue.DeliveryState]int{
				channel.SMS:   {queue.StateDelivered: 1},
				channel.Email: {queue.StateSent: 2, queue.StateCollapsed: 2},
			}},
		{BroadcastID: "l86b0jp6dzzn", Kind: "updated", State: queue.PlanDone, Planned: 2, CreatedAt: created,
			Counts: map[channel.Kind]map[queue.DeliveryState]int{channel.Email: {queue.StatePending: 1, queue.StateCancelled: 1}}},
	}
	a0 := &app{}
	rows := [][]string{a0.broadcastRow(&list[0]), a0.broadcastRow(&list[1])}
	if got := rows[0][len(rows[0])-1]; got != "5: 1 delivered, 2 sent, 2 collapsed" {
		t.Errorf("counts %q", got)
	}
	if got := rows[1][len(rows[1])-1]; got != "2: 1 pending, 1 cancelled" {
		t.Errorf("counts %q", got)
	}
	for _, width := range []int{0, 60, 80, 120} {
		a := &app{getenv: envMap(map[string]string{"COLUMNS": map[bool]string{true: "", false: strconv.Itoa(width)}[width == 0]})}
		var out strings.Builder
		a.stdout = newSafeWriter(&out)
		if err := a.printFitted(broadcastColumns, rows); err != nil {
			t.Fatal(err)
		}
		t.Logf("width %d:\n%s", width, out.String())
		lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
		for _, l := range lines {
			if width > 0 && utf8.RuneCountInString(l) > width {
				t.Errorf("width %d: a line of %d: %q", width, utf8.RuneCountInString(l), l)
			}
		}
		if !strings.Contains(lines[1], "5: 1 delivered, 2 sent, 2 collapsed") {
			t.Errorf("width %d: the counts are cut: %q", width, lines[1])
		}
		if width >= 80 && !strings.Contains(lines[1], "declared") {
			t.Errorf("width %d: no kind: %q", width, lines[1])
		}
		if (width == 0 || width >= 120) && !strings.Contains(lines[1], "2026-12-06 11:27") {
			t.Errorf("width %d: no time: %q", width, lines[1])
		}
	}
}

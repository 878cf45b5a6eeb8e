package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Lists with long columns (a complaint's words, a delivery's reason) are
// fitted to the terminal, as the progress bars are: on a narrow one the
// columns that can be cut are cut with "…", and when that is not enough
// the least useful ones are left out, so that no row wraps into the next.
// A pipe or a file gets whole rows (or $COLUMNS wide ones); --json never
// changes.

// column is one column of a fitted list.
type column struct {
	head string
	// cut is the narrowest the column may be cut to, "…" included; 0:
	// never cut (an ID, a time).
	cut int
	// drop orders the columns left out when cutting is not enough: the
	// highest first; 0: always shown.
	drop int
	// whole: leave out columns that may go before cutting this one (its
	// words are what the list is for, such as a broadcast's counts); it
	// is cut only when that is not enough.
	whole bool
}

// tableWidth is the width stdout's tables must fit: the terminal's when
// stdout is one, else $COLUMNS when set, else 0 (no limit).
func (a *app) tableWidth() int {
	if sw, ok := a.stdout.(*safeWriter); ok {
		if f, ok := sw.w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				return termWidth(f, a.getenv)
			}
		}
	}
	if n, err := strconv.Atoi(a.getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 0
}

// fitColumns chooses which columns to show and how wide, for rows to fit
// in width (0: no limit). A column shown is at least as wide as its head.
func fitColumns(width int, cols []column, rows [][]string) (show []bool, widths []int) {
	natural := make([]int, len(cols))
	// blank: a column that may be cut and is empty in every row (a
	// customer's deliveries that all went well have no reason); it shows
	// only its head, so on a narrow terminal it goes before any other.
	blank := make([]bool, len(cols))
	for i, c := range cols {
		natural[i] = utf8.RuneCountInString(c.head)
		blank[i] = c.cut > 0
		for _, r := range rows {
			natural[i] = max(natural[i], utf8.RuneCountInString(r[i]))
			if r[i] != "" {
				blank[i] = false
			}
		}
	}
	show = make([]bool, len(cols))
	for i := range show {
		show[i] = true
	}
	widths = append([]int(nil), natural...)
	if width <= 0 {
		return show, widths
	}
	narrowest := func(i int) int {
		if cols[i].cut == 0 {
			return natural[i]
		}
		return min(natural[i], max(cols[i].cut, utf8.RuneCountInString(cols[i].head)))
	}
	// need is the width of the shown columns, each at most limit wide
	// where it may be cut.
	need := func(limit int) int {
		n := 0
		for i := range cols {
			if !show[i] {
				continue
			}
			if n > 0 {
				n += 2
			}
			w := natural[i]
			if cols[i].cut > 0 {
				w = max(narrowest(i), min(natural[i], limit))
			}
			n += w
		}
		return n
	}
	// Leave out columns until the shown ones fit once cut to their
	// narrowest: first with the whole columns uncut, and if that is not
	// enough, with them cut too.
	leaveOut := func() bool {
		for need(0) > width {
			worst := -1
			for i, c := range cols {
				if show[i] && blank[i] {
					worst = i
					break
				}
				if show[i] && c.drop > 0 && (worst < 0 || c.drop > cols[worst].drop) {
					worst = i
				}
			}
			if worst < 0 {
				return false // nothing more to leave out
			}
			show[worst] = false
		}
		return true
	}
	cutWhole := false
	narrowestCut := narrowest
	narrowest = func(i int) int {
		if cols[i].whole && !cutWhole {
			return natural[i]
		}
		return narrowestCut(i)
	}
	if !leaveOut() {
		cutWhole = true
		for i := range show {
			show[i] = true
		}
		leaveOut() // when even this is not enough, the rows wrap
	}
	// Then cut the widest cuttable columns to one limit, as wide as fits.
	limit := 0
	for _, n := range natural {
		limit = max(limit, n)
	}
	for limit > 0 && need(limit) > width {
		limit--
	}
	for i, c := range cols {
		if c.cut > 0 {
			widths[i] = max(narrowest(i), min(natural[i], limit))
		}
	}
	return show, widths
}

// cutTo shortens s to at most n characters, ending in "…" when cut.
func cutTo(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// printFitted prints rows under cols' heads, fitted to the terminal
// (fitColumns). Each cell must already be printable and on one line.
func (a *app) printFitted(cols []column, rows [][]string) error {
	show, widths := fitColumns(a.tableWidth(), cols, rows)
	last := -1 // the last column shown, which is not padded
	for i := range cols {
		if show[i] {
			last = i
		}
	}
	line := func(cells []string) string {
		var b strings.Builder
		first := true
		for i, cell := range cells {
			if !show[i] {
				continue
			}
			if !first {
				b.WriteString("  ")
			}
			first = false
			cell = cutTo(cell, widths[i])
			b.WriteString(cell)
			if i != last {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)))
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.head
	}
	if _, err := fmt.Fprintln(a.stdout, line(heads)); err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := fmt.Fprintln(a.stdout, line(r)); err != nil {
			return err
		}
	}
	return nil
}

package reports

import (
	"regexp"
	"strconv"
	"testing"
)

// markLabel finds each mark's label (the red text) in an SVG.
var markLabel = regexp.MustCompile(`<text x="([0-9.]+)" y="([0-9.]+)" text-anchor="middle" fill="#B00020">([^<]*)</text>`)

var viewBoxH = regexp.MustCompile(`viewBox="0 0 \d+ (\d+)"`)

func TestMarkLabelsDoNotOverlap(t *testing.T) {
	labels := make([]string, 24)
	vals := make([]int, 24)
	for i := range vals {
		vals[i] = i % 5
	}
	cases := []struct {
		name  string
		marks []ChartMark
		lines int // distinct label lines expected
	}{
		{"same moment", []ChartMark{{Index: 3, Label: "Declared"}, {Index: 3, Label: "Update"}, {Index: 3, Label: "Resolved"}}, 3},
		{"far apart", []ChartMark{{Index: 1, Label: "Declared"}, {Index: 12, Label: "Update"}, {Index: 22, Label: "Resolved"}}, 1},
		{"out of order", []ChartMark{{Index: 22, Label: "Resolved"}, {Index: 1, Label: "Declared"}, {Index: 1.2, Label: "Update"}}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := BarChart{ID: "c", Title: "t", Labels: labels, Series: []Series{{Name: "n", Values: vals}}, Marks: tc.marks}
			for _, w := range []int{wideW, narrowW} {
				checkMarkLabels(t, string(c.columns(w, "chart", "c")), len(tc.marks), tc.lines)
			}
		})
	}
}

func checkMarkLabels(t *testing.T, svg string, marks, lines int) {
	t.Helper()
	found := markLabel.FindAllStringSubmatch(svg, -1)
	if len(found) != marks {
		t.Fatalf("found %d mark labels, want %d:\n%s", len(found), marks, svg)
	}
	type box struct{ x, y, half float64 }
	var boxes []box
	ys := map[float64]bool{}
	for _, f := range found {
		x, _ := strconv.ParseFloat(f[1], 64)
		y, _ := strconv.ParseFloat(f[2], 64)
		ys[y] = true
		boxes = append(boxes, box{x, y, float64(len([]rune(f[3]))) * chartFontPx * 0.3})
	}
	if len(ys) != lines {
		t.Errorf("labels on %d lines, want %d", len(ys), lines)
	}
	for i := range boxes {
		for j := i + 1; j < len(boxes); j++ {
			a, b := boxes[i], boxes[j]
			if a.y == b.y && a.x-a.half < b.x+b.half && b.x-b.half < a.x+a.half {
				t.Errorf("labels %d and %d overlap on the line at y=%v", i, j, a.y)
			}
		}
	}
	h, _ := strconv.Atoi(viewBoxH.FindStringSubmatch(svg)[1])
	for _, b := range boxes {
		if b.y > float64(h) {
			t.Errorf("a label at y=%v is below the chart's height %d", b.y, h)
		}
	}
}

package reports

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
)

// herald's small chart code: stacked bar charts as inline SVG, drawn on
// the server, no JavaScript. Each chart has a <title> and a <desc> (named
// by aria-labelledby), and the page shows the same numbers in a table
// beside it, for screen readers and for anyone who wants the figures.
// Colours are the Okabe–Ito palette, told apart with colour blindness,
// and the legend names each; the page prints them (print-color-adjust).

// Palette, in the order series take it.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C7A00", "#555555", "#000000"}

// Series is one stacked layer of a bar chart.
type Series struct {
	Name   string
	Color  string // "" : the palette's next
	Values []int  // one per bar
}

// ChartMark is a vertical line at a bar's position (Index, fractional
// within the bar), labelled.
type ChartMark struct {
	Index float64
	Label string
}

// BarChart is a stacked bar chart: one bar per label.
type BarChart struct {
	ID     string // unique on the page: ids of the title and description
	Title  string
	Desc   string
	Labels []string // per bar; "" shows none
	Series []Series
	Marks  []ChartMark
	// Horizontal draws one row per label (few bars with long names),
	// else columns (a time axis).
	Horizontal bool
}

// Chart geometry (viewBox units). Each chart is drawn twice, wide (for
// screens and print) and narrow (for phones, chosen by CSS), so its text
// stays readable at either size without scrolling or scripts.
const (
	wideW       = 720
	narrowW     = 380
	chartH      = 260
	chartPadL   = 56
	chartPadR   = 16
	chartPadT   = 40
	chartPadB   = 72
	rowH        = 28
	rowLabelW   = 120
	chartFontPx = 13
)

func esc(s string) string { return template.HTMLEscapeString(s) }

// axis returns the top of an axis for values up to m and its step: four
// steps or fewer of 1, 2 or 5 × a power of ten.
func axis(m int) (top, step int) {
	if m < 1 {
		m = 1
	}
	raw := float64(m) / 4
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 1
	for _, f := range []float64{1, 2, 5, 10} {
		if v := f * p; v >= raw {
			step = max(int(v), 1)
			break
		}
	}
	top = (m + step - 1) / step * step
	return top, step
}

// SVG renders the chart, wide and narrow.
func (c BarChart) SVG() template.HTML {
	draw := c.columns
	if c.Horizontal {
		draw = c.rows
	}
	return draw(wideW, "chart wide", c.ID) + draw(narrowW, "chart narrow", c.ID+"-n")
}

func (c BarChart) colors() []string {
	out := make([]string, len(c.Series))
	for i, s := range c.Series {
		out[i] = s.Color
		if out[i] == "" {
			out[i] = palette[i%len(palette)]
		}
	}
	return out
}

func (c BarChart) open(b *strings.Builder, w, h int, class, id string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="%s" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" font-family="system-ui, sans-serif" font-size="%d">`,
		class, w, h, esc(id), esc(id), chartFontPx)
	fmt.Fprintf(b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, esc(id), esc(c.Title), esc(id), esc(c.Desc))
}

// legendRows is how many lines the legend takes at width w.
func (c BarChart) legendRows(w int) int {
	rows, x := 1, 8
	for _, s := range c.Series {
		iw := 16 + 7*len([]rune(s.Name)) + 16
		if x+iw > w && x > 8 {
			rows, x = rows+1, 8
		}
		x += iw
	}
	return rows
}

// legend draws the series' names along the top, wrapping at width w.
func (c BarChart) legend(b *strings.Builder, colors []string, w int) {
	x, y := 8, 10
	for i, s := range c.Series {
		iw := 16 + 7*len([]rune(s.Name)) + 16
		if x+iw > w && x > 8 {
			x, y = 8, y+18
		}
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" fill="#222">%s</text>`, x, y, colors[i], x+16, y+11, esc(s.Name))
		x += iw
	}
}

func (c BarChart) total(i int) int {
	t := 0
	for _, s := range c.Series {
		if i < len(s.Values) {
			t += s.Values[i]
		}
	}
	return t
}

func (c BarChart) columns(chartW int, class, id string) template.HTML {
	var b strings.Builder
	padT := chartPadT + 18*(c.legendRows(chartW)-1)
	n := len(c.Labels)
	var lanes []int
	extra := 0
	if n > 0 {
		var used int
		lanes, used = c.markLanes(float64(chartW-chartPadL-chartPadR) / float64(n))
		extra = markLaneH * max(0, used-2)
	}
	h := chartH + padT - chartPadT + extra
	c.open(&b, chartW, h, class, id)
	colors := c.colors()
	c.legend(&b, colors, chartW)
	top := 0
	for i := range n {
		top = max(top, c.total(i))
	}
	ymax, step := axis(top)
	plotW, plotH := float64(chartW-chartPadL-chartPadR), float64(h-padT-chartPadB-extra)
	y0 := float64(h - chartPadB - extra)
	for v := 0; v <= ymax; v += step {
		y := y0 - plotH*float64(v)/float64(ymax)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end" fill="#444">%d</text>`,
			chartPadL, chartW-chartPadR, y, y, chartPadL-6, y+4, v)
	}
	if n > 0 {
		bw := plotW / float64(n)
		gap := math.Min(bw*0.15, 2)
		every := max(1, int(math.Ceil(float64(n)/float64(max(chartW/90, 2)))))
		for i := range n {
			x := float64(chartPadL) + bw*float64(i)
			y := y0
			for si, s := range c.Series {
				if i >= len(s.Values) || s.Values[i] == 0 {
					continue
				}
				h := plotH * float64(s.Values[i]) / float64(ymax)
				y -= h
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %d</title></rect>`,
					x+gap/2, y, math.Max(bw-gap, 0.5), h, colors[si], esc(c.Labels[i]), esc(s.Name), s.Values[i])
			}
			if i%every == 0 && c.Labels[i] != "" {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#444">%s</text>`, x+bw/2, y0+18, esc(c.Labels[i]))
			}
		}
		for k, m := range c.Marks {
			x := float64(chartPadL) + bw*m.Index
			// Each label takes the first line below the axis where it
			// clears the labels already there, so marks close together
			// (or at the same moment) stay readable.
			ly := y0 + 40 + float64(lanes[k]*markLaneH)
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#B00020" stroke-width="1.5" stroke-dasharray="4 3"/>`, x, x, padT, y0+26)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#B00020">%s</text>`, x, ly, esc(m.Label))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#444"/>`, chartPadL, chartW-chartPadR, y0, y0)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// markLaneH is the height of one line of mark labels below the axis.
const markLaneH = 16

// markLanes gives each mark the first line of labels where its label
// (its width estimated from its length) does not overlap the labels
// already on that line, and says how many lines are used. bw is a bar's
// width.
func (c BarChart) markLanes(bw float64) (lanes []int, used int) {
	lanes = make([]int, len(c.Marks))
	var right []float64 // per line: where its last label ends
	order := make([]int, len(c.Marks))
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool { return c.Marks[order[a]].Index < c.Marks[order[b]].Index })
	for _, k := range order {
		m := c.Marks[k]
		x := float64(chartPadL) + bw*m.Index
		half := float64(len([]rune(m.Label))) * chartFontPx * 0.3
		lane := -1
		for l, r := range right {
			if r+6 <= x-half {
				lane = l
				break
			}
		}
		if lane < 0 {
			lane = len(right)
			right = append(right, 0)
		}
		right[lane] = x + half
		lanes[k] = lane
	}
	return lanes, len(right)
}

func (c BarChart) rows(chartW int, class, id string) template.HTML {
	var b strings.Builder
	n := len(c.Labels)
	padT := chartPadT + 18*(c.legendRows(chartW)-1)
	h := padT + n*rowH + 30
	c.open(&b, chartW, h, class, id)
	colors := c.colors()
	c.legend(&b, colors, chartW)
	top := 0
	for i := range n {
		top = max(top, c.total(i))
	}
	xmax, step := axis(top)
	labelW := min(rowLabelW, chartW/4)
	plotW := float64(chartW - labelW - chartPadR)
	x0 := float64(labelW)
	for v := 0; v <= xmax; v += step {
		x := x0 + plotW*float64(v)/float64(xmax)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle" fill="#444">%d</text>`,
			x, x, padT-4, padT+n*rowH, x, padT+n*rowH+18, v)
	}
	for i := range n {
		y := float64(padT + i*rowH + 4)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#222">%s</text>`, labelW-8, y+15, esc(c.Labels[i]))
		x := x0
		for si, s := range c.Series {
			if i >= len(s.Values) || s.Values[i] == 0 {
				continue
			}
			w := plotW * float64(s.Values[i]) / float64(xmax)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"><title>%s %s: %d</title></rect>`,
				x, y, math.Max(w, 0.5), rowH-8, colors[si], esc(c.Labels[i]), esc(s.Name), s.Values[i])
			x += w
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

package sandbox

import (
	"encoding/json"
	"html/template"
	"regexp"
	"strings"
)

// A rough preview of Block Kit, so the inbox shows a Slack message or a
// modal the way a person would read it rather than as JSON: headers,
// sections with their fields, context lines, dividers, buttons and input
// labels. Text is shown as given (mrkdwn markers included) and escaped by
// the page's template; nothing is rendered as HTML.

// previewBlock is one block as the inbox template shows it.
type previewBlock struct {
	Type    string   // header, section, context, divider, actions, input, other
	Text    string   // header, section and context text; an input's label
	Fields  []string // a section's fields
	Buttons []previewButton
	Value   string // an input's initial value or options, a section's accessory
}

type previewButton struct {
	Text, Style, URL string
}

type blockText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type blockElement struct {
	Type           string        `json:"type"`
	Text           *blockText    `json:"text"`
	Style          string        `json:"style"`
	URL            string        `json:"url"`
	Placeholder    *blockText    `json:"placeholder"`
	InitialValue   string        `json:"initial_value"`
	InitialOption  *blockOption  `json:"initial_option"`
	InitialOptions []blockOption `json:"initial_options"`
	Options        []blockOption `json:"options"`
}

type blockOption struct {
	Text  blockText `json:"text"`
	Value string    `json:"value"`
}

type block struct {
	Type      string            `json:"type"`
	Text      *blockText        `json:"text"`
	Label     *blockText        `json:"label"`
	Fields    []blockText       `json:"fields"`
	Elements  []json.RawMessage `json:"elements"`
	Element   *blockElement     `json:"element"`
	Accessory *blockElement     `json:"accessory"`
	Optional  bool              `json:"optional"`
}

// previewBlocks turns a Block Kit array into what the inbox shows; nil
// when raw is not one.
func previewBlocks(raw json.RawMessage) []previewBlock {
	var bs []block
	if len(raw) == 0 || json.Unmarshal(raw, &bs) != nil {
		return nil
	}
	out := make([]previewBlock, 0, len(bs))
	for _, b := range bs {
		p := previewBlock{Type: b.Type}
		switch b.Type {
		case "header", "section":
			if b.Text != nil {
				p.Text = b.Text.Text
			}
			for _, f := range b.Fields {
				p.Fields = append(p.Fields, f.Text)
			}
			if b.Accessory != nil {
				p.Value = elementValue(b.Accessory)
			}
		case "context":
			var parts []string
			for _, raw := range b.Elements {
				var t blockText
				if json.Unmarshal(raw, &t) == nil && t.Text != "" {
					parts = append(parts, t.Text)
				}
			}
			p.Text = strings.Join(parts, "  ·  ")
		case "actions":
			for _, raw := range b.Elements {
				var e blockElement
				if json.Unmarshal(raw, &e) == nil && e.Type == "button" && e.Text != nil {
					p.Buttons = append(p.Buttons, previewButton{Text: e.Text.Text, Style: e.Style, URL: e.URL})
				}
			}
		case "input":
			if b.Label != nil {
				p.Text = b.Label.Text
			}
			if b.Optional {
				p.Text += " (optional)"
			}
			if b.Element != nil {
				p.Value = elementValue(b.Element)
			}
		case "divider":
		default:
			p.Type, p.Text = "other", b.Type+" block"
		}
		out = append(out, p)
	}
	return out
}

// elementValue describes an input element by what it holds now.
func elementValue(e *blockElement) string {
	var vals []string
	switch {
	case e.InitialValue != "":
		vals = append(vals, e.InitialValue)
	case e.InitialOption != nil:
		vals = append(vals, e.InitialOption.Text.Text)
	case len(e.InitialOptions) > 0:
		for _, o := range e.InitialOptions {
			vals = append(vals, o.Text.Text)
		}
	case e.Type == "button" && e.Text != nil:
		vals = append(vals, "["+e.Text.Text+"]")
	case len(e.Options) > 0:
		var opts []string
		for _, o := range e.Options {
			opts = append(opts, o.Text.Text)
		}
		return "choose: " + strings.Join(opts, " / ")
	case e.Placeholder != nil:
		return "(" + e.Placeholder.Text + ")"
	}
	return strings.Join(vals, ", ")
}

// boldRun is Slack mrkdwn's *bold* within one line.
var boldRun = regexp.MustCompile(`\*([^*\n]+)\*`)

// emoji draws the shortcodes herald's messages use as coloured dots (a
// headless browser may have no emoji font).
var emoji = strings.NewReplacer(":red_circle:", `<span class="dot" style="background:#e01e5a"></span>`,
	":large_orange_circle:", `<span class="dot" style="background:#f2952f"></span>`,
	":large_yellow_circle:", `<span class="dot" style="background:#ecb22e"></span>`,
	":large_green_circle:", `<span class="dot" style="background:#2eb67d"></span>`)

// mrkdwn shows a little of Slack's mrkdwn: *bold* and herald's status
// dots. The text is escaped first, so the markup added is the only markup.
func mrkdwn(s string) template.HTML {
	esc := template.HTMLEscapeString(s)
	return template.HTML(emoji.Replace(boldRun.ReplaceAllString(esc, "<b>$1</b>"))) // #nosec: escaped above
}

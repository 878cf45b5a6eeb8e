// Package markdown renders the Markdown people write into herald (an
// incident's postmortem) as HTML that is safe to put in a page: goldmark
// with raw HTML left out (goldmark's default: it writes a comment in its
// place) and dangerous link targets (javascript:, data:, …) dropped,
// plus GitHub's tables and strikethrough.
package markdown

import (
	"bytes"
	"html/template"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

var md = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify))

// HTML renders src. Its output carries no markup from src itself: raw
// HTML is omitted, text escaped. On a rendering error (goldmark returns
// one only from its writer) the text is shown escaped.
func HTML(src string) template.HTML {
	var b bytes.Buffer
	if err := md.Convert([]byte(src), &b); err != nil {
		return template.HTML("<pre>" + template.HTMLEscapeString(src) + "</pre>")
	}
	return template.HTML(b.String()) // #nosec: goldmark without WithUnsafe escapes text and omits raw HTML
}

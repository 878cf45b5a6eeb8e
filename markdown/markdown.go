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
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

var md = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify),
	goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(headingsUnder{}, 100))))

// headingsUnder moves the author's headings two levels down: a postmortem
// sits under the page's own h1 and its section's h2, so "# What happened"
// is an h3 there (a second h1 on the page confused screen readers and
// the outline); levels stop at h6.
type headingsUnder struct{}

func (headingsUnder) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering {
			h.Level = min(h.Level+2, 6)
		}
		return ast.WalkContinue, nil
	})
}

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

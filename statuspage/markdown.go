package statuspage

import (
	"html/template"
	"regexp"
	"strings"
)

// Update text is plain text with a tiny Markdown subset: paragraphs and
// line breaks, **bold**, *em*, `code` and [text](https://url) links. The
// text is HTML-escaped first and the subset applied to the escaped text,
// so no input can produce markup other than the few tags added here.

var (
	reParagraph = regexp.MustCompile(`\n[ \t]*\n\s*`)
	reCode      = regexp.MustCompile("`([^`\n]+)`")
	reLink      = regexp.MustCompile(`\[([^\]\n]+)\]\(((?i:https?)://[^\s()<>]+)\)`)
	reBold      = regexp.MustCompile(`\*\*([^*\n]+)\*\*`)
	reEm        = regexp.MustCompile(`\*([^*\n]+)\*`)
)

// renderText turns an update's text into safe HTML: escaped, then the
// Markdown subset applied; links get rel="nofollow noopener".
func renderText(s string) template.HTML {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if s == "" {
		return ""
	}
	var b strings.Builder
	for _, para := range reParagraph.Split(s, -1) {
		b.WriteString("<p>")
		lines := strings.Split(para, "\n")
		for i, line := range lines {
			if i > 0 {
				b.WriteString("<br>")
			}
			inlineCode(&b, template.HTMLEscapeString(line))
		}
		b.WriteString("</p>")
	}
	return template.HTML(b.String())
}

// inlineCode writes escaped text with code spans, whose content is left
// as it is, and the other inline rules applied to the rest.
func inlineCode(b *strings.Builder, esc string) {
	if !strings.ContainsAny(esc, "`*[") {
		b.WriteString(esc)
		return
	}
	last := 0
	for _, m := range reCode.FindAllStringSubmatchIndex(esc, -1) {
		inlineLinks(b, esc[last:m[0]])
		b.WriteString("<code>")
		b.WriteString(esc[m[2]:m[3]])
		b.WriteString("</code>")
		last = m[1]
	}
	inlineLinks(b, esc[last:])
}

// inlineLinks writes links, with emphasis inside their text but never in
// their address, and emphasis elsewhere. The address is already escaped
// (a quote is &#34;), so it cannot leave the attribute.
func inlineLinks(b *strings.Builder, esc string) {
	last := 0
	for _, m := range reLink.FindAllStringSubmatchIndex(esc, -1) {
		b.WriteString(emphasis(esc[last:m[0]]))
		b.WriteString(`<a href="`)
		b.WriteString(esc[m[4]:m[5]])
		b.WriteString(`" rel="nofollow noopener">`)
		b.WriteString(emphasis(esc[m[2]:m[3]]))
		b.WriteString("</a>")
		last = m[1]
	}
	b.WriteString(emphasis(esc[last:]))
}

func emphasis(esc string) string {
	if !strings.Contains(esc, "*") {
		return esc
	}
	esc = reBold.ReplaceAllString(esc, "<strong>$1</strong>")
	return reEm.ReplaceAllString(esc, "<em>$1</em>")
}

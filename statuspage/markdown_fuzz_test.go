package statuspage

import (
	"html"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRenderText feeds arbitrary update text to renderText and checks that
// what comes out is safe, well-formed HTML made only of the tags the
// Markdown subset adds: every "<" starts one of them, every tag is closed
// and nested properly, links point at http(s) URLs only, and the text
// between tags is escaped. Text with no Markdown in it renders to the same
// HTML again when its visible text is rendered (the output is a fixed
// point of reading and re-rendering).
//
// The seeds in testdata/fuzz/FuzzRenderText run with every go test; fuzz
// with
//
//	go test -run '^$' -fuzz '^FuzzRenderText$' -fuzztime 60s -parallel 1 ./statuspage/
func FuzzRenderText(f *testing.F) {
	for _, s := range []string{
		"All good.",
		"  ",
		`<b>"hi"</b> & 'x'`,
		"one\ntwo\r\n\r\nthree",
		"**big** and *small*",
		"run `a*b*c` now",
		"`<x>`",
		"see [docs](https://x.test/a?b=1&c=2)",
		"[**a**](https://x.test)",
		"[a](https://x.test/*b*)",
		"[a](javascript:alert(1))",
		"[a](data:text/html,x)",
		`[a](https://x.test/"onclick=y)`,
		"**open",
		"<script>alert(1)</script>",
		"[<script>](https://x.test/<script>)",
		"*a **b** c*",
		"**a *b** c*",
		"[`a`](https://x.test)",
		"[a](HTTPS://x.test/'a'&amp;)",
		"a\r\r\n\nb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := string(renderText(in))
		if strings.TrimSpace(in) == "" {
			if out != "" {
				t.Fatalf("blank input %q rendered %q", in, out)
			}
			return
		}
		checkRenderedHTML(t, in, out)
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("UTF-8 input %q rendered invalid UTF-8 %q", in, out)
		}
		if !strings.ContainsAny(in, "*`[\r") {
			text := visibleText(out)
			if again := string(renderText(text)); again != out {
				t.Fatalf("not a fixed point: %q\n rendered %q\n its text %q\n rendered %q", in, out, text, again)
			}
		}
	})
}

// checkRenderedHTML walks out tag by tag. Allowed: <p>, <br>, <strong>,
// <em>, <code> and <a href="http(s)://…" rel="nofollow noopener">, each
// (but <br>) closed in order; <a> and <code> hold no further tags but
// emphasis; text holds no raw < > " ' and only the entities
// HTMLEscapeString writes.
func checkRenderedHTML(t *testing.T, in, out string) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("renderText(%q) = %q: "+format, append([]any{in, out}, args...)...)
	}
	if strings.Contains(strings.ToLower(out), "<script") {
		fail("a script tag")
	}
	var stack []string
	rest := out
	for rest != "" {
		i := strings.IndexByte(rest, '<')
		text := rest
		if i >= 0 {
			text = rest[:i]
		}
		checkEscapedText(fail, text)
		if i < 0 {
			break
		}
		rest = rest[i:]
		j := strings.IndexByte(rest, '>')
		if j < 0 {
			fail("unterminated tag")
		}
		tag := rest[:j+1]
		rest = rest[j+1:]
		switch {
		case tag == "<br>":
			if len(stack) == 0 || stack[0] != "p" {
				fail("<br> outside a paragraph")
			}
		case strings.HasPrefix(tag, "</"):
			name := tag[2 : len(tag)-1]
			if len(stack) == 0 || stack[len(stack)-1] != name {
				fail("%s closes %v", tag, stack)
			}
			stack = stack[:len(stack)-1]
		case strings.HasPrefix(tag, `<a href="`):
			href, ok := strings.CutSuffix(strings.TrimPrefix(tag, `<a href="`), `" rel="nofollow noopener">`)
			if !ok || strings.ContainsAny(href, `"'<> `) {
				fail("malformed link tag %q", tag)
			}
			checkEscapedText(fail, href)
			// The address need not parse as a URL ("http://a%" does not,
			// and a browser shows it as a broken link); its scheme is what
			// keeps script out.
			u := strings.ToLower(html.UnescapeString(href))
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				fail("link %q is not an http(s) URL", href)
			}
			stack = pushTag(fail, stack, "a")
		case tag == "<p>" || tag == "<strong>" || tag == "<em>" || tag == "<code>":
			stack = pushTag(fail, stack, tag[1:len(tag)-1])
		default:
			fail("tag %q is not one the Markdown subset writes", tag)
		}
	}
	if len(stack) != 0 {
		fail("unclosed %v", stack)
	}
}

func pushTag(fail func(string, ...any), stack []string, name string) []string {
	switch {
	case name == "p" && len(stack) != 0:
		fail("<p> inside %v", stack)
	case name != "p" && len(stack) == 0:
		fail("<%s> outside a paragraph", name)
	}
	for _, open := range stack {
		if open == name || open == "code" || open == "a" && name != "strong" && name != "em" {
			fail("<%s> inside %v", name, stack)
		}
	}
	return append(stack, name)
}

// checkEscapedText fails on raw markup characters and on entities other
// than those template.HTMLEscapeString writes.
func checkEscapedText(fail func(string, ...any), s string) {
	if strings.ContainsAny(s, `<>"'`) || strings.ContainsRune(s, 0) {
		fail("unescaped markup in text %q", s)
	}
	for i := strings.IndexByte(s, '&'); i >= 0; i = strings.IndexByte(s, '&') {
		s = s[i:]
		ok := false
		for _, e := range []string{"&amp;", "&lt;", "&gt;", "&#34;", "&#39;"} {
			if strings.HasPrefix(s, e) {
				ok = true
				break
			}
		}
		if !ok {
			fail("unknown entity at %q", s)
		}
		s = s[1:]
	}
}

// visibleText is what a reader sees of rendered HTML, as the text that
// would render it: paragraphs apart by a blank line, <br> a newline,
// other tags dropped, entities unescaped.
func visibleText(out string) string {
	r := strings.NewReplacer("</p><p>", "\n\n", "<br>", "\n", "<p>", "", "</p>", "")
	return html.UnescapeString(r.Replace(out))
}

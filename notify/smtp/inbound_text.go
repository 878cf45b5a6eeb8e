package smtp

import (
	"fmt"
	"mime"
	netmail "net/mail"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Automatic reports why an inbound email was written by a machine (an
// auto-reply, a bounce, a list, herald's own mail coming back) and must be
// neither filed nor answered, or "" for a person's mail. own lists herald's
// own sender addresses. The signals are RFC 3834 §2's, RFC 3464's and the
// de facto ones (docs reference/inbound.md §3d); answering any of them
// risks a mail loop between herald and another robot.
func (in InboundEmail) Automatic(own ...string) string {
	h := in.Header
	get := func(k string) string { return strings.ToLower(strings.TrimSpace(h.Get(k))) }
	if v := get("Auto-Submitted"); v != "" && !strings.HasPrefix(v, "no") {
		return "auto-submitted"
	}
	if h.Get("X-Autoreply") != "" || h.Get("X-Autorespond") != "" || h.Get("X-Autoresponder") != "" {
		return "x-autoreply"
	}
	for _, v := range strings.FieldsFunc(get("X-Auto-Response-Suppress"), func(r rune) bool { return r == ',' || r == ' ' }) {
		if v == "all" || v == "oof" || v == "autoreply" {
			return "x-auto-response-suppress"
		}
	}
	switch get("Precedence") {
	case "bulk", "junk", "list", "auto_reply":
		return "precedence"
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "list-") {
			return "list"
		}
	}
	if h.Get("Feedback-Id") != "" {
		return "feedback-id"
	}
	if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil && mt == "multipart/report" {
		return "report"
	}
	if rp, ok := h["Return-Path"]; ok && len(rp) > 0 && strings.TrimSpace(rp[0]) == "<>" {
		return "null sender"
	}
	if in.Envelope != nil && in.Envelope.From == "" {
		return "null sender"
	}
	for _, addr := range []string{in.From, envelopeFrom(in.Envelope)} {
		if addr == "" {
			continue
		}
		if robotSender(addr) {
			return "robot sender"
		}
		for _, o := range own {
			if o != "" && strings.EqualFold(addr, o) {
				return "own address"
			}
		}
	}
	if strings.TrimSpace(in.From) == "" {
		return "no sender"
	}
	return ""
}

func envelopeFrom(e *Envelope) string {
	if e == nil {
		return ""
	}
	return e.From
}

// robotSender reports whether addr is a mail system's or a list's own:
// MAILER-DAEMON, postmaster, owner-* and *-request (RFC 3834 §2).
func robotSender(addr string) bool {
	local := strings.ToLower(addr)
	if i := strings.LastIndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	return local == "mailer-daemon" || local == "postmaster" || strings.HasPrefix(local, "owner-") || strings.HasSuffix(local, "-request")
}

// CustomerText is what the customer wrote, as a complaint keeps it: the
// text part (or the HTML part reduced to text), with the quoted history of
// a reply trimmed where that is safe (StripQuoted), and the attachments
// listed in a footnote by name, type and size.
func (in InboundEmail) CustomerText() string {
	text := in.Text
	if strings.TrimSpace(text) == "" && in.HTML != "" {
		text = HTMLToText(in.HTML)
	}
	text = StripQuoted(text)
	if len(in.Attachments) > 0 {
		var b strings.Builder
		b.WriteString(text)
		b.WriteString("\n\n[attachments not kept:")
		for i, a := range in.Attachments {
			if i > 0 {
				b.WriteString(";")
			}
			name := a.Name
			if name == "" {
				name = "unnamed"
			}
			fmt.Fprintf(&b, " %s (%s, %s)", name, a.Type, byteSize(a.Size))
		}
		b.WriteString("]")
		text = b.String()
	}
	return strings.TrimSpace(text)
}

// byteSize prints n as people read it: 512 B, 12 KiB, 1.5 MiB.
func byteSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%d KiB", (n+1<<9)>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// HTMLToText reduces an HTML body to plain text with a real HTML parser
// (golang.org/x/net/html), never with patterns: the text of the document in
// reading order, block elements on their own lines, links as "text (URL)"
// when the URL is not the text, and script, style, head and template
// content dropped. The result is plain text, to be escaped wherever it is
// shown.
func HTMLToText(s string) string {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return ""
	}
	var b strings.Builder
	writeText(&b, doc, false)
	return tidyLines(b.String())
}

// writeText writes n's text to b (HTMLToText).
func writeText(b *strings.Builder, n *html.Node, pre bool) {
	switch n.Type {
	case html.TextNode:
		if pre {
			b.WriteString(n.Data)
		} else {
			writeCollapsed(b, n.Data)
		}
		return
	case html.CommentNode, html.DoctypeNode:
		return
	case html.ElementNode:
		switch n.DataAtom {
		case atom.Script, atom.Style, atom.Head, atom.Template, atom.Noscript, atom.Title, atom.Iframe, atom.Object, atom.Svg:
			return
		case atom.Br:
			b.WriteString("\n")
			return
		case atom.Img:
			if alt := attr(n, "alt"); strings.TrimSpace(alt) != "" {
				writeCollapsed(b, "["+alt+"]")
			}
			return
		case atom.Pre:
			pre = true
		case atom.Blockquote:
			// Quoted history in HTML mail: mark it quoted, so StripQuoted
			// trims it like a plain-text reply's.
			var q strings.Builder
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				writeText(&q, c, pre)
			}
			newline(b)
			for _, line := range strings.Split(tidyLines(q.String()), "\n") {
				b.WriteString("> " + line + "\n")
			}
			return
		}
	}
	block := n.Type == html.ElementNode && blockElements[n.DataAtom]
	if block {
		newline(b)
	}
	if n.Type == html.ElementNode && n.DataAtom == atom.Li {
		b.WriteString("- ")
	}
	start := b.Len()
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		writeText(b, c, pre)
	}
	if n.Type == html.ElementNode && n.DataAtom == atom.A {
		href := attr(n, "href")
		if (strings.HasPrefix(href, "http://") || strings.HasPrefix(href, "https://")) && !strings.Contains(b.String()[start:], href) {
			b.WriteString(" (" + href + ")")
		}
	}
	if block {
		newline(b)
	}
}

var blockElements = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Tr: true, atom.Li: true, atom.Ul: true, atom.Ol: true, atom.Table: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true, atom.Hr: true,
	atom.Pre: true, atom.Section: true, atom.Article: true, atom.Header: true, atom.Footer: true, atom.Blockquote: true,
	atom.Dl: true, atom.Dt: true, atom.Dd: true, atom.Address: true,
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// writeCollapsed writes text with runs of white space folded to one space.
func writeCollapsed(b *strings.Builder, s string) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		if s != "" && b.Len() > 0 && !strings.HasSuffix(b.String(), " ") && !strings.HasSuffix(b.String(), "\n") {
			b.WriteString(" ")
		}
		return
	}
	if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r') && b.Len() > 0 && !strings.HasSuffix(b.String(), " ") && !strings.HasSuffix(b.String(), "\n") {
		b.WriteString(" ")
	}
	b.WriteString(strings.Join(fields, " "))
	if last := s[len(s)-1]; last == ' ' || last == '\t' || last == '\n' || last == '\r' {
		b.WriteString(" ")
	}
}

func newline(b *strings.Builder) {
	if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
}

// tidyLines trims each line and keeps at most one empty line in a row.
func tidyLines(s string) string {
	var out []string
	blank := false
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, line)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// replyHeaderEndings end the line a mail client puts above the quoted
// message, in herald's four languages: "On <date>, <name> wrote:", "<date>
// <name> ezt írta:", "W dniu <date> <name> napisał(a):" (Thunderbird:
// "W dniu <date>, <name> pisze:"), "<name> je napisao/la:". Each cuts
// only when the quotation follows it (quotationFollows).
var replyHeaderEndings = []string{"wrote:", "írta:", "napisał:", "napisała:", "napisał(a):", "pisze:", "napisao:", "napisala:", "napisao/la:", "napisao je:", "napisala je:"}

// StripQuoted trims a reply's quoted history, keeping the customer's new
// words: it cuts at the client's "On … wrote:" line (joined when Gmail
// wraps it onto two lines) when the quotation follows it (quotationFollows:
// a customer's own "My accountant wrote:" above their words is kept), at
// Outlook's "-----Original Message-----" or
// its "From: … Sent: …" block, or at a line of underscores, and drops
// lines quoted with ">" and a "-- " signature. It is safe: when nothing
// would be left (a message that is all quote, or quoted inline with no
// words of the customer's), the text is returned whole.
func StripQuoted(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	lines := strings.Split(text, "\n")
	cut := len(lines)
	for i := 0; i < len(lines) && cut == len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		lower := strings.ToLower(line)
		switch {
		case isReplyHeader(lower) && quotationFollows(lines[i+1:]):
			cut = i
		case i+1 < len(lines) && line != "" && !strings.HasPrefix(line, ">") &&
			isReplyHeader(strings.ToLower(line+" "+strings.TrimSpace(lines[i+1]))) && quotationFollows(lines[i+2:]):
			cut = i
		case strings.Trim(line, "-") != line && strings.EqualFold(strings.Trim(line, "- "), "original message"):
			cut = i
		case len(line) >= 5 && strings.Trim(line, "_") == "":
			cut = i
		case strings.HasPrefix(lower, "from:") && outlookBlock(lines[i+1:]):
			cut = i
		case lines[i] == "-- " || line == "--":
			cut = i
		}
	}
	var kept []string
	for _, line := range lines[:cut] {
		if strings.HasPrefix(strings.TrimLeft(line, " "), ">") {
			continue
		}
		kept = append(kept, line)
	}
	out := strings.TrimSpace(strings.Join(kept, "\n"))
	if out == "" {
		return strings.TrimSpace(text)
	}
	return out
}

func isReplyHeader(lower string) bool {
	if len(lower) > 300 {
		return false
	}
	for _, end := range replyHeaderEndings {
		if strings.HasSuffix(lower, end) && len(lower) > len(end) {
			return true
		}
	}
	return false
}

// quotationFollows reports whether the lines after an "… wrote:" line are
// the message it introduces, quoted: after any blank lines, either lines
// marked ">" to the end (blank lines between them, and a "-- " signature
// after them, allowed), as Gmail, Apple Mail and Thunderbird quote, or an
// Outlook-style header block (From:, Sent:/Date:, To:, Subject:). Anything
// else is the customer's own text: a sentence of theirs that happens to end
// in "wrote:" ("My accountant wrote:", "A férjem ezt írta:"), followed by
// their words, or a quotation followed by more of their words.
func quotationFollows(rest []string) bool {
	i := 0
	for i < len(rest) && strings.TrimSpace(rest[i]) == "" {
		i++
	}
	if i == len(rest) {
		return false
	}
	if headerBlock(rest[i:]) {
		return true
	}
	if !strings.HasPrefix(strings.TrimSpace(rest[i]), ">") {
		return false
	}
	for _, l := range rest[i:] {
		t := strings.TrimSpace(l)
		switch {
		case t == "" || strings.HasPrefix(t, ">"):
		case l == "-- " || t == "--":
			return true
		default:
			return false
		}
	}
	return true
}

// headerBlock reports whether lines start with a quoted message's header
// block: its first line and at least one of the next three are From:,
// Sent:, Date:, To:, Cc: or Subject: fields.
func headerBlock(lines []string) bool {
	field := func(l string) bool {
		l = strings.ToLower(strings.TrimSpace(l))
		for _, f := range [...]string{"from:", "sent:", "date:", "to:", "cc:", "subject:"} {
			if strings.HasPrefix(l, f) {
				return true
			}
		}
		return false
	}
	if len(lines) == 0 || !field(lines[0]) {
		return false
	}
	for i := 1; i < len(lines) && i < 4; i++ {
		if field(lines[i]) {
			return true
		}
	}
	return false
}

// outlookBlock reports whether the lines after a "From:" line look like
// Outlook's header block of the quoted message (Sent:/Date:, To:, Subject:
// within the next few lines).
func outlookBlock(rest []string) bool {
	for i := 0; i < len(rest) && i < 5; i++ {
		l := strings.ToLower(strings.TrimSpace(rest[i]))
		if strings.HasPrefix(l, "sent:") || strings.HasPrefix(l, "subject:") || strings.HasPrefix(l, "date:") {
			return true
		}
	}
	return false
}

// ParseHeaderBlock reads a block of raw header lines (SendGrid's headers
// field) into a header.
func ParseHeaderBlock(raw string) (netmail.Header, error) {
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	raw = strings.TrimLeft(raw, "\n")
	if !strings.HasSuffix(raw, "\n\n") {
		raw = strings.TrimRight(raw, "\n") + "\n\n"
	}
	msg, err := netmail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return msg.Header, nil
}

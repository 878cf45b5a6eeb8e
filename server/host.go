package server

import (
	"bytes"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// hostProblem says what is wrong with a request's Host header, or "".
//
// RFC 9112 3.2: a server answers 400 to an HTTP/1.1 request without a
// Host, and to any request with more than one Host line or a Host that is
// not a host and port. fasthttp takes any of them (the last of two Host
// lines wins). herald picks the status page by Host, so a request that a
// proxy or cache in front and herald could read as two different pages is
// refused rather than answered for either.
func hostProblem(h *fasthttp.RequestHeader) string {
	head := readHead(h)
	return head.hostProblem(h)
}

func (head *requestHead) hostProblem(h *fasthttp.RequestHeader) string {
	switch {
	case head.hosts > 1:
		return "the request has more than one Host header"
	case head.hosts == 0 && !h.IsHTTP11():
		return "" // HTTP/1.0 needs none
	case head.hosts == 0:
		return "the request has no Host header"
	case len(head.host) == 0:
		return "the request's Host header is empty"
	case !validHost(head.host):
		return "the request's Host header is not a host name or address with an optional port"
	}
	return ""
}

// requestHead is what the public pages read from a request's header
// lines, found in one pass over the lines as they arrived: fasthttp's
// Peek copies and normalises the name it is asked for and walks its list
// of headers for each, which for the five names below cost about as much
// as answering the request (BenchmarkServeConn). The values alias the
// request's buffer: valid while the request is.
type requestHead struct {
	hosts int    // Host lines
	host  []byte // the last Host line's value
	// The first line of each, as fasthttp's Peek answers it.
	acceptEncoding, ifNoneMatch, acceptLanguage []byte
	cookie                                      bool // a Cookie line
}

// readHead reads a request's header lines once (requestHead).
func readHead(h *fasthttp.RequestHeader) requestHead {
	var head requestHead
	raw := h.RawHeaders()
	if len(raw) == 0 {
		// Not read from a connection (a request built in memory), or no
		// header at all: ask fasthttp, whose Host is the one.
		if head.host = h.Host(); len(head.host) > 0 {
			head.hosts = 1
		}
		head.acceptEncoding = h.Peek(fiber.HeaderAcceptEncoding)
		head.ifNoneMatch = h.Peek(fiber.HeaderIfNoneMatch)
		head.acceptLanguage = h.Peek(fiber.HeaderAcceptLanguage)
		head.cookie = len(h.Peek(fiber.HeaderCookie)) > 0
		return head
	}
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 4 {
			continue
		}
		name := line[:colon]
		switch colon {
		case 4:
			if bytes.EqualFold(name, []byte("host")) {
				head.hosts++
				// Spaces around the value, as fasthttp trims them; a tab
				// there would stay in the address fasthttp routes by.
				head.host = trimValue(line[5:], false)
			}
		case 6:
			head.cookie = head.cookie || bytes.EqualFold(name, []byte("cookie"))
		case 13:
			if head.ifNoneMatch == nil && bytes.EqualFold(name, []byte(fiber.HeaderIfNoneMatch)) {
				head.ifNoneMatch = headValue(line[colon+1:])
			}
		case 15:
			if head.acceptEncoding == nil && bytes.EqualFold(name, []byte(fiber.HeaderAcceptEncoding)) {
				head.acceptEncoding = headValue(line[colon+1:])
			} else if head.acceptLanguage == nil && bytes.EqualFold(name, []byte(fiber.HeaderAcceptLanguage)) {
				head.acceptLanguage = headValue(line[colon+1:])
			}
		}
	}
	return head
}

// headValue is a header line's value without the spaces and tabs around
// it or the line's CR; empty but not nil when the line has none, so that
// a first empty line is told from no line.
func headValue(b []byte) []byte {
	if b = trimValue(b, true); b == nil {
		return []byte{}
	}
	return b
}

// trimValue is b without the spaces around it (and tabs, when tabs) and
// its line's CR. A loop: bytes.Trim with a cutset builds a set each call.
func trimValue(b []byte, tabs bool) []byte {
	i, j := 0, len(b)
	for i < j && (b[i] == ' ' || tabs && b[i] == '\t') {
		i++
	}
	for j > i && (b[j-1] == ' ' || b[j-1] == '\r' || tabs && b[j-1] == '\t') {
		j--
	}
	return b[i:j]
}

// validHost reports whether b is uri-host [ ":" port ] (RFC 3986 3.2.2):
// a bracketed IPv6 literal or a reg-name (which covers IPv4), then an
// optional port of digits.
func validHost(b []byte) bool {
	host, port := b, []byte(nil)
	if b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 2 {
			return false
		}
		for _, c := range b[1:end] {
			if !(isHex(c) || c == ':' || c == '.') {
				return false
			}
		}
		rest := b[end+1:]
		if len(rest) > 0 && rest[0] != ':' {
			return false
		}
		if len(rest) > 0 {
			port = rest[1:]
		}
		host = nil
	} else if i := bytes.IndexByte(b, ':'); i >= 0 {
		host, port = b[:i], b[i+1:]
	}
	n := 0
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
		if n = n*10 + int(c-'0'); n > 65535 {
			return false
		}
	}
	for _, c := range host {
		if !regNameByte[c] {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// regNameByte holds the bytes of a reg-name: unreserved, sub-delims and
// the % of a percent-encoding (RFC 3986 3.2.2).
var regNameByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range []byte("-._~!$&'()*+,;=%") {
		t[c] = true
	}
	return t
}()

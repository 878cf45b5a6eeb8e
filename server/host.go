package server

import (
	"bytes"

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
	n := 0
	var value []byte
	raw := h.RawHeaders()
	if len(raw) == 0 {
		// Not read from a connection (a request built in memory), or no
		// header at all: the Host header fasthttp holds is the one.
		if value = h.Host(); len(value) > 0 {
			n = 1
		}
	}
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(line) >= 5 && line[4] == ':' && line[0]|0x20 == 'h' && bytes.EqualFold(line[1:4], []byte("ost")) {
			n++
			// Spaces around the value, as fasthttp trims them; a tab
			// there would stay in the address fasthttp routes by.
			value = bytes.TrimRight(bytes.TrimLeft(line[5:], " "), " \r")
		}
	}
	switch {
	case n > 1:
		return "the request has more than one Host header"
	case n == 0 && !h.IsHTTP11():
		return "" // HTTP/1.0 needs none
	case n == 0:
		return "the request has no Host header"
	case len(value) == 0:
		return "the request's Host header is empty"
	case !validHost(value):
		return "the request's Host header is not a host name or address with an optional port"
	}
	return ""
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

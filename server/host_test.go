package server

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// TestHostHeaderChecked: RFC 9112 3.2's 400 for an HTTP/1.1 request
// without a Host, with two Host lines or with a Host that is no host and
// port, on the status page's fast path and on fiber's routes alike, with
// a JSON body that says what is wrong; the Host shapes real clients send
// are answered.
func TestHostHeaderChecked(t *testing.T) {
	e := newEnv(t)
	e.serve(t)
	addr := strings.TrimPrefix(e.base, "http://")
	send := func(t *testing.T, raw string) (int, string) {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("reading the answer to %q: %v", raw, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	for _, path := range []string{"/api/v2/summary.json", "/", "/healthz"} {
		for _, tt := range []struct {
			name, version, headers string
			want                   int
		}{
			{"no Host", "HTTP/1.1", "", http.StatusBadRequest},
			{"two Host lines", "HTTP/1.1", "Host: status.example.com\r\nHost: other.example.org\r\n", http.StatusBadRequest},
			{"two Host lines, other case", "HTTP/1.1", "Host: status.example.com\r\nhOST: status.example.com\r\n", http.StatusBadRequest},
			{"an empty Host", "HTTP/1.1", "Host: \r\n", http.StatusBadRequest},
			{"a:b:c", "HTTP/1.1", "Host: a:b:c\r\n", http.StatusBadRequest},
			{"a port that is no number", "HTTP/1.1", "Host: status.example.com:http\r\n", http.StatusBadRequest},
			{"a port over 65535", "HTTP/1.1", "Host: 127.0.0.1:99999\r\n", http.StatusBadRequest},
			{"a port of many zeros", "HTTP/1.1", "Host: 127.0.0.1:000000080\r\n", http.StatusOK},
			{"user info", "HTTP/1.1", "Host: me@status.example.com\r\n", http.StatusBadRequest},
			{"a path", "HTTP/1.1", "Host: status.example.com/x\r\n", http.StatusBadRequest},
			{"an unclosed IPv6 literal", "HTTP/1.1", "Host: [::1\r\n", http.StatusBadRequest},
			{"a name", "HTTP/1.1", "Host: status.example.com\r\n", http.StatusOK},
			{"a name and port", "HTTP/1.1", "host:Status.Example.com:8080\r\n", http.StatusOK},
			{"an IPv4 address", "HTTP/1.1", "Host: 127.0.0.1:8080\r\n", http.StatusOK},
			{"a trailing dot and spaces", "HTTP/1.1", "Host:  status.example.com.  \r\n", http.StatusOK},
			{"a tab fasthttp would keep in the address", "HTTP/1.1", "Host: status.example.com\t\r\n", http.StatusBadRequest},
			// No page of this server's, but no bad Host either.
			{"an IPv6 address", "HTTP/1.1", "Host: [::1]:8080\r\n", -1},
			{"HTTP/1.0 without Host", "HTTP/1.0", "", -1},
			{"an X-Host is no Host", "HTTP/1.1", "Host: status.example.com\r\nHostile: x\r\nX-Host: y\r\n", http.StatusOK},
		} {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				code, body := send(t, "GET "+path+" "+tt.version+"\r\n"+tt.headers+"Connection: close\r\n\r\n")
				if code != tt.want && (tt.want != -1 || code == http.StatusBadRequest) {
					t.Fatalf("%d, want %d (-1: anything but 400): %s", code, tt.want, body)
				}
				if tt.want != http.StatusBadRequest {
					return
				}
				var eb errorBody
				if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error.Code != "invalid" || eb.Error.Field != "Host" ||
					!strings.Contains(eb.Error.Message, "Host") {
					t.Errorf("the 400 does not say what is wrong: %s", body)
				}
			})
		}
	}
}

// TestReadHeadAsFasthttp: the one pass over a request's header lines
// (readHead) finds what fasthttp's Peek finds for each name the public
// pages read (less the whitespace around a value), whatever the case, spacing, order or repetition real
// clients send, and tells a Cookie line from none; a request built in
// memory (no lines as they arrived) is read through fasthttp itself.
func TestReadHeadAsFasthttp(t *testing.T) {
	for _, lines := range []string{
		"Host: status.example.com\r\nUser-Agent: herald-bench\r\nAccept-Encoding: gzip\r\n",
		"host: status.example.com\r\naccept-encoding: br, gzip\r\nif-none-match: \"abc-gzip\"\r\naccept-language: hu-HU,hu;q=0.9\r\ncookie: herald_lang=pl\r\n",
		"HOST:status.example.com\r\nACCEPT-ENCODING:\tgzip ;q=0.5 \t\r\nIF-NONE-MATCH:W/\"x\"\r\nACCEPT-LANGUAGE:  pl  \r\n",
		// The first of two, as Peek answers.
		"Host: status.example.com\r\nAccept-Encoding: gzip\r\nAccept-Encoding: identity\r\nIf-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\n",
		// Empty values, names one letter off and of the same length.
		"Host: status.example.com\r\nAccept-Encoding:\r\nAccept-Encodinx: gzip\r\nAccept-Languagx: hu\r\nIf-None-Matcx: \"z\"\r\nCookiex: a=b\r\nX-Cookie: a=b\r\n",
		"Host: status.example.com\r\nAccept-Charset: utf-8\r\nAccept: */*\r\nConnection: keep-alive\r\n",
		"Host: status.example.com\r\nCookie: a=1; herald_lang=hu\r\nCookie: b=2\r\n",
	} {
		var req fasthttp.Request
		if err := req.Read(bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\n" + lines + "\r\n"))); err != nil {
			t.Fatalf("%q: %v", lines, err)
		}
		h := &req.Header
		head := readHead(h)
		for _, c := range []struct {
			name string
			got  []byte
		}{
			{fiber.HeaderAcceptEncoding, head.acceptEncoding},
			{fiber.HeaderIfNoneMatch, head.ifNoneMatch},
			{fiber.HeaderAcceptLanguage, head.acceptLanguage},
			{fiber.HeaderHost, head.host},
		} {
			// Without the whitespace around it (RFC 9110 5.5), which
			// fasthttp keeps when it is a tab.
			if want := h.Peek(c.name); string(c.got) != strings.Trim(string(want), " \t") {
				t.Errorf("%q: %s %q, fasthttp has %q", lines, c.name, c.got, want)
			}
		}
		if want := len(h.Peek(fiber.HeaderCookie)) > 0; head.cookie != want {
			t.Errorf("%q: cookie line %v, fasthttp has cookies: %v", lines, head.cookie, want)
		}
		if head.hosts != 1 {
			t.Errorf("%q: %d Host lines, want 1", lines, head.hosts)
		}
	}

	var req fasthttp.Request
	req.Header.SetHost("status.example.com")
	req.Header.Set(fiber.HeaderAcceptEncoding, "gzip")
	req.Header.SetCookie(langCookie, "hu")
	head := readHead(&req.Header)
	if head.hosts != 1 || string(head.host) != "status.example.com" || string(head.acceptEncoding) != "gzip" || !head.cookie || head.ifNoneMatch != nil {
		t.Errorf("a request built in memory read as %+v", head)
	}
}

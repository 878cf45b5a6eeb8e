package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// BenchmarkServePublic is the status page's hot path inside herald: the
// middleware and the public handler answering `/` and summary.json from
// the rendered site, as a browser asks (gzip), without the network.
//
//	go test -run '^$' -bench ServePublic -benchmem ./server/
func BenchmarkServePublic(b *testing.B) {
	e := newEnv(b)
	h := e.srv.Handler()
	for _, path := range []string{"/", "/api/v2/summary.json"} {
		b.Run(path, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			ctx.Request.SetRequestURI(path)
			ctx.Request.Header.SetHost("status.example.com")
			ctx.Request.Header.Set("Accept-Encoding", "gzip, deflate, br")
			ctx.Request.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				h(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("status %d", ctx.Response.StatusCode())
				}
			}
		})
	}
}

// BenchmarkServePublicParallel is BenchmarkServePublic from every CPU at
// once, as under load: what the hot path's shared counters cost when the
// cores contend for them.
//
//	go test -run '^$' -bench ServePublicParallel -benchmem ./server/
func BenchmarkServePublicParallel(b *testing.B) {
	e := newEnv(b)
	h := e.srv.Handler()
	for _, path := range []string{"/", "/api/v2/summary.json"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine is a connection of its own (Init gives
				// the context a connection ID).
				var ctx fasthttp.RequestCtx
				ctx.Init(&fasthttp.Request{}, nil, nil)
				ctx.Request.SetRequestURI(path)
				ctx.Request.Header.SetHost("status.example.com")
				ctx.Request.Header.Set("Accept-Encoding", "gzip, deflate, br")
				for pb.Next() {
					ctx.Response.Reset()
					h(&ctx)
					if ctx.Response.StatusCode() != 200 {
						b.Errorf("status %d", ctx.Response.StatusCode())
						return
					}
				}
			})
		})
	}
}

// BenchmarkServePublicWire is BenchmarkServePublic with each request read
// from its bytes, as a connection's are: what the request costs from its
// head to the answer (fasthttp parses the head again every time, and the
// URI and query only when asked). The answer's writing is not in it.
//
//	go test -run '^$' -bench ServePublicWire -benchmem ./server/
func BenchmarkServePublicWire(b *testing.B) {
	e := newEnv(b)
	h := e.srv.Handler()
	for _, path := range []string{"/", "/api/v2/summary.json"} {
		b.Run(path, func(b *testing.B) {
			raw := []byte("GET " + path + " HTTP/1.1\r\nHost: status.example.com\r\nUser-Agent: herald-bench\r\nAccept-Encoding: gzip\r\n\r\n")
			var ctx fasthttp.RequestCtx
			rd := bytes.NewReader(raw)
			br := bufio.NewReader(rd)
			b.ReportAllocs()
			for b.Loop() {
				ctx.Request.Reset()
				ctx.Response.Reset()
				rd.Reset(raw)
				br.Reset(rd)
				if err := ctx.Request.Read(br); err != nil {
					b.Fatal(err)
				}
				h(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("status %d", ctx.Response.StatusCode())
				}
			}
		})
	}
}

// BenchmarkServeConn is the whole of a keep-alive request in fasthttp's
// serving loop, minus the system calls: the head read and parsed, the
// status page's fast path (or fiber's router), the answer written, and
// fasthttp's and the connection's bookkeeping between requests (its
// ConnState hook and deadlines, as Serve's connections keep them). Each
// connection carries 1 000 requests; ns/req is what one costs. "ceiling"
// is herald-bench statuspage's plain fiber ceiling (a fixed body of
// summary.json's size) in the same loop, asked the same path: the gap
// between herald and the ceiling on one path is what herald adds to the
// CPU a request takes. (The longer path alone costs the ceiling about
// 100 ns a request: fasthttp parses and normalises it, fiber matches it.)
//
//	go test -run '^$' -bench ServeConn -benchmem ./server/
func BenchmarkServeConn(b *testing.B) {
	e := newEnv(b)
	limits := connTimeouts{read: e.srv.cfg.ReadTimeout, write: e.srv.cfg.WriteTimeout, idle: e.srv.cfg.IdleTimeout}
	for _, path := range []string{"/", "/api/v2/summary.json"} {
		req := "GET " + path + " HTTP/1.1\r\nHost: status.example.com\r\nUser-Agent: herald-bench\r\nAccept-Encoding: gzip\r\n\r\n"
		b.Run("herald"+path, func(b *testing.B) {
			serveRequests(b, e.srv.app.Server(), req, func(c net.Conn) net.Conn { return &deadlineConn{Conn: c, limits: &limits} })
		})
	}
	body := bytes.Repeat([]byte("x"), 2244)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	for _, path := range []string{"/", "/api/v2/summary.json"} {
		app.Get(path, func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.Send(body)
		})
	}
	app.Handler() // builds the routes, as Listener would
	for _, path := range []string{"/", "/api/v2/summary.json"} {
		b.Run("ceiling"+path, func(b *testing.B) {
			serveRequests(b, app.Server(), "GET "+path+" HTTP/1.1\r\nHost: status.example.com\r\nUser-Agent: herald-bench\r\nAccept-Encoding: gzip\r\n\r\n", nil)
		})
	}
}

// serveRequests serves connections of 1 000 requests each through fs,
// each connection wrapped by wrap (when not nil), and reports ns/req.
func serveRequests(b *testing.B, fs *fasthttp.Server, req string, wrap func(net.Conn) net.Conn) {
	const perConn = 1000
	b.ReportAllocs()
	for b.Loop() {
		var c net.Conn = &repeatConn{req: []byte(req), left: perConn}
		if wrap != nil {
			c = wrap(c)
		}
		if err := fs.ServeConn(c); err != nil && !errors.Is(err, io.EOF) {
			b.Fatal(err)
		}
		if rc := unwrapRepeat(c); rc.status200 != perConn {
			b.Fatalf("%d of %d answers were 200 OK", rc.status200, perConn)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perConn), "ns/req")
}

// repeatConn is a connection whose client sends req, one per read, left
// times, and then hangs up; it counts the answers that begin 200 OK.
type repeatConn struct {
	req       []byte
	left      int
	status200 int
}

func unwrapRepeat(c net.Conn) *repeatConn {
	if d, ok := c.(*deadlineConn); ok {
		return d.Conn.(*repeatConn)
	}
	return c.(*repeatConn)
}

func (c *repeatConn) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	c.left--
	return copy(p, c.req), nil
}

func (c *repeatConn) Write(p []byte) (int, error) {
	// One answer a write: fasthttp flushes each, nothing being pipelined.
	if bytes.HasPrefix(p, []byte("HTTP/1.1 200 OK\r\n")) {
		c.status200++
	}
	return len(p), nil
}

func (c *repeatConn) Close() error { return nil }
func (c *repeatConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
}
func (c *repeatConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
}
func (c *repeatConn) SetDeadline(time.Time) error      { return nil }
func (c *repeatConn) SetReadDeadline(time.Time) error  { return nil }
func (c *repeatConn) SetWriteDeadline(time.Time) error { return nil }

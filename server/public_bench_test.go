package server

import (
	"bufio"
	"bytes"
	"testing"

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

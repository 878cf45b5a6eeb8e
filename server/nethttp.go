package server

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// netHTTP mounts a net/http handler (the sandbox inbox, /metrics).
//
// fiber's adaptor hands such a handler fasthttp's RequestCtx as its
// request's context. That is no context to build on: a context.WithTimeout
// over it (the sandbox's reply does one) starts a goroutine that reads the
// RequestCtx's server while Shutdown writes it (a data race in fasthttp,
// caught by -race in CI), and anything that outlives the request would
// read a RequestCtx already reused by the connection's next request. The
// handler gets the request's user context instead, the one herald's own
// handlers use, with what the middleware put in it (the actor that
// requireRole found).
func netHTTP(h http.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(ctx))
		}))(c.Context())
		return nil
	}
}

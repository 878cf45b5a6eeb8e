package server

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Reverse proxies. Behind nginx, a load balancer or an ingress every
// connection comes from the proxy, which says who the client was in
// X-Forwarded-For and which URL it was asked for in X-Forwarded-Proto and
// X-Forwarded-Host. Anyone can send those headers, so herald believes them
// only from the peers in Config.TrustedProxies, and decides it here, in one
// place: clientIP for the client's address, hostOf and baseURL for the host
// and URL. fiber's own proxy support is switched off (see New): its c.IP()
// would return the leftmost X-Forwarded-For entry, which is the one the
// client wrote.

// ParseTrustedProxies reads a list of proxy addresses and CIDRs separated
// by commas or spaces ("10.0.0.0/8, 127.0.0.1, ::1"). An empty list trusts
// no proxy. A list that trusts every address (0.0.0.0/0, ::/0) is refused:
// every client could then choose its own address.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		var p netip.Prefix
		if strings.Contains(f, "/") {
			pp, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or a CIDR", f)
			}
			p = pp
		} else {
			a, err := netip.ParseAddr(f)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not an address or a CIDR", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		// Addresses are compared unmapped, so an IPv4-mapped entry
		// (::ffff:10.0.0.1, ::ffff:10.0.0.0/104) means its IPv4 form.
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return nil, fmt.Errorf("%q covers more than IPv4-mapped addresses; list the IPv4 and IPv6 ranges apart", f)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if p.Bits() == 0 {
			return nil, fmt.Errorf("%q trusts every address, so any client could choose its own; list the proxies' addresses", f)
		}
		out = append(out, p)
	}
	return out, nil
}

// proxies is the parsed Config.TrustedProxies.
type proxies []netip.Prefix

// trusts reports whether a is one of the trusted proxies.
func (ps proxies) trusts(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the client's address for a request from peer (the
// socket's other end) carrying the X-Forwarded-For values xff (one per
// header line, in order). A peer that is not a trusted proxy is the client,
// whatever the headers say. From a trusted proxy, the hops are walked from
// the right, where each trusted proxy appended the address it was connected
// from, skipping trusted proxies; the first untrusted address is the client
// (what a client writes itself is further left, so it cannot hide behind
// it). When every hop is trusted, the leftmost one is the client: it is
// inside the trusted network.
//
// An entry that is not an address (garbage, "unknown", an obfuscated
// RFC 7239 name) stops the walk, and the last trusted hop is the answer:
// what lies left of it cannot be verified, and the trusted hop is one
// address the client cannot choose, so clients behind such an entry share
// that proxy's limit rather than each picking a fresh key. That errs on the
// strict side (too few sign-ups behind a broken proxy chain) instead of
// letting the limit be escaped.
func (ps proxies) clientAddr(peer netip.Addr, xff []string) netip.Addr {
	addr := peer.Unmap().WithZone("")
	if !ps.trusts(addr) {
		return addr
	}
	for i := len(xff) - 1; i >= 0; i-- {
		hops := strings.Split(xff[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			h := strings.TrimSpace(hops[j])
			if h == "" {
				continue // an empty list element, which HTTP says to ignore
			}
			a, err := parseHop(h)
			if err != nil {
				return addr
			}
			if !ps.trusts(a) {
				return a
			}
			addr = a
		}
	}
	return addr
}

// parseHop reads one X-Forwarded-For entry: an address, with or without a
// port ("203.0.113.7:51234", "[2001:db8::1]:443", "[2001:db8::1]").
func parseHop(h string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap().WithZone(""), nil
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return netip.Addr{}, errors.New("not an address")
	}
	return a.Unmap().WithZone(""), nil
}

// peerAddr is the address of the socket's other end.
func peerAddr(c *fiber.Ctx) netip.Addr { return peerOf(c.Context()) }

// peerOf is peerAddr for a request outside fiber (fastpath.go).
func peerOf(rc *fasthttp.RequestCtx) netip.Addr {
	a, ok := netip.AddrFromSlice(rc.RemoteIP())
	if !ok {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}

// fromTrustedProxy reports whether the request came from a trusted proxy,
// whose X-Forwarded-* headers herald believes.
func (s *Server) fromTrustedProxy(c *fiber.Ctx) bool { return s.trustedPeer(c.Context()) }

// trustedPeer is fromTrustedProxy for a request outside fiber.
func (s *Server) trustedPeer(rc *fasthttp.RequestCtx) bool {
	return s.proxies.trusts(peerOf(rc))
}

// clientIP is the address of the client the request is from, for the
// per-IP limits and logs: the peer, or behind trusted proxies the
// rightmost untrusted X-Forwarded-For hop (see clientAddr). Never "".
func (s *Server) clientIP(c *fiber.Ctx) string {
	return s.client(c).String()
}

// client is clientIP as an address.
func (s *Server) client(c *fiber.Ctx) netip.Addr {
	var xff []string
	for _, v := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
		xff = append(xff, string(v))
	}
	return s.proxies.clientAddr(peerAddr(c), xff)
}

// requestHost is the host the client asked for: X-Forwarded-Host from a
// trusted proxy, else the request's own Host. fiber's c.Hostname() never
// reads the header itself (New trusts no proxy in fiber's config).
func (s *Server) requestHost(c *fiber.Ctx) string { return s.requestHostIn(c.Context()) }

// requestHostIn is requestHost for a request outside fiber.
func (s *Server) requestHostIn(rc *fasthttp.RequestCtx) string {
	if s.trustedPeer(rc) {
		if h := forwardedValue(string(rc.Request.Header.Peek(fiber.HeaderXForwardedHost))); h != "" && !strings.ContainsAny(h, "/\\@ \t") {
			return h
		}
	}
	return string(hostBytes(rc))
}

// hostBytes is the host the request names: its Host header, or for a
// request line with an absolute URI (GET http://host/path, which a
// server must accept), the URI's host, which takes precedence (RFC 9112
// 3.2.2). rc.Request.URI() would parse, copy and normalise the whole URI
// for every request to find what the Host header says for nearly all of
// them (a CPU profile under herald-bench statuspage: over a quarter of the
// status page's fast path). The bytes alias the request's buffers.
func hostBytes(rc *fasthttp.RequestCtx) []byte {
	if raw := rc.Request.Header.RequestURI(); len(raw) > 0 && raw[0] == '/' {
		return rc.Request.Header.Host()
	}
	return rc.Request.URI().Host()
}

// baseURL is scheme://host of the URL the client asked for: the scheme
// from TLS, or X-Forwarded-Proto (http or https) from a trusted proxy.
func (s *Server) baseURL(c *fiber.Ctx) string {
	scheme := "http"
	if c.Context().IsTLS() {
		scheme = "https"
	} else if s.fromTrustedProxy(c) {
		if p := strings.ToLower(forwardedValue(c.Get(fiber.HeaderXForwardedProto))); p == "http" || p == "https" {
			scheme = p
		}
	}
	return scheme + "://" + s.requestHost(c)
}

// forwardedValue is the first of a comma list. X-Forwarded-Proto and -Host
// are normally set, not appended, by each proxy; when a chain appends, the
// first is what the outermost proxy was asked for, which is the URL Twilio
// signed and the host the visitor typed. Believing a forged one gains
// nothing: the visitor picks the Host anyway, and a Twilio signature over
// another URL still needs the auth token.
func forwardedValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

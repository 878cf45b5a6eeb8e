// Package netguard keeps herald's outbound HTTP away from internal
// addresses when the destination comes from someone else: a webhook
// subscriber's URL, a Slack incoming-webhook URL. It is a leaf (standard
// library only) so that every package making such requests, and notify,
// which checks the URLs at sign-up, share one set of rules.
//
// There are two checks, and both are needed:
//
//   - CheckURL runs when a subscriber registers a URL. It needs no network:
//     scheme, host, port, no credentials, and no literal IP or well-known
//     local name in a forbidden range. Its purpose is a clear error for the
//     person signing up, before anything is stored.
//   - Control (through NewDialer, NewTransport and NewClient) runs at dial
//     time on the address actually being connected, after DNS resolution.
//     A name that is public at sign-up may resolve to 127.0.0.1 or
//     169.254.169.254 at delivery (DNS rebinding, or an owner changing
//     their records), so only this check is a guarantee; CheckURL does not
//     resolve names, since its answer would say nothing about the next one.
//
// Both refuse with errors wrapping ErrInvalidURL or ErrForbiddenAddress.
// AllowPrivate turns the address rules off, for tests and closed networks
// (the webhooks_allow_private setting). Options.Exempt instead lets
// through a few exact IP:port pairs and nothing else: herald's sandbox
// posts webhooks to its own listener on loopback, and exempting that one
// address keeps every other internal address out of reach of anonymous
// sign-ups.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxURLLength is the longest URL CheckURL accepts.
const MaxURLLength = 2000

// DefaultTimeout bounds a request made with a NewClient whose Options have
// no Timeout.
const DefaultTimeout = 10 * time.Second

// Sentinel errors; test with errors.Is.
var (
	ErrInvalidURL       = errors.New("invalid URL")
	ErrForbiddenAddress = errors.New("destination address not allowed")
)

// CheckURL checks a URL someone else gave herald to post to: http or https,
// at most MaxURLLength bytes, a host, a valid port if any, no userinfo
// (credentials would end up in logs and stores) and, unless allowPrivate,
// no host that is plainly internal: an IP literal in a forbidden range (see
// CheckAddr), an IP written in a form other than dotted decimal (2130706433,
// 0177.0.0.1, 0x7f.1: resolvers that accept them read them as addresses),
// "localhost", and names under .localhost and .internal. It does not
// resolve names; the dial-time Control does that check.
func CheckURL(raw string, allowPrivate bool) error {
	return Options{AllowPrivate: allowPrivate}.CheckURL(raw)
}

// CheckURL is the package's CheckURL under o: with o.AllowPrivate the
// address rules are off; otherwise a URL whose host is an IP literal
// that, with its port (written, or the scheme's default), is one of
// o.Exempt passes them. A name never matches an exemption, even one that
// resolves to it: CheckURL does not resolve names, and the dial-time
// Control judges the address it resolves to.
func (o Options) CheckURL(raw string) error {
	if len(raw) > MaxURLLength {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidURL, MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%w: scheme must be http or https", ErrInvalidURL)
	}
	if u.User != nil {
		return fmt.Errorf("%w: userinfo not allowed", ErrInvalidURL)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: host required", ErrInvalidURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: bad port %q", ErrInvalidURL, p)
		}
	}
	if o.AllowPrivate || o.exempt(urlAddrPort(u)) {
		return nil
	}
	return checkHost(host)
}

// Exempts reports whether raw is an http(s) URL whose host and port are
// one of o.Exempt (see Options.CheckURL), for a caller with rules of its
// own that the exempt address could not meet (Slack's webhook hosts). It
// says nothing of the rest of the URL: CheckURL still has to pass it.
func (o Options) Exempts(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && o.exempt(urlAddrPort(u))
}

// urlAddrPort is the IP:port an http(s) URL names when its host is an IP
// literal, with the scheme's default port when none is written; the zero
// AddrPort for a name or another scheme.
func urlAddrPort(u *url.URL) netip.AddrPort {
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return netip.AddrPort{}
	}
	p := u.Port()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return netip.AddrPort{}
	case p == "" && u.Scheme == "http":
		p = "80"
	case p == "":
		p = "443"
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip, uint16(n))
}

// exempt reports whether ap is one of o.Exempt. IPv4-mapped IPv6
// addresses count as their IPv4 address, as in CheckAddr; a zone must
// match exactly.
func (o Options) exempt(ap netip.AddrPort) bool {
	if !ap.IsValid() {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, e := range o.Exempt {
		if e.Port() == ap.Port() && e.Addr().Unmap() == ip {
			return true
		}
	}
	return false
}

// checkHost applies the address rules to a URL's host: an IP literal or a name.
func checkHost(host string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		return CheckAddr(ip)
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") || strings.HasSuffix(name, ".internal") {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, host)
	}
	// No top-level domain is numeric, so a name whose last label is a number
	// is an IP address in a form ParseAddr refuses but inet_aton reads.
	last := name[strings.LastIndexByte(name, '.')+1:]
	if isNumber(last) {
		return fmt.Errorf("%w: %s is an IP address in a non-standard form", ErrForbiddenAddress, host)
	}
	for _, d := range loopbackDomains {
		if name == d || strings.HasSuffix(name, "."+d) {
			return fmt.Errorf("%w: %s resolves to the loopback address", ErrForbiddenAddress, host)
		}
	}
	if ip, ok := embeddedIP(name); ok {
		if err := CheckAddr(ip); err != nil {
			return fmt.Errorf("%w: %s names the address %s", ErrForbiddenAddress, host, ip)
		}
	}
	return nil
}

// loopbackDomains are public domains whose every name resolves to
// 127.0.0.1 (made for local development): a URL under one can only reach
// herald's own host.
var loopbackDomains = []string{"localtest.me", "lvh.me", "vcap.me"}

// wildcardDomains are wildcard-DNS services that answer with the address
// written in the name: 10.0.0.1.nip.io, app-10-0-0-1.sslip.io,
// 0a000001.nip.io, and IPv6 with dashes for colons (--1.sslip.io is ::1).
var wildcardDomains = []string{"nip.io", "sslip.io", "xip.io", "traefik.me", "backname.io", "nip.direct"}

// embeddedIP finds an address written into a DNS name: four decimal
// labels in a row anywhere (10.0.0.1.example.com: whoever runs such names
// means that address), and under a wildcard-DNS service also the dashed
// and hexadecimal spellings those services read.
func embeddedIP(name string) (netip.Addr, bool) {
	labels := strings.Split(name, ".")
	for i := 0; i+4 <= len(labels); i++ {
		if ip, err := netip.ParseAddr(strings.Join(labels[i:i+4], ".")); err == nil && ip.Is4() {
			return ip, true
		}
	}
	for _, d := range wildcardDomains {
		if !strings.HasSuffix(name, "."+d) {
			continue
		}
		for _, l := range strings.Split(strings.TrimSuffix(name, "."+d), ".") {
			// The address is the label, or its last dash-separated part(s).
			parts := strings.Split(l, "-")
			for j := range parts {
				cand := strings.Join(parts[j:], "-")
				if ip, err := netip.ParseAddr(strings.ReplaceAll(cand, "-", ".")); err == nil && ip.Is4() {
					return ip, true
				}
				if strings.Contains(cand, "--") || strings.Count(cand, "-") >= 2 {
					if ip, err := netip.ParseAddr(strings.ReplaceAll(cand, "-", ":")); err == nil && ip.Is6() {
						return ip, true
					}
				}
			}
			if len(l) == 8 {
				if n, err := strconv.ParseUint(l, 16, 32); err == nil {
					return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
				}
			}
		}
	}
	return netip.Addr{}, false
}

// isNumber reports whether s is a decimal, octal or 0x-hex number.
func isNumber(s string) bool {
	if s == "" {
		return false
	}
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		_, err := strconv.ParseUint(s[2:], 16, 64)
		return err == nil
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// deniedPrefixes are ranges never to reach, beyond what the netip.Addr
// predicates in CheckAddr cover. IPv4-mapped IPv6 addresses are unmapped
// before the test.
var deniedPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"100.64.0.0/10",   // carrier-grade NAT, often internal in clouds
		"192.0.0.0/24",    // IETF protocol assignments
		"198.18.0.0/15",   // benchmarking
		"240.0.0.0/4",     // reserved, includes 255.255.255.255
		"64:ff9b::/96",    // NAT64: embeds an IPv4 address that may be internal
		"64:ff9b:1::/48",  // local-use NAT64
		"2002::/16",       // 6to4: embeds an IPv4 address
		"fc00::/7",        // unique local (also IsPrivate; kept explicit)
		"fec0::/10",       // deprecated site-local
		"100::/64",        // discard-only
		"2001:db8::/32",   // documentation
		"192.88.99.0/24",  // 6to4 relay anycast
		"169.254.0.0/16",  // link-local, including cloud metadata 169.254.169.254
		"fe80::/10",       // link-local
		"ff00::/8",        // multicast
		"224.0.0.0/4",     // multicast
		"127.0.0.0/8",     // loopback
		"10.0.0.0/8",      // private
		"172.16.0.0/12",   // private
		"192.168.0.0/16",  // private
		"::1/128",         // loopback
		"::/128",          // unspecified
		"2001:10::/28",    // ORCHID
		"2001::/32",       // Teredo: embeds an IPv4 address
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"192.0.2.0/24",    // documentation
	} {
		ps = append(ps, netip.MustParsePrefix(s)) // a typo panics in any test
	}
	return ps
}()

// CheckAddr refuses, with an error wrapping ErrForbiddenAddress, an address
// that is loopback, private, link-local, multicast, unspecified or in
// another range a request from herald must not reach (carrier-grade NAT,
// NAT64 and 6to4 prefixes that embed IPv4, reserved and documentation
// ranges). IPv4-mapped IPv6 addresses count as their IPv4 address; an
// address with a zone is refused.
func CheckAddr(ip netip.Addr) error {
	if !ip.IsValid() || ip.Zone() != "" {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	}
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	}
	for _, p := range deniedPrefixes {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
		}
	}
	return nil
}

// Control is a net.Dialer ControlContext: it runs after name resolution on
// the exact address about to be connected, so a name that resolves (or
// re-resolves) to an internal address is refused with an error wrapping
// ErrForbiddenAddress.
func Control(ctx context.Context, network, address string, c syscall.RawConn) error {
	return Options{}.Control(ctx, network, address, c)
}

// Control is the package's Control under o's rules: an address that is
// one of o.Exempt is let through. (A dialer with o.AllowPrivate has no
// Control at all: see NewDialer.)
func (o Options) Control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if o.exempt(ap) {
		return nil
	}
	return CheckAddr(ap.Addr())
}

// NewDialer returns a dialer with o's connect timeout whose connections
// are checked by o.Control, unless o.AllowPrivate.
func NewDialer(o Options) *net.Dialer {
	d := &net.Dialer{Timeout: o.timeout(), KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		d.ControlContext = o.Control
	}
	return d
}

// Options are the rules for one kind of outbound request (which addresses
// it may reach), and the timeouts of NewDialer, NewTransport and
// NewClient.
type Options struct {
	// Timeout bounds a whole request (NewClient), and the connect and the
	// wait for response headers (NewTransport); 0 means DefaultTimeout.
	Timeout time.Duration
	// AllowPrivate turns the address rules off: only for tests and closed
	// networks.
	AllowPrivate bool
	// Exempt are IP:port pairs the address rules let through although
	// their addresses are forbidden: the sandbox's own listener on
	// loopback, so that webhooks can be shown in its inbox while every
	// other port of that host, and every other internal address, stays
	// refused. Only an exact match counts (an IPv4-mapped IPv6 address as
	// its IPv4 address); each pair is a door into the network, so name
	// only listeners that expect posts from whoever signs up.
	Exempt []netip.AddrPort
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

// NewTransport returns a transport that dials through NewDialer and never
// uses a proxy from the environment (Control would then see only the
// proxy's address).
func NewTransport(o Options) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           NewDialer(o).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: o.timeout(),
	}
}

// NewClient returns a client on NewTransport, bounded by o's timeout, that
// never follows redirects: a 3xx comes back as the response, since
// following it could lead to an address the URL was checked not to be.
func NewClient(o Options) *http.Client {
	return &http.Client{
		Transport:     NewTransport(o),
		Timeout:       o.timeout(),
		CheckRedirect: NoRedirect,
	}
}

// NoRedirect is an http.Client CheckRedirect that returns every 3xx as the
// response instead of following it.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

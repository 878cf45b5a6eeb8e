package netguard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		name    string
		ip      string
		allowed bool
	}{
		{"IPv4 loopback", "127.0.0.1", false},
		{"IPv4 loopback, whole /8", "127.9.9.9", false},
		{"private 10/8", "10.1.2.3", false},
		{"private 172.16/12, first", "172.16.0.1", false},
		{"private 172.16/12, last", "172.31.255.255", false},
		{"private 192.168/16", "192.168.1.1", false},
		{"cloud metadata 169.254.169.254", "169.254.169.254", false},
		{"link-local 169.254/16", "169.254.0.1", false},
		{"CGNAT 100.64/10, first", "100.64.0.1", false},
		{"CGNAT 100.64/10, last", "100.127.255.254", false},
		{"unspecified 0.0.0.0", "0.0.0.0", false},
		{"this network 0/8", "0.1.2.3", false},
		{"IETF 192.0.0/24", "192.0.0.8", false},
		{"benchmarking 198.18/15", "198.19.0.1", false},
		{"documentation 192.0.2/24", "192.0.2.1", false},
		{"multicast 224.0.0.1", "224.0.0.1", false},
		{"multicast SSDP", "239.255.255.250", false},
		{"broadcast", "255.255.255.255", false},
		{"reserved 240/4", "240.0.0.1", false},
		{"IPv6 unspecified ::", "::", false},
		{"IPv6 loopback ::1", "::1", false},
		{"IPv4-mapped loopback", "::ffff:127.0.0.1", false},
		{"IPv4-mapped private", "::ffff:10.0.0.1", false},
		{"IPv4-mapped metadata", "::ffff:169.254.169.254", false},
		{"IPv4-mapped unspecified", "::ffff:0.0.0.0", false},
		{"IPv6 link-local", "fe80::1", false},
		{"IPv6 link-local with zone", "fe80::1%eth0", false},
		{"IPv6 unique local fc00::/7", "fc00::1", false},
		{"IPv6 unique local fd", "fd12:3456::1", false},
		{"IPv6 site-local", "fec0::1", false},
		{"IPv6 multicast", "ff02::1", false},
		{"NAT64 embedding 10.0.0.1", "64:ff9b::a00:1", false},
		{"6to4 embedding 127.0.0.1", "2002:7f00:1::1", false},
		{"Teredo", "2001:0:4136:e378::1", false},
		{"IPv6 documentation", "2001:db8::1", false},
		{"public IPv4", "8.8.8.8", true},
		{"just past 172.16/12", "172.32.0.1", true},
		{"just past CGNAT", "100.128.0.1", true},
		{"IPv4-mapped public", "::ffff:8.8.8.8", true},
		{"public IPv6", "2606:4700:4700::1111", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAddr(netip.MustParseAddr(tt.ip))
			if (err == nil) != tt.allowed {
				t.Fatalf("CheckAddr(%s) = %v, want allowed=%v", tt.ip, err, tt.allowed)
			}
			if err != nil && !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("error %v does not wrap ErrForbiddenAddress", err)
			}
		})
	}
	if err := CheckAddr(netip.Addr{}); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("CheckAddr(zero Addr) = %v, want ErrForbiddenAddress", err)
	}
}

// TestCheckURL holds the cases of both former sign-up checks
// (webhook.ValidateURL and notify's checkWebhookURL) and the tricks
// neither caught.
func TestCheckURL(t *testing.T) {
	tests := []struct {
		name         string
		url          string
		allowPrivate bool
		want         error
	}{
		{"https ok", "https://hooks.example.com/herald", false, nil},
		{"http ok", "http://hooks.example.com:8080/herald?x=1", false, nil},
		{"trailing-dot name ok", "https://hooks.example.com./x", false, nil},
		{"name with digits ok", "https://123.example.com/x", false, nil},
		{"public IP literal ok", "https://8.8.8.8/x", false, nil},
		{"public IPv6 literal ok", "https://[2606:4700:4700::1111]/x", false, nil},
		{"ftp refused", "ftp://hooks.example.com/", false, ErrInvalidURL},
		{"gopher refused even when private allowed", "gopher://example.com/", true, ErrInvalidURL},
		{"no scheme", "hooks.example.com/x", false, ErrInvalidURL},
		{"no host", "https:///path", false, ErrInvalidURL},
		{"port without host", "http://:8080/", false, ErrInvalidURL},
		{"unparsable", "http://[::1/", false, ErrInvalidURL},
		{"userinfo refused", "https://user:pw@hooks.example.com/", false, ErrInvalidURL},
		{"user without password refused", "https://user@hooks.example.com/", false, ErrInvalidURL},
		{"userinfo refused even when private allowed", "http://u@127.0.0.1/", true, ErrInvalidURL},
		{"bad port", "https://hooks.example.com:99999/", false, ErrInvalidURL},
		{"port 0", "https://hooks.example.com:0/", false, ErrInvalidURL},
		{"too long", "https://hooks.example.com/" + strings.Repeat("a", MaxURLLength), false, ErrInvalidURL},
		{"loopback refused", "http://127.0.0.1/", false, ErrForbiddenAddress},
		{"loopback with port refused", "http://127.0.0.1:8080/x", false, ErrForbiddenAddress},
		{"localhost refused", "http://localhost:8080/", false, ErrForbiddenAddress},
		{"LOCALHOST. refused", "http://LOCALHOST./", false, ErrForbiddenAddress},
		{"sub.localhost refused", "http://a.localhost/", false, ErrForbiddenAddress},
		{".internal name refused", "http://metadata.google.internal/", false, ErrForbiddenAddress},
		{"private refused", "http://10.0.0.5/", false, ErrForbiddenAddress},
		{"private 192.168 refused", "http://192.168.1.5/", false, ErrForbiddenAddress},
		{"metadata refused", "http://169.254.169.254/latest/meta-data", false, ErrForbiddenAddress},
		{"CGNAT refused", "http://100.64.1.1/", false, ErrForbiddenAddress},
		{"0.0.0.0 refused", "http://0.0.0.0:8080/", false, ErrForbiddenAddress},
		{"IPv6 loopback refused", "http://[::1]:80/", false, ErrForbiddenAddress},
		{"IPv6 unspecified refused", "http://[::]/", false, ErrForbiddenAddress},
		{"IPv6 link-local refused", "http://[fe80::1]/", false, ErrForbiddenAddress},
		{"IPv6 link-local with zone refused", "http://[fe80::1%25eth0]/", false, ErrForbiddenAddress},
		{"IPv6 ULA refused", "http://[fd00::1]/", false, ErrForbiddenAddress},
		{"127.1 refused", "http://127.1/", false, ErrForbiddenAddress},
		{"decimal 2130706433 refused", "http://2130706433/", false, ErrForbiddenAddress},
		{"hex 0x7f000001 refused", "http://0x7f000001/", false, ErrForbiddenAddress},
		{"fe80::1%lo refused", "http://[fe80::1%25lo]/", false, ErrForbiddenAddress},
		{"nip.io naming loopback refused", "https://hooks.slack.com.127.0.0.1.nip.io/services/T/B/x", false, ErrForbiddenAddress},
		{"nip.io naming a private address refused", "http://app.10.1.2.3.nip.io/", false, ErrForbiddenAddress},
		{"sslip.io dashed refused", "http://127-0-0-1.sslip.io/", false, ErrForbiddenAddress},
		{"sslip.io dashed with a prefix refused", "http://app-169-254-169-254.sslip.io/", false, ErrForbiddenAddress},
		{"nip.io hex refused", "http://7f000001.nip.io/", false, ErrForbiddenAddress},
		{"sslip.io IPv6 loopback refused", "http://--1.sslip.io/", false, ErrForbiddenAddress},
		{"any name embedding a private address refused", "http://10.0.0.1.example.com/", false, ErrForbiddenAddress},
		{"localtest.me refused", "http://app.localtest.me/", false, ErrForbiddenAddress},
		{"lvh.me refused", "http://lvh.me:3000/", false, ErrForbiddenAddress},
		{"nip.io naming a public address ok", "https://93.184.216.34.nip.io/x", false, nil},
		{"a name with digit labels ok", "https://v1.2.api.example.com/x", false, nil},
		{"a dashed name ok", "https://my-app-2024.example.com/x", false, nil},
		{"IPv4-mapped loopback refused", "http://[::ffff:127.0.0.1]/", false, ErrForbiddenAddress},
		{"IPv4-mapped loopback in hex refused", "http://[::ffff:7f00:1]/", false, ErrForbiddenAddress},
		{"decimal IP refused", "http://2130706433/", false, ErrForbiddenAddress},
		{"octal IP refused", "http://0177.0.0.1/", false, ErrForbiddenAddress},
		{"hex IP refused", "http://0x7f000001/", false, ErrForbiddenAddress},
		{"hex dotted IP refused", "http://0x7f.0.0.1/", false, ErrForbiddenAddress},
		{"short-form IP refused", "http://127.1/", false, ErrForbiddenAddress},
		{"numeric last label with trailing dot refused", "http://10.0.0.1./", false, ErrForbiddenAddress},
		{"loopback allowed when private allowed", "http://127.0.0.1:1234/", true, nil},
		{"localhost allowed when private allowed", "http://localhost:1234/", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckURL(tt.url, tt.allowPrivate)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v", tt.url, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("CheckURL(%q) = %v, want %v", tt.url, err, tt.want)
			}
		})
	}
}

// TestCheckURLMessages pins what a refused subscriber reads (notify puts it
// after "webhook URL not allowed: "). Before netguard, production answered
// the same words prefixed "webhook: ", and notify's built-in check (used
// when no validator was wired) answered its own: "an http(s) URL without
// credentials is required", "local host names are not allowed", "private,
// loopback and link-local addresses are not allowed", "the URL is too long".
func TestCheckURLMessages(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"scheme", "ftp://example.com/", "invalid URL: scheme must be http or https"},
		{"userinfo", "https://u:p@example.com/", "invalid URL: userinfo not allowed"},
		{"host", "https:///x", "invalid URL: host required"},
		{"port", "https://example.com:0/", `invalid URL: bad port "0"`},
		{"length", "https://example.com/" + strings.Repeat("a", MaxURLLength), "invalid URL: longer than 2000 bytes"},
		{"private literal", "http://10.0.0.1/", "destination address not allowed: 10.0.0.1"},
		{"mapped literal", "http://[::ffff:127.0.0.1]/", "destination address not allowed: 127.0.0.1"},
		{"local name", "http://localhost:8080/", "destination address not allowed: localhost"},
		{"numeric name", "http://2130706433/", "destination address not allowed: 2130706433 is an IP address in a non-standard form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckURL(tt.url, false); err == nil || err.Error() != tt.want {
				t.Fatalf("CheckURL(%q) = %v, want %q", tt.url, err, tt.want)
			}
		})
	}
}

// TestNewClientDialTimeCheck bypasses CheckURL: names and literals that
// reach loopback must be refused when the connection is made, whatever a
// name resolved to at sign-up. All traffic stays on 127.0.0.1.
func TestNewClientDialTimeCheck(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	strict := NewClient(Options{Timeout: 2 * time.Second})
	open := NewClient(Options{Timeout: 2 * time.Second, AllowPrivate: true})
	tests := []struct {
		name    string
		client  *http.Client
		url     string
		allowed bool
	}{
		{"localhost resolves to loopback: refused", strict, "http://localhost:" + port + "/", false},
		{"loopback literal: refused", strict, "http://127.0.0.1:" + port + "/", false},
		{"IPv4-mapped IPv6 loopback: refused", strict, "http://[::ffff:127.0.0.1]:" + port + "/", false},
		{"AllowPrivate lets localhost through", open, "http://localhost:" + port + "/", true},
		{"AllowPrivate lets the loopback literal through", open, "http://127.0.0.1:" + port + "/", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			resp, err := tt.client.Get(tt.url)
			if resp != nil {
				resp.Body.Close()
			}
			if tt.allowed {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("Get error = %v, want ErrForbiddenAddress", err)
			}
			if hits.Load() != before {
				t.Fatal("request reached the server")
			}
		})
	}
}

func TestControl(t *testing.T) {
	tests := []struct {
		name, address string
		allowed       bool
	}{
		{"public IPv4", "8.8.8.8:443", true},
		{"public IPv6", "[2606:4700:4700::1111]:443", true},
		{"loopback", "127.0.0.1:80", false},
		{"IPv6 loopback", "[::1]:80", false},
		{"metadata", "169.254.169.254:80", false},
		{"no port", "8.8.8.8", false},
		{"a name, not an address", "example.com:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Control(context.Background(), "tcp", tt.address, nil)
			if (err == nil) != tt.allowed {
				t.Fatalf("Control(%s) = %v, want allowed=%v", tt.address, err, tt.allowed)
			}
			if err != nil && !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("error %v does not wrap ErrForbiddenAddress", err)
			}
		})
	}
}

// TestExemptURL: Options.Exempt lets exactly its IP:port pairs past the
// address rules at sign-up; the same host on another port, other internal
// addresses, names, and the rules that are not about addresses still hold.
func TestExemptURL(t *testing.T) {
	o := Options{Exempt: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4567"), netip.MustParseAddrPort("[fd00::1]:80")}}
	tests := []struct {
		name string
		url  string
		want error
	}{
		{"the exempt address", "http://127.0.0.1:4567/webhooks/ops", nil},
		{"the exempt address, https", "https://127.0.0.1:4567/x", nil},
		{"the exempt address, IPv4-mapped", "http://[::ffff:127.0.0.1]:4567/x", nil},
		{"an exempt IPv6 address on the default port", "http://[fd00::1]/x", nil},
		{"an exempt IPv6 address, its port written", "http://[fd00::1]:80/x", nil},
		{"the exempt IPv6 address, https's default port", "https://[fd00::1]/x", ErrForbiddenAddress},
		{"the same IP, another port", "http://127.0.0.1:4568/x", ErrForbiddenAddress},
		{"the same IP, no port", "http://127.0.0.1/x", ErrForbiddenAddress},
		{"another loopback IP, the same port", "http://127.0.0.2:4567/x", ErrForbiddenAddress},
		{"IPv6 loopback, the same port", "http://[::1]:4567/x", ErrForbiddenAddress},
		{"a private address, the same port", "http://10.0.0.1:4567/x", ErrForbiddenAddress},
		{"metadata", "http://169.254.169.254/latest", ErrForbiddenAddress},
		{"a name for the exempt address", "http://localhost:4567/x", ErrForbiddenAddress},
		{"a short form of the exempt address", "http://127.1:4567/x", ErrForbiddenAddress},
		{"a wildcard-DNS name for the exempt address", "http://127.0.0.1.nip.io:4567/x", ErrForbiddenAddress},
		{"userinfo still refused", "http://u@127.0.0.1:4567/x", ErrInvalidURL},
		{"scheme still checked", "ftp://127.0.0.1:4567/x", ErrInvalidURL},
		{"a public host still fine", "https://hooks.example.com/x", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := o.CheckURL(tt.url)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v", tt.url, err)
				}
			} else if !errors.Is(err, tt.want) {
				t.Fatalf("CheckURL(%q) = %v, want %v", tt.url, err, tt.want)
			}
			// Exempts is about the address only: the userinfo case is exempt.
			exempt := tt.want == nil && !strings.Contains(tt.url, "example.com") || strings.Contains(tt.url, "u@")
			if got := o.Exempts(tt.url); got != exempt {
				t.Errorf("Exempts(%q) = %v, want %v", tt.url, got, exempt)
			}
		})
	}
	if err := (Options{}).CheckURL("http://127.0.0.1:4567/x"); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("no exemption: %v", err)
	}
	if err := (Options{AllowPrivate: true}).CheckURL("http://10.0.0.1:1/x"); err != nil {
		t.Errorf("AllowPrivate: %v", err)
	}
}

// TestExemptControl: at dial time too only the exact pair passes.
func TestExemptControl(t *testing.T) {
	o := Options{Exempt: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4567")}}
	for address, allowed := range map[string]bool{
		"127.0.0.1:4567": true, "[::ffff:127.0.0.1]:4567": true, "8.8.8.8:443": true,
		"127.0.0.1:4568": false, "127.0.0.2:4567": false, "[::1]:4567": false, "10.0.0.1:4567": false,
		"169.254.169.254:80": false, "127.0.0.1": false, "localhost:4567": false,
	} {
		err := o.Control(context.Background(), "tcp", address, nil)
		if (err == nil) != allowed {
			t.Errorf("Control(%s) = %v, want allowed=%v", address, err, allowed)
		}
		if err != nil && !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("Control(%s): %v does not wrap ErrForbiddenAddress", address, err)
		}
	}
}

// TestExemptClient: a NewClient with one listener exempt reaches it, and
// not another listener on the same host. All traffic stays on 127.0.0.1.
func TestExemptClient(t *testing.T) {
	var hits, otherHits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) }))
	defer other.Close()
	c := NewClient(Options{Timeout: 2 * time.Second, Exempt: []netip.AddrPort{netip.MustParseAddrPort(srv.Listener.Addr().String())}})

	resp, err := c.Post(srv.URL+"/x", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("the exempt listener: %v", err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("hits %d, want 1", hits.Load())
	}
	resp, err = c.Post(other.URL+"/x", "application/json", strings.NewReader("{}"))
	if resp != nil {
		resp.Body.Close()
	}
	if !errors.Is(err, ErrForbiddenAddress) || otherHits.Load() != 0 {
		t.Fatalf("another listener on the same host: %v, %d hits; want ErrForbiddenAddress and none", err, otherHits.Load())
	}
}

func TestNewClientDoesNotFollowRedirects(t *testing.T) {
	var targetHits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer srv.Close()
	resp, err := NewClient(Options{AllowPrivate: true, Timeout: 2 * time.Second}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || targetHits.Load() != 0 {
		t.Fatalf("status %d, target hits %d: want the 302 itself", resp.StatusCode, targetHits.Load())
	}
}

func TestNewClientProxyAndTimeouts(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	c := NewClient(Options{})
	tr := c.Transport.(*http.Transport)
	if tr.Proxy != nil {
		t.Error("the transport uses a proxy from the environment")
	}
	if c.Timeout != DefaultTimeout || tr.ResponseHeaderTimeout != DefaultTimeout {
		t.Errorf("timeouts %s %s, want %s", c.Timeout, tr.ResponseHeaderTimeout, DefaultTimeout)
	}
	if c := NewClient(Options{Timeout: 3 * time.Second}); c.Timeout != 3*time.Second {
		t.Errorf("Timeout %s, want 3s", c.Timeout)
	}
}

package server

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string // the prefixes, space-separated
		err      string
	}{
		{"empty", "", "", ""},
		{"blank", "  , ", "", ""},
		{"addresses and CIDRs", "10.0.0.0/8, 127.0.0.1, ::1", "10.0.0.0/8 127.0.0.1/32 ::1/128", ""},
		{"spaces only", "192.168.1.1 fd00::/8", "192.168.1.1/32 fd00::/8", ""},
		{"host bits masked", "10.1.2.3/8", "10.0.0.0/8", ""},
		{"IPv4-mapped address", "::ffff:10.0.0.1", "10.0.0.1/32", ""},
		{"IPv4-mapped CIDR", "::ffff:10.0.0.0/104", "10.0.0.0/8", ""},
		{"IPv4-mapped wider than IPv4", "::ffff:0:0/95", "", "IPv4-mapped"},
		{"hostname", "proxy.internal", "", "not an address"},
		{"bad CIDR", "10.0.0.0/33", "", "not an address"},
		{"zone", "fe80::1%eth0", "", "not an address"},
		{"with port", "10.0.0.1:80", "", "not an address"},
		{"every IPv4 address", "0.0.0.0/0", "", "every address"},
		{"every IPv6 address", "::/0", "", "every address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTrustedProxies(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseTrustedProxies(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if strings.Join(s, " ") != tc.want {
				t.Errorf("ParseTrustedProxies(%q) = %v, want %s", tc.in, s, tc.want)
			}
		})
	}
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 127.0.0.1, ::1, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	ps := proxies(trusted)
	for _, tc := range []struct {
		name string
		ps   proxies
		peer string
		xff  []string // header lines; nil: no header
		want string
	}{
		{"no proxies: header ignored", nil, "127.0.0.1", []string{"203.0.113.7"}, "127.0.0.1"},
		{"untrusted peer: header ignored", ps, "198.51.100.1", []string{"203.0.113.7"}, "198.51.100.1"},
		{"untrusted IPv6 peer: header ignored", ps, "2001:db8::1", []string{"203.0.113.7"}, "2001:db8::1"},
		{"header absent", ps, "10.0.0.1", nil, "10.0.0.1"},
		{"header empty", ps, "10.0.0.1", []string{""}, "10.0.0.1"},
		{"one proxy", ps, "10.0.0.1", []string{"203.0.113.7"}, "203.0.113.7"},
		{"spoofed leftmost entries", ps, "10.0.0.1", []string{"1.1.1.1, 2.2.2.2, 203.0.113.7"}, "203.0.113.7"},
		{"spoofed trusted leftmost entry", ps, "10.0.0.1", []string{"10.9.9.9, 203.0.113.7"}, "203.0.113.7"},
		{"chain of trusted proxies", ps, "127.0.0.1", []string{"1.1.1.1, 203.0.113.7, 10.0.0.2, 10.0.0.3"}, "203.0.113.7"},
		{"chain over header lines", ps, "10.0.0.1", []string{"1.1.1.1, 203.0.113.7", "10.0.0.3"}, "203.0.113.7"},
		{"every hop trusted: leftmost", ps, "10.0.0.1", []string{"10.0.0.5, 10.0.0.6"}, "10.0.0.5"},
		{"IPv6 peer and client", ps, "::1", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv6 chain", ps, "::1", []string{"2001:db8::7, fd00::2"}, "2001:db8::7"},
		{"IPv4-mapped peer", ps, "::ffff:10.0.0.1", []string{"203.0.113.7"}, "203.0.113.7"},
		{"IPv4-mapped untrusted peer", ps, "::ffff:198.51.100.1", []string{"203.0.113.7"}, "198.51.100.1"},
		{"IPv4-mapped hops", ps, "10.0.0.1", []string{"::ffff:203.0.113.7, ::ffff:10.0.0.2"}, "203.0.113.7"},
		{"IPv4 with port", ps, "10.0.0.1", []string{"203.0.113.7:51234"}, "203.0.113.7"},
		{"IPv6 with port", ps, "10.0.0.1", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"IPv6 in brackets", ps, "10.0.0.1", []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"trusted hop with port", ps, "10.0.0.1", []string{"203.0.113.7, 10.0.0.2:8080"}, "203.0.113.7"},
		{"zone dropped", ps, "10.0.0.1", []string{"fe80::7%eth0"}, "fe80::7"},
		{"empty elements skipped", ps, "10.0.0.1", []string{"203.0.113.7,, ,"}, "203.0.113.7"},
		{"malformed rightmost: the peer", ps, "10.0.0.1", []string{"203.0.113.7, garbage"}, "10.0.0.1"},
		{"malformed after a trusted hop: that hop", ps, "10.0.0.1", []string{"203.0.113.7, unknown, 10.0.0.2"}, "10.0.0.2"},
		{"malformed left of the client: the client", ps, "10.0.0.1", []string{"garbage, 203.0.113.7"}, "203.0.113.7"},
		{"leading zeros are malformed", ps, "10.0.0.1", []string{"010.0.0.1"}, "10.0.0.1"},
		{"hostname is malformed", ps, "10.0.0.1", []string{"client.example.com"}, "10.0.0.1"},
		{"bad port is malformed", ps, "10.0.0.1", []string{"203.0.113.7:port"}, "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.ps.clientAddr(netip.MustParseAddr(tc.peer), tc.xff)
			if got.String() != tc.want {
				t.Errorf("clientAddr(%s, %q) = %s, want %s", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
}

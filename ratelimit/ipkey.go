package ratelimit

import "net/netip"

// IPKey is the key a per-address limit counts a client by: an IPv4
// address by itself, an IPv6 address by its /64, since one subscriber line
// gets a whole /64 (2^64 addresses to rotate through). An unreadable
// address is its own key.
func IPKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64) // cannot fail for an IPv6 address without a zone
	return p.String()
}

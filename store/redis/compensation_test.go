package redis

import (
	"strings"
	"testing"
)

// hashTag is the part of key Redis Cluster hashes: the first {…} with
// something inside, else the whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// TestCompensationKeysShareThePageSlot checks that every key a
// compensation script is given carries the page's hash tag, whatever
// the incident, customer and draw IDs hold: each script is legal on
// Redis Cluster.
func TestCompensationKeysShareThePageSlot(t *testing.T) {
	db := &DB{keys: keyspace{prefix: "herald"}}
	for _, odd := range []string{"i1", "{i1}", "}{", "a:b", "", "ünï {code}"} {
		for name, keys := range map[string][]string{
			"saveDecisionScript":              db.decisionKeys("p1", odd),
			"saveGrantScript":                 db.grantKeys("p1", odd, odd+"{c}", ""),
			"saveGrantScript, a voucher list": db.grantKeys("p1", odd, odd+"{c}", "spring"),
			"findGrantByKeyScript":            db.findGrantByKeyKeys("p1", odd),
			"addVouchersScript":               db.voucherKeys("p1", "spring"),
			"drawVoucherScript":               db.drawVoucherKeys("p1", "spring"),
			"FindDecided":                     {db.keys.decided("p1")},
		} {
			seen := map[string]bool{}
			for _, k := range keys {
				if tag := hashTag(k); tag != "p1" {
					t.Errorf("%s (ID %q): key %s hashes %q, not the page's tag p1", name, odd, k, tag)
				}
				if seen[k] {
					t.Errorf("%s (ID %q): key %s passed twice", name, odd, k)
				}
				seen[k] = true
			}
		}
	}
	if a, b := db.keys.customerGrants("p1", "i1", "2c"), db.keys.customerGrants("p1", "i12", "c"); a == b {
		t.Errorf("customers (i1, 2c) and (i12, c) share the key %s", a)
	}
}

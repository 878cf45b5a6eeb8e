package incident

import (
	"crypto/rand"
)

const idAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// NewID returns a random 12-character base-36 ID, the shape Statuspage uses
// ("rclfxz2g21ly"): short enough for an SMS link, 62 bits of randomness.
func NewID() string {
	// Bytes below 252 (7 × 36) map to the alphabet uniformly; the rest are
	// drawn again. One read of 16 random bytes usually does: rand.Int per
	// character cost a big.Int each, four IDs a complaint.
	var out [12]byte
	var buf [16]byte
	n := 0
	for n < len(out) {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("incident: crypto/rand failed: " + err.Error())
		}
		for _, c := range buf {
			if c < 252 && n < len(out) {
				out[n] = idAlphabet[c%36]
				n++
			}
		}
	}
	return string(out[:])
}

// ValidID reports whether s could be an ID: 1 to 64 characters of [a-z0-9_-].
// It guards store keys and URLs against arbitrary input.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

package incident

import (
	"crypto/rand"
	"math/big"
)

const idAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// NewID returns a random 12-character base-36 ID, the shape Statuspage uses
// ("rclfxz2g21ly"): short enough for an SMS link, 62 bits of randomness.
func NewID() string {
	b := make([]byte, 12)
	max := big.NewInt(int64(len(idAlphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("incident: crypto/rand failed: " + err.Error())
		}
		b[i] = idAlphabet[n.Int64()]
	}
	return string(b)
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

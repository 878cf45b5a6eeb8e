package surveys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
)

// A survey link carries a token: the survey's ID and an expiry, signed
// with HMAC-SHA256 under the server's secret. Forged, cut or expired
// tokens are refused without saying which survey they name.

var b64 = base64.RawURLEncoding

// tokenMAC is the signature's length in bytes (truncated SHA-256: 128
// bits is beyond guessing).
const tokenMAC = 16

// LinkLifetime is how long a survey link works: as long as the survey
// takes answers and may be changed.
const LinkLifetime = OpenFor + ChangeWindow

// Sign makes the token of survey id, valid until exp.
func Sign(key []byte, id string, exp time.Time) string {
	msg := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(msg, uint64(exp.Unix()))
	msg = append(msg, id...)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("survey\x00"))
	m.Write(msg)
	return b64.EncodeToString(msg) + "." + b64.EncodeToString(m.Sum(nil)[:tokenMAC])
}

// ErrLink is the one answer to a token that does not work: forged, cut
// short, or expired, alike.
var ErrLink = incident.Errorf(incident.ENOTFOUND, "this survey link does not work: it has expired or was cut short")

// Verify returns the survey ID a token names, or ErrLink.
func Verify(key []byte, token string, now time.Time) (string, error) {
	body, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 200 {
		return "", ErrLink
	}
	msg, err1 := b64.DecodeString(body)
	mac, err2 := b64.DecodeString(sig)
	if err1 != nil || err2 != nil || len(msg) <= 8 || len(mac) != tokenMAC {
		return "", ErrLink
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("survey\x00"))
	m.Write(msg)
	if !hmac.Equal(m.Sum(nil)[:tokenMAC], mac) {
		return "", ErrLink
	}
	if exp := time.Unix(int64(binary.BigEndian.Uint64(msg[:8])), 0); !now.Before(exp) {
		return "", ErrLink
	}
	return string(msg[8:]), nil
}

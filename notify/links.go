package notify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// Link tokens are compact and HMAC-signed: base64url(kind byte, issue time
// (uint32 Unix seconds), subject) followed by 12 bytes of HMAC-SHA256 over
// them. The subject is a subscriber ID or a delivery ID, never an address,
// so a token reveals nothing and stays short (List-Unsubscribe headers are
// folded by some relays, which breaks DKIM on long ones). The key is the
// store's "links" secret, shared by every node.
const (
	tokenConfirm          = 'c' // subject: subscriber ID
	tokenUnsubSubscriber  = 's' // subject: subscriber ID
	tokenUnsubDelivery    = 'd' // subject: delivery ID (a customer's message)
	tokenMACLen           = 12
	linksSecretName       = "links"
	confirmTokenLifetime  = 90 * 24 * time.Hour // Statuspage's confirm links expire after 90 days
	unsubscribePathPrefix = "/unsubscribe/"
	confirmPathPrefix     = "/subscriptions/confirm/"
)

var b64 = base64.RawURLEncoding

func (s *Service) linkKey(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	k, err := s.store.Secret(ctx, linksSecretName, func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	})
	if err != nil {
		return nil, err
	}
	s.key = k
	return k, nil
}

func (s *Service) sign(ctx context.Context, kind byte, subject string) (string, error) {
	key, err := s.linkKey(ctx)
	if err != nil {
		return "", err
	}
	msg := make([]byte, 5, 5+len(subject)+tokenMACLen)
	msg[0] = kind
	binary.BigEndian.PutUint32(msg[1:5], uint32(s.now().Unix()))
	msg = append(msg, subject...)
	mac := hmac.New(sha256.New, key)
	mac.Write(msg)
	return b64.EncodeToString(append(msg, mac.Sum(nil)[:tokenMACLen]...)), nil
}

// verify checks a token and returns its kind, subject and issue time.
// Errors: EINVALID (field "token") for anything forged, truncated or unknown.
func (s *Service) verify(ctx context.Context, token string) (byte, string, time.Time, error) {
	bad := incident.Invalid("token", "the link is not valid; it may have been cut short")
	if len(token) > 200 {
		return 0, "", time.Time{}, bad
	}
	raw, err := b64.DecodeString(strings.TrimSpace(token))
	if err != nil || len(raw) < 5+1+tokenMACLen {
		return 0, "", time.Time{}, bad
	}
	key, err := s.linkKey(ctx)
	if err != nil {
		return 0, "", time.Time{}, err
	}
	msg, sum := raw[:len(raw)-tokenMACLen], raw[len(raw)-tokenMACLen:]
	mac := hmac.New(sha256.New, key)
	mac.Write(msg)
	if !hmac.Equal(sum, mac.Sum(nil)[:tokenMACLen]) {
		return 0, "", time.Time{}, bad
	}
	issued := time.Unix(int64(binary.BigEndian.Uint32(msg[1:5])), 0).UTC()
	return msg[0], string(msg[5:]), issued, nil
}

func (s *Service) link(prefix, token string) string {
	return strings.TrimRight(s.cfg.PublicURL, "/") + prefix + token
}

// UnsubscribeURL returns the one-click unsubscribe link for a delivery: a
// subscriber's leaves the subscription; a customer's suppresses that
// channel and address on the delivery's page. The server serves it at
// PublicURL + "/unsubscribe/{token}" (GET shows a confirm page, POST
// unsubscribes: RFC 8058 one-click posts; mail scanners only GET).
func (s *Service) UnsubscribeURL(ctx context.Context, d *queue.Delivery) (string, error) {
	kind, subject := byte(tokenUnsubDelivery), d.ID
	if d.RecipientType == queue.FromSubscriber {
		kind, subject = tokenUnsubSubscriber, d.RecipientID
	}
	tok, err := s.sign(ctx, kind, subject)
	if err != nil {
		return "", err
	}
	return withLang(s.link(unsubscribePathPrefix, tok), d.Language), nil
}

// withLang adds the recipient's language to a link into the public pages,
// so the page it opens speaks the message's language.
func withLang(link, lang string) string {
	if lang == "" {
		return link
	}
	return link + "?lang=" + url.QueryEscape(lang)
}

// SubscriberUnsubscribeURL is the unsubscribe link of a subscription (for
// the page that confirms it, and for webhook meta.unsubscribe).
func (s *Service) SubscriberUnsubscribeURL(ctx context.Context, sub *audience.Subscriber) (string, error) {
	tok, err := s.sign(ctx, tokenUnsubSubscriber, sub.ID)
	if err != nil {
		return "", err
	}
	return withLang(s.link(unsubscribePathPrefix, tok), sub.Language), nil
}

// ConfirmURL returns a subscriber's double opt-in link, served at
// PublicURL + "/subscriptions/confirm/{token}"; it expires after 90 days.
func (s *Service) ConfirmURL(ctx context.Context, sub *audience.Subscriber) (string, error) {
	tok, err := s.sign(ctx, tokenConfirm, sub.ID)
	if err != nil {
		return "", err
	}
	return withLang(s.link(confirmPathPrefix, tok), sub.Language), nil
}

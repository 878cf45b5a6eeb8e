package channel

import (
	"errors"
	"net/url"
	"strings"
)

// WithoutURL is err with the request's URL taken out. An http.Client's
// errors (*url.Error) quote the whole URL, and a subscriber's URL may carry
// a secret (a Slack incoming webhook's path is its credential; webhook
// receivers put tokens in paths and queries), while a delivery's reason is
// shown to agents, kept in the store and logged. What is left keeps the
// cause (errors.Is and errors.As still find it): a dial error names the
// host and port only.
func WithoutURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &urlless{op: strings.ToLower(ue.Op), err: ue.Err, timeout: ue.Timeout()}
}

type urlless struct {
	op      string
	err     error
	timeout bool
}

func (e *urlless) Error() string { return e.op + ": " + e.err.Error() }
func (e *urlless) Unwrap() error { return e.err }

// Timeout reports whether the request timed out, as url.Error does.
func (e *urlless) Timeout() bool { return e.timeout }

package slack

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"

	slackgo "github.com/slack-go/slack"
)

// Slack's request-signing headers.
const (
	HeaderSignature = "X-Slack-Signature"
	HeaderTimestamp = "X-Slack-Request-Timestamp"
)

// MaxSkew is how far a request's timestamp may be from now: Slack's own
// replay window.
const MaxSkew = 5 * time.Minute

// VerifyRequest checks that body with header came from Slack: a
// "v0=" HMAC-SHA256 of "v0:{timestamp}:{body}" under secret, with the
// timestamp within MaxSkew of now. The HMAC and header parsing are
// slack.NewSecretsVerifier's; slack-go also checks the timestamp against the
// wall clock, so now (herald's clock) narrows the window but cannot widen it.
// Errors are slack-go's (slack.ErrMissingHeaders, ErrExpiredTimestamp,
// ErrInvalidSignature, …), wrapped.
func VerifyRequest(header http.Header, body []byte, secret string, now time.Time) error {
	if ts, err := strconv.ParseInt(header.Get(HeaderTimestamp), 10, 64); err == nil {
		if d := now.Sub(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
			return fmt.Errorf("slack: verify request: %w", slackgo.ErrExpiredTimestamp)
		}
	}
	sv, err := slackgo.NewSecretsVerifier(header, secret)
	if err != nil {
		return fmt.Errorf("slack: verify request: %w", err)
	}
	if _, err := sv.Write(body); err != nil {
		return fmt.Errorf("slack: verify request: %w", err)
	}
	if err := sv.Ensure(); err != nil {
		return fmt.Errorf("slack: verify request: %w", err)
	}
	return nil
}

// formRequest wraps a raw form body so slack-go's request parsers can read it.
func formRequest(body []byte) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body)) // a constant URL cannot fail to parse
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// ParseSlashCommand parses a slash command's form body (after VerifyRequest).
// It wraps ErrInvalidBody when the body is not a form or names no command.
func ParseSlashCommand(body []byte) (slackgo.SlashCommand, error) {
	sc, err := slackgo.SlashCommandParse(formRequest(body))
	if err != nil {
		return slackgo.SlashCommand{}, fmt.Errorf("%w: %v", ErrInvalidBody, err)
	}
	if sc.Command == "" {
		return slackgo.SlashCommand{}, fmt.Errorf("%w: no command", ErrInvalidBody)
	}
	return sc, nil
}

// ParseInteraction parses an interaction's form body (its "payload" field
// holds JSON), after VerifyRequest. It wraps ErrInvalidBody on failure.
func ParseInteraction(body []byte) (slackgo.InteractionCallback, error) {
	cb, err := slackgo.InteractionCallbackParse(formRequest(body))
	if err != nil {
		return slackgo.InteractionCallback{}, fmt.Errorf("%w: %v", ErrInvalidBody, err)
	}
	return cb, nil
}

// Package sandbox is a local stand-in for herald's providers: Twilio's
// Messages API (with signed status callbacks), Slack's Web API and incoming
// webhooks, a sink for outgoing webhooks, and an SMTP server. Everything it
// accepts lands in an inbox, shown as HTML at /sandbox and as JSON at
// /sandbox/messages.
//
// Tests, benchmarks and the default `herald serve` (when no provider
// credentials are configured) point herald's real provider clients at it, so
// the whole loop runs on one machine. It is never used by a configured
// production provider.
//
// Faults make it misbehave the way providers do: a share of 5xx answers,
// bursts of 429 with Retry-After, a rate ceiling, slow answers, and chosen
// numbers, addresses or channels that fail with the provider's real codes;
// a Slack post kept but never answered (the caller died before it learnt
// the ts), and a channel history Slack refuses to show.
//
// The sandbox speaks only to loopback: it listens on 127.0.0.1 by default and
// posts Twilio status callbacks only to loopback URLs.
package sandbox

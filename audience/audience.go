// Package audience holds who herald writes to: the customers a page
// imports, the people who subscribe on the page, and the suppressions that
// stop messages to an address. It is data only (types and the Store
// interface the engines implement; standard library, the other data
// packages and fold, the leaf that folds names for search), so
// store/sqlite and store/redis import it without pulling in the pipeline
// that reads it (notify).
//
// The same pattern holds for every kind of thing herald stores: the types
// and the engine interface live in a small data package (incident, audience,
// queue, ratelimit, and complaints, compensation and surveys after them);
// the rules that use them live in the service packages (incident.Service,
// notify); the engines import data packages only.
package audience

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/fold"
)

// SubscriberState is where a subscriber is in double opt-in.
type SubscriberState string

// Subscriber states.
const (
	SubscriberPending      SubscriberState = "pending"      // waiting for the confirm link, code or YES reply
	SubscriberActive       SubscriberState = "active"       // confirmed (or added by an admin)
	SubscriberUnsubscribed SubscriberState = "unsubscribed" // left; kept so a re-subscribe is a fresh opt-in
)

// Subscriber is someone who asked to be told about a page's incidents, on
// one channel, for the whole page or chosen components.
type Subscriber struct {
	ID             string          `json:"id"`
	PageID         string          `json:"page_id"`
	Kind           channel.Kind    `json:"kind"`    // sms, email, webhook, slack
	Address        string          `json:"address"` // E.164, email, webhook URL, Slack incoming-webhook URL
	Language       string          `json:"language"`
	ComponentIDs   []string        `json:"component_ids"` // empty: the whole page
	IncidentID     string          `json:"incident_id"`   // set: follows one incident only
	State          SubscriberState `json:"state"`
	ConfirmHash    string          `json:"-"`      // SHA-256 of the pending confirmation code (SMS); "" otherwise
	ConfirmTries   int             `json:"-"`      // wrong codes entered; the code dies after a few
	ConfirmSentAt  *time.Time      `json:"-"`      // when the pending code was issued (queued); it dies confirmCodeLifetime later
	Source         string          `json:"source"` // page, api, sms
	CreatedAt      time.Time       `json:"created_at"`
	ConfirmedAt    *time.Time      `json:"confirmed_at"`
	UnsubscribedAt *time.Time      `json:"unsubscribed_at"`
	// UnsubscribeReason says why the subscription ended when herald ended
	// it ("webhook:410": the endpoint answered 410 Gone); "" for a link,
	// the API or an admin.
	UnsubscribeReason string `json:"unsubscribe_reason"`
}

// Suppression stops messages to an address: STOP replies, unsubscribe
// clicks by customers, hard bounces, Twilio 21610.
type Suppression struct {
	PageID  string       `json:"page_id"` // "" applies to every page (SMS STOP is per sender number, so global)
	Kind    channel.Kind `json:"kind"`
	Address string       `json:"address"`
	Reason  string       `json:"reason"` // stop, unsubscribe, bounce, provider:21610
	At      time.Time    `json:"at"`
}

// Customer is one person or company a page notifies, imported from the
// client's own records. Re-importing upserts by (PageID, ID).
type Customer struct {
	ID         string            `json:"id"` // the client's external id
	PageID     string            `json:"page_id"`
	Name       string            `json:"name"`
	Phone      string            `json:"phone"`    // E.164, SMS-capable
	Email      string            `json:"email"`    // bare address, domain lower-cased
	Slack      string            `json:"slack"`    // member/channel ID or incoming-webhook URL
	Language   string            `json:"language"` // en, hu, pl or hr; "" uses the page's
	TimeZone   string            `json:"time_zone"`
	Plan       string            `json:"plan"`
	Region     string            `json:"region"`
	Components []string          `json:"components"` // component IDs
	Attributes map[string]string `json:"attributes"` // extra columns, for segments
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

// CustomerFilter pages through a page's customers ordered by ID.
type CustomerFilter struct {
	PageID string
	After  string // ID cursor: customers with ID > After
	Limit  int    // ≤ 0: no limit
}

// SubscriberFilter pages through subscribers ordered by ID.
type SubscriberFilter struct {
	PageID     string
	State      SubscriberState // "" any
	Kind       channel.Kind    // "" any
	IncidentID string          // "" page-wide subscribers only when Following is false
	Following  bool            // true: only subscribers of IncidentID
	After      string
	Limit      int // ≤ 0: no limit
}

// With Following false, a SubscriberFilter selects page-wide subscribers
// plus, when IncidentID is set, the followers of that incident: a
// broadcast's subscriber audience in one query.

// Store keeps a page's audience: the customers it imports, the people who
// subscribe, and the addresses that must not be written to. It is
// implemented by store/sqlite and store/redis and held to one conformance
// suite (store/storetest). Reads return incident.ENOTFOUND errors for
// missing objects.
type Store interface {
	// UpsertCustomers inserts or replaces customers by (PageID, ID), all in
	// one transaction however many there are (an import of a million is
	// one call), and returns how many were new: a reader, or a store
	// reopened after the writer was killed, sees all of a page's
	// customers of the call or none. A replaced customer keeps its stored
	// CreatedAt (when it was first imported).
	UpsertCustomers(ctx context.Context, cs []*Customer) (created int, err error)
	FindCustomerByID(ctx context.Context, pageID, id string) (*Customer, error)
	// FindCustomers returns up to f.Limit customers with ID > f.After, by ID.
	FindCustomers(ctx context.Context, f CustomerFilter) ([]*Customer, error)
	CountCustomers(ctx context.Context, pageID string) (int, error)
	// DeleteCustomer returns ENOTFOUND when there is no such customer.
	DeleteCustomer(ctx context.Context, pageID, id string) error
	// FindCustomersByAddress returns the page's customers whose address of
	// kind equals address, ordered by ID: Phone for channel.SMS (E.164,
	// exact), Email for channel.Email (exact on the stored address, whose
	// domain is lower-cased: the query's domain is lower-cased the same
	// way, its local part is not), Slack for channel.Slack (exact). An
	// empty address or another kind finds nobody. It is an index lookup,
	// not a scan, and follows re-imports and deletions at once.
	FindCustomersByAddress(ctx context.Context, pageID string, kind channel.Kind, address string) ([]*Customer, error)
	// FindCustomersByName returns up to limit (MaxNameResults when limit is ≤ 0 or more) of the
	// page's customers whose name matches query as a person types it:
	// every word of the query (NameWords) begins a word of the name, in
	// any order, so "kovacs a", "Anna Kov" and "ANNA" all find "Kovács
	// Anna". They come in the order of the index entry that found them:
	// by the name word that begins with the query's longest word, then by
	// ID, each customer once. It is an index lookup on that word's prefix
	// that reads at most MaxNameScan entries, so a very common prefix
	// with a rare second word may miss a match beyond them. A query with
	// no word finds nobody. It follows re-imports and deletions at once.
	FindCustomersByName(ctx context.Context, pageID, query string, limit int) ([]*Customer, error)

	// SaveSubscriber inserts or replaces a subscriber. A second active or
	// pending subscriber for the same page, kind, address and incident is
	// ECONFLICT.
	SaveSubscriber(ctx context.Context, s *Subscriber) error
	FindSubscriberByID(ctx context.Context, id string) (*Subscriber, error)
	// FindSubscriberByAddress returns the page's live (pending or active)
	// subscriber for kind and address, page-wide (incidentID "") or following one incident.
	FindSubscriberByAddress(ctx context.Context, pageID string, kind channel.Kind, address, incidentID string) (*Subscriber, error)
	FindSubscribers(ctx context.Context, f SubscriberFilter) ([]*Subscriber, error)
	// CountSubscribers counts a page's subscribers in state ("" any).
	CountSubscribers(ctx context.Context, pageID string, state SubscriberState) (int, error)
	// DeleteSubscriber returns ENOTFOUND when there is no such subscriber.
	DeleteSubscriber(ctx context.Context, id string) error

	// Suppress records a suppression (idempotent: an existing one for the
	// same page, kind and address is kept as it was); Unsuppress lifts the
	// one of exactly that scope (START; lifting none is no error);
	// FindSuppression returns the one that applies to the page, the
	// page-scoped one before a global one, or ENOTFOUND.
	Suppress(ctx context.Context, s Suppression) error
	Unsuppress(ctx context.Context, pageID string, kind channel.Kind, address string) error
	FindSuppression(ctx context.Context, pageID string, kind channel.Kind, address string) (*Suppression, error)
	// FindSuppressed answers FindSuppression for a batch: which of
	// addresses (of kind) a suppression applies to on the page, page-scoped
	// or global, each once, in no particular order. Its cost follows the
	// batch, not the number of suppressions.
	FindSuppressed(ctx context.Context, pageID string, kind channel.Kind, addresses []string) ([]string, error)
}

// Limits of FindCustomersByName.
const (
	// MaxNameResults is the most customers one name search returns.
	MaxNameResults = 100
	// MaxNameScan is the most index entries one name search reads.
	MaxNameScan = 2000
	// MaxNameQuery is the longest query, in bytes, a name search reads;
	// the rest is ignored.
	MaxNameQuery = 200
)

// NameWords returns the words a name is found by, and a query's words:
// runs of letters and digits, diacritics removed and lower-cased
// ("Kovács-Nagy Łucja" → kovacs, nagy, lucja), each once, in order. The
// engines index a customer under each word of its name.
func NameWords(name string) []string {
	ws := fold.Words(name)
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// NameQuery reads a name search: its words (NameWords of at most
// MaxNameQuery bytes) and the longest of them (the first of the longest),
// "" when there is none. The engines read the index by the word with the
// fewest entries (RarestWord), the longest among equals.
func NameQuery(query string) (words []string, key string) {
	if len(query) > MaxNameQuery {
		query = query[:MaxNameQuery]
	}
	words = NameWords(query)
	for _, w := range words {
		if len(w) > len(key) {
			key = w
		}
	}
	return words, key
}

// RarestWord returns the word of words whose prefix has the fewest index
// entries, by count (which may stop counting at MaxNameScan+1: beyond
// that a word is as common as another), the longest among equals, key
// when count fails or there is one word. A search reads at most
// MaxNameScan entries of it, so reading the rarest finds "maria wu"
// among thousands of Márias, where the longest, "maria", would stop
// before reaching Wu.
func RarestWord(words []string, key string, count func(w string) (int, error)) (string, error) {
	if len(words) < 2 {
		return key, nil
	}
	best, bestN := "", 0
	for _, w := range words {
		n, err := count(w)
		if err != nil {
			return key, err
		}
		if best == "" || n < bestN || n == bestN && len(w) > len(best) {
			best, bestN = w, n
		}
	}
	return best, nil
}

// NameMatches reports whether every query word begins one of the name's words.
func NameMatches(nameWords, queryWords []string) bool {
	for _, q := range queryWords {
		if !slices.ContainsFunc(nameWords, func(w string) bool { return strings.HasPrefix(w, q) }) {
			return false
		}
	}
	return true
}

// AddressKey returns address as FindCustomersByAddress compares it for
// kind: an email folded to lower case (ASCII letters only, as SQLite's
// lower() and Lua's string.lower fold them, so that the engines' indexes
// agree), anything else as it is. Email is matched without regard to case
// although RFC 5321 lets a local part be case-sensitive: no mail provider
// treats it so, and a customer imported as Anna.Kovacs@… who writes from
// anna.kovacs@… is the same customer. The stored address keeps its case.
func AddressKey(kind channel.Kind, address string) string {
	if kind != channel.Email {
		return address
	}
	return asciiLower(address)
}

// asciiLower folds the ASCII letters of s to lower case, nothing else.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// SinceAttribute is the customer attribute (the import's customer_since
// column) that says since when they are a customer: a date (2006-01-02)
// or an RFC 3339 time.
const SinceAttribute = "customer_since"

// ParseSince reads a customer_since value; ok is false when it is neither
// a date nor an RFC 3339 time.
func ParseSince(v string) (t time.Time, ok bool) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

// CustomerSince is c's customer_since attribute, read; ok is false when
// it has none (or one ParseSince refuses, which the import does not let
// in).
func CustomerSince(c *Customer) (time.Time, bool) {
	v, has := c.Attributes[SinceAttribute]
	if !has {
		return time.Time{}, false
	}
	return ParseSince(v)
}

package compensation

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
)

// Store keeps compensation decisions (every version), grants and voucher
// codes. Both engines implement it; store/storetest holds the conformance
// suite. Times are stored in UTC at millisecond precision; the caller's
// values are not changed.
//
// Everything is kept per page, as the Redis engine's hash tags are: an
// incident's decision versions, its grants, a grant's ID and Key, and
// voucher lists are looked up within the page named, and another page's
// are never seen. Reads return what was stored, whole: a grant's Key and
// Override.By too, which its JSON leaves out.
type Store interface {
	// SaveDecision stores d as its incident's newest version. d.Version
	// must be one more than the newest stored version (1 when none is
	// stored); otherwise nothing is written and it returns ECONFLICT.
	// Every version is kept. d must name a page and an incident, and be
	// version 1 or more (EINVALID).
	SaveDecision(ctx context.Context, d *Decision) error
	// FindDecision returns the incident's newest decision, or ENOTFOUND
	// when none was saved (the caller starts from Initial).
	FindDecision(ctx context.Context, pageID, incidentID string) (*Decision, error)
	// FindDecisions returns every version of the incident's decision,
	// oldest first; none: an empty slice.
	FindDecisions(ctx context.Context, pageID, incidentID string) ([]*Decision, error)
	// FindDecided returns the page's newest decisions whose state is
	// coming or decided, one per incident, by incident ID: what the
	// customer's messages and the agents' view consult.
	FindDecided(ctx context.Context, pageID string) ([]*Decision, error)

	// SaveGrant stores g, unless the incident already holds a grant with
	// g.Key: then it writes nothing and returns that grant and false (a
	// retried request grants once), or incident.EIDEMPOTENCY when that
	// grant is another request's (SameGrantRequest: another customer's,
	// or another Fingerprint). seen is how many grants the caller
	// read for g's customer and incident when it checked the policy; when
	// the store holds another number, someone granted meanwhile and it
	// returns ECONFLICT, writing nothing, so the caller re-reads and checks
	// the cap again. g must name a page, an incident, a customer, an ID
	// and a Key (EINVALID); an ID already stored on the page is ECONFLICT.
	// When g names a VoucherList (and no Voucher: EINVALID), the code is
	// drawn from that list of the page, as DrawVoucher draws it for
	// g.Key, in the same atomic step that stores g, after every check
	// above: a grant not stored draws nothing, so of two requests racing
	// with one key, the loser's list keeps its codes. When the list has
	// no unused code left it returns ENOTFOUND, writing nothing. On
	// success it returns the grant as stored and true.
	SaveGrant(ctx context.Context, g *Grant, seen int) (*Grant, bool, error)
	// FindGrants returns the incident's grants, oldest At first (ties by
	// ID); customerID "" returns every customer's.
	FindGrants(ctx context.Context, pageID, incidentID, customerID string) ([]*Grant, error)
	// FindGrantByKey returns the incident's grant with key (Grant.Key),
	// whichever customer's it is, or ENOTFOUND. Without one, it returns
	// the grant with the key TopUpKey(key, n) of the lowest version n,
	// if any: a herald before 0208d89 recorded the top-up a client's key
	// granted under that key, and it is still that key's grant. (Only a
	// client's key is looked up; SaveGrant compares keys as they are.)
	FindGrantByKey(ctx context.Context, pageID, incidentID, key string) (*Grant, error)

	// AddVouchers adds codes to the page's voucher list listID; a code
	// already in the list is skipped. It returns how many were added.
	AddVouchers(ctx context.Context, pageID, listID string, codes []string) (int, error)
	// DrawVoucher hands out one unused code of the list to key, once: the
	// same key gets the same code again (key must not be empty:
	// EINVALID). ENOTFOUND when the list has no unused code left (or does
	// not exist). A grant's code is drawn by SaveGrant instead, with the
	// grant.
	DrawVoucher(ctx context.Context, pageID, listID, key string) (string, error)
	// CountVouchers returns how many codes the list holds and how many
	// of them are still unused.
	CountVouchers(ctx context.Context, pageID, listID string) (total, free int, err error)
}

// CheckDecision checks what SaveDecision is given, the same in every
// engine.
func CheckDecision(d *Decision) error {
	switch {
	case d == nil:
		return incident.Invalid("decision", "is required")
	case d.PageID == "" || d.IncidentID == "":
		return incident.Invalid("decision", "must name a page and an incident")
	case d.Version < 1:
		return incident.Invalid("version", "a saved decision is version 1 or more, not %d", d.Version)
	case !d.State.Valid():
		return incident.Invalid("state", "unknown state %q", d.State)
	}
	return nil
}

// CheckGrantRecord checks what SaveGrant is given, the same in every
// engine.
func CheckGrantRecord(g *Grant) error {
	switch {
	case g == nil:
		return incident.Invalid("grant", "is required")
	case g.ID == "" || g.PageID == "" || g.IncidentID == "" || g.CustomerID == "":
		return incident.Invalid("grant", "must name an ID, a page, an incident and a customer")
	case g.Key == "":
		return incident.Invalid("key", "a grant needs an idempotency key")
	case g.VoucherList != "" && g.Voucher != "":
		return incident.Invalid("voucher", "a grant whose code is drawn from a voucher list names no code: the store draws it")
	case g.VoucherList != "":
		return CheckVouchers(g.VoucherList, nil)
	}
	return nil
}

// SameGrantRequest reports whether a request with the key of prior, the
// grant it recorded, is a retry of it: the same customer's, with the same
// fingerprint (Grant.Fingerprint; a prior without one matches any). A key
// sent again for another customer, or with another request, is the
// client's bug, and answering it with prior would hide it: it returns
// incident.EIDEMPOTENCY naming the field key, and the caller records
// nothing. The same in every engine and in the Service.
func SameGrantRequest(prior *Grant, customerID, fingerprint string) error {
	switch {
	case prior.CustomerID != customerID:
		return &incident.Error{Code: incident.EIDEMPOTENCY, Field: "key",
			Message: "this idempotency key recorded a grant for another customer of this incident; nothing was recorded: use a new key for each grant"}
	case prior.Fingerprint != "" && prior.Fingerprint != fingerprint:
		return &incident.Error{Code: incident.EIDEMPOTENCY, Field: "key",
			Message: "this idempotency key recorded a different grant for this customer (another offer, choice, decline, amount, version, complaint or override reason); nothing was recorded: send the first request again to read its grant, or use a new key for a new request"}
	}
	return nil
}

// TopUpKey is the key a top-up is recorded under when the request's key
// (after its incident's ID) is key and the decision is at version: key +
// ":top-up-v" + version. Keys derived from the request (grantKeys) record
// their top-ups so. A herald before 0208d89 recorded a client's key's
// top-ups so too, and FindGrantByKey still finds those by the key.
func TopUpKey(key string, version int) string {
	return TopUpKeyPrefix(key) + strconv.Itoa(version)
}

// TopUpKeyPrefix is what TopUpKey puts before the version.
func TopUpKeyPrefix(key string) string { return key + ":top-up-v" }

// TopUpKeyVersion returns n when stored is TopUpKey(key, n) for a version
// n of 1 or more, and 0 otherwise.
func TopUpKeyVersion(stored, key string) int {
	digits, ok := strings.CutPrefix(stored, TopUpKeyPrefix(key))
	if !ok || digits == "" || digits[0] == '0' || len(digits) > 9 {
		return 0
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// CheckVouchers checks a list ID and its codes before AddVouchers.
func CheckVouchers(listID string, codes []string) error {
	if err := validID("list", listID); err != nil {
		return err
	}
	for i, c := range codes {
		if c == "" || len(c) > 64 || strings.ContainsAny(c, " \t\r\n,;") {
			return incident.Invalid(fmt.Sprintf("codes[%d]", i), "a voucher code is 1 to 64 characters without spaces, commas or semicolons")
		}
	}
	return nil
}

// Millis rounds t to what the engines store: UTC, millisecond precision.
func Millis(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// WithTimes returns a copy of d with its times (At and the policy's
// ClaimDeadline) passed through round: the engines store times in UTC at
// millisecond precision, and give back what they store. The caller's d
// and its policy are not changed; the copy shares the policy's lists and
// maps, so it is for encoding, not for changing.
func (d *Decision) WithTimes(round func(time.Time) time.Time) *Decision {
	v := *d
	v.At = round(d.At)
	if d.Policy != nil && d.Policy.ClaimDeadline != nil {
		p := *d.Policy
		deadline := round(*d.Policy.ClaimDeadline)
		p.ClaimDeadline = &deadline
		v.Policy = &p
	}
	return &v
}

// WithTimes returns a copy of g with At passed through round, as
// Decision.WithTimes.
func (g *Grant) WithTimes(round func(time.Time) time.Time) *Grant {
	v := *g
	v.At = round(g.At)
	return &v
}

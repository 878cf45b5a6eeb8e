package compensation

import (
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
)

// Grant records what one customer was given for an incident, or that they
// declined it. Grants are what the billing export lists and what the cap
// and "already granted" count; the store keeps them idempotent by Key (a
// retried request grants once).
type Grant struct {
	ID          string `json:"id"`
	PageID      string `json:"page_id"`
	IncidentID  string `json:"incident_id"`
	CustomerID  string `json:"customer_id"`
	ComplaintID string `json:"complaint_id,omitempty"` // when recorded on a complaint
	// Group is the offer or choice offered (Offered.Group); OfferID is
	// the offer given: the one chosen from a choice. "" when declined.
	Group   string    `json:"group"`
	OfferID string    `json:"offer_id,omitempty"`
	Kind    OfferKind `json:"kind,omitempty"`
	Amount  Money     `json:"amount"` // credits and refunds, after the cap
	Days    int       `json:"days,omitempty"`
	Voucher string    `json:"voucher,omitempty"` // the code handed out
	// VoucherList is the page's voucher list Voucher was drawn from ("" for
	// a code made from a pattern). Given to SaveGrant without a Voucher,
	// it asks the store to draw the code as it stores the grant.
	VoucherList string `json:"-"`
	// Declined: the customer took none of it. A valid record: thank them
	// and do not insist. It does not count as granted; they may still
	// change their mind.
	Declined bool `json:"declined"`
	// TopUp: the grant is the difference an amended decision owes on top
	// of an earlier grant of the same offer (Offered.TopUp), not a second
	// compensation; Amount is the difference alone.
	TopUp         bool      `json:"top_up,omitempty"`
	Override      *Override `json:"override,omitempty"`
	PolicyVersion int       `json:"policy_version"` // the Decision version the grant was checked against
	By            string    `json:"by"`             // incident.Actor.String()
	At            time.Time `json:"at"`
	Key           string    `json:"-"` // idempotency key
	// Fingerprint identifies the request a key the client chose
	// (GrantRequest.Key) recorded the grant for (GrantFingerprint): that
	// key sent again with another request is refused (SameGrantRequest),
	// not answered with this grant. "" for a key derived from the request
	// itself, and for grants recorded before fingerprints were kept: any
	// request of the grant's customer with its key is then a retry.
	Fingerprint string `json:"-"`
}

// Override lets a manager grant what the policy refuses (not eligible, over
// the cap, already granted, past the deadline), with the reason audited.
type Override struct {
	By     incident.Actor `json:"-"`
	Reason string         `json:"reason"`
}

// Claim is what an agent asks to record for a customer.
type Claim struct {
	Group    string    // the offer or choice offered (Offered.Group)
	Chose    string    // for a choice: the offer taken; for an offer: "" or its own ID
	Declined bool      // the customer took none of it
	At       time.Time // when, against the claim deadline
}

// The rules a grant can break: the Field of the incident.EINVALID error
// CheckGrant returns, so the API's 4xx names the rule.
const (
	RuleEligibility    = "eligibility"     // no matching rule gives this offer to the customer
	RuleNotAffected    = "not_affected"    // the policy excludes customers who were not affected
	RuleJoinedAfter    = "joined_after"    // they became a customer after the incident ended
	RuleAlreadyGranted = "already_granted" // the offer was granted already, or the customer got compensation outside the policy
	RuleCap            = "cap"             // the per-customer cap is used up
	RuleClaimDeadline  = "claim_deadline"  // the deadline has passed
)

// refusal is a policy rule's refusal, naming it in Field.
func refusal(rule, format string, args ...any) error {
	return incident.Invalid(rule, format+"; a manager may override with a reason", args...)
}

// CheckGrant reports whether claim may be recorded for the customer whose
// Result r is (from c's EvaluateInto). It returns nil, or:
//   - incident.EFORBIDDEN when an override comes from below manager;
//   - incident.EINVALID naming the request field ("offer", "choice",
//     "override.reason") for a claim that makes no sense;
//   - incident.EINVALID naming the rule (the Rule… constants) when the
//     policy refuses the grant. An override with a reason lets those
//     through, never the ones above.
//
// A decline is a valid record of an offer the customer is entitled to:
// the cap and the deadline do not apply to it.
func CheckGrant(c *Compiled, r *Result, cl Claim, ov *Override) error {
	if ov != nil {
		if !ov.By.Role.Allows(incident.RoleManager) {
			return incident.Errorf(incident.EFORBIDDEN, "only a manager may override the compensation policy")
		}
		if strings.TrimSpace(ov.Reason) == "" {
			return incident.Invalid("override.reason", "an override needs a reason")
		}
		if err := validText("override.reason", ov.Reason, true); err != nil {
			return err
		}
	}
	gi := c.groupIndex(cl.Group)
	if gi < 0 {
		return incident.Invalid("offer", "the policy has no offer or choice %q", cl.Group)
	}
	g := &c.groups[gi]
	switch {
	case cl.Declined && cl.Chose != "":
		return incident.Invalid("choice", "a declined offer names no choice")
	case !cl.Declined && g.choice && !slices.ContainsFunc(g.offers, func(i int) bool { return c.Policy.Offers[i].ID == cl.Chose }):
		return incident.Invalid("choice", "choose one of the offers of %q", g.id)
	case !g.choice && cl.Chose != "" && cl.Chose != g.id:
		return incident.Invalid("choice", "%q is a single offer, not a choice", g.id)
	}
	if ov != nil {
		return nil
	}

	switch r.Excluded {
	case ExcludeNotAffected:
		return refusal(RuleNotAffected, "the customer was not affected, and the policy leaves them out")
	case JoinedAfter:
		return refusal(RuleJoinedAfter, "the customer became one on %s, after the incident ended", r.Affected.Joined.Format(time.DateOnly))
	case ExcludeAlreadyGranted:
		return refusal(RuleAlreadyGranted, "the customer already got compensation for this incident")
	case PastDeadline:
		if !cl.Declined {
			return refusal(RuleClaimDeadline, "the claim deadline %s has passed", c.deadline.UTC().Format(time.RFC3339))
		}
	}
	var offered []*Offered
	for i := range r.Offers {
		if r.Offers[i].Group == g.id {
			offered = append(offered, &r.Offers[i])
		}
	}
	if len(offered) == 0 {
		return refusal(RuleEligibility, "no rule gives %q to this customer", g.id)
	}
	if offered[0].Granted {
		// Granted under an earlier version that gave less: the top-up the
		// decision in force owes may be recorded, on the offer given then.
		chosen := cl.Chose
		if chosen == "" {
			chosen = g.id
		}
		if cl.Declined || !slices.ContainsFunc(offered, func(o *Offered) bool { return o.OfferID == chosen && o.TopUp.Amount > 0 }) {
			return refusal(RuleAlreadyGranted, "%q was already granted to this customer", g.id)
		}
	}
	if cl.Declined {
		return nil
	}
	if !c.deadline.IsZero() && cl.At.After(c.deadline) {
		return refusal(RuleClaimDeadline, "the claim deadline %s has passed", c.deadline.UTC().Format(time.RFC3339))
	}
	chosen := g.id
	if g.choice {
		chosen = cl.Chose
	}
	for _, o := range offered {
		if o.OfferID != chosen {
			continue
		}
		if o.UsedUp() {
			return refusal(RuleCap, "the cap of %s is used up (%s granted)", c.Policy.Cap, r.GrantedMoney)
		}
	}
	return nil
}

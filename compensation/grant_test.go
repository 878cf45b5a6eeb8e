package compensation

import (
	"errors"
	"testing"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
)

func TestCheckGrant(t *testing.T) {
	c, err := Compile(examplePolicy())
	if err != nil {
		t.Fatal(err)
	}
	tl := NewTimeline(exampleIncident, exampleHistory, at(10000))
	result := func(cust audience.Customer, grants []Grant, now int) *Result {
		a := tl.For(cust.Components)
		r := c.Evaluate(&cust, &a, grants, at(now))
		return &r
	}
	gold := audience.Customer{ID: "g", Plan: "gold", Components: []string{"api"}}
	bronzeAPI := audience.Customer{ID: "b", Plan: "bronze", Components: []string{"api"}}
	unaffected := audience.Customer{ID: "u", Plan: "gold", Components: []string{"billing"}}
	deadline := 60 * 24 * 30
	overridden := &Override{By: manager, Reason: "long-standing customer, asked politely"}

	tests := []struct {
		name  string
		r     *Result
		claim Claim
		ov    *Override
		code  string
		field string
	}{
		{"entitled offer", result(gold, nil, 400), Claim{Group: "credit10", At: at(400)}, nil, "", ""},
		{"an offer names itself", result(gold, nil, 400), Claim{Group: "credit10", Chose: "credit10", At: at(400)}, nil, "", ""},
		{"a choice taken", result(gold, nil, 400), Claim{Group: "gold-choice", Chose: "week", At: at(400)}, nil, "", ""},
		{"a choice declined is a valid record", result(gold, nil, 400), Claim{Group: "gold-choice", Declined: true, At: at(400)}, nil, "", ""},
		{"declined, then changed their mind", result(gold, []Grant{{CustomerID: "g", Group: "gold-choice", Declined: true}}, 400),
			Claim{Group: "gold-choice", Chose: "refund5", At: at(400)}, nil, "", ""},
		{"unknown offer", result(gold, nil, 400), Claim{Group: "month", At: at(400)}, nil, incident.EINVALID, "offer"},
		{"a choice without the choice", result(gold, nil, 400), Claim{Group: "gold-choice", At: at(400)}, nil, incident.EINVALID, "choice"},
		{"a choice of an offer outside it", result(gold, nil, 400), Claim{Group: "gold-choice", Chose: "credit10", At: at(400)}, nil, incident.EINVALID, "choice"},
		{"a single offer with a choice", result(gold, nil, 400), Claim{Group: "credit10", Chose: "week", At: at(400)}, nil, incident.EINVALID, "choice"},
		{"declined with a choice", result(gold, nil, 400), Claim{Group: "gold-choice", Chose: "week", Declined: true, At: at(400)}, nil, incident.EINVALID, "choice"},
		{"not eligible", result(bronzeAPI, nil, 400), Claim{Group: "credit10", At: at(400)}, nil, incident.EINVALID, RuleEligibility},
		{"not eligible, even to decline", result(bronzeAPI, nil, 400), Claim{Group: "credit10", Declined: true, At: at(400)}, nil, incident.EINVALID, RuleEligibility},
		{"not eligible, overridden", result(bronzeAPI, nil, 400), Claim{Group: "credit10", At: at(400)}, overridden, "", ""},
		{"not affected", result(unaffected, nil, 400), Claim{Group: "credit10", At: at(400)}, nil, incident.EINVALID, RuleNotAffected},
		{"not affected, overridden", result(unaffected, nil, 400), Claim{Group: "credit10", At: at(400)}, overridden, "", ""},
		{"already granted", result(gold, []Grant{{CustomerID: "g", Group: "credit10", Amount: Money{500, "EUR"}}}, 400),
			Claim{Group: "credit10", At: at(400)}, nil, incident.EINVALID, RuleAlreadyGranted},
		{"already granted: declining it is refused too", result(gold, []Grant{{CustomerID: "g", Group: "gold-choice", OfferID: "week"}}, 400),
			Claim{Group: "gold-choice", Declined: true, At: at(400)}, nil, incident.EINVALID, RuleAlreadyGranted},
		{"already compensated outside the policy", result(gold, []Grant{{CustomerID: "g", Group: "goodwill"}}, 400),
			Claim{Group: "credit10", At: at(400)}, nil, incident.EINVALID, RuleAlreadyGranted},
		{"already granted, overridden", result(gold, []Grant{{CustomerID: "g", Group: "credit10", Amount: Money{500, "EUR"}}}, 400),
			Claim{Group: "credit10", At: at(400)}, overridden, "", ""},
		{"money granted outside the policy: excluded before the cap is reached", result(gold, []Grant{{CustomerID: "g", Group: "goodwill-before-policy", Amount: Money{1000, "EUR"}}}, 400),
			Claim{Group: "credit10", At: at(400)}, nil, incident.EINVALID, RuleAlreadyGranted},
		{"over the cap: cap used up by this policy's grants", result(gold, []Grant{{CustomerID: "g", Group: "gold-choice", OfferID: "refund5", Amount: Money{1000, "EUR"}}}, 400),
			Claim{Group: "credit10", At: at(400)}, nil, incident.EINVALID, RuleCap},
		{"the cap does not touch a free period", result(gold, []Grant{{CustomerID: "g", Group: "credit10", Amount: Money{1000, "EUR"}}}, 400),
			Claim{Group: "gold-choice", Chose: "week", At: at(400)}, nil, "", ""},
		{"over the cap, overridden", result(gold, []Grant{{CustomerID: "g", Group: "gold-choice", OfferID: "refund5", Amount: Money{1000, "EUR"}}}, 400),
			Claim{Group: "credit10", At: at(400)}, overridden, "", ""},
		{"past the deadline", result(gold, nil, deadline+1), Claim{Group: "credit10", At: at(deadline + 1)}, nil, incident.EINVALID, RuleClaimDeadline},
		{"a claim after the deadline on an older answer", result(gold, nil, 400), Claim{Group: "credit10", At: at(deadline + 1)}, nil, incident.EINVALID, RuleClaimDeadline},
		{"at the deadline is in time", result(gold, nil, deadline), Claim{Group: "credit10", At: at(deadline)}, nil, "", ""},
		{"past the deadline, declining is fine", result(gold, nil, deadline+1), Claim{Group: "credit10", Declined: true, At: at(deadline + 1)}, nil, "", ""},
		{"past the deadline, overridden", result(gold, nil, deadline+1), Claim{Group: "credit10", At: at(deadline + 1)}, overridden, "", ""},
		{"an agent cannot override", result(bronzeAPI, nil, 400), Claim{Group: "credit10", At: at(400)}, &Override{By: agent, Reason: "please"}, incident.EFORBIDDEN, ""},
		{"an override needs a reason", result(bronzeAPI, nil, 400), Claim{Group: "credit10", At: at(400)}, &Override{By: admin, Reason: " "}, incident.EINVALID, "override.reason"},
		{"an override does not make up offers", result(gold, nil, 400), Claim{Group: "month", At: at(400)}, overridden, incident.EINVALID, "offer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckGrant(c, tt.r, tt.claim, tt.ov)
			if code(err) != tt.code {
				t.Fatalf("CheckGrant = %v, want code %q", err, tt.code)
			}
			if tt.field != "" {
				assertField(t, err, tt.field)
			}
		})
	}
}

// TestGrantFingerprint: every field of a grant request but its key tells
// one request from another; blanks around the text fields do not.
func TestGrantFingerprint(t *testing.T) {
	base := GrantRequest{Offer: "sorry", Choice: "back", ComplaintID: "cp1", OverrideReason: "asked twice", Version: 2,
		Amount: &Money{Amount: 300, Currency: "EUR"}, Key: "k1"}
	fp := GrantFingerprint(base)
	for _, tt := range []struct {
		name   string
		change func(r *GrantRequest)
		same   bool
	}{
		{"another key", func(r *GrantRequest) { r.Key = "k2" }, true},
		{"blanks around the text", func(r *GrantRequest) {
			r.Offer, r.Choice, r.OverrideReason = " sorry ", "back\t", " asked twice"
		}, true},
		{"another offer", func(r *GrantRequest) { r.Offer = "credit" }, false},
		{"another choice", func(r *GrantRequest) { r.Choice = "day" }, false},
		{"declined", func(r *GrantRequest) { r.Declined = true }, false},
		{"another complaint", func(r *GrantRequest) { r.ComplaintID = "cp2" }, false},
		{"another override reason", func(r *GrantRequest) { r.OverrideReason = "asked once" }, false},
		{"another version", func(r *GrantRequest) { r.Version = 0 }, false},
		{"another amount", func(r *GrantRequest) { r.Amount = &Money{Amount: 200, Currency: "EUR"} }, false},
		{"another currency", func(r *GrantRequest) { r.Amount = &Money{Amount: 300, Currency: "HUF"} }, false},
		{"no amount", func(r *GrantRequest) { r.Amount = nil }, false},
		{"text moved between fields", func(r *GrantRequest) { r.Offer, r.Choice = "sorry back", "" }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.change(&r)
			if got := GrantFingerprint(r) == fp; got != tt.same {
				t.Errorf("the same fingerprint as the base request: %v, want %v", got, tt.same)
			}
		})
	}
}

// TestSameGrantRequest: the customer and the fingerprint decide whether a
// key's grant answers a request, and a grant stored without a fingerprint
// answers any of its customer's.
func TestSameGrantRequest(t *testing.T) {
	prior := &Grant{CustomerID: "c1", Fingerprint: "fp1"}
	for _, tt := range []struct {
		name, customer, fp string
		g                  *Grant
		ok                 bool
	}{
		{"a retry", "c1", "fp1", prior, true},
		{"another customer", "c2", "fp1", prior, false},
		{"another request", "c1", "fp2", prior, false},
		{"a derived key's request", "c1", "", prior, false},
		{"a grant without a fingerprint", "c1", "fp2", &Grant{CustomerID: "c1"}, true},
		{"a grant without a fingerprint, another customer", "c2", "", &Grant{CustomerID: "c1"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := SameGrantRequest(tt.g, tt.customer, tt.fp)
			if tt.ok && err != nil {
				t.Errorf("error %v, want none", err)
			}
			var e *incident.Error
			if !tt.ok && (!errors.As(err, &e) || e.Code != incident.EIDEMPOTENCY || e.Field != "key") {
				t.Errorf("error %v, want %s on key", err, incident.EIDEMPOTENCY)
			}
		})
	}
}

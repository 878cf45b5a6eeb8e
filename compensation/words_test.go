package compensation

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/audience"
)

// wordsPolicy gives gold customers 10 % of 49.99 EUR, and everyone a choice
// of 5 EUR back or 3 free days.
func wordsPolicy(t *testing.T) *Compiled {
	t.Helper()
	c, err := Compile(&Policy{
		Currency: "EUR",
		PlanFees: map[string]Money{"gold": {4999, "EUR"}},
		Offers: []Offer{
			{ID: "credit10", Kind: Credit, Percent: 1000},
			{ID: "back", Kind: Refund, Amount: eur(500)},
			{ID: "days", Kind: FreePeriod, Days: 3},
		},
		Choices: []Choice{{ID: "sorry", Offers: []string{"back", "days"}}},
		Rules:   []Rule{{ID: "gold", Plans: []string{"gold"}, Give: []string{"credit10"}}, {ID: "all", Give: []string{"sorry"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLineInEachLanguage(t *testing.T) {
	c := wordsPolicy(t)
	affected := &AffectedTime{Total: 90 * 60e9}
	gold := c.Evaluate(&audience.Customer{ID: "g", Plan: "gold"}, affected, nil, at(0))
	tests := []struct {
		lang string
		want []string
	}{
		{"en", []string{"As an apology you will receive 10 % of your monthly fee (5.00 EUR) as a credit", "You may also choose a refund of 5.00 EUR or 3 days of service free of charge"}},
		{"hu", []string{"havidíja 10%-ának (5,00 EUR) megfelelő jóváírást", "5,00 EUR visszatérítést vagy 3 nap ingyenes szolgáltatást"}},
		{"pl", []string{"10% miesięcznej opłaty (5,00 EUR)", "zwrot 5,00 EUR lub 3 dni bezpłatnej usługi"}},
		{"hr", []string{"10% mjesečne naknade (5,00 EUR)", "povrat od 5,00 EUR ili 3 dana besplatne usluge"}},
		{"de", []string{"As an apology you will receive"}}, // a language herald does not speak: English
	}
	for _, tc := range tests {
		line := Words(tc.lang).Line(&gold)
		// The apology is said once, before what they get and choose.
		for _, apology := range []string{"As an apology", "Bocsánatkérésünk jeléül", "W ramach przeprosin", "U znak isprike"} {
			if strings.Count(line, apology) > 1 {
				t.Errorf("%s line says %q twice: %q", tc.lang, apology, line)
			}
		}
		for _, w := range tc.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s line %q lacks %q", tc.lang, line, w)
			}
		}
	}

	// Granted groups are not promised again; a declined choice neither.
	granted := c.Evaluate(&audience.Customer{ID: "g", Plan: "gold"}, affected,
		[]Grant{{CustomerID: "g", Group: "credit10", OfferID: "credit10", Kind: Credit, Amount: Money{500, "EUR"}},
			{CustomerID: "g", Group: "sorry", Declined: true}}, at(0))
	if line := Words("en").Line(&granted); line != "" || Owes(&granted) {
		t.Errorf("after the credit and a decline the line is %q (owes %v)", line, Owes(&granted))
	}
	// A plan without a fee cannot be told a share of it.
	bronze := c.Evaluate(&audience.Customer{ID: "b", Plan: "bronze"}, affected, nil, at(0))
	if line := Words("en").Line(&bronze); strings.Contains(line, "monthly fee") || !strings.Contains(line, "3 days") {
		t.Errorf("bronze line %q", line)
	}
}

func TestScript(t *testing.T) {
	c := wordsPolicy(t)
	affected := AffectedTime{Total: 95 * 60e9}
	r := c.Evaluate(&audience.Customer{ID: "g", Plan: "gold"}, &affected, nil, at(0))
	dec := &Decision{State: Decided, Policy: c.Policy, Reason: "Approved by the COO"}
	tests := []struct {
		name string
		d    *Decision
		r    *Result
		a    AffectedTime
		g    []*Grant
		lang string
		want []string
		not  []string
	}{
		{"none yet", &Decision{State: NoneYet}, nil, affected, nil, "en", []string{"Promise none"}, []string{"Offer"}},
		// The manager's words are the one thing to say, not the generic
		// line and then theirs.
		{"coming", &Decision{State: Coming, Reason: "by Friday"}, nil, affected, nil, "pl", []string{"Decyzja o rekompensacie jest w toku. Można powiedzieć: by Friday"}, []string{"napiszemy", "Co można powiedzieć"}},
		{"coming, nothing to say", &Decision{State: Coming}, nil, affected, nil, "en", []string{"will write to you when it is decided"}, []string{"What you may say"}},
		{"none", &Decision{State: None, Reason: "the outage was at the customer's bank"}, nil, affected, nil, "hr", []string{"nema naknade", "customer's bank"}, nil},
		{"decided", dec, &r, affected, nil, "en", []string{"affected for 95 min", "Offer: 10 % of your monthly fee (5.00 EUR)", "Offer a choice: a refund of 5.00 EUR or 3 days", "do not insist", "Approved by the COO"}, []string{"nothing"}},
		{"decided, hungarian", dec, &r, affected, nil, "hu", []string{"95 percig", "Ajánlja fel", "ne erőltesse"}, nil},
		// Minutes as the answer counts them (rounded down), and seconds
		// in words, never "0 min".
		{"4 min 50 s", dec, &r, AffectedTime{Total: 290e9}, nil, "en", []string{"affected for 4 min."}, []string{"5 min"}},
		{"seconds", dec, &r, AffectedTime{Total: 30e9}, nil, "pl", []string{"krócej niż minutę"}, []string{"0 min", "1 min"}},
		{"granted", dec, &r, affected, []*Grant{{OfferID: "credit10", Kind: Credit, Amount: Money{500, "EUR"}}}, "en", []string{"Already recorded: credit of 5.00 EUR."}, nil},
		// A top-up says it is one: the 2.50 EUR on top of the 5.00 EUR, not a second credit.
		{"granted, topped up", dec, &r, affected, []*Grant{{OfferID: "credit10", Kind: Credit, Amount: Money{500, "EUR"}},
			{OfferID: "credit10", Kind: Credit, Amount: Money{250, "EUR"}, TopUp: true}}, "en",
			[]string{"Already recorded: credit of 5.00 EUR.", "Already recorded as a top-up: credit of 2.50 EUR."}, []string{"Already recorded: credit of 2.50 EUR."}},
		{"granted, topped up, hungarian", dec, &r, affected, []*Grant{{OfferID: "credit10", Kind: Credit, Amount: Money{250, "EUR"}, TopUp: true}}, "hu",
			[]string{"Már rögzítve, kiegészítésként: "}, nil},
		{"granted, topped up, polish", dec, &r, affected, []*Grant{{OfferID: "credit10", Kind: Credit, Amount: Money{250, "EUR"}, TopUp: true}}, "pl",
			[]string{"Już zapisano jako dopłatę: "}, nil},
		{"granted, topped up, croatian", dec, &r, affected, []*Grant{{OfferID: "credit10", Kind: Credit, Amount: Money{250, "EUR"}, TopUp: true}}, "hr",
			[]string{"Već zabilježeno kao nadoplata: "}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Script(tc.lang, tc.d, tc.r, tc.a, tc.g)
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("script lacks %q:\n%s", w, s)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(s, w) {
					t.Errorf("script has %q:\n%s", w, s)
				}
			}
		})
	}
	unaffected := c.Evaluate(&audience.Customer{ID: "x", Plan: "gold"}, &AffectedTime{}, nil, at(0))
	if s := Script("en", &Decision{State: Decided, Policy: &Policy{Exclude: []Exclusion{ExcludeNotAffected}}}, &unaffected, AffectedTime{}, nil); !strings.Contains(s, "None of the customer's services") {
		t.Errorf("unaffected script:\n%s", s)
	}
}

// TestLabel: an offer as agents read it in a list, a noun phrase in their
// language, with the customer's amount when a share of the fee has one.
func TestLabel(t *testing.T) {
	five := Money{Amount: 500, Currency: "EUR"}
	credit := &Offer{ID: "c", Kind: Credit, Percent: 1000}
	refund := &Offer{ID: "r", Kind: Refund, Amount: &five}
	days := &Offer{ID: "d", Kind: FreePeriod, Days: 3}
	for _, tc := range []struct {
		lang string
		of   *Offer
		amt  *Money
		want string
	}{
		{"en", credit, &five, "credit of 10 % of the monthly fee (5.00 EUR)"},
		{"hu", credit, &five, "a havidíj 10%-ának megfelelő jóváírás (5,00 EUR)"},
		{"hu", credit, nil, "a havidíj 10%-ának megfelelő jóváírás"},
		{"pl", refund, nil, "zwrot 5,00 EUR"},
		{"pl", days, nil, "3 dni gratis"},
		{"hr", days, nil, "3 besplatna dana"},
		{"en", &Offer{Kind: FreePeriod, Days: 1}, nil, "1 free day"},
	} {
		if got := Words(tc.lang).Label(tc.of, tc.amt); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.lang, tc.of.Kind, got, tc.want)
		}
	}
}

// TestRuleGives: a rule's gift in words, a choice as the customer's
// choice of its offers (never both), an offer by its label.
func TestRuleGives(t *testing.T) {
	five := Money{Amount: 500, Currency: "EUR"}
	p := &Policy{Currency: "EUR",
		Offers:  []Offer{{ID: "credit5", Kind: Credit, Amount: &five}, {ID: "week", Kind: FreePeriod, Days: 7}, {ID: "sorry", Kind: Other, Text: "a handwritten apology"}},
		Choices: []Choice{{ID: "pick", Offers: []string{"credit5", "week"}}},
		Rules: []Rule{{ID: "gold", Plans: []string{"gold", "silver"}, Give: []string{"pick"}},
			{ID: "all", Give: []string{"sorry"}}}}
	for _, tc := range []struct {
		lang string
		rule int
		want string
	}{
		{"en", 0, "if plan gold or silver: the customer's choice of credit of 5.00 EUR or 7 free days"},
		{"en", 1, "everyone: a handwritten apology"},
		{"pl", 0, "jeśli plan gold lub silver: klient wybiera: bonifikata w kwocie 5,00 EUR lub 7 dni gratis"},
	} {
		if got := Words(tc.lang).RuleGives(p.Rules[tc.rule], p); got != tc.want {
			t.Errorf("%s rule %d: %q, want %q", tc.lang, tc.rule, got, tc.want)
		}
	}
}

// TestGrantNote: the note a grant leaves on its complaint says what was
// given in words, not the policy's short name for the offer.
func TestGrantNote(t *testing.T) {
	five := Money{Amount: 500, Currency: "EUR"}
	for _, tc := range []struct {
		g    Grant
		want string
	}{
		{Grant{OfferID: "offer2", Kind: Credit, Amount: five}, "Compensation granted: credit of 5.00 EUR."},
		{Grant{OfferID: "week", Kind: FreePeriod, Days: 7}, "Compensation granted: 7 free days."},
		// The next agent reads it as the difference, not a second credit.
		{Grant{OfferID: "offer2", Kind: Credit, Amount: five, TopUp: true}, "Compensation top-up granted: credit of 5.00 EUR."},
		{Grant{Group: "pick", Declined: true}, "Compensation offered: the customer declined."},
	} {
		if got := GrantNote(&tc.g); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.g, got, tc.want)
		}
	}
}

// TestCapUsedUpIsNotOffered: an option the cap leaves nothing of is left
// out of the customer's line and the agent's script ("a refund of 0.00
// EUR" mocked the customer); what the cap only reduces is offered reduced.
func TestCapUsedUpIsNotOffered(t *testing.T) {
	c, err := Compile(&Policy{
		Currency: "EUR", Cap: eur(500),
		PlanFees: map[string]Money{"gold": {4999, "EUR"}},
		Offers: []Offer{
			{ID: "credit10", Kind: Credit, Amount: eur(500)},
			{ID: "back", Kind: Refund, Amount: eur(500)},
			{ID: "days", Kind: FreePeriod, Days: 1},
		},
		Choices: []Choice{{ID: "sorry", Offers: []string{"back", "days"}}},
		Rules:   []Rule{{ID: "gold", Plans: []string{"gold"}, Give: []string{"credit10"}}, {ID: "all", Give: []string{"sorry"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	affected := &AffectedTime{Total: 90 * 60e9}
	gold := c.Evaluate(&audience.Customer{ID: "g", Plan: "gold"}, affected, nil, at(0))
	for _, lang := range []string{"en", "hu", "pl", "hr"} {
		line, script := Words(lang).Line(&gold), Script(lang, &Decision{State: Decided}, &gold, *affected, nil)
		for _, zero := range []string{"0.00 EUR", "0,00 EUR"} {
			if strings.Contains(line, zero) || strings.Contains(script, zero) {
				t.Errorf("%s offers nothing as an option:\nline: %s\nscript: %s", lang, line, script)
			}
		}
		if !strings.Contains(line, "5") || (lang == "en" && !strings.Contains(line, "1 day of service free of charge")) {
			t.Errorf("%s line lost what is still offered: %s", lang, line)
		}
	}
	if !Owes(&gold) {
		t.Error("a customer still owed the credit and a free day is not owed")
	}
}

// TestLimitsSayWhoIsExcluded: "already_granted" leaves out customers
// compensated outside the policy's offers, not those granted one of them
// (who may be owed a top-up or another offer): the agents' words say so,
// in every language.
func TestLimitsSayWhoIsExcluded(t *testing.T) {
	p := &Policy{Exclude: []Exclusion{ExcludeAlreadyGranted}}
	for lang, want := range map[string]string{
		"en": "excluded: customers already compensated outside these offers",
		"hu": "ezeken az ajánlatokon kívül",
		"pl": "poza tymi ofertami",
		"hr": "izvan ovih ponuda",
	} {
		if got := strings.Join(Words(lang).Limits(p, nil), " · "); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q in it", lang, got, want)
		}
	}
}

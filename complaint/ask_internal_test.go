package complaint

import "testing"

// TestAskIn: a customer asking for money back or amends, in any of
// herald's languages and with or without accents, asks for compensation;
// one asking what happens, or mentioning a card or a fee, for information.
func TestAskIn(t *testing.T) {
	for text, want := range map[string]Ask{
		"I want a refund for this":                 AskCompensation,
		"Will you compensate me?":                  AskCompensation,
		"Kérem a pénzem vissza!":                   AskCompensation,
		"kerem a penzem   vissza":                  AskCompensation,
		"Jár nekem kompenzáció?":                   AskCompensation,
		"Chcę rekompensaty":                        AskCompensation,
		"Żądam zwrotu pieniędzy":                   AskCompensation,
		"Tražim povrat novca":                      AskCompensation,
		"Hoću odštetu":                             AskCompensation,
		"When does card payment work again?":       AskInformation,
		"My credit card was declined":              AskInformation,
		"Kada će raditi? Plaćam mjesečnu naknadu.": AskInformation,
		"Nem megy a kártyás fizetés":               AskInformation,
	} {
		if got := askIn("", text); got != want {
			t.Errorf("%q: %s, want %s", text, got, want)
		}
	}
}

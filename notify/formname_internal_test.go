package notify

import "testing"

func TestFormName(t *testing.T) {
	for in, want := range map[string]string{
		"Anna Kovács":                       "Anna Kovács",
		" J. R. Smith ":                     "J. R. Smith",
		"Mary-Jane O'Neil":                  "Mary-Jane O'Neil",
		"Łucja Wiśniewska":                  "Łucja Wiśniewska",
		"":                                  "",
		"evil.example":                      "",
		"Call +1 900 555 0100":              "",
		"Your card was charged 499 EUR":     "",
		"visit https://evil.example/refund": "",
		"a b c d e f":                       "",
		"Anna <b>":                          "",
		"Your refund is ready - claim it at http://evil.example/claim": "",
		"Ügyfélszolgálat: hívja a +36 1 999 9999 számot":               "",
		"Kovács-Nagy Éva": "Kovács-Nagy Éva",
	} {
		if got := formName(in); got != want {
			t.Errorf("formName(%q) = %q, want %q", in, got, want)
		}
	}
}

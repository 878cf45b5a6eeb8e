package locale

import "strings"

// phoneLanguages maps country calling codes to the language herald
// answers in there.
var phoneLanguages = []struct{ prefix, lang string }{
	{"+36", "hu"}, {"+48", "pl"}, {"+385", "hr"},
	{"+44", "en"}, {"+353", "en"}, {"+1", "en"}, {"+61", "en"}, {"+64", "en"},
}

// ForPhone is the language herald answers a phone number (E.164) in when
// it knows nothing else of its owner: its country calling code's (+36
// Hungarian, +48 Polish, +385 Croatian, +44 English, …), "" for others.
func ForPhone(e164 string) string {
	for _, p := range phoneLanguages {
		if strings.HasPrefix(e164, p.prefix) {
			return p.lang
		}
	}
	return ""
}

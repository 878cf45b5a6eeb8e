package compensation

import (
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/incident"
)

// Money is an amount in a currency's minor units (cents, fillér, grosz;
// yen have none), never a float. Currency is an ISO 4217 alphabetic code in
// upper case.
type Money struct {
	Amount   int64  `json:"amount"`   // minor units
	Currency string `json:"currency"` // ISO 4217, e.g. EUR
}

// currency is one row of the ISO 4217 table.
type currency struct {
	exponent int  // minor units: 2 means 1.00 = 100
	historic bool // withdrawn; kept so old records still read
}

// currencies is a subset of ISO 4217: the currencies of the countries herald
// serves and the common world ones, with ISO's minor-unit exponents. ISO is
// followed even where practice differs: HUF and CZK have 2 decimals in ISO
// although their smallest coins are whole units. Add a row when a client
// needs one; the full list is at https://www.iso.org/iso-4217-currency-codes.html.
var currencies = map[string]currency{
	"EUR": {2, false}, "USD": {2, false}, "GBP": {2, false}, "CHF": {2, false},
	"HUF": {2, false}, "PLN": {2, false}, "CZK": {2, false}, "RON": {2, false},
	"SEK": {2, false}, "NOK": {2, false}, "DKK": {2, false}, "ISK": {0, false},
	"BGN": {2, false}, "RSD": {2, false}, "BAM": {2, false}, "MKD": {2, false},
	"ALL": {2, false}, "UAH": {2, false}, "TRY": {2, false}, "MDL": {2, false},
	"CAD": {2, false}, "AUD": {2, false}, "NZD": {2, false}, "MXN": {2, false},
	"BRL": {2, false}, "ZAR": {2, false}, "INR": {2, false}, "CNY": {2, false},
	"HKD": {2, false}, "SGD": {2, false}, "ILS": {2, false}, "AED": {2, false},
	"JPY": {0, false}, "KRW": {0, false},
	"KWD": {3, false}, "BHD": {3, false}, "JOD": {3, false}, "OMR": {3, false}, "TND": {3, false},
	"HRK": {2, true}, // Croatian kuna, replaced by the euro on 2023-01-01
}

// Exponent returns the number of minor-unit digits of an ISO 4217 currency
// (EUR 2, JPY 0, KWD 3) and whether herald knows the code.
func Exponent(code string) (int, bool) {
	c, ok := currencies[code]
	return c.exponent, ok
}

// KnownCurrency reports whether code is in herald's ISO 4217 table,
// historic codes included.
func KnownCurrency(code string) bool {
	_, ok := currencies[code]
	return ok
}

// validCurrency checks a currency for new money: known and still in use.
func validCurrency(field, code string) error {
	c, ok := currencies[code]
	switch {
	case code == "":
		return incident.Invalid(field, "is required (an ISO 4217 code such as EUR)")
	case !ok:
		return incident.Invalid(field, "unknown currency %q (an ISO 4217 code such as EUR, upper case)", code)
	case c.historic:
		return incident.Invalid(field, "%s is no longer in use", code)
	}
	return nil
}

// Validate checks that m is a known currency (historic ones included, so
// old records read) and a non-negative amount; field prefixes the names.
func (m Money) Validate(field string) error {
	if !KnownCurrency(m.Currency) {
		return incident.Invalid(field+".currency", "unknown currency %q (an ISO 4217 code such as EUR, upper case)", m.Currency)
	}
	if m.Amount < 0 {
		return incident.Invalid(field+".amount", "must not be negative")
	}
	return nil
}

// BasisPoints is a share in hundredths of a percent: 1000 is 10 %, 10000 is 100 %.
type BasisPoints int64

// String is the share as a percentage for people: "10 %", "2.5 %", "0.25 %".
func (b BasisPoints) String() string {
	s := strconv.FormatInt(int64(b)/100, 10)
	if r := int64(b) % 100; r != 0 {
		if r < 0 {
			r = -r
		}
		s += strings.TrimRight("."+strconv.FormatInt(100+r, 10)[1:], "0")
	}
	return s + " %"
}

// Percent returns the share b of m, rounded half away from zero to a whole
// minor unit: 10 % of 0.05 EUR is 0.01 EUR (0.005 rounds up), 10 % of -0.05
// EUR is -0.01 EUR. The product is computed in 128 bits, so it is exact for
// every int64 amount; a result beyond int64 (only possible above 100 %)
// saturates.
func (m Money) Percent(b BasisPoints) Money {
	neg := (m.Amount < 0) != (b < 0)
	hi, lo := bits.Mul64(abs64(m.Amount), abs64(int64(b)))
	out := Money{Currency: m.Currency}
	if hi >= 10000 { // the quotient would not fit in 64 bits
		out.Amount = saturate(neg)
		return out
	}
	q, r := bits.Div64(hi, lo, 10000)
	if 2*r >= 10000 {
		q++
	}
	switch {
	case q > math.MaxInt64 && !(neg && q == math.MaxInt64+1):
		out.Amount = saturate(neg)
	case neg:
		out.Amount = int64(-q) // two's complement: also right for MinInt64
	default:
		out.Amount = int64(q)
	}
	return out
}

func abs64(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // MinInt64 wraps to 1<<63, which is right as uint64
	}
	return uint64(v)
}

func saturate(neg bool) int64 {
	if neg {
		return math.MinInt64
	}
	return math.MaxInt64
}

// String formats m for agents, locale-neutral: the ISO exponent's digits
// after a point, thousands grouped by a space, the code after: "10.00 EUR",
// "1 500.00 HUF", "1 500 JPY", "-0.05 EUR". The message catalogue words
// amounts for customers in their language; this is the agents' plain form.
// An unknown currency prints its minor units as they are.
func (m Money) String() string {
	exp, ok := Exponent(m.Currency)
	if !ok {
		return strconv.FormatInt(m.Amount, 10) + " " + m.Currency
	}
	a := abs64(m.Amount)
	p := uint64(1)
	for range exp {
		p *= 10
	}
	var b strings.Builder
	if m.Amount < 0 {
		b.WriteByte('-')
	}
	whole := strconv.FormatUint(a/p, 10)
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	if exp > 0 {
		frac := strconv.FormatUint(a%p+p, 10)[1:] // zero-padded to exp digits
		b.WriteByte('.')
		b.WriteString(frac)
	}
	b.WriteByte(' ')
	b.WriteString(m.Currency)
	return b.String()
}

// ParseMoney reads an amount as String writes it and agents read it off
// check: "7.50 EUR", "1 500.00 HUF", "1500 JPY"; fewer decimals than the
// currency has are fine ("7.5 EUR"), more are not. The currency is
// required; field names the value in errors (EINVALID).
func ParseMoney(field, s string) (Money, error) {
	fs := strings.Fields(s)
	if len(fs) < 2 {
		return Money{}, incident.Invalid(field, "an amount and its currency, such as \"7.50 EUR\", not %q", s)
	}
	code := strings.ToUpper(fs[len(fs)-1])
	exp, ok := Exponent(code)
	if !ok {
		return Money{}, incident.Invalid(field, "unknown currency %q (an ISO 4217 code such as EUR)", fs[len(fs)-1])
	}
	num := strings.Join(fs[:len(fs)-1], "") // "1 500.00": the groups of thousands
	whole, frac, dot := strings.Cut(num, ".")
	switch {
	case whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" || (dot && frac == ""):
		return Money{}, incident.Invalid(field, "an amount such as \"7.50 %s\", not %q", code, s)
	case len(frac) > exp:
		return Money{}, incident.Invalid(field, "%s has %d decimals, not %d", code, exp, len(frac))
	}
	v, err := strconv.ParseInt(whole+frac+strings.Repeat("0", exp-len(frac)), 10, 64)
	if err != nil {
		return Money{}, incident.Invalid(field, "%q is too large", s)
	}
	return Money{Amount: v, Currency: code}, nil
}

package compensation

import (
	"math"
	"strings"
	"testing"

	"github.com/heraldhq/herald/incident"
)

func TestExponent(t *testing.T) {
	tests := []struct {
		code string
		want int
		ok   bool
	}{
		{"EUR", 2, true}, {"USD", 2, true}, {"GBP", 2, true}, {"HUF", 2, true}, {"PLN", 2, true},
		{"HRK", 2, true}, {"CZK", 2, true}, {"RON", 2, true}, {"CHF", 2, true}, {"SEK", 2, true},
		{"NOK", 2, true}, {"DKK", 2, true}, {"JPY", 0, true}, {"KWD", 3, true},
		{"eur", 0, false}, {"XXX", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		got, ok := Exponent(tt.code)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Exponent(%q) = %d, %v; want %d, %v", tt.code, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMoneyValidate(t *testing.T) {
	tests := []struct {
		name  string
		m     Money
		field string // "" : valid
	}{
		{"euro", Money{1000, "EUR"}, ""},
		{"zero", Money{0, "JPY"}, ""},
		{"historic kuna reads", Money{100, "HRK"}, ""},
		{"lower case", Money{100, "eur"}, "fee.currency"},
		{"unknown", Money{100, "ABC"}, "fee.currency"},
		{"negative", Money{-1, "EUR"}, "fee.amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertField(t, tt.m.Validate("fee"), tt.field)
		})
	}
	// New money may not be in a withdrawn currency.
	assertField(t, validCurrency("currency", "HRK"), "currency")
	assertField(t, validCurrency("currency", "EUR"), "")
}

func TestPercent(t *testing.T) {
	tests := []struct {
		name string
		m    Money
		bp   BasisPoints
		want int64
	}{
		{"10 % of 29.99 EUR", Money{2999, "EUR"}, 1000, 300}, // 299.9 → 300
		{"10 % of 29.94 EUR", Money{2994, "EUR"}, 1000, 299}, // 299.4 → 299
		{"half rounds up", Money{5, "EUR"}, 1000, 1},         // 0.5 → 1
		{"just below half", Money{4, "EUR"}, 1000, 0},        // 0.4 → 0
		{"half away from zero, negative", Money{-5, "EUR"}, 1000, -1},
		{"negative below half", Money{-4, "EUR"}, 1000, 0},
		{"12.5 % of 1 HUF", Money{100, "HUF"}, 1250, 13}, // 12.5 fillér → 13
		{"HUF fee 4 990 Ft, 15 %", Money{499000, "HUF"}, 1500, 74850},
		{"JPY 1 234 yen, 10 %", Money{1234, "JPY"}, 1000, 123}, // 123.4 → 123
		{"JPY 1 235 yen, 10 %", Money{1235, "JPY"}, 1000, 124}, // 123.5 → 124
		{"0.01 %", Money{10000, "EUR"}, 1, 1},
		{"100 %", Money{2999, "EUR"}, 10000, 2999},
		{"0 %", Money{2999, "EUR"}, 0, 0},
		{"max int64, 100 %", Money{math.MaxInt64, "EUR"}, 10000, math.MaxInt64},
		{"max int64, 50 %: exact in 128 bits", Money{math.MaxInt64, "EUR"}, 5000, 4611686018427387904}, // 4611686018427387903.5 → up
		{"min int64, 100 %", Money{math.MinInt64, "EUR"}, 10000, math.MinInt64},
		{"overflow saturates", Money{math.MaxInt64, "EUR"}, 20000, math.MaxInt64},
		{"negative overflow saturates", Money{math.MinInt64, "EUR"}, 20000, math.MinInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.m.Percent(tt.bp)
			if got.Amount != tt.want || got.Currency != tt.m.Currency {
				t.Errorf("%v.Percent(%d) = %v (%d), want %d %s", tt.m, tt.bp, got, got.Amount, tt.want, tt.m.Currency)
			}
		})
	}
}

func TestMoneyString(t *testing.T) {
	tests := []struct {
		m    Money
		want string
	}{
		{Money{1000, "EUR"}, "10.00 EUR"},
		{Money{5, "EUR"}, "0.05 EUR"},
		{Money{-5, "EUR"}, "-0.05 EUR"},
		{Money{150000, "HUF"}, "1 500.00 HUF"},
		{Money{1500, "JPY"}, "1 500 JPY"},
		{Money{999, "JPY"}, "999 JPY"},
		{Money{123456789, "USD"}, "1 234 567.89 USD"},
		{Money{1234, "KWD"}, "1.234 KWD"},
		{Money{math.MinInt64, "JPY"}, "-9 223 372 036 854 775 808 JPY"},
		{Money{42, "XYZ"}, "42 XYZ"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestBasisPointsString(t *testing.T) {
	for bp, want := range map[BasisPoints]string{1000: "10 %", 250: "2.5 %", 25: "0.25 %", 10000: "100 %", 1: "0.01 %", 0: "0 %"} {
		if got := bp.String(); got != want {
			t.Errorf("BasisPoints(%d) = %q, want %q", bp, got, want)
		}
	}
}

// assertField fails unless err is an incident.EINVALID naming field, or nil
// when field is "".
func assertField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	e, ok := err.(*incident.Error)
	if !ok || e.Code != incident.EINVALID || e.Field != field {
		t.Fatalf("error = %v, want invalid naming %q", err, field)
	}
}

// TestParseMoney: an amount as check prints it reads back to the same
// Money; anything else names the field.
func TestParseMoney(t *testing.T) {
	good := []struct {
		in   string
		want Money
	}{
		{"7.50 EUR", Money{750, "EUR"}},
		{"7.5 eur", Money{750, "EUR"}},
		{"7 EUR", Money{700, "EUR"}},
		{"1 500.00 HUF", Money{150000, "HUF"}},
		{"1500 JPY", Money{1500, "JPY"}},
		{"0.125 KWD", Money{125, "KWD"}},
		{" 0.00 EUR ", Money{0, "EUR"}},
	}
	for _, tc := range good {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseMoney("amount", tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("ParseMoney(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			if back, err := ParseMoney("amount", got.String()); err != nil || back != got {
				t.Errorf("%q read back as %+v, %v", got.String(), back, err)
			}
		})
	}
	for _, bad := range []string{"", "7.50", "EUR", "7.50 XXX", "7.505 EUR", "1.5 JPY", "-1 EUR", "7,50 EUR", "7. EUR", ".5 EUR", "99999999999999999999 EUR", "1e3 EUR"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := ParseMoney("amount", bad); incident.ErrorCode(err) != incident.EINVALID || !strings.Contains(err.Error(), "field amount") {
				t.Errorf("ParseMoney(%q): %v, want EINVALID naming amount", bad, err)
			}
		})
	}
}

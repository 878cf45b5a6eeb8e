package sandbox

import (
	"strings"
	"testing"
)

func TestCountSegments(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		segments int
		encoding string
	}{
		{"empty", "", 0, GSM7},
		{"plain ascii", "Service restored.", 1, GSM7},
		{"gsm 160", strings.Repeat("a", 160), 1, GSM7},
		{"gsm 161", strings.Repeat("a", 161), 2, GSM7},
		{"gsm 306", strings.Repeat("a", 306), 2, GSM7},
		{"gsm 307", strings.Repeat("a", 307), 3, GSM7},
		{"gsm accented basic set", "Zürich é ö ü ä Ñ ß Ø å ¿¡ §", 1, GSM7},
		{"extension chars cost two", strings.Repeat("€", 80), 1, GSM7},
		{"extension chars 81 overflow", strings.Repeat("€", 81), 2, GSM7},
		{"braces and brackets", strings.Repeat("{}[]", 20), 1, GSM7},
		{"159 plus one extension char", strings.Repeat("a", 159) + "|", 2, GSM7},
		{"escape pair never split", strings.Repeat("a", 152) + "^" + strings.Repeat("a", 10), 2, GSM7},
		{"escape pair pushed to next part", strings.Repeat("a", 152) + "^" + strings.Repeat("a", 152), 3, GSM7},
		{"backtick is not gsm", "`", 1, UCS2},
		{"hungarian ő", "Elnézést kérünk a kő miatt", 1, UCS2},
		{"hungarian ű", "Műszaki hiba", 1, UCS2},
		{"polish ą ł", "Przepraszamy za przerwę: ą ł", 1, UCS2},
		{"croatian č đ", "Ispričavamo se: č đ", 1, UCS2},
		{"ucs2 70", strings.Repeat("ő", 70), 1, UCS2},
		{"ucs2 71", strings.Repeat("ő", 71), 2, UCS2},
		{"ucs2 134", strings.Repeat("ł", 134), 2, UCS2},
		{"ucs2 135", strings.Repeat("ł", 135), 3, UCS2},
		{"one ucs2 char makes all ucs2", strings.Repeat("a", 70) + "č", 2, UCS2},
		{"emoji counts two units", strings.Repeat("😀", 35), 1, UCS2},
		{"36 emoji overflow", strings.Repeat("😀", 36), 2, UCS2},
		{"surrogate pair never split", strings.Repeat("a", 66) + "😀" + strings.Repeat("a", 3), 2, UCS2},
		{"69 units plus emoji", strings.Repeat("đ", 69) + "😀", 2, UCS2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, enc := CountSegments(tt.body)
			if n != tt.segments || enc != tt.encoding {
				t.Errorf("CountSegments = %d %s, want %d %s", n, enc, tt.segments, tt.encoding)
			}
		})
	}
}

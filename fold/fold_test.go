package fold

import (
	"reflect"
	"testing"
)

func TestLetters(t *testing.T) {
	tests := map[string]string{
		"Leiratkozás":   "Leiratkozas",
		"őrült ŰR":      "orult UR",
		"Łódź":          "Lodz",
		"plaćanje Đuro": "placanje Duro",
		"ＳＴＯＰ":          "STOP",
		"":              "",
	}
	for in, want := range tests {
		if got := Letters(in); got != want {
			t.Errorf("Letters(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWords(t *testing.T) {
	got := Words("Płatności kartą — nie działają! (API-2)")
	want := []string{"platnosci", "karta", "nie", "dzialaja", "api", "2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Words = %q, want %q", got, want)
	}
}

func BenchmarkWords(b *testing.B) {
	for _, s := range []string{"My card payment fails again, what is going on? (12345)", "Nem megy a kártyás fizetés, mi történik? Płatności kartą"} {
		b.Run(s[:10], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Words(s)
			}
		})
	}
}

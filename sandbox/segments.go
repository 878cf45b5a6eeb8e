package sandbox

import "unicode/utf16"

// SMS encodings reported by CountSegments.
const (
	GSM7 = "GSM-7"
	UCS2 = "UCS-2"
)

// Segment sizes from 3GPP TS 23.040: a single SMS carries 140 octets, which
// is 160 GSM-7 septets or 70 UCS-2 units; a concatenated one loses 6 octets
// to the user data header, leaving 153 septets or 67 units per part.
const (
	gsmSingle  = 160
	gsmPart    = 153
	ucs2Single = 70
	ucs2Part   = 67
)

// gsmBasic is the GSM 03.38 default alphabet (one septet each). The escape
// code 0x1B is not listed: it only introduces the extension table.
var gsmBasic = func() map[rune]bool {
	const basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	m := make(map[rune]bool, 128)
	for _, r := range basic {
		m[r] = true
	}
	return m
}()

// gsmExtension holds the characters of the GSM 03.38 extension table, each
// sent as ESC plus one septet, so each costs two.
var gsmExtension = map[rune]bool{
	'\f': true, '^': true, '{': true, '}': true, '\\': true,
	'[': true, '~': true, ']': true, '|': true, '€': true,
}

// CountSegments returns how many SMS parts body needs and in which encoding,
// the way a carrier counts them: GSM-7 when every character is in the GSM
// 03.38 basic or extension table (extension characters cost two septets),
// otherwise UCS-2 counted in UTF-16 code units (an emoji outside the BMP
// costs two). A part never splits an escape pair or a surrogate pair, so a
// long message can need one part more than a plain division suggests. An
// empty body needs no part.
func CountSegments(body string) (segments int, encoding string) {
	gsm := true
	for _, r := range body {
		if !gsmBasic[r] && !gsmExtension[r] {
			gsm = false
			break
		}
	}
	single, part := gsmSingle, gsmPart
	encoding = GSM7
	cost := func(r rune) int {
		if gsmExtension[r] {
			return 2
		}
		return 1
	}
	if !gsm {
		single, part = ucs2Single, ucs2Part
		encoding = UCS2
		cost = utf16.RuneLen
	}

	total := 0
	for _, r := range body {
		total += cost(r)
	}
	switch {
	case total == 0:
		return 0, encoding
	case total <= single:
		return 1, encoding
	}
	segments, used := 1, 0
	for _, r := range body {
		c := cost(r)
		if used+c > part {
			segments++
			used = 0
		}
		used += c
	}
	return segments, encoding
}

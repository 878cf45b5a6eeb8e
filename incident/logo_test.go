package incident

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestDecodeLogo(t *testing.T) {
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("x", 20)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, uri, wantErr string
	}{
		{"png", "data:image/png;base64," + b64(png), ""},
		{"webp", "data:image/webp;base64," + b64("RIFF\x00\x00\x00\x00WEBPVP8 "), ""},
		{"svg runs script on the page's origin", "data:image/svg+xml;base64," + b64("<svg/>"), "PNG, JPEG, GIF or WebP"},
		{"not base64", "data:image/png," + png, "base64"},
		{"a URL", "https://example.com/logo.png", "data: URI"},
		{"bad base64", "data:image/png;base64,@@@", "invalid base64"},
		{"says png, is text", "data:image/png;base64," + b64("hello"), "its data is not"},
		{"too big", "data:image/png;base64," + b64(png+strings.Repeat("x", MaxLogoBytes)), "at most 64 KiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeLogo(tc.uri)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if e, ok := err.(*Error); !ok || e.Field != "logo" {
				t.Errorf("err %#v does not name the field logo", err)
			}
		})
	}
}

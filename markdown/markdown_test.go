package markdown

import (
	"regexp"
	"strings"
	"testing"
)

var handler = regexp.MustCompile(`<[a-z][^>]*\son[a-z]+\s*=`)

func TestHTML(t *testing.T) {
	for _, tt := range []struct {
		name, in   string
		want, dont []string
	}{
		{"heading and list", "# What happened\n\n- one\n- two\n", []string{"<h3>What happened</h3>", "<li>one</li>"}, []string{"<h1", "<h2"}},
		{"headings sit under the page's h1 and h2", "# a\n## b\n##### e\n###### f\n", []string{"<h3>a</h3>", "<h4>b</h4>", "<h6>e</h6>", "<h6>f</h6>"}, nil},
		{"raw HTML is omitted", "<script>alert(1)</script>\n\nhi <b onclick=x>there</b>", []string{"hi"}, []string{"<script", "<b onclick", "alert(1)</script>"}},
		{"javascript links are dropped", "[x](javascript:alert(1))", []string{"<a href=\"\">x</a>"}, []string{"javascript:"}},
		{"text is escaped", "a < b & \"c\"", []string{"a &lt; b &amp; &quot;c&quot;"}, nil},
		{"tables", "| a | b |\n|---|---|\n| 1 | 2 |\n", []string{"<table>", "<td>1</td>"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := string(HTML(tt.in))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("HTML(%q) = %q; want it to contain %q", tt.in, got, w)
				}
			}
			for _, d := range tt.dont {
				if strings.Contains(got, d) {
					t.Errorf("HTML(%q) = %q; must not contain %q", tt.in, got, d)
				}
			}
		})
	}
}

func FuzzHTML(f *testing.F) {
	f.Add("# x\n<img src=x onerror=alert(1)>\n[a](javascript:b)")
	f.Fuzz(func(t *testing.T, s string) {
		got := strings.ToLower(string(HTML(s)))
		for _, bad := range []string{"<script", "<iframe", "<style", "<object", "<embed", "<svg", "=\"javascript:", "=\"vbscript:", "=\"data:text"} {
			if strings.Contains(got, bad) {
				t.Fatalf("HTML(%q) = %q contains %q", s, got, bad)
			}
		}
		// Every "<" in the output is a tag goldmark wrote (text is
		// escaped), and none carries an event handler.
		if m := handler.FindString(got); m != "" {
			t.Fatalf("HTML(%q) = %q has an event handler: %q", s, got, m)
		}
	})
}

package statuspage

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/incident"
)

func TestFormsRender(t *testing.T) {
	f, err := NewForms()
	if err != nil {
		t.Fatal(err)
	}
	page := &incident.Page{ID: "p1", Name: `Acme <b>`, Languages: []string{"en", "hu", "pl", "hr"}}
	data := FormData{Action: "/subscribe", CSRF: "tok", Problem: ProblemAddress, Address: `"><script>x</script>`,
		Components: []FormComponent{{ID: "c1", Name: "API", Checked: true}}, Phone: "+3620"}
	names := []FormName{FormSubscribe, FormCheckEmail, FormEnterCode, FormSubscribed, FormConfirm, FormUnsubscribe, FormUnsubscribed, FormLinkInvalid}
	for _, code := range incident.Languages {
		for _, name := range names {
			t.Run(code+"/"+string(name), func(t *testing.T) {
				b, err := f.Render(page, code, name, data)
				if err != nil {
					t.Fatal(err)
				}
				s := string(b)
				if !strings.Contains(s, `<html lang="`+code+`">`) {
					t.Errorf("not rendered in %s", code)
				}
				if strings.Contains(s, "<script>") || strings.Contains(s, "<b>") {
					t.Errorf("unescaped input or live script in the page:\n%s", s)
				}
				if !strings.Contains(s, `class="problem"`) {
					t.Errorf("problem not shown")
				}
				hasForm := name == FormSubscribe || name == FormEnterCode || name == FormConfirm || name == FormUnsubscribe
				if got := strings.Contains(s, `<form method="post" action="/subscribe">`); got != hasForm {
					t.Errorf("form present %v, want %v", got, hasForm)
				}
				if hasForm && !strings.Contains(s, `name="csrf" value="tok"`) {
					t.Errorf("no csrf field")
				}
			})
		}
	}
	if _, err := f.Render(page, "en", "nope", data); err == nil {
		t.Error("unknown form rendered")
	}
}

package statuspage

import (
	"strings"
	"testing"
	"time"

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

// TestPhoneHintAndMonthHeadings: an example number in a form's hint
// does not break across lines on a phone, and a month heads its section
// capitalised in every language.
func TestPhoneHintAndMonthHeadings(t *testing.T) {
	f, err := NewForms()
	if err != nil {
		t.Fatal(err)
	}
	page := &incident.Page{ID: "p1", Name: "Acme", Languages: []string{"pl"}}
	b, err := f.Render(page, "pl", FormSubscribe, FormData{Action: "/subscribe"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "48\u00a0601\u00a0234\u00a0567") {
		t.Errorf("the example number can break:\n%s", b)
	}
	langs, err := loadLangs()
	if err != nil {
		t.Fatal(err)
	}
	l := langs["hr"]
	if got := l.MonthYear(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); !strings.HasPrefix(got, "Prosinac") {
		t.Errorf("hr month heading %q", got)
	}
}

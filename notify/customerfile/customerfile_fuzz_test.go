package customerfile

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/contact"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// FuzzParse imports arbitrary CSV and JSON files. Whatever the input,
// Parse does not panic; a file it cannot read is an invalid error with no
// rows at all (never half a file); otherwise every record is either a good
// customer or a bad row, counted independently of Parse; and every good
// customer has a unique non-empty ID, an E.164 phone or none, a normalized
// email or none, known components and UTF-8 text throughout.
//
// The seeds in testdata/fuzz/FuzzParse run with every go test; fuzz with
//
//	go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s -parallel 1 ./notify/customerfile/
func FuzzParse(f *testing.F) {
	for _, s := range []struct {
		in     string
		asJSON bool
	}{
		{"\ufeffID,Name,Phone,EMAIL,slack,language,time_zone,plan,region,components,Account Manager\n" +
			"a1,Kovács Anna,06 20 123 4567,anna@example.hu,,hu-HU,Europe/Budapest,gold,hu-east,API;card payments,Éva\n", false},
		{"id,name,phone,email,slack,language,time_zone,components\n,No id,,x@example.com,,,,\nshort,row\n" +
			"q1,\"multi\nline name\",,q@example.com,,,,\nok1,x,,ok@example.com,,,,\nok1,y,,d@example.com,,,,\n", false},
		{"id,email\n\"a1,a@example.com\n", false},
		{"id,name,email\r\na1,Anna,a@example.com\r\n,,\r\n , ,\r\n", false},
		{"id,name,email,team\na2,Kov\xe1cs,k@example.com,ops\n", false},
		{`[{"id":"j1","phone":"+36201234567","components":["API","c2card"],"tier":"vip"},42,{"id":"j5","email":7},` +
			`{"id":"j7","Email":"a@example.com","EMAIL":"b@example.com"},{"id":"j2","components":"Web;API","email":"b@example.com","region":null}]`, true},
		{`[{"id":"a","email":"a@example.com"}] [{"id":"b"}]`, true},
		{`{"id":"a"}`, true},
		{"\ufeff[{\"id\":\"j1\",\"name\":\"Kov\xe1cs\",\"email\":\"k@example.com\"}]", true},
	} {
		f.Add(s.in, s.asJSON)
	}
	f.Fuzz(func(t *testing.T, in string, asJSON bool) {
		format := "csv"
		if asJSON {
			format = "json"
		}
		good, bad, _, err := Parse(strings.NewReader(in), format, testComponents, "HU")
		if err != nil {
			if incident.ErrorCode(err) != incident.EINVALID {
				t.Fatalf("error %v is not an invalid error", err)
			}
			if good != nil || bad != nil {
				t.Fatalf("error %v came with %d good and %d bad rows", err, len(good), len(bad))
			}
			return
		}
		records := countCSVRecords
		if asJSON {
			records = countJSONElements
		}
		n, ok := records(in)
		if !ok {
			t.Fatalf("Parse accepted a file the reference reader cannot read: %d good, %d bad", len(good), len(bad))
		}
		if len(good)+Rows(bad) != n {
			t.Fatalf("%d records, but %d good + %d bad", n, len(good), Rows(bad))
		}
		components := map[string]bool{}
		for _, c := range testComponents {
			components[c.ID] = true
		}
		ids := map[string]bool{}
		for _, c := range good {
			if c.ID == "" || ids[c.ID] || len(c.ID) > MaxCustomerIDLen || len(c.Name) > MaxCustomerNameLen {
				t.Fatalf("bad id or name in %+v", c)
			}
			ids[c.ID] = true
			if c.Phone == "" && c.Email == "" && c.Slack == "" {
				t.Fatalf("customer %+v has no contact channel", c)
			}
			if c.Phone != "" {
				if p, err := contact.NormalizePhone(c.Phone, ""); !e164.MatchString(c.Phone) || err != nil || p != c.Phone {
					t.Fatalf("phone %q is not E.164 (%v, %q)", c.Phone, err, p)
				}
			}
			if c.Email != "" {
				if e, err := contact.NormalizeEmail(c.Email); err != nil || e != c.Email {
					t.Fatalf("email %q is not normalized (%v, %q)", c.Email, err, e)
				}
			}
			if c.Slack != "" {
				if _, err := contact.ValidSlackTarget(c.Slack); err != nil {
					t.Fatalf("slack %q: %v", c.Slack, err)
				}
			}
			for _, id := range c.Components {
				if !components[id] {
					t.Fatalf("unknown component %q in %+v", id, c)
				}
			}
			text := []string{c.ID, c.Name, c.Phone, c.Email, c.Slack, c.Language, c.TimeZone, c.Plan, c.Region}
			for k, v := range c.Attributes {
				if v == "" || len(v) > MaxAttributeLen {
					t.Fatalf("attribute %q = %q", k, v)
				}
				text = append(text, k, v)
			}
			for _, s := range text {
				if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
					t.Fatalf("customer %+v: %q is not UTF-8 text", c, s)
				}
			}
		}
		for _, b := range bad {
			if b.Line < 1 || b.Reason == "" {
				t.Fatalf("bad row %+v has no line or reason", b)
			}
		}
	})
}

// countCSVRecords counts the data records of a CSV file as a plain
// encoding/csv reader sees them: after the header, less the blank ones.
func countCSVRecords(in string) (int, bool) {
	in = strings.TrimPrefix(in, "\ufeff")
	r := csv.NewReader(strings.NewReader(in))
	r.FieldsPerRecord = -1
	if _, err := r.Read(); err != nil {
		return 0, false
	}
	n := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return n, true
		}
		if err != nil {
			return 0, false
		}
		if !blankRecord(rec) {
			n++
		}
	}
}

// countJSONElements counts the elements of a JSON array.
func countJSONElements(in string) (int, bool) {
	in = strings.TrimPrefix(in, "\ufeff")
	var all []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader([]byte(in)))
	if err := dec.Decode(&all); err != nil {
		return 0, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return 0, false
	}
	return len(all), true
}

package customerfile

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/text/encoding/charmap"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
)

var testComponents = []*incident.Component{
	{ID: "c1api", Name: "API"},
	{ID: "c2card", Name: "Card payments"},
	{ID: "c3web", Name: "Web"},
}

func TestParseCustomersCSV(t *testing.T) {
	in := strings.Join([]string{
		"\ufeffID,Name,Phone,EMAIL,slack,language,time_zone,plan,region,components,Account Manager",
		"a1,Kovács Anna,06 20 123 4567,anna@example.hu,,hu-HU,Europe/Budapest,gold,hu-east,API;card payments,Éva",
		"a2,Jan Nowak,+48 601 234 567,,,pl,Europe/Warsaw,,,c3web,",
		"a3,Ivo,,,U0123ABCD,hr,,,,,",
		`a4,"Smith, Jo",,jo@example.com,,,,,,"Web; API",`,
		"",
	}, "\n")
	good, bad, _, err := Parse(strings.NewReader(in), "csv", testComponents, "HU")
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 0 {
		t.Fatalf("bad rows: %v", bad)
	}
	want := []*audience.Customer{
		{ID: "a1", Name: "Kovács Anna", Phone: "+36201234567", Email: "anna@example.hu", Language: "hu", TimeZone: "Europe/Budapest",
			Plan: "gold", Region: "hu-east", Components: []string{"c1api", "c2card"}, Attributes: map[string]string{"Account Manager": "Éva"}},
		{ID: "a2", Name: "Jan Nowak", Phone: "+48601234567", Language: "pl", TimeZone: "Europe/Warsaw", Components: []string{"c3web"}},
		{ID: "a3", Name: "Ivo", Slack: "U0123ABCD", Language: "hr"},
		{ID: "a4", Name: "Smith, Jo", Email: "jo@example.com", Components: []string{"c3web", "c1api"}},
	}
	if len(good) != len(want) {
		t.Fatalf("got %d customers, want %d", len(good), len(want))
	}
	for i := range want {
		t.Run(want[i].ID, func(t *testing.T) {
			if !reflect.DeepEqual(good[i], want[i]) {
				t.Errorf("got  %+v\nwant %+v", good[i], want[i])
			}
		})
	}
}

func TestParseCustomersBadRows(t *testing.T) {
	in := strings.Join([]string{
		"id,name,phone,email,slack,language,time_zone,components",
		"ok1,Fine,,ok@example.com,,,,",                   // 2
		",No id,,x@example.com,,,,",                      // 3
		"n1,No contact,,,,,,",                            // 4
		"p1,Bad phone,12345,,,,,",                        // 5
		"p2,Landline,+36 1 234 5678,,,,,",                // 6
		"e1,Bad email,,Alice <a@x.com>,,,,",              // 7
		"s1,Bad slack,,,#general,,,",                     // 8
		"l1,Bad language,,l@example.com,,de,,",           // 9
		"t1,Bad zone,,t@example.com,,,Mars/Base,",        // 10
		"c1,Bad component,,c@example.com,,,,API;Billing", // 11
		"ok1,Duplicate,,d@example.com,,,,",               // 12
		"short,row",                                      // 13
		`q1,"multi`,                                      // 14: a quoted field spanning lines
		`line name",,q@example.com,,,,`,
		"ok2,Fine too,,ok2@example.com,,,,", // 16
		// A landline beside an email: imported without it, noted.
		"p3,Landline and email,+36 1 234 5678,p3@example.com,,,,", // 17
	}, "\n")
	good, bad, notes, err := Parse(strings.NewReader(in), "csv", testComponents, "HU")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range good {
		ids = append(ids, c.ID)
	}
	if want := []string{"ok1", "q1", "ok2", "p3"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("good ids %v, want %v", ids, want)
	}
	if p3 := good[len(good)-1]; p3.Phone != "" || p3.Email != "p3@example.com" {
		t.Errorf("the landline row kept phone %q, email %q; want no phone", p3.Phone, p3.Email)
	}
	if len(notes) != 1 || notes[0].Line != 17 || notes[0].Field != "phone" || !strings.Contains(notes[0].Reason, "+3612345678 is a fixed line number") ||
		!strings.Contains(notes[0].Reason, "imported without it") {
		t.Errorf("notes %+v, want one on line 17 saying the landline was left out", notes)
	}
	want := []struct {
		line         int
		field, match string
	}{
		{3, "id", "missing"},
		{4, "", "no contact channel"},
		{5, "phone", "not a valid phone number"},
		{6, "phone", "cannot receive SMS"},
		{7, "email", "not a bare email address"},
		{8, "slack", "neither"},
		{9, "language", "not supported"},
		{10, "time_zone", "unknown time zone"},
		{11, "components", `unknown component "Billing"`},
		{12, "id", "duplicate id \"ok1\" (first on line 2)"},
		{13, "", "has 2 fields"},
	}
	if len(bad) != len(want) {
		t.Fatalf("got %d bad rows, want %d: %v", len(bad), len(want), bad)
	}
	for i, w := range want {
		t.Run(fmt.Sprintf("line %d", w.line), func(t *testing.T) {
			b := bad[i]
			if b.Line != w.line || b.Field != w.field || !strings.Contains(b.Reason, w.match) {
				t.Errorf("got %+v, want line %d field %q reason containing %q", b, w.line, w.field, w.match)
			}
		})
	}
}

func TestParseCustomersFileErrors(t *testing.T) {
	tests := []struct{ name, format, in string }{
		{"empty csv", "csv", ""},
		{"no id column", "csv", "name,email\nA,a@example.com\n"},
		{"duplicate column", "csv", "id,email,Email\n"},
		{"broken quote", "csv", "id,email\n\"a1,a@example.com\n"},
		{"not an array", "json", `{"id":"a"}`},
		{"truncated json", "json", `[{"id":"a","email":"a@example.com"}`},
		{"data after the array", "json", `[{"id":"a","email":"a@example.com"}] [{"id":"b","email":"b@example.com"}]`},
		{"unknown format", "xml", "<x/>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := Parse(strings.NewReader(tt.in), tt.format, nil, "HU")
			if err == nil || incident.ErrorCode(err) != incident.EINVALID {
				t.Errorf("err = %v, want an invalid error", err)
			}
		})
	}
}

func TestParseCustomersJSON(t *testing.T) {
	in := `[
	 {"id":"j1","name":"Anna","phone":"+36201234567","language":"hu","components":["API","c2card"],"tier":"vip"},
	 {"id":"j2","email":"b@example.com","components":"Web;API","plan":"free","region":null},
	 {"id":"j3"},
	 42,
	 {"id":"j5","email":7},
	 {"id":"j1","email":"dup@example.com"},
	 {"id":"j7","Email":"a@example.com","EMAIL":"b@example.com"}
	]`
	good, bad, _, err := Parse(strings.NewReader(in), "json", testComponents, "HU")
	if err != nil {
		t.Fatal(err)
	}
	if len(good) != 2 {
		t.Fatalf("good = %d, want 2", len(good))
	}
	if got := good[0]; got.Phone != "+36201234567" || !reflect.DeepEqual(got.Components, []string{"c1api", "c2card"}) || got.Attributes["tier"] != "vip" {
		t.Errorf("j1 = %+v", got)
	}
	if got := good[1]; got.Plan != "free" || !reflect.DeepEqual(got.Components, []string{"c3web", "c1api"}) {
		t.Errorf("j2 = %+v", got)
	}
	wantLines := []int{3, 4, 5, 6, 7}
	if len(bad) != len(wantLines) {
		t.Fatalf("bad = %v", bad)
	}
	for i, l := range wantLines {
		if bad[i].Line != l {
			t.Errorf("bad[%d] = %+v, want line (array position) %d", i, bad[i], l)
		}
	}
	if bad[2].Field != "email" || bad[3].Field != "id" || bad[4].Field != "email" || !strings.Contains(bad[4].Reason, "twice") {
		t.Errorf("fields: %+v", bad)
	}
}

// customerCSV streams n generated rows without building the file in memory.
type customerCSV struct {
	n, i int
	buf  bytes.Buffer
}

func (g *customerCSV) Read(p []byte) (int, error) {
	for g.buf.Len() < len(p) && g.i <= g.n {
		if g.i == 0 {
			g.buf.WriteString("id,name,phone,email,slack,language,time_zone,plan,region,components,segment\n")
		} else {
			fmt.Fprintf(&g.buf, "cust%07d,Customer %d,+3620%07d,user%d@example.com,,hu,Europe/Budapest,gold,east,API;Web,s%d\n",
				g.i, g.i, 1000000+g.i%8000000, g.i, g.i%10)
		}
		g.i++
	}
	if g.buf.Len() == 0 {
		return 0, io.EOF
	}
	return g.buf.Read(p)
}

func BenchmarkParse(b *testing.B) {
	const rows = 100_000
	b.ReportAllocs()
	var ms runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before, heap := ms.TotalAlloc, ms.HeapAlloc
		good, bad, _, err := Parse(&customerCSV{n: rows}, "csv", testComponents, "HU")
		if err != nil || len(bad) != 0 || len(good) != rows {
			b.Fatalf("err %v, %d bad, %d good: %v", err, len(bad), len(good), bad[:min(3, len(bad))])
		}
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.TotalAlloc-before)/rows, "B/row")
		runtime.GC()
		runtime.ReadMemStats(&ms)
		// What stays: the parsed customers themselves, not the file.
		b.ReportMetric(float64(int64(ms.HeapAlloc)-int64(heap))/rows, "kept-B/row")
		runtime.KeepAlive(good)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// TestParseCustomersFromSpreadsheets reads files as spreadsheet and shell
// tools write them: PowerShell's Export-Csv quotes every field after a
// byte-order mark, Excel pads the sheet with rows of bare separators and
// uses CRLF, and ConvertTo-Json | Out-File starts with a BOM too.
func TestParseCustomersFromSpreadsheets(t *testing.T) {
	tests := []struct {
		name, format, in string
		want             []string
	}{
		{"bom and quoted header", "csv", "\ufeff\"id\",\"name\",\"email\"\r\n\"a1\",\"Anna\",\"a@example.com\"\r\n", []string{"a1"}},
		{"rows of bare separators", "csv", "id,name,email\r\na1,Anna,a@example.com\r\n,,\r\n , ,\r\n,,\r\n", []string{"a1"}},
		// Excel on a Hungarian, Polish or Croatian Windows saves "CSV" with
		// semicolons (the comma is their decimal mark), often with a BOM.
		{"hungarian excel: semicolons and bom", "csv", "\ufeffid;name;email;components;credit\r\nh1;Kovács, Anna;a@example.hu;\"API;Web\";12,5\r\nh2;Béla;b@example.hu;API,Web;0,0\r\n;;;;\r\n", []string{"h1", "h2"}},
		{"polish excel: semicolons, quoted header", "csv", "\"id\";\"name\";\"phone\"\r\n\"p1\";\"Jan; Nowak\";\"+48 601 234 567\"\r\n", []string{"p1"}},
		{"tab separated", "csv", "id\tname\temail\nt1\tAnna\ta@example.com\n", []string{"t1"}},
		{"comma wins over a semicolon in a quoted header", "csv", "id,\"name;full\",email\nc1,Anna,a@example.com\n", []string{"c1"}},
		{"json with bom", "json", "\ufeff[{\"id\":\"j1\",\"email\":\"j@example.com\"}]", []string{"j1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good, bad, _, err := Parse(strings.NewReader(tt.in), tt.format, testComponents, "HU")
			if err != nil || len(bad) != 0 {
				t.Fatalf("err %v, bad %v", err, bad)
			}
			for _, c := range good {
				switch c.ID {
				case "h1", "h2":
					if !reflect.DeepEqual(c.Components, []string{"c1api", "c3web"}) || c.Attributes["credit"] == "" {
						t.Errorf("%s: components %v, attributes %v", c.ID, c.Components, c.Attributes)
					}
				case "p1":
					if c.Name != "Jan; Nowak" || c.Phone != "+48601234567" {
						t.Errorf("p1: %+v", c)
					}
				}
			}
			var ids []string
			for _, c := range good {
				ids = append(ids, c.ID)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("ids %v, want %v", ids, tt.want)
			}
		})
	}
}

// TestParseCustomersNotUTF8: a JSON file must be UTF-8, and so must a CSV
// file that began as UTF-8: rows with bytes that are not are refused with
// their line, rather than stored as bytes that every channel would show as
// U+FFFD. (A CSV file that is Windows-1250 throughout is read as such:
// TestParseCustomersWindows1250.)
func TestParseCustomersNotUTF8(t *testing.T) {
	csvIn := "id,name,email,team\n" +
		"a1,Anna,a@example.com,ops\n" +
		"a0,Bözsi,b@example.com,ops\n" + // UTF-8: the file is read as UTF-8
		"a2,Kov\xe1cs,k@example.com,ops\n" + // á in Windows-1250
		"a3,Ola,o@example.com,dzia\xb3\n" // ł in Windows-1250, in an attribute
	jsonIn := "[{\"id\":\"j1\",\"name\":\"Kov\xe1cs\",\"email\":\"k@example.com\"}]"
	tests := []struct {
		format, in string
		good       int
		lines      []int
		fields     []string
	}{
		{"csv", csvIn, 2, []int{4, 5}, []string{"name", "team"}},
		{"json", jsonIn, 0, []int{1}, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			good, bad, _, err := Parse(strings.NewReader(tt.in), tt.format, nil, "HU")
			if err != nil {
				t.Fatal(err)
			}
			if len(good) != tt.good || len(bad) != len(tt.lines) {
				t.Fatalf("good %d, bad %v", len(good), bad)
			}
			for i, b := range bad {
				if b.Line != tt.lines[i] || b.Field != tt.fields[i] || !strings.Contains(b.Reason, "UTF-8") {
					t.Errorf("bad[%d] = %+v, want line %d field %q about UTF-8", i, b, tt.lines[i], tt.fields[i])
				}
			}
		})
	}
}

// TestParseCustomersWindows1250 reads CSV files as Excel's plain "CSV"
// writes them on a Hungarian, Polish or Croatian Windows: Windows-1250,
// semicolons; the names come out as UTF-8 whether the first letter outside
// ASCII is on the first row or far down the file (past the reader's
// look-ahead), and a byte Windows-1250 leaves unassigned is a bad row.
func TestParseCustomersWindows1250(t *testing.T) {
	names := []string{"Kőváry Űrsula", "Łucja Żak-Wróbel", "Ivana Čačić", "Šime Đurđević"}
	enc := func(s string) string {
		b, err := charmap.Windows1250.NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rows := func(pad int) string {
		var b strings.Builder
		b.WriteString("id;name;email;team\r\n")
		for i := range pad {
			fmt.Fprintf(&b, "p%05d;Plain Name;p%05d@example.com;ops\r\n", i, i)
		}
		for i, n := range names {
			fmt.Fprintf(&b, "n%d;%s;n%d@example.com;dział\r\n", i, n, i)
		}
		return enc(b.String())
	}
	tests := []struct {
		name string
		in   string
		pad  int
	}{
		{"names first", rows(0), 0},
		{"names after 200 KB of ASCII", rows(5000), 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte a read: the choice must not depend on how the
			// stream arrives.
			good, bad, _, err := Parse(iotest.OneByteReader(strings.NewReader(tt.in)), "csv", nil, "HU")
			if err != nil {
				t.Fatal(err)
			}
			if len(bad) != 0 || len(good) != tt.pad+len(names) {
				t.Fatalf("good %d, bad %v", len(good), bad)
			}
			for i, n := range names {
				c := good[tt.pad+i]
				if c.Name != n || c.Attributes["team"] != "dział" {
					t.Errorf("row %d: name %q team %q, want %q dział", i, c.Name, c.Attributes["team"], n)
				}
			}
		})
	}
	t.Run("an unassigned byte", func(t *testing.T) {
		in := enc("id;name;email\r\nn1;Kőváry;k@example.com\r\n") + "n2;Kov\x81cs;c@example.com\r\n"
		good, bad, _, err := Parse(strings.NewReader(in), "csv", nil, "HU")
		if err != nil {
			t.Fatal(err)
		}
		if len(good) != 1 || good[0].Name != "Kőváry" || len(bad) != 1 || bad[0].Line != 3 || bad[0].Field != "name" {
			t.Fatalf("good %v, bad %v", good, bad)
		}
	})
}

// TestParseCustomersControlCharacters: single-line values holding control
// characters, line separators or bidirectional overrides are bad rows
// naming the field, in CSV and JSON; a line break inside a spreadsheet
// cell (not the ID) folds into a space.
func TestParseCustomersControlCharacters(t *testing.T) {
	tests := []struct {
		name, format, in, field string
	}{
		{"NUL in id (CSV)", "csv", "id,name,email\nab\x00c,Ann,a@example.com\n", "id"},
		{"NUL in name (CSV)", "csv", "id,name,email\nc1,An\x00n,a@example.com\n", "name"},
		{"NUL in id (JSON)", "json", `[{"id":"ab\u0000c","name":"Ann","email":"a@example.com"}]`, "id"},
		{"ESC in name (JSON)", "json", `[{"id":"c1","name":"\u001b]0;owned\u0007Ann","email":"a@example.com"}]`, "name"},
		{"BS in name", "csv", "id,name,email\nc1,Ann\bx,a@example.com\n", "name"},
		{"DEL in plan", "csv", "id,name,email,plan\nc1,Ann,a@example.com,gold\x7f\n", "plan"},
		{"line separator in name", "csv", "id,name,email\nc1,Ann\u2028Bob,a@example.com\n", "name"},
		{"bidi override in name", "csv", "id,name,email\nc1,Ann\u202efdp.exe,a@example.com\n", "name"},
		{"isolate in an attribute", "csv", "id,name,email,tier\nc1,Ann,a@example.com,\u2066gold\u2069\n", "tier"},
		{"line break in an id", "json", `[{"id":"c\n1","name":"Ann","email":"a@example.com"}]`, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good, bad, _, err := Parse(strings.NewReader(tt.in), tt.format, testComponents, "HU")
			if err != nil {
				t.Fatal(err)
			}
			if len(good) != 0 || len(bad) != 1 || bad[0].Field != tt.field {
				t.Fatalf("good %v, bad %+v; want one bad row naming %q", good, bad, tt.field)
			}
		})
	}
	good, bad, _, err := Parse(strings.NewReader("id,name,email\nc1,\"Ann\r\nSmith\",a@example.com\n"), "csv", testComponents, "HU")
	if err != nil || len(bad) != 0 || len(good) != 1 || good[0].Name != "Ann Smith" {
		t.Fatalf("a name over two lines of a cell: good %+v bad %+v err %v", good, bad, err)
	}
}

// TestParseEveryBadField: a row reports every field that is wrong, in one
// run, and Rows counts it once.
func TestParseEveryBadField(t *testing.T) {
	tests := []struct {
		name, format, in string
		fields           []string
		rows             int
	}{
		{"csv", "csv", "id,name,phone,email,slack,language,time_zone,components\n" +
			"ok1,Ann,,ann@example.com,,,,\n" +
			"b1,Bob,12,bob@,nope,xx-yy,Mars/Olympus,Nowhere;API;Elsewhere\n" +
			"b2,Cy,,cy@,,,,\n", []string{"phone", "email", "slack", "language", "time_zone", "components", "email"}, 2},
		{"json", "json", `[{"id":"b1","phone":12,"email":"bob@","time_zone":"Mars/Olympus"},{"id":"ok","email":"ok@example.com"}]`,
			[]string{"phone", "email", "time_zone"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good, bad, _, err := Parse(strings.NewReader(tt.in), tt.format, testComponents, "HU")
			if err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, b := range bad {
				fields = append(fields, b.Field)
				if b.ID == "" || b.Reason == "" {
					t.Errorf("problem without its id or reason: %+v", b)
				}
			}
			if !reflect.DeepEqual(fields, tt.fields) || len(good) != 1 {
				t.Fatalf("fields %v, want %v; %d good\n%v", fields, tt.fields, len(good), bad)
			}
			if Rows(bad) != tt.rows {
				t.Errorf("Rows = %d, want %d", Rows(bad), tt.rows)
			}
			for _, b := range bad {
				if b.Field == "components" && !strings.Contains(b.Reason, `"Nowhere", "Elsewhere"`) {
					t.Errorf("components: %q, want both unknown ones", b.Reason)
				}
			}
		})
	}
}

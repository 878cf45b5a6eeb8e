// Package customerfile reads a page's customers from the client's own
// records: a CSV with the columns
// id,name,phone,email,slack,language,time_zone,plan,region,components (other
// columns become segment attributes) or a JSON array of objects with the
// same fields. Every row is checked (phones to E.164, emails with a real
// parser, components by name or ID, UTF-8 text) and every bad row is
// reported as a RowError naming its line and field, so an import either
// takes the whole file or says exactly what to fix.
package customerfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/contact"
)

// RowError is one rejected row of an import. Line is the CSV line the record
// starts on (the header is line 1), or for JSON the 1-based position of the
// object in the array.
type RowError struct {
	Line   int    `json:"line"`
	ID     string `json:"id,omitempty"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func (e RowError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// Import limits.
const (
	MaxCustomerIDLen   = 128
	MaxCustomerNameLen = 255
	MaxAttributeLen    = 1000
)

// customerColumns are the CSV header names and JSON keys import knows;
// any other column becomes an attribute.
var customerColumns = []string{"id", "name", "phone", "email", "slack", "language", "time_zone", "plan", "region", "components"}

// Parse reads customers in format "csv" or "json" and validates
// every row: good holds the rows that passed, bad every row that did not,
// with its line and reason (each row reports its first problem). Callers
// import nothing while bad is non-empty unless told to skip invalid rows.
//
// CSV: a header row naming columns id, name, phone, email, slack, language,
// time_zone, plan, region, components (any case and order; only id is
// required); other columns become Attributes. components lists component
// names or IDs separated by ";", resolved against components. Blank rows,
// rows of bare separators among them, are skipped, and a UTF-8 byte-order
// mark at the start (CSV or JSON) is ignored. A CSV file saved in
// Windows-1250 is decoded (textReader); JSON must be UTF-8. JSON: an array
// of objects with the same keys; values are strings, except components, which
// may also be an array of strings; unknown keys with string values become
// Attributes. Phone numbers without a country prefix are read in
// defaultRegion (e.g. "HU"); numbers from elsewhere need their +prefix.
//
// Rows are read and checked one at a time, so memory grows with the good
// rows kept, not with the file. err is for an unreadable file (bad header,
// broken CSV quoting or JSON syntax), not for bad rows.
//
// notes are rows imported with less than they gave: a landline beside an
// email or Slack target is left out (herald cannot text it, and a
// customer's phone is their SMS number), rather than refusing the row
// and with it the whole file, as a CRM export holds such numbers.
func Parse(r io.Reader, format string, components []*incident.Component, defaultRegion string) (good []*audience.Customer, bad, notes []RowError, err error) {
	v := newCustomerValidator(components, defaultRegion)
	switch strings.ToLower(format) {
	case "csv":
		err = parseCustomersCSV(r, v, &good, &bad)
	case "json":
		err = parseCustomersJSON(r, v, &good, &bad)
	default:
		return nil, nil, nil, incident.Invalid("format", "unknown import format %q (use csv or json)", format)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return good, bad, v.notes, nil
}

type customerValidator struct {
	byID, byName  map[string]string // component id / lower-cased name → id
	region        string
	seen          map[string]int // customer id → line it first appeared on
	languageCache map[string]string
	zoneCache     map[string]bool
	notes         []RowError // rows imported without a field (Parse)
}

func newCustomerValidator(components []*incident.Component, region string) *customerValidator {
	v := &customerValidator{byID: map[string]string{}, byName: map[string]string{}, region: region,
		seen: map[string]int{}, languageCache: map[string]string{}, zoneCache: map[string]bool{}}
	for _, c := range components {
		v.byID[c.ID] = c.ID
		v.byName[strings.ToLower(strings.TrimSpace(c.Name))] = c.ID
	}
	return v
}

// row is one record before validation, whatever the format.
type row struct {
	fields     map[string]string // known columns
	components []string          // from the components column or array
	attrs      map[string]string
}

func rowErr(line int, id, field, format string, args ...any) *RowError {
	return &RowError{Line: line, ID: id, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// fromErr turns a validation error into a RowError, keeping its field.
func fromErr(line int, id string, err error) *RowError {
	var e *incident.Error
	if errors.As(err, &e) {
		return &RowError{Line: line, ID: id, Field: e.Field, Reason: e.Message}
	}
	return &RowError{Line: line, ID: id, Reason: err.Error()}
}

// notUTF8 reports text that is not UTF-8: invalid bytes (CSV) or the
// replacement character the JSON decoder puts in their place. Such a file
// was saved in a legacy code page, and its accented letters would reach
// every channel as U+FFFD.
func notUTF8(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError)
}

// encodingErr returns the first field of in, in column order, that is not
// UTF-8 text.
func encodingErr(line int, in row) *RowError {
	id := in.fields["id"]
	if notUTF8(id) {
		id = ""
	}
	bad := func(field string) *RowError {
		return rowErr(line, id, field, "is not UTF-8 text: save the file as UTF-8 (in Excel, as \"CSV UTF-8\")")
	}
	for _, k := range customerColumns {
		if notUTF8(in.fields[k]) {
			return bad(k)
		}
	}
	for _, c := range in.components {
		if notUTF8(c) {
			return bad("components")
		}
	}
	keys := make([]string, 0, len(in.attrs))
	for k := range in.attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if notUTF8(k) || notUTF8(in.attrs[k]) {
			return bad(k)
		}
	}
	return nil
}

// foldBreaks turns the line breaks and tabs a spreadsheet cell may hold
// (Alt+Enter in Excel) into spaces, in every field but the ID: a name over
// two lines in the sheet is one name on one line. What is left for
// lineErr is what no sheet means: other control characters.
func foldBreaks(in row) {
	fold := func(s string) string {
		if !strings.ContainsAny(s, "\r\n\t") {
			return s
		}
		return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' || r == '\t' }), " ")
	}
	for k, v := range in.fields {
		if k != "id" {
			in.fields[k] = fold(v)
		}
	}
	for k, v := range in.attrs {
		in.attrs[k] = fold(v)
	}
}

// lineErr returns the first field of in, in column order, that holds what
// a single-line value must not (incident.LineProblem): a NUL in an ID, an
// escape sequence or a bidirectional override in a name.
func lineErr(line int, in row) *RowError {
	id := strings.TrimSpace(in.fields["id"])
	if incident.LineProblem(id) != "" {
		id = ""
	}
	for _, k := range customerColumns {
		if p := incident.LineProblem(strings.TrimSpace(in.fields[k])); p != "" {
			return rowErr(line, id, k, "%s", p)
		}
	}
	for _, c := range in.components {
		if p := incident.LineProblem(strings.TrimSpace(c)); p != "" {
			return rowErr(line, id, "components", "%s", p)
		}
	}
	keys := make([]string, 0, len(in.attrs))
	for k := range in.attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if p := incident.LineProblem(k); p != "" {
			return rowErr(line, id, k, "the column name %s", p)
		}
		if p := incident.LineProblem(strings.TrimSpace(in.attrs[k])); p != "" {
			return rowErr(line, id, k, "%s", p)
		}
	}
	return nil
}

func (v *customerValidator) check(line int, in row) (*audience.Customer, *RowError) {
	if e := encodingErr(line, in); e != nil {
		return nil, e
	}
	foldBreaks(in)
	if e := lineErr(line, in); e != nil {
		return nil, e
	}
	get := func(k string) string { return strings.TrimSpace(in.fields[k]) }
	c := &audience.Customer{ID: get("id"), Name: get("name"), Plan: get("plan"), Region: get("region"), Attributes: in.attrs}
	switch {
	case c.ID == "":
		return nil, rowErr(line, "", "id", "id is missing")
	case len(c.ID) > MaxCustomerIDLen:
		return nil, rowErr(line, "", "id", "id is longer than %d bytes", MaxCustomerIDLen)
	case len(c.Name) > MaxCustomerNameLen:
		return nil, rowErr(line, c.ID, "name", "name is longer than %d bytes", MaxCustomerNameLen)
	}
	for k, val := range in.attrs {
		if len(val) > MaxAttributeLen {
			return nil, rowErr(line, c.ID, k, "value is longer than %d bytes", MaxAttributeLen)
		}
	}
	if first, dup := v.seen[c.ID]; dup {
		return nil, rowErr(line, c.ID, "id", "duplicate id %q (first on line %d)", c.ID, first)
	}
	v.seen[c.ID] = line
	phone, email, slack := get("phone"), get("email"), get("slack")
	if phone == "" && email == "" && slack == "" {
		return nil, rowErr(line, c.ID, "", "no contact channel: give a phone, an email or a slack target")
	}
	var err error
	if phone != "" {
		e164, kind, perr := contact.ParsePhone(phone, v.region)
		switch {
		case perr != nil:
			return nil, fromErr(line, c.ID, perr)
		case kind.CanSMS():
			c.Phone = e164
		case email != "" || slack != "":
			v.notes = append(v.notes, RowError{Line: line, ID: c.ID, Field: "phone", Reason: fmt.Sprintf(
				"%s is a %s number and cannot receive SMS: imported without it, reached by email or Slack", e164, strings.ReplaceAll(string(kind), "_", " "))})
		default:
			_, err = contact.NormalizePhone(phone, v.region)
			return nil, fromErr(line, c.ID, err)
		}
	}
	if email != "" {
		if c.Email, err = contact.NormalizeEmail(email); err != nil {
			return nil, fromErr(line, c.ID, err)
		}
	}
	if slack != "" {
		if _, err = contact.ValidSlackTarget(slack); err != nil {
			return nil, fromErr(line, c.ID, err)
		}
		c.Slack = slack
	}
	if lang := get("language"); lang != "" {
		norm, ok := v.languageCache[lang]
		if !ok {
			if norm, err = contact.NormalizeLanguage(lang); err != nil {
				return nil, fromErr(line, c.ID, err)
			}
			v.languageCache[lang] = norm
		}
		c.Language = norm
	}
	if tz := get("time_zone"); tz != "" {
		okZone, known := v.zoneCache[tz]
		if !known {
			okZone = contact.ValidTimeZone(tz) == nil
			v.zoneCache[tz] = okZone
		}
		if !okZone {
			return nil, rowErr(line, c.ID, "time_zone", "unknown time zone %q (use an IANA name such as Europe/Budapest)", tz)
		}
		c.TimeZone = tz
	}
	for _, ref := range in.components {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			continue
		}
		id, ok := v.byID[ref]
		if !ok {
			id, ok = v.byName[strings.ToLower(ref)]
		}
		if !ok {
			return nil, rowErr(line, c.ID, "components", "unknown component %q", ref)
		}
		if !contains(c.Components, id) {
			c.Components = append(c.Components, id)
		}
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// skipBOM drops a UTF-8 byte-order mark at the start of br: Excel's "CSV
// UTF-8" and Windows PowerShell write one. It must go before the CSV reader
// sees it, which would otherwise take a quoted first header ("id") for a bare
// quote, and before the JSON decoder, which refuses it.
func skipBOM(br *bufio.Reader) {
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
}

// textReader reads a CSV file as UTF-8, whether it was saved as UTF-8 or
// in Windows-1250, the code page Excel's plain "CSV" is written in on a
// Hungarian, Polish or Croatian Windows. The file arrives as a stream, so
// the choice is made at its first byte outside ASCII (ASCII reads the same
// in both): when that byte begins a valid UTF-8 sequence the file is read as
// UTF-8, and bytes further on that are not UTF-8 stay as they are, for
// encodingErr to refuse their rows; otherwise the rest is decoded from
// Windows-1250. A UTF-8 file is never misread that way; a Windows-1250
// file whose first accented letter happens to form UTF-8 with the next
// byte (a capital such as Ó before ł) is read as UTF-8, and its rows are
// refused, not stored wrong. Windows-1250's five unassigned bytes decode to
// U+FFFD, which encodingErr refuses too.
type textReader struct {
	br      *bufio.Reader
	decided bool
	r       io.Reader // after the choice: br, or a Windows-1250 decoder over it
}

func (t *textReader) Read(p []byte) (int, error) {
	if t.decided {
		return t.r.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if _, err := t.br.Peek(1); err != nil {
		return 0, err
	}
	buf, _ := t.br.Peek(t.br.Buffered())
	ascii := 0
	for ascii < len(buf) && buf[ascii] < utf8.RuneSelf {
		ascii++
	}
	if ascii > 0 {
		return t.br.Read(p[:min(len(p), ascii)])
	}
	// The first byte outside ASCII, and up to three more after it.
	seq, _ := t.br.Peek(utf8.UTFMax)
	t.decided, t.r = true, t.br
	if r, size := utf8.DecodeRune(seq); r == utf8.RuneError && size <= 1 {
		t.r = transform.NewReader(t.br, charmap.Windows1250.NewDecoder())
	}
	return t.r.Read(p)
}

// sniffDelimiter guesses the field separator from the header line: the one
// of comma, semicolon and tab that occurs most often outside quotes, comma
// when none does. Excel writes "CSV" with the list separator of the
// system's locale, which is the semicolon in Hungary, Poland and Croatia
// (where the comma is the decimal mark); the header names herald's
// columns, which hold none of the three.
func sniffDelimiter(br *bufio.Reader) rune {
	// Read only as far as the end of the header line: an upload arrives
	// as a stream, and peeking a whole buffer would wait for more of it.
	var head []byte
	for {
		b, _ := br.Peek(br.Buffered())
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			head = b[:i]
			break
		}
		head = b
		if len(b) >= br.Size() {
			break
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			head, _ = br.Peek(br.Buffered())
			break
		}
	}
	counts := map[rune]int{}
	quoted := false
	for _, c := range string(head) {
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ';' || c == '\t'):
			counts[c]++
		}
	}
	best := ','
	for _, c := range []rune{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return best
}

// blankRecord reports whether every field of rec is blank: a line of bare
// separators, which spreadsheets write for formatted but empty rows.
func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func parseCustomersCSV(r io.Reader, v *customerValidator, good *[]*audience.Customer, bad *[]RowError) error {
	br := bufio.NewReaderSize(r, 64<<10)
	skipBOM(br)
	br = bufio.NewReaderSize(&textReader{br: br}, 64<<10)
	cr := csv.NewReader(br)
	cr.Comma = sniffDelimiter(br)
	cr.FieldsPerRecord = -1 // a short row is reported as a bad row, not a broken file
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return incident.Invalid("file", "the file is empty: it needs a header row")
	} else if err != nil {
		return incident.Invalid("file", "cannot read the header: %v", err)
	}
	cols := make([]string, len(header)) // known column name, or "" for an attribute
	attrNames := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		key := strings.ToLower(h)
		if key == "" {
			return incident.Invalid("file", "column %d of the header has no name", i+1)
		}
		if seen[key] {
			return incident.Invalid("file", "column %q appears twice in the header", h)
		}
		seen[key] = true
		if contains(customerColumns, key) {
			cols[i] = key
		} else {
			attrNames[i] = h
		}
	}
	if !seen["id"] {
		return incident.Invalid("file", "the header has no id column (expected %s)", strings.Join(customerColumns, ","))
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil { // broken quoting: the rest of the file cannot be trusted
			return incident.Invalid("file", "%v", err)
		}
		line, _ := cr.FieldPos(0)
		if blankRecord(rec) {
			continue // a blank line, or one of bare separators
		}
		if len(rec) != len(header) {
			*bad = append(*bad, RowError{Line: line, Reason: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(header))})
			continue
		}
		in := row{fields: make(map[string]string, len(customerColumns))}
		for i, val := range rec {
			switch {
			case cols[i] == "components":
				if val = strings.TrimSpace(val); val != "" {
					// A semicolon file's list is written with commas.
					in.components = strings.FieldsFunc(val, func(r rune) bool { return r == ';' || r == ',' })
				}
			case cols[i] != "":
				in.fields[cols[i]] = val
			case strings.TrimSpace(val) != "":
				if in.attrs == nil {
					in.attrs = map[string]string{}
				}
				in.attrs[attrNames[i]] = strings.TrimSpace(val)
			}
		}
		// ReuseRecord: every string kept above is a copy the csv package made
		// for this record's fields, so nothing aliases the next record.
		c, rerr := v.check(line, in)
		if rerr != nil {
			*bad = append(*bad, *rerr)
			continue
		}
		*good = append(*good, c)
	}
}

func parseCustomersJSON(r io.Reader, v *customerValidator, good *[]*audience.Customer, bad *[]RowError) error {
	br := bufio.NewReaderSize(r, 64<<10)
	skipBOM(br)
	dec := json.NewDecoder(br)
	tok, err := dec.Token()
	if err == io.EOF {
		return incident.Invalid("file", "the file is empty: it needs a JSON array of customers")
	} else if err != nil {
		return incident.Invalid("file", "not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return incident.Invalid("file", "the file must be a JSON array of customer objects")
	}
	for n := 1; dec.More(); n++ {
		var obj map[string]json.RawMessage
		if err := dec.Decode(&obj); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				*bad = append(*bad, RowError{Line: n, Reason: "not a JSON object"})
				continue
			}
			return incident.Invalid("file", "element %d: %v", n, err)
		}
		in, rerr := jsonRow(n, obj)
		if rerr != nil {
			*bad = append(*bad, *rerr)
			continue
		}
		c, rerr := v.check(n, in)
		if rerr != nil {
			*bad = append(*bad, *rerr)
			continue
		}
		*good = append(*good, c)
	}
	if _, err := dec.Token(); err != nil {
		return incident.Invalid("file", "the array is not closed: %v", err)
	}
	// Anything after the array (a second array pasted on, a truncated
	// concatenation) would otherwise be dropped without a word.
	if _, err := dec.Token(); err != io.EOF {
		return incident.Invalid("file", "unexpected data after the array of customers")
	}
	return nil
}

func jsonRow(n int, obj map[string]json.RawMessage) (row, *RowError) {
	in := row{fields: make(map[string]string, len(customerColumns))}
	var id string
	if raw, ok := obj["id"]; ok {
		_ = json.Unmarshal(raw, &id) // a non-string id is reported below
	}
	// Keys match in any case, so "Email" and "email" are one field given
	// twice; in sorted order the answer does not depend on map order.
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := make(map[string]string, len(keys))
	for _, k := range keys {
		raw := obj[k]
		key := strings.ToLower(k)
		if first, dup := seen[key]; dup {
			return in, rowErr(n, id, key, "given twice, as %q and %q (keys are not case-sensitive)", first, k)
		}
		seen[key] = k
		if key == "components" {
			var list []string
			if err := json.Unmarshal(raw, &list); err == nil {
				in.components = list
				continue
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return in, rowErr(n, id, "components", "must be a string or an array of strings")
			}
			if s != "" {
				in.components = strings.Split(s, ";")
			}
			continue
		}
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil {
			return in, rowErr(n, id, k, "must be a string")
		}
		if s == nil {
			continue
		}
		if contains(customerColumns, key) {
			in.fields[key] = *s
		} else if strings.TrimSpace(*s) != "" {
			if in.attrs == nil {
				in.attrs = map[string]string{}
			}
			in.attrs[k] = strings.TrimSpace(*s)
		}
	}
	return in, nil
}

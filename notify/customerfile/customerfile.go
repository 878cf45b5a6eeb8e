// Package customerfile reads a page's customers from the client's own
// records: a CSV with the columns
// id,name,phone,email,slack,language,time_zone,plan,region,components (other
// columns become segment attributes) or a JSON array of objects with the
// same fields. Every row is checked (phones to E.164, emails with a real
// parser, components by name or ID, UTF-8 text) and every bad field of
// every row is reported as a RowError naming its line and field, so an
// import either takes the whole file or says, in one run, what to fix.
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
	"strconv"
	"strings"
	"time"
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

// Rows counts the rows errs are about: a row may have several problems,
// which Parse lists one after the other.
func Rows(errs []RowError) int {
	n := 0
	for i, e := range errs {
		if i == 0 || e.Line != errs[i-1].Line {
			n++
		}
	}
	return n
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
// every row: good holds the rows that passed, bad every problem of each
// row that did not, with its line, field and reason (a row with three bad
// fields has three, one after the other; Rows counts the rows). Callers
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
	errs       []RowError // problems found while reading it (a JSON value of the wrong type)
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

// problems gathers a row's problems, one per field: a field already
// found wrong is not checked again (its later checks would only repeat it).
type problems struct {
	line int
	id   string // the row's id, "" while it is not known good
	errs []RowError
	bad  map[string]bool
}

func (p *problems) add(field, format string, args ...any) {
	p.errs = append(p.errs, RowError{Line: p.line, ID: p.id, Field: field, Reason: fmt.Sprintf(format, args...)})
	if p.bad == nil {
		p.bad = map[string]bool{}
	}
	p.bad[field] = true
}

// addErr adds a validation error, keeping its field.
func (p *problems) addErr(field string, err error) {
	e := fromErr(p.line, p.id, err)
	if e.Field == "" {
		e.Field = field
	}
	p.errs = append(p.errs, *e)
	if p.bad == nil {
		p.bad = map[string]bool{}
	}
	p.bad[field] = true
}

// ok reports whether field has no problem yet.
func (p *problems) ok(field string) bool { return !p.bad[field] }

// sortedKeys returns m's keys in order, so that a row's problems come in
// the same order every time.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// encodingErrs reports each field of in, in column order, that is not
// UTF-8 text.
func encodingErrs(p *problems, in row) {
	const why = "is not UTF-8 text: save the file as UTF-8 (in Excel, as \"CSV UTF-8\")"
	for _, k := range customerColumns {
		if notUTF8(in.fields[k]) {
			p.add(k, why)
		}
	}
	for _, c := range in.components {
		if notUTF8(c) && p.ok("components") {
			p.add("components", why)
		}
	}
	for _, k := range sortedKeys(in.attrs) {
		if notUTF8(k) || notUTF8(in.attrs[k]) {
			p.add(k, why)
		}
	}
}

// foldBreaks turns the line breaks and tabs a spreadsheet cell may hold
// (Alt+Enter in Excel) into spaces, in every field but the ID: a name over
// two lines in the sheet is one name on one line. What is left for
// lineErrs is what no sheet means: other control characters.
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

// lineErrs reports each field of in, in column order, that holds what a
// single-line value must not (incident.LineProblem): a NUL in an ID, an
// escape sequence or a bidirectional override in a name.
func lineErrs(p *problems, in row) {
	for _, k := range customerColumns {
		if !p.ok(k) {
			continue
		}
		if why := incident.LineProblem(strings.TrimSpace(in.fields[k])); why != "" {
			p.add(k, "%s", why)
		}
	}
	for _, c := range in.components {
		if !p.ok("components") {
			break
		}
		if why := incident.LineProblem(strings.TrimSpace(c)); why != "" {
			p.add("components", "%s", why)
		}
	}
	for _, k := range sortedKeys(in.attrs) {
		if !p.ok(k) {
			continue
		}
		if why := incident.LineProblem(k); why != "" {
			p.add(k, "the column name %s", why)
		} else if why := incident.LineProblem(strings.TrimSpace(in.attrs[k])); why != "" {
			p.add(k, "%s", why)
		}
	}
}

// check validates one row and returns the customer, or every problem the
// row has: each field that is wrong, in the order of the checks, so that
// one run lists all there is to fix.
func (v *customerValidator) check(line int, in row) (*audience.Customer, []RowError) {
	p := &problems{line: line}
	if id := strings.TrimSpace(in.fields["id"]); !notUTF8(id) && incident.LineProblem(id) == "" {
		p.id = id
	}
	for _, e := range in.errs {
		e.ID = p.id
		p.add(e.Field, "%s", e.Reason)
	}
	encodingErrs(p, in)
	foldBreaks(in)
	lineErrs(p, in)
	get := func(k string) string { return strings.TrimSpace(in.fields[k]) }
	c := &audience.Customer{ID: get("id"), Name: get("name"), Plan: get("plan"), Region: get("region"), Attributes: in.attrs}
	if p.ok("id") {
		switch {
		case c.ID == "":
			p.add("id", "id is missing")
		case len(c.ID) > MaxCustomerIDLen:
			p.id = ""
			p.add("id", "id is longer than %d bytes", MaxCustomerIDLen)
		}
	}
	if p.ok("name") && len(c.Name) > MaxCustomerNameLen {
		p.add("name", "name is longer than %d bytes", MaxCustomerNameLen)
	}
	for _, k := range sortedKeys(in.attrs) {
		if p.ok(k) && len(in.attrs[k]) > MaxAttributeLen {
			p.add(k, "value is longer than %d bytes", MaxAttributeLen)
		}
	}
	if v, has := in.attrs[audience.SinceAttribute]; has && p.ok(audience.SinceAttribute) {
		// Compensation reads it: a customer since after an incident ended
		// is owed nothing for it. Empty is "not known".
		if strings.TrimSpace(v) == "" {
			delete(in.attrs, audience.SinceAttribute)
		} else if since, ok := audience.ParseSince(v); !ok {
			p.add(audience.SinceAttribute, "%q is not a date: write it as 2024-05-31 (or an RFC 3339 time)", v)
		} else if since.After(time.Now().Add(24 * time.Hour)) {
			// A date to come would leave them out of every incident
			// until then, though they get its messages now.
			p.add(audience.SinceAttribute, "%q is in the future: when did they become a customer?", v)
		}
	}
	if p.ok("id") {
		if first, dup := v.seen[c.ID]; dup {
			p.add("id", "duplicate id %q (first on line %d)", c.ID, first)
		} else {
			v.seen[c.ID] = line
		}
	}
	phone, email, slack := get("phone"), get("email"), get("slack")
	if phone == "" && email == "" && slack == "" && p.ok("phone") && p.ok("email") && p.ok("slack") {
		p.add("", "no contact channel: give a phone, an email or a slack target")
	}
	if phone != "" && p.ok("phone") {
		e164, kind, perr := contact.ParsePhone(phone, v.region)
		switch {
		case perr != nil:
			p.addErr("phone", perr)
		case kind.CanSMS():
			c.Phone = e164
		case email != "" || slack != "":
			v.notes = append(v.notes, RowError{Line: line, ID: c.ID, Field: "phone", Reason: fmt.Sprintf(
				"%s is a %s number and cannot receive SMS: imported without it, reached by email or Slack", e164, strings.ReplaceAll(string(kind), "_", " "))})
		default:
			_, err := contact.NormalizePhone(phone, v.region)
			p.addErr("phone", err)
		}
	}
	if email != "" && p.ok("email") {
		var err error
		if c.Email, err = contact.NormalizeEmail(email); err != nil {
			p.addErr("email", err)
		}
	}
	if slack != "" && p.ok("slack") {
		if _, err := contact.ValidSlackTarget(slack); err != nil {
			p.addErr("slack", err)
		}
		c.Slack = slack
	}
	if lang := get("language"); lang != "" && p.ok("language") {
		norm, ok := v.languageCache[lang]
		if !ok {
			var err error
			if norm, err = contact.NormalizeLanguage(lang); err != nil {
				p.addErr("language", err)
			} else {
				v.languageCache[lang] = norm
			}
		}
		c.Language = norm
	}
	if tz := get("time_zone"); tz != "" && p.ok("time_zone") {
		okZone, known := v.zoneCache[tz]
		if !known {
			okZone = contact.ValidTimeZone(tz) == nil
			v.zoneCache[tz] = okZone
		}
		if !okZone {
			p.add("time_zone", "unknown time zone %q (use an IANA name such as Europe/Budapest)", tz)
		}
		c.TimeZone = tz
	}
	var unknown []string
	for _, ref := range in.components {
		if !p.ok("components") {
			break
		}
		ref = strings.TrimSpace(ref)
		if ref == "" {
			continue
		}
		id, ok := v.byID[ref]
		if !ok {
			id, ok = v.byName[strings.ToLower(ref)]
		}
		if !ok {
			unknown = append(unknown, strconv.Quote(ref))
			continue
		}
		if !contains(c.Components, id) {
			c.Components = append(c.Components, id)
		}
	}
	switch len(unknown) {
	case 0:
	case 1:
		p.add("components", "unknown component %s", unknown[0])
	default:
		p.add("components", "unknown components %s", strings.Join(unknown, ", "))
	}
	if len(p.errs) > 0 {
		return nil, p.errs
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
		c, errs := v.check(line, in)
		if errs != nil {
			*bad = append(*bad, errs...)
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
		c, errs := v.check(n, jsonRow(n, obj))
		if errs != nil {
			*bad = append(*bad, errs...)
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

// jsonRow reads one object; a value of the wrong type is kept in the
// row's errs, for check to report beside whatever else is wrong.
func jsonRow(n int, obj map[string]json.RawMessage) row {
	in := row{fields: make(map[string]string, len(customerColumns))}
	fail := func(field, format string, args ...any) {
		in.errs = append(in.errs, *rowErr(n, "", field, format, args...))
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
			fail(key, "given twice, as %q and %q (keys are not case-sensitive)", first, k)
			continue
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
				fail("components", "must be a string or an array of strings")
				continue
			}
			if s != "" {
				in.components = strings.Split(s, ";")
			}
			continue
		}
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil {
			field := k
			if contains(customerColumns, key) {
				field = key
			}
			fail(field, "must be a string")
			continue
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
	return in
}

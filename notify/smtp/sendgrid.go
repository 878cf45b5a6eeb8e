package smtp

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	netmail "net/mail"
	"slices"
	"strings"
)

// FieldError says which field of a provider's inbound post is wrong.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("smtp: field %s: %s", e.Field, e.Reason) }

// Unwrap makes a FieldError an ErrInvalidMessage.
func (e *FieldError) Unwrap() error { return ErrInvalidMessage }

// ParseSendGrid reads a post of SendGrid's Inbound Parse webhook, given its
// multipart form fields (the first value of each) and the sizes of its
// files by field name (attachment1, …: their content is never needed).
// In raw mode ("Send Raw" on) the field email holds the whole message,
// read with ParseInbound; in the default parsed mode the fields from, to,
// subject, text, html and headers carry it, each in the charset the field
// charsets names. The envelope field (JSON {"from": …, "to": […]}) fills
// Envelope in both modes. A field that cannot be read returns a
// *FieldError naming it.
func ParseSendGrid(fields map[string]string, sizes map[string]int64) (InboundEmail, error) {
	bad := func(field, format string, args ...any) (InboundEmail, error) {
		return InboundEmail{}, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	var env *Envelope
	if raw := fields["envelope"]; raw != "" {
		var e struct {
			From *string `json:"from"`
			To   []string
		}
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return bad("envelope", "must be JSON like {\"from\": \"a@example.com\", \"to\": [\"b@example.com\"]}")
		}
		env = &Envelope{To: e.To}
		if e.From != nil {
			env.From = strings.Trim(strings.TrimSpace(*e.From), "<>")
		}
	}
	if raw, ok := fields["email"]; ok {
		in, err := ParseInbound(strings.NewReader(raw))
		if err != nil {
			return bad("email", "is no readable RFC 5322 message: %s", strings.TrimPrefix(err.Error(), ErrInvalidMessage.Error()+": "))
		}
		in.Envelope = env
		return in, nil
	}

	charsets := map[string]string{}
	if raw := fields["charsets"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &charsets); err != nil {
			return bad("charsets", "must be a JSON object of field names to charsets")
		}
	}
	decode := func(field string) (string, error) {
		v := fields[field]
		cs := strings.ToLower(strings.TrimSpace(charsets[field]))
		if v == "" || cs == "" || cs == "utf-8" || cs == "utf8" || cs == "us-ascii" {
			return v, nil
		}
		r, err := charsetReader(cs, strings.NewReader(v))
		if err != nil {
			return "", &FieldError{Field: "charsets", Reason: fmt.Sprintf("unknown charset %q for %s", cs, field)}
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return "", &FieldError{Field: field, Reason: "cannot be read in charset " + cs}
		}
		return string(b), nil
	}
	var in InboundEmail
	in.Envelope = env
	if raw := fields["headers"]; strings.TrimSpace(raw) != "" {
		h, err := ParseHeaderBlock(raw)
		if err != nil {
			return bad("headers", "is no readable block of header lines")
		}
		in.Header = h
	} else {
		in.Header = netmail.Header{}
	}
	dec := &mime.WordDecoder{CharsetReader: charsetReader}
	parser := netmail.AddressParser{WordDecoder: dec}
	fromField, err := decode("from")
	if err != nil {
		return InboundEmail{}, err
	}
	if strings.TrimSpace(fromField) == "" {
		fromField = in.Header.Get("From")
	}
	from, err := parseFrom(&parser, fromField)
	if err != nil && env != nil && env.From != "" {
		// No From to read: the envelope's sender is who to answer.
		from, err = netmail.ParseAddress(env.From)
	}
	if err != nil {
		return bad("from", "is no email address")
	}
	in.From, in.FromName = from.Address, from.Name
	if to, err := decode("to"); err != nil {
		return InboundEmail{}, err
	} else if strings.TrimSpace(to) != "" {
		list, err := parser.ParseList(to)
		if err != nil {
			return bad("to", "is no list of email addresses")
		}
		for _, a := range list {
			in.To = append(in.To, a.Address)
		}
	}
	if in.Subject, err = decode("subject"); err != nil {
		return InboundEmail{}, err
	}
	if d, err := dec.DecodeHeader(in.Subject); err == nil {
		in.Subject = d
	}
	if in.Text, err = decode("text"); err != nil {
		return InboundEmail{}, err
	}
	if in.HTML, err = decode("html"); err != nil {
		return InboundEmail{}, err
	}
	in.Text = strings.ReplaceAll(in.Text, "\r\n", "\n")
	in.HTML = strings.ReplaceAll(in.HTML, "\r\n", "\n")
	if len(in.Text) > maxPartBytes || len(in.HTML) > maxPartBytes {
		return bad("text", "is longer than %d bytes", maxPartBytes)
	}
	h := in.Header
	in.MessageID = strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
	in.InReplyTo = strings.Trim(strings.TrimSpace(h.Get("In-Reply-To")), "<>")
	for _, ref := range strings.Fields(h.Get("References")) {
		in.References = append(in.References, strings.Trim(ref, "<>"))
	}
	if raw := fields["attachment-info"]; raw != "" {
		var info map[string]struct {
			Filename string `json:"filename"`
			Name     string `json:"name"`
			Type     string `json:"type"`
		}
		if err := json.Unmarshal([]byte(raw), &info); err != nil {
			return bad("attachment-info", "must be a JSON object")
		}
		for _, key := range slices.Sorted(maps.Keys(info)) {
			a := info[key]
			in.Attachments = append(in.Attachments, Attachment{Name: attachmentName(cmp.Or(a.Filename, a.Name)), Type: a.Type, Size: sizes[key]})
		}
	}
	validUTF8(&in)
	return in, nil
}

// IsFieldError returns the field a parse error names, if it is a
// *FieldError.
func IsFieldError(err error) (*FieldError, bool) {
	var fe *FieldError
	ok := errors.As(err, &fe)
	return fe, ok
}

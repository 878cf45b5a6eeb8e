package smtp

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"unicode"

	"golang.org/x/text/encoding/htmlindex"
)

// Limits for inbound parsing: complaints are short, and a hostile message
// must not make herald read gigabytes or recurse forever.
const (
	maxPartBytes = 1 << 20
	maxDepth     = 5
	maxParts     = 50
)

// InboundEmail is the part of a received email herald needs to file a complaint.
type InboundEmail struct {
	From       string   // bare address
	FromName   string   // display name, decoded
	To         []string // bare addresses
	Subject    string   // RFC 2047-decoded
	Text       string   // the first text/plain part, decoded to UTF-8
	HTML       string   // the first text/html part, decoded to UTF-8
	MessageID  string   // without angle brackets
	InReplyTo  string   // without angle brackets: ties a reply to the delivery (our Message-ID)
	References []string // without angle brackets, oldest first
	// Header is the message's top-level header, for the loop checks
	// (Automatic) and the Date; textproto-canonical keys.
	Header netmail.Header
	// Attachments are the parts that are no body: kept by name, type and
	// size only, never their content.
	Attachments []Attachment
	// Envelope is what the sending server said in the SMTP transaction,
	// when the door knows it (the SMTP listener, SendGrid's envelope
	// field); nil otherwise.
	Envelope *Envelope
}

// Attachment describes an attached file without its content.
type Attachment struct {
	Name string // decoded, control characters removed, at most 100 characters; "" when unnamed
	Type string // media type, like "image/png"
	Size int64  // decoded bytes (counted up to the message's limits)
}

// Envelope is an SMTP transaction's sender and recipients.
type Envelope struct {
	From string // MAIL FROM; "" is the null sender <> of bounces and auto-replies
	To   []string
}

// ParseInbound reads one RFC 5322 message. It decodes encoded-word headers,
// walks nested multipart bodies, undoes quoted-printable and base64, and
// converts legacy charsets (ISO-8859-2, windows-1250, … common in hu/pl/hr
// mail) to UTF-8. It wraps ErrInvalidMessage when the message cannot be read.
func ParseInbound(r io.Reader) (InboundEmail, error) {
	msg, err := netmail.ReadMessage(r)
	if err != nil {
		return InboundEmail{}, fmt.Errorf("%w: %v", ErrInvalidMessage, err)
	}
	dec := &mime.WordDecoder{CharsetReader: charsetReader}
	h := msg.Header
	var in InboundEmail
	if subj, err := dec.DecodeHeader(h.Get("Subject")); err == nil {
		in.Subject = subj
	} else {
		in.Subject = h.Get("Subject")
	}
	parser := netmail.AddressParser{WordDecoder: dec}
	if from, err := parseFrom(&parser, h.Get("From")); err == nil {
		in.From, in.FromName = from.Address, from.Name
	} else {
		return InboundEmail{}, fmt.Errorf("%w: From: %v", ErrInvalidMessage, err)
	}
	if to, err := parser.ParseList(h.Get("To")); err == nil {
		for _, a := range to {
			in.To = append(in.To, a.Address)
		}
	}
	in.Header = h
	in.MessageID = strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
	in.InReplyTo = strings.Trim(strings.TrimSpace(h.Get("In-Reply-To")), "<>")
	for _, ref := range strings.Fields(h.Get("References")) {
		in.References = append(in.References, strings.Trim(ref, "<>"))
	}

	parts := 0
	if err := walk(&in, h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), h.Get("Content-Disposition"), msg.Body, 0, &parts); err != nil {
		return InboundEmail{}, err
	}
	validUTF8(&in)
	return in, nil
}

// validUTF8 replaces the bytes of in's text that are not UTF-8 with U+FFFD:
// raw 8-bit headers, and bodies that declare no charset (or UTF-8) but are
// written in a legacy one, pass through decoding unchanged.
func validUTF8(in *InboundEmail) {
	for _, s := range []*string{&in.From, &in.FromName, &in.Subject, &in.Text, &in.HTML, &in.MessageID, &in.InReplyTo} {
		*s = strings.ToValidUTF8(*s, "\uFFFD")
	}
	for i := range in.Attachments {
		in.Attachments[i].Name = strings.ToValidUTF8(in.Attachments[i].Name, "\uFFFD")
	}
	for _, list := range [][]string{in.To, in.References} {
		for i := range list {
			list[i] = strings.ToValidUTF8(list[i], "\uFFFD")
		}
	}
}

// walk fills in.Text, in.HTML and in.Attachments from one body, recursing
// into multiparts.
func walk(in *InboundEmail, contentType, cte, disposition string, body io.Reader, depth int, parts *int) error {
	if contentType == "" {
		contentType = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if depth >= maxDepth {
			return nil
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart() // also undoes quoted-printable, dropping the header
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%w: multipart: %v", ErrInvalidMessage, err)
			}
			if *parts++; *parts > maxParts {
				return nil
			}
			if err := walk(in, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p, depth+1, parts); err != nil {
				return err
			}
		}
	}
	var r io.Reader = io.LimitReader(body, maxPartBytes)
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r) // ignores the CRLFs between lines
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	}
	disp, dparams, _ := mime.ParseMediaType(disposition)
	name := attachmentName(cmp.Or(dparams["filename"], params["name"]))
	attached := name != "" || disp == "attachment"
	if attached || mediaType != "text/plain" && mediaType != "text/html" {
		// An attachment, an image, a calendar invite: only its name, type
		// and size are kept; the content is counted, never stored. A
		// damaged attachment (bad base64) costs its size, not the message.
		n, _ := io.Copy(io.Discard, r)
		in.Attachments = append(in.Attachments, Attachment{Name: name, Type: mediaType, Size: n})
		return nil
	}
	if mediaType == "text/plain" && in.Text != "" || mediaType == "text/html" && in.HTML != "" {
		return nil
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		cr, err := charsetReader(cs, r)
		if err == nil {
			r = cr
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("%w: %s body: %v", ErrInvalidMessage, mediaType, err)
	}
	text := string(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
	if mediaType == "text/plain" {
		in.Text = text
	} else {
		in.HTML = text
	}
	return nil
}

// charsetReader converts from any charset the WHATWG encoding index knows.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	return enc.NewDecoder().Reader(r), nil
}

// maxAttachmentName bounds an attachment's name as herald keeps it.
const maxAttachmentName = 100

// attachmentName decodes an attachment's file name (RFC 2047 words; RFC
// 2231 is undone by mime.ParseMediaType) and keeps it printable and short:
// it ends up in a complaint's text, shown to agents.
func attachmentName(raw string) string {
	dec := &mime.WordDecoder{CharsetReader: charsetReader}
	if d, err := dec.DecodeHeader(raw); err == nil {
		raw = d
	}
	var b strings.Builder
	n := 0
	for _, r := range raw {
		if n == maxAttachmentName {
			break
		}
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			continue
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// parseFrom reads a From header as RFC 5322 says, and else as mail
// programs write it when they do not: an unquoted comma in the name
// ("Kovács, Anna <anna@example.hu>"), an address for a name
// ("anna@example.hu <anna@example.hu>"). The address inside the last
// angle brackets, or the one word that is an address, is taken, with
// what comes before the brackets as the name: refusing the mail would
// lose a customer's complaint over their mail program's quoting.
func parseFrom(parser *netmail.AddressParser, raw string) (*netmail.Address, error) {
	a, err := parser.Parse(raw)
	if err == nil {
		return a, nil
	}
	if i, j := strings.LastIndexByte(raw, '<'), strings.LastIndexByte(raw, '>'); i >= 0 && j > i {
		if addr, aerr := netmail.ParseAddress(raw[i+1 : j]); aerr == nil && addr.Name == "" {
			name := strings.Trim(strings.TrimSpace(raw[:i]), `"' ,`)
			if d, derr := parser.WordDecoder.DecodeHeader(name); derr == nil {
				name = d
			}
			if name == addr.Address {
				name = ""
			}
			return &netmail.Address{Name: name, Address: addr.Address}, nil
		}
	}
	var found *netmail.Address
	for _, w := range strings.FieldsFunc(raw, func(r rune) bool { return r == ' ' || r == ',' || r == ';' || r == '<' || r == '>' || r == '"' }) {
		if !strings.Contains(w, "@") {
			continue
		}
		addr, aerr := netmail.ParseAddress(w)
		if aerr != nil || found != nil && found.Address != addr.Address {
			return nil, err // none, or two different ones: no guess
		}
		found = addr
	}
	if found == nil {
		return nil, err
	}
	return found, nil
}

package reports

import (
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
)

// ParsePeriod reads a period's first and last days (both included, as
// people write a period) from the request fields "from" and "to", and
// returns [from, the day after to).
func ParsePeriod(fromV, toV string) (from, until time.Time, err error) {
	if from, err = ParseDay("from", fromV); err != nil {
		return
	}
	to, err := ParseDay("to", toV)
	return from, to.AddDate(0, 0, 1), err
}

// ParseDay reads a period's day (YYYY-MM-DD, UTC midnight) from the
// request field named field, a sane one (incident.SaneDate).
func ParseDay(field, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, incident.Invalid(field, "want a date like 2026-01-31, got %q", v)
	}
	return t, incident.SaneDate(field, t, time.Now())
}

// Formats are the formats a report is drawn in.
var Formats = []string{"html", "json", "csv"}

// Format picks a report's format from the path's suffix (html, json, csv;
// "" for none) and the request's "format" field (the same words, any
// case; "" when not given): the suffix when there is one, else the field,
// else "" (the caller then goes by Accept). A field naming another format
// is refused by name, as is one that contradicts the suffix: a request
// never silently gets a format it did not ask for.
func Format(suffix, field string) (string, error) {
	f := strings.ToLower(strings.TrimSpace(field))
	switch f {
	case "", "html", "json", "csv":
	default:
		return "", incident.Invalid("format", "want html, json or csv, got %q", field)
	}
	if suffix != "" {
		if f != "" && f != suffix {
			return "", incident.Invalid("format", "the path asks for %s (.%s) and format for %s: leave out one of them", suffix, suffix, f)
		}
		return suffix, nil
	}
	return f, nil
}

// withoutFormat is query (with its "?", or "") without its "format"
// fields: the download links name their format by suffix.
func withoutFormat(query string) string {
	raw := strings.TrimPrefix(query, "?")
	if raw == "" || !strings.Contains(strings.ToLower(raw), "format") {
		return query
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return query
	}
	for k := range v {
		if strings.EqualFold(k, "format") {
			delete(v, k)
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Renderable is a report that can be drawn for people (HTML) and written
// for machines (JSON, CSV): an incident's report or a period's.
type Renderable interface {
	// HTML's links are the download links by format, and BackLink's
	// entry, the page to go back to.
	HTML(lang string, links map[string]string) ([]byte, error)
	JSON() ([]byte, error)
	CSV() ([]byte, error)
}

// HTMLPolicy is the Content-Security-Policy a report's HTML is served
// with: no script and no outside resource (the charts are inline SVG, the
// style is in the page), not framed.
const HTMLPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Rendered is a report drawn in one format, with the HTTP headers it is
// served with.
type Rendered struct {
	Body    []byte
	Headers [][2]string
}

// Render draws r in format: "json", "csv" (a download named name.csv), or
// else HTML in lang, whose download links point at base with .json and
// .csv and query (the request's query string with its "?", or "").
//
// back, when not "", is the page the HTML report links back to (the
// console's, when it shows the report).
func Render(r Renderable, format, lang, base, query, name, back string) (Rendered, error) {
	var out Rendered
	var err error
	h := func(k, v string) { out.Headers = append(out.Headers, [2]string{k, v}) }
	h("Cache-Control", "no-store")
	switch format {
	case "json":
		out.Body, err = r.JSON()
		h("Content-Type", "application/json; charset=utf-8")
	case "csv":
		out.Body, err = r.CSV()
		h("Content-Type", "text/csv; charset=utf-8")
		h("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	default:
		var links map[string]string // none when base is ""
		if base != "" {
			query := withoutFormat(query)
			links = map[string]string{"JSON": base + ".json" + query, "CSV": base + ".csv" + query}
		}
		if back != "" {
			if links == nil {
				links = map[string]string{}
			}
			links[BackLink] = back
		}
		out.Body, err = r.HTML(lang, links)
		h("Content-Type", "text/html; charset=utf-8")
		h("Content-Security-Policy", HTMLPolicy)
		h("X-Robots-Tag", "noindex")
	}
	return out, err
}

// BackLink is the key of the links given to HTML that is the page the
// report links back to, not a download.
const BackLink = "back"

// splitLinks separates the back link from the downloads.
func splitLinks(links map[string]string) (downloads map[string]string, back string) {
	back = links[BackLink]
	if back == "" {
		return links, ""
	}
	downloads = make(map[string]string, len(links))
	for k, v := range links {
		if k != BackLink {
			downloads[k] = v
		}
	}
	return downloads, back
}

package statuspage

import (
	"encoding/xml"
	"html"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/markdown"
)

// The history feeds follow Statuspage's own (githubstatus.com/history.rss
// and .atom), which feed readers and widgets already parse: one item per
// incident or maintenance, the updates newest first as escaped HTML.

// feedLimit is how many incidents and maintenances each feed holds.
const feedLimit = 50

type rssDoc struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	DC      string     `xml:"xmlns:dc,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title       string    `xml:"title"`
	Link        string    `xml:"link"`
	Description string    `xml:"description"`
	PubDate     string    `xml:"pubDate"`
	Items       []rssItem `xml:"item"`
}

type rssItem struct {
	Title       string `xml:"title"`
	Description string `xml:"description"`
	PubDate     string `xml:"pubDate"`
	Link        string `xml:"link"`
	GUID        string `xml:"guid"`
}

type atomDoc struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Lang    string      `xml:"xml:lang,attr"`
	ID      string      `xml:"id"`
	Links   []atomLink  `xml:"link"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomAuthor  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
	Href string `xml:"href,attr"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	ID        string      `xml:"id"`
	Published string      `xml:"published"`
	Updated   string      `xml:"updated"`
	Link      atomLink    `xml:"link"`
	Title     string      `xml:"title"`
	Content   atomContent `xml:"content"`
}

type atomContent struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

// feedLabel is the word Statuspage's feeds print before an update's text.
var feedLabel = map[incident.Status]string{
	incident.Investigating: "Investigating", incident.Identified: "Identified", incident.Monitoring: "Monitoring",
	incident.Resolved: "Resolved", incident.Postmortem: "Postmortem",
	incident.Scheduled: "Scheduled", incident.InProgress: "In progress", incident.Verifying: "Verifying", incident.Completed: "Completed",
}

// feedWords are the words a feed prints around the operator's texts, in
// one language: Statuspage's own in English, which widgets and readers
// already parse, the page's catalogue in the others.
type feedWords struct {
	xmlLang string                       // Atom's xml:lang
	history string                       // the title after the page's name
	about   string                       // RSS's channel description
	update  string                       // the label of an update that kept its status
	label   func(incident.Status) string // an update's status
	none    func(incident.Status) string // the text of an update without one (defaultWords), "" for none
	when    func(time.Time) string       // an update's time, already in the page's zone
	query   string                       // "?lang=hu" on every link of a language's feed; "" on the default feed
}

// wordsFor returns the feed words of language code (l its catalogue; the
// English feed takes only the texts of updates without one from it). linkLang makes the links keep the language, for the feed
// a reader chose the language of.
func wordsFor(code string, l *lang, linkLang bool) feedWords {
	w := feedWords{xmlLang: "en-US", history: "Incident History", about: "Statuspage", update: "Update", when: statuspageTime,
		label: func(s incident.Status) string { return feedLabel[s] }}
	if code != "en" && l != nil {
		w = feedWords{xmlLang: code, history: l.T["IncidentHistory"], about: l.T["FeedDescription"], update: l.T["FeedUpdate"], when: l.DateTime, label: l.Status}
	}
	if l != nil {
		w.none = func(s incident.Status) string {
			if id := defaultWords[s]; id != "" {
				return l.T[id]
			}
			return ""
		}
	}
	if linkLang {
		w.query = "?lang=" + code
	}
	return w
}

// statuspageTime is an update's time as Statuspage's feeds print it.
func statuspageTime(t time.Time) string {
	return t.Format("Jan") + " <var data-var='date'>" + t.Format("_2") + "</var>, <var data-var='time'>" +
		t.Format("15:04") + "</var> " + t.Format("MST")
}

// updateLabel labels updates[i] (newest first): its status, or w.update
// when the status did not change from the update before it.
func updateLabel(updates []*incident.Update, i int, w feedWords) string {
	if i+1 < len(updates) && updates[i+1].Status == updates[i].Status {
		return w.update
	}
	if l := w.label(updates[i].Status); l != "" {
		return l
	}
	return w.update
}

// feedContent is an incident's updates as Statuspage's feed HTML, newest
// first, with each body HTML-escaped and its line breaks kept.
func feedContent(inc *incident.Incident, loc *time.Location, lang string, w feedWords) string {
	var b strings.Builder
	for i, u := range inc.Updates {
		b.WriteString("<p><small>")
		b.WriteString(w.when(u.DisplayAt.In(loc)))
		b.WriteString("</small><br><strong>")
		b.WriteString(html.EscapeString(updateLabel(inc.Updates, i, w)))
		if pm := publishedPostmortem(inc); pm != "" && u.Status == incident.Postmortem && strings.TrimSpace(u.Text(lang)) == "" {
			// The update that published the postmortem, with no text of
			// its own, carries the postmortem (rendered as on the page).
			b.WriteString("</strong></p>")
			b.WriteString(string(markdown.HTML(pm)))
			continue
		}
		b.WriteString("</strong> - ")
		text := strings.TrimSpace(u.Text(lang))
		if text == "" && w.none != nil {
			text = w.none(u.Status) // as the page shows it, not a bare label
		}
		body := html.EscapeString(strings.ReplaceAll(text, "\r\n", "\n"))
		b.WriteString(strings.ReplaceAll(body, "\n", "<br />"))
		b.WriteString("</p>")
	}
	return b.String()
}

// publishedPostmortem is inc's postmortem once published, "" before.
func publishedPostmortem(inc *incident.Incident) string {
	if inc.PostmortemPublishedAt == nil || strings.TrimSpace(inc.PostmortemBody) == "" {
		return ""
	}
	return inc.PostmortemBody
}

// lastActivity is when an incident last showed something new: its newest
// update's display time, or its UpdatedAt.
func lastActivity(inc *incident.Incident) time.Time {
	if len(inc.Updates) > 0 && !inc.Updates[0].DisplayAt.IsZero() {
		return inc.Updates[0].DisplayAt
	}
	return inc.UpdatedAt
}

func feedHost(p *incident.Page) string {
	if u, err := url.Parse(p.URL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "localhost"
}

// renderRSS writes /history.rss for incs (newest first).
// lang ("" for the default) picks the updates' texts (Update.Text); w,
// the words around them.
func renderRSS(p *incident.Page, incs []*incident.Incident, updated time.Time, loc *time.Location, lang string, w feedWords) ([]byte, error) {
	base := strings.TrimRight(p.URL, "/")
	doc := rssDoc{Version: "2.0", DC: "http://purl.org/dc/elements/1.1/", Channel: rssChannel{
		Title: p.Name + " - " + w.history, Link: base + "/" + w.query, Description: w.about,
		PubDate: updated.In(loc).Format(time.RFC1123Z), Items: []rssItem{}}}
	if w.query == "" {
		doc.Channel.Link = base
	}
	for _, inc := range incs {
		link := p.IncidentURL(inc.ID) + w.query
		doc.Channel.Items = append(doc.Channel.Items, rssItem{Title: inc.NameIn(lang), Description: feedContent(inc, loc, lang, w),
			PubDate: lastActivity(inc).In(loc).Format(time.RFC1123Z), Link: link, GUID: p.IncidentURL(inc.ID)})
	}
	return encodeXML(doc)
}

// renderAtom writes /history.atom for incs (newest first).
// lang ("" for the default) picks the updates' texts; w, the words
// around them and the feed's xml:lang.
func renderAtom(p *incident.Page, incs []*incident.Incident, updated time.Time, loc *time.Location, lang string, w feedWords) ([]byte, error) {
	base := strings.TrimRight(p.URL, "/")
	host := feedHost(p)
	home := base
	if w.query != "" {
		home = base + "/" + w.query
	}
	doc := atomDoc{Lang: w.xmlLang, ID: "tag:" + host + ",2005:/history",
		Links: []atomLink{{Rel: "alternate", Type: "text/html", Href: home}, {Rel: "self", Type: "application/atom+xml", Href: base + "/history.atom" + w.query}},
		Title: p.Name + " - " + w.history, Updated: updated.In(loc).Format(time.RFC3339), Author: atomAuthor{Name: p.Name}}
	for _, inc := range incs {
		doc.Entries = append(doc.Entries, atomEntry{ID: "tag:" + host + ",2005:Incident/" + inc.ID,
			Published: inc.CreatedAt.In(loc).Format(time.RFC3339), Updated: lastActivity(inc).In(loc).Format(time.RFC3339),
			Link:  atomLink{Rel: "alternate", Type: "text/html", Href: p.IncidentURL(inc.ID) + w.query},
			Title: inc.NameIn(lang), Content: atomContent{Type: "html", Body: feedContent(inc, loc, lang, w)}})
	}
	return encodeXML(doc)
}

func encodeXML(v any) ([]byte, error) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

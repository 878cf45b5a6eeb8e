package render

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/sms"
	"github.com/heraldhq/herald/queue"
)

// operatorInput is the first message of a real declaration: a page called
// "Status", an incident named for its component, and two sentences from
// the operator.
func operatorInput(kind queue.MessageKind, lang, body string) Input {
	start := time.Date(2026, 3, 1, 13, 5, 0, 0, time.UTC)
	inc := &incident.Incident{ID: "rclfxz2g21ly", PageID: "p0qjfl24znv5", Name: "Card payments fail", Status: incident.Investigating,
		Impact: incident.ImpactMajor, ComponentIDs: []string{"c2card"}, CreatedAt: start, UpdatedAt: start, StartedAt: start,
		Updates: []*incident.Update{{ID: "dwfsk5ttyvtb", IncidentID: "rclfxz2g21ly", Status: incident.Investigating, Body: body,
			CreatedAt: start, UpdatedAt: start, DisplayAt: start, DeliverNotifications: true}}}
	if kind == queue.KindResolved {
		inc.Status, inc.ResolvedAt = incident.Resolved, &start
		inc.Updates[0].Status = incident.Resolved
	}
	if strings.HasPrefix(string(kind), "maintenance") {
		until := start.Add(2 * time.Hour)
		inc.ScheduledFor, inc.ScheduledUntil, inc.Impact, inc.Status = &start, &until, incident.ImpactMaintenance, incident.Scheduled
	}
	return Input{Kind: kind, Page: &incident.Page{ID: "p0qjfl24znv5", Name: "Status", URL: "https://status.example.com", Languages: []string{"en"}},
		Incident: inc, Components: testComponents, Recipient: Recipient{Language: lang, TimeZone: "Europe/Budapest"}, Now: start}
}

// TestSMSKeepsOperatorText: in every language, the first message, an
// update and the resolution carry the operator's two sentences whole (the
// Hungarian acknowledgement cut them to "Some card…"), and no template
// puts two colons in a row of words ("Status: hiba történt: Card…").
func TestSMSKeepsOperatorText(t *testing.T) {
	r := newTestRenderer(t)
	body := "Some card payments are declined. We are working with the card processor."
	for _, lang := range incident.Languages {
		for _, kind := range []queue.MessageKind{queue.KindAck, queue.KindUpdate, queue.KindResolved, queue.KindMaintenanceStarted, queue.KindMaintenanceScheduled, queue.KindMaintenanceCompleted} {
			t.Run(lang+"/"+string(kind), func(t *testing.T) {
				m, err := r.Render(channel.SMS, operatorInput(kind, lang, body))
				if err != nil {
					t.Fatal(err)
				}
				// The maintenance notices' dates take room a UCS-2 message
				// lacks; they keep the operator's first sentence at least.
				keep := body
				if enc, _, _ := sms.Segments(m.Text); enc == sms.UCS2 && strings.HasPrefix(string(kind), "maintenance_s") {
					keep = "Some card payments are declined."
				}
				if !strings.Contains(m.Text, keep) {
					t.Errorf("the operator's text was cut: %q", m.Text)
				}
				limit := DefaultMaxSMSSegments
				if enc, _, _ := sms.Segments(m.Text); enc == sms.UCS2 {
					limit++ // rather than cut the operator's text
				}
				if _, _, n := sms.Segments(m.Text); n > limit {
					t.Errorf("%d segments: %q", n, m.Text)
				}
				// Before the operator's text, at most one colon: "Page (what
				// happened): Name." (not "Page: what happened: Name.").
				head, _, _ := strings.Cut(m.Text, "Some card")
				if c := strings.Count(head, ": "); c > 1 {
					t.Errorf("%d colons in %q", c, head)
				}
			})
		}
	}
}

// TestSMSTypographicPunctuation: an English update typed with curly
// apostrophes, quotes, dashes, an ellipsis and a no-break space travels as
// GSM-7 (153 characters a segment), not UCS-2 (67), and so whole.
func TestSMSTypographicPunctuation(t *testing.T) {
	r := newTestRenderer(t)
	body := "We’re seeing “declined” card payments – some, not all… Retrying\u00a0helps; we’ll update you within the hour."
	m, err := r.Render(channel.SMS, operatorInput(queue.KindUpdate, "en", body))
	if err != nil {
		t.Fatal(err)
	}
	enc, _, n := sms.Segments(m.Text)
	if enc != sms.GSM7 {
		t.Errorf("encoding %s: %q", enc, m.Text)
	}
	want := `We're seeing "declined" card payments - some, not all... Retrying helps; we'll update you within the hour.`
	if !strings.Contains(m.Text, want) {
		t.Errorf("text %q lacks %q", m.Text, want)
	}
	if n > DefaultMaxSMSSegments {
		t.Errorf("%d segments", n)
	}
	// A letter GSM-7 lacks keeps the message UCS-2, its dashes as written
	// (folding them would save nothing).
	m, err = r.Render(channel.SMS, operatorInput(queue.KindUpdate, "hu", "A kártyás fizetés – részben – hibás."))
	if err != nil {
		t.Fatal(err)
	}
	if enc, _, _ := sms.Segments(m.Text); enc != sms.UCS2 || !strings.Contains(m.Text, "A kártyás fizetés – részben – hibás.") {
		t.Errorf("hungarian: %s %q", enc, m.Text)
	}
}

// TestOperatorTextPerLanguage: an update written in several languages
// reaches each recipient in theirs, on every channel; a language without
// its own text reads the default (Body).
func TestOperatorTextPerLanguage(t *testing.T) {
	r := newTestRenderer(t)
	texts := map[string]string{
		"en": "Some card payments are declined.",
		"hu": "Néhány kártyás fizetés sikertelen.",
		"pl": "Część płatności kartą jest odrzucana.",
	}
	for _, lang := range incident.Languages {
		want := texts[lang]
		if want == "" {
			want = texts["en"] // hr has none: the default
		}
		for _, ch := range []channel.Kind{channel.SMS, channel.Email, channel.Slack} {
			t.Run(lang+"/"+string(ch), func(t *testing.T) {
				in := operatorInput(queue.KindAck, lang, texts["en"])
				in.Incident.Updates[0].Messages = map[string]string{"hu": texts["hu"], "pl": texts["pl"]}
				m, err := r.Render(ch, in)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(m.Text, want) {
					t.Errorf("text lacks %q: %q", want, m.Text)
				}
				for l, other := range texts {
					if other != want && l != lang && strings.Contains(m.Text, other) {
						t.Errorf("text carries the %s text too: %q", l, m.Text)
					}
				}
			})
		}
	}
}

// TestSMSRefitsAfterEncodingChange: an incident name with an emoji makes
// the message UCS-2 (67 characters a segment), so the operator's long
// update is cut first; once the name's emoji has to go too, the message
// is GSM-7 again (153 a segment), and the update must be fitted again
// into the room that opened, not left cut to nothing. The cut name's
// ellipsis and the template's full stop must not stack ("….").
func TestSMSRefitsAfterEncodingChange(t *testing.T) {
	r := newTestRenderer(t)
	body := "Some card payments are declined at checkout for customers in Europe. We have found the faulty release and are rolling it back now; payments should recover within the hour."
	for _, kind := range []queue.MessageKind{queue.KindAck, queue.KindUpdate, queue.KindComplaintAck} {
		in := operatorInput(kind, "en", body)
		in.Incident.Name = "Payments are slow and some card payments fail at checkout in the EU region 💳"
		in.Ref = "C-RCLFXZ2G"
		m, err := r.Render(channel.SMS, in)
		if err != nil {
			t.Fatal(err)
		}
		enc, _, n := sms.Segments(m.Text)
		if n > DefaultMaxSMSSegments+1 {
			t.Errorf("%s: %d segments: %q", kind, n, m.Text)
		}
		if enc == sms.GSM7 && !strings.Contains(m.Text, "Some card payments are declined") {
			t.Errorf("%s: a GSM-7 message without the operator's text, which fits once the emoji is gone: %q", kind, m.Text)
		}
		if strings.Contains(m.Text, "….") || strings.Contains(m.Text, "....") {
			t.Errorf("%s: an ellipsis and a full stop stacked: %q", kind, m.Text)
		}
	}
}

// TestSMSDropsNameEmojiToKeepText: an emoji in the incident's name makes
// the SMS UCS-2, which halves its room; when that would cut the
// operator's text, the SMS goes as GSM-7 without the emoji and carries
// the text whole. When nothing had to be cut, or the name is emoji
// alone, the name stays as written.
func TestSMSDropsNameEmojiToKeepText(t *testing.T) {
	r := newTestRenderer(t)
	long := "Some card payments are declined at checkout for customers in Europe. We found the faulty release and are rolling it back now."
	for _, kind := range []queue.MessageKind{queue.KindAck, queue.KindUpdate, queue.KindResolved} {
		in := operatorInput(kind, "en", long)
		in.Incident.Name = "Card payments fail 🔴"
		m, err := r.Render(channel.SMS, in)
		if err != nil {
			t.Fatal(err)
		}
		if enc, _, _ := sms.Segments(m.Text); enc != sms.GSM7 || !strings.Contains(m.Text, long) || !strings.Contains(m.Text, "Card payments fail") {
			t.Errorf("%s: want GSM-7 with the whole text and the name without its emoji: %q", kind, m.Text)
		}

		in = operatorInput(kind, "en", "Checking.")
		in.Incident.Name = "Card payments fail 🔴"
		if m, err = r.Render(channel.SMS, in); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, "Card payments fail 🔴") {
			t.Errorf("%s: a short message lost the name's emoji although nothing had to be cut: %q", kind, m.Text)
		}

		in = operatorInput(kind, "en", long+" "+long)
		in.Incident.Name = "🔥🔥"
		if m, err = r.Render(channel.SMS, in); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, "🔥🔥") {
			t.Errorf("%s: a name of emoji alone was dropped: %q", kind, m.Text)
		}
	}
}

// TestSMSNeverCutsTextToAStub: when the room left for the operator's
// text holds only a word or two ("So…"), or a cut would end a text in a
// few words of its next sentence ("…at checkout. We…"), the SMS carries
// whole sentences or none, and the incident's name gets the room back.
func TestSMSNeverCutsTextToAStub(t *testing.T) {
	r := newTestRenderer(t)
	body := "Some card payments are declined at checkout. We are rolling back the faulty release; payments should recover within the hour."
	fragment := regexp.MustCompile(`[.!?] (\S+ ){0,2}\S+(…|\.\.\.)`)
	for _, kind := range []queue.MessageKind{queue.KindAck, queue.KindUpdate, queue.KindComplaintAck, queue.KindResolved} {
		for _, lang := range []string{"en", "hu", "pl", "hr"} {
			for _, name := range []string{"Card payments fail", "Kártyás fizetések sikertelenek az európai régióban a pénztárnál"} {
				in := operatorInput(kind, lang, body)
				in.Incident.Name = name
				in.Ref = "C-RCLFXZ2G"
				m, err := r.Render(channel.SMS, in)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(m.Text, "Some") && !strings.Contains(m.Text, "Some card payments are declined at checkout.") {
					t.Errorf("%s/%s: the operator's text cut short of its first sentence: %q", kind, lang, m.Text)
				}
				// A cut at a sentence end is marked "(…)": no fragment.
				if f := fragment.FindString(strings.NewReplacer(" (…)", "", " (...)", "").Replace(m.Text)); f != "" {
					t.Errorf("%s/%s: a sentence's first words left after a cut (%q): %q", kind, lang, f, m.Text)
				}
				if lang != "en" && !strings.Contains(m.Text, "Some") && !strings.Contains(m.Text, name) {
					t.Errorf("%s/%s: neither the operator's text nor the whole name: %q", kind, lang, m.Text)
				}
			}
		}
	}
}

// TestCompensationSMSKeepsItsNames: the compensation announcement is its
// line, never cut; in UCS-2 a long line (an amended offer saying it
// replaces the earlier one) filled the budget, and the SMS read "Acme…:
// przepraszamy za utrudnienia ()". The names earn a segment, and no
// empty parentheses are left.
func TestCompensationSMSKeepsItsNames(t *testing.T) {
	r := newTestRenderer(t)
	lines := map[string]string{
		"pl": "W ramach przeprosin otrzymają Państwo bonifikatę w wysokości 15% miesięcznej opłaty (3,00 EUR) na następnej fakturze. Ta oferta zastępuje wszystkie nasze wcześniejsze oferty dotyczące tej awarii.",
		"hu": "Bocsánatkérésünk jeléül a havidíja 15%-ának megfelelő jóváírást (3,00 EUR) kap a következő számláján. Ez felvált minden korábbi ajánlatot, amelyet erre a hibára tettünk.",
		"hr": "U znak isprike dobit ćete odobrenje od 15% mjesečne naknade (3,00 EUR) na sljedećem računu. Ova ponuda zamjenjuje sve naše ranije ponude za ovaj prekid.",
		"en": "As an apology you will receive 15% of your monthly fee (3.00 EUR) as a credit on your next invoice. This replaces any earlier offer we made for this disruption.",
	}
	for lang, base := range lines {
		// Lines of every length around the segment boundaries: the one
		// whose fixed text fills its segments exactly left no room.
		for pad := 0; pad <= 140; pad++ {
			line := base + strings.Repeat(" ż", pad/2) + strings.Repeat("!", pad%2)
			in := operatorInput(queue.KindCompensation, lang, "Fixed.")
			in.Page.Name, in.Incident.Name = "Acme Payments", "Card payments fail"
			in.Compensation = line
			m, err := r.Render(channel.SMS, in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(m.Text, "()") || !strings.Contains(m.Text, "Card payments fail") || !strings.HasPrefix(m.Text, "Acme Payments:") ||
				!strings.Contains(m.Text, line) {
				t.Errorf("%s, pad %d: %q; want the page and incident names whole and the line whole", lang, pad, m.Text)
				break
			}
		}
	}
}

// TestNameEndingInAFullStop: an incident named "Checkout is slow." reads
// "Checkout is slow. …" in every language's messages, never "slow..".
func TestNameEndingInAFullStop(t *testing.T) {
	r := newTestRenderer(t)
	for _, lang := range incident.Languages {
		for _, kind := range []queue.MessageKind{queue.KindAck, queue.KindUpdate, queue.KindResolved} {
			for _, ch := range []channel.Kind{channel.SMS, channel.Email} {
				in := operatorInput(kind, lang, "Orders take a minute.")
				in.Incident.Name = "Checkout is slow."
				m, err := r.Render(ch, in)
				if err != nil {
					t.Fatal(err)
				}
				if all := m.Subject + "\n" + m.Text; strings.Contains(all, "slow..") || !strings.Contains(all, "Checkout is slow") {
					t.Errorf("%s/%s/%s: %q", lang, kind, ch, all)
				}
			}
		}
	}
}

// TestIncidentNamePerLanguage: an incident named in several languages is
// named in each recipient's language on every channel, the email's
// subject too; a language without its own name reads the default.
func TestIncidentNamePerLanguage(t *testing.T) {
	r := newTestRenderer(t)
	names := map[string]string{"hu": "Hibás kártyás fizetés", "pl": "Płatności kartą nie działają"}
	for _, lang := range incident.Languages {
		for _, ch := range []channel.Kind{channel.SMS, channel.Email, channel.Slack} {
			t.Run(lang+"/"+string(ch), func(t *testing.T) {
				in := operatorInput(queue.KindAck, lang, "Some card payments are declined.")
				def := in.Incident.Name
				in.Incident.Names = names
				want := names[lang]
				if want == "" {
					want = def
				}
				m, err := r.Render(ch, in)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(m.Text, want) {
					t.Errorf("text lacks %q: %q", want, m.Text)
				}
				if ch == channel.Email && !strings.Contains(m.Subject, want) {
					t.Errorf("subject lacks %q: %q", want, m.Subject)
				}
				for l, other := range names {
					if l != lang && (strings.Contains(m.Text, other) || strings.Contains(m.Subject, other)) {
						t.Errorf("the message carries the %s name too: %q %q", l, m.Subject, m.Text)
					}
				}
			})
		}
	}
}

// TestCompensationEmailWhileOpen: a compensation announced while the
// incident is still open says the incident page tells what is happening,
// not what happened; after the all-clear, what happened.
func TestCompensationEmailWhileOpen(t *testing.T) {
	r := newTestRenderer(t)
	for _, tt := range []struct {
		lang, open, ended string
	}{{"en", "tells what is happening", "tells what happened"}, {"hu", "mi történik", "mi történt"},
		{"pl", "co się dzieje", "co się stało"}, {"hr", "što se događa", "što se dogodilo"}} {
		in := operatorInput(queue.KindCompensation, tt.lang, "Card payments fail.")
		in.Compensation = "As an apology you will receive a credit of 5.00 EUR."
		m, err := r.Render(channel.Email, in)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, tt.open) || strings.Contains(m.Text, tt.ended) {
			t.Errorf("%s, open incident: %q", tt.lang, m.Text)
		}
		end := in.Incident.StartedAt.Add(time.Hour)
		in.Incident.Status, in.Incident.ResolvedAt = incident.Resolved, &end
		if m, err = r.Render(channel.Email, in); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, tt.ended) {
			t.Errorf("%s, resolved incident: %q", tt.lang, m.Text)
		}
	}
}

// TestShortDatesNameTheMonth: a maintenance window in an SMS names its
// month where the digits could be misread: Hungarian "márc. 1." (it was
// "03. 01.", which reads as the 3rd of January as easily as 1 March); the
// other languages keep their own forms.
func TestShortDatesNameTheMonth(t *testing.T) {
	r := newTestRenderer(t)
	for lang, want := range map[string]string{"hu": "márc. 1. 14:05", "en": "1 Mar 14:05", "pl": "01.03 14:05", "hr": "1. 3. u 14:05"} {
		m, err := r.Render(channel.SMS, operatorInput(queue.KindMaintenanceScheduled, lang, "Database upgrade."))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, want) {
			t.Errorf("%s maintenance SMS %q: want the window's start written %q", lang, m.Text, want)
		}
	}
}

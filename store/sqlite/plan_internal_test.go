package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/complaint"
)

// TestHotQueriesUseTheirIndexes checks the query plans of the statements
// that run per delivery, per receipt or per claim: each must search its
// index, never scan a table that grows with every broadcast. (Without
// "provider_id != ”" SQLite scanned deliveries for every status callback:
// it cannot use a partial index on the strength of a bound value.)
func TestHotQueriesUseTheirIndexes(t *testing.T) {
	ctx := context.Background()
	// The complaint service's filters, as FindComplaints builds them.
	contactOpenSQL, contactOpenArgs := findComplaintsSQL(complaint.Filter{PageID: "p1", ContactKey: "customer:k1", Open: true, Limit: 1})
	incidentOpenSQL, incidentOpenArgs := findComplaintsSQL(complaint.Filter{PageID: "p1", IncidentID: "i1", Open: true, Limit: 500})
	unackedSQL, unackedArgs := findComplaintsSQL(complaint.Filter{States: []complaint.State{complaint.StateNew}, Until: time.Now(), Limit: 500})
	// Repeat detection: one contact's complaints of the last 30 days, any state.
	repeatF := complaint.Filter{PageID: "p1", ContactKey: "customer:k1", Since: time.Now().Add(-720 * time.Hour), Limit: 50}
	repeatSQL, repeatArgs := findComplaintsSQL(repeatF)
	repeatCond, repeatCountArgs := complaintsWhere(repeatF)
	db, err := Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		name, query string
		args        []any
		want        string
	}{
		{"by provider ID", byProviderSQL, []any{"SM1"}, "USING INDEX deliveries_provider"},
		{"by ID", "SELECT " + deliveryColumns + deliveryFrom + " WHERE " + byID("d."), byIDArgs("0123456789abcdef01234567"), "USING INTEGER PRIMARY KEY"},
		{"due rows", dueRowsSQL(0), []any{"sms", 1, 10}, "USING INDEX deliveries_due_broadcast"},
		{"due replies", dueRowsSQL(1), []any{"sms", 1, 10}, "USING INDEX deliveries_due_replies"},
		{"due chunks", dueChunksSQL, []any{"sms", 1, 10}, "USING INDEX delivery_chunks_due"},
		{"receipt", statusSQL, []any{"delivered", "", "", nil, 1, 1, []byte("0123456789ab")}, "USING INTEGER PRIMARY KEY"},
		{"claim", claimSQL(0), []any{1, 1, 1, "sms", 1, 10}, "USING INDEX deliveries_due_broadcast"},
		{"claim replies", claimSQL(1), []any{1, 1, 1, "sms", 1, 10}, "USING INDEX deliveries_due_replies"},
		// Every inbound message: the contact's open complaint.
		{"complaints by contact, open", contactOpenSQL, contactOpenArgs, "USING INDEX complaints_page_contact"},
		{"complaints by contact since", repeatSQL, repeatArgs, "USING INDEX complaints_page_contact"},
		{"complaints by contact since, counted", "SELECT count(*) FROM " + complaintsFrom(repeatF) + repeatCond, repeatCountArgs, "INDEX complaints_page_contact"},
		// Every resolution: the incident's open complaints.
		{"complaints by incident, open", incidentOpenSQL, incidentOpenArgs, "USING INDEX complaints_page_incident"},
		{"complaints to check", toCheckSQL, []any{1, 500}, "USING INDEX complaints_check"},
		{"unacknowledged complaints", unackedSQL, unackedArgs, "USING INDEX complaints_state_created"},
		{"customers by phone", customersByAddressSQL("phone"), []any{"p1", "+36201234567"}, "USING INDEX customers_phone"},
		{"customers by email", customersByAddressSQL("email"), []any{"p1", "a@example.com"}, "USING INDEX customers_email_folded"},
		{"customers by Slack", customersByAddressSQL("slack"), []any{"p1", "U1"}, "USING INDEX customers_slack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := db.ReadSQL().QueryContext(ctx, "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			all := strings.Join(plan, "; ")
			if !strings.Contains(all, tt.want) {
				t.Errorf("plan %q does not say %q", all, tt.want)
			}
			for _, p := range plan {
				if strings.HasPrefix(p, "SCAN d") || p == "SCAN deliveries" || strings.HasPrefix(p, "SCAN delivery_chunks") ||
					strings.HasPrefix(p, "SCAN complaints") || strings.HasPrefix(p, "SCAN customers") {
					t.Errorf("plan scans a table: %q", all)
				}
			}
		})
	}
}

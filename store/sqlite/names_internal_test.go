package sqlite

import (
	"context"
	"testing"
)

// TestUpgradeIndexesCustomerNames opens a file written before customer
// names were indexed (schema 18) with customers in it, and checks that
// migration 0019 makes them findable by name.
func TestUpgradeIndexesCustomerNames(t *testing.T) {
	ctx := context.Background()
	path, w := fileBefore(t, nameMigration)
	for _, c := range [][3]string{{"p1", "c1", "Kovács Anna"}, {"p1", "c2", "Wójcik Łucja"}, {"p2", "c1", "Anna Másik"}, {"p1", "c3", ""}} {
		if _, err := w.ExecContext(ctx, `INSERT INTO customers (page_id, id, name, phone, email, slack, language, time_zone, plan, region,
			components, attributes, created_at, updated_at) VALUES (?, ?, ?, '', '', '', '', '', '', '', 'null', 'null', 0, 0)`, c[0], c[1], c[2]); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct{ page, q, want string }{{"p1", "anna", "c1"}, {"p1", "lucja", "c2"}, {"p2", "masik", "c1"}, {"p1", "masik", ""}} {
		cs, err := db.FindCustomersByName(ctx, tt.page, tt.q, 10)
		got := ""
		for _, c := range cs {
			got += c.ID
		}
		if err != nil || got != tt.want {
			t.Errorf("FindCustomersByName(%s, %q) = %q, %v; want %q", tt.page, tt.q, got, err, tt.want)
		}
	}
}

package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald/audience"
)

// RunCustomerNames checks FindCustomersByName: folded prefixes of any word
// of the name, every query word, the order, the limits, and that
// re-imports and deletions are followed at once. open must return a
// fresh, empty engine for each call.
func RunCustomerNames(t *testing.T, open func(t *testing.T) audience.Store) {
	t.Helper()
	ctx := context.Background()
	as := open(t)
	cust := func(page, id, name string) *audience.Customer {
		return &audience.Customer{ID: id, PageID: page, Name: name, CreatedAt: base, UpdatedAt: base}
	}
	if _, err := as.UpsertCustomers(ctx, []*audience.Customer{
		cust("pa", "c1", "Kovács Anna"),
		cust("pa", "c2", "Anna Nagy"),
		cust("pa", "c3", "Łucja Wójcik"),
		cust("pa", "c4", "Đurđa Horvat-Kovač"),
		cust("pa", "c5", "Annabelle Smith"),
		cust("pa", "c6", ""),
		cust("pa", "c7", "Anna Anna Annuska"), // one customer, several matching words
		cust("pb", "c1", "Anna Other-Page"),
	}); err != nil {
		t.Fatal(err)
	}
	find := func(t *testing.T, page, q string, limit int) string {
		t.Helper()
		return namesFound(t, as, page, q, limit)
	}

	t.Run("match", func(t *testing.T) {
		tests := []struct{ q, want string }{
			// anna (c1, c2, c7), then annabelle (c5), then annuska (none new): by word, then ID.
			{"ann", "c1 c2 c7 c5"},
			{"anna", "c1 c2 c7 c5"},
			{"ANNA", "c1 c2 c7 c5"},
			{"kovacs", "c1"},
			{"Kovács", "c1"},
			{"kov", "c4 c1"},       // kovac (Horvat-Kovač) sorts before kovacs
			{"kovač", "c4 c1"},     // folded; kovac begins kovacs too
			{"horvat", "c4"},       // a word after a hyphen
			{"lucja", "c3"},        // Ł folds to l
			{"wojcik łucja", "c3"}, // any order
			{"anna nagy", "c2"},
			{"nagy anna", "c2"},
			{"anna kov", "c1"},   // every word must match
			{"anna smith", "c5"}, // "anna" begins "annabelle"
			{"durda", "c4"},
			{"zoltan", ""},
			{"", ""},
			{"  -- ", ""},
			{"anna%", "c1 c2 c7 c5"}, // punctuation is no wildcard
			{"nagy_a", "c2"},         // words of the query, whatever is between them
		}
		for _, tt := range tests {
			if got := find(t, "pa", tt.q, 0); got != tt.want {
				t.Errorf("FindCustomersByName(pa, %q) = [%s], want [%s]", tt.q, got, tt.want)
			}
		}
		if got := find(t, "pb", "anna", 0); got != "c1" {
			t.Errorf("FindCustomersByName(pb, anna) = [%s], want [c1]", got)
		}
		if got := find(t, "nope", "anna", 0); got != "" {
			t.Errorf("FindCustomersByName(unknown page) = [%s], want none", got)
		}
	})

	t.Run("limit", func(t *testing.T) {
		if got := find(t, "pa", "ann", 2); got != "c1 c2" {
			t.Errorf("limit 2 = [%s], want [c1 c2]", got)
		}
		if got := find(t, "pa", "ann", 1000); got != "c1 c2 c7 c5" {
			t.Errorf("limit 1000 = [%s]", got)
		}
	})

	t.Run("follows renames and deletions", func(t *testing.T) {
		renamed := cust("pa", "c2", "Bea Tóth")
		if _, err := as.UpsertCustomers(ctx, []*audience.Customer{renamed}); err != nil {
			t.Fatal(err)
		}
		if got := find(t, "pa", "nagy", 0); got != "" {
			t.Errorf("the old name still finds c2: [%s]", got)
		}
		if got := find(t, "pa", "toth", 0); got != "c2" {
			t.Errorf("the new name: [%s], want [c2]", got)
		}
		if err := as.DeleteCustomer(ctx, "pa", "c1"); err != nil {
			t.Fatal(err)
		}
		if got := find(t, "pa", "anna", 0); got != "c7 c5" {
			t.Errorf("after deleting c1: [%s], want [c7 c5]", got)
		}
		if got := find(t, "pb", "anna", 0); got != "c1" {
			t.Errorf("deleting pa/c1 touched pb/c1: [%s]", got)
		}
		// Re-imported unchanged: found once.
		if _, err := as.UpsertCustomers(ctx, []*audience.Customer{cust("pa", "c7", "Anna Anna Annuska")}); err != nil {
			t.Fatal(err)
		}
		if got := find(t, "pa", "annu", 0); got != "c7" {
			t.Errorf("after re-import: [%s], want [c7]", got)
		}
		// Named after having no name.
		if _, err := as.UpsertCustomers(ctx, []*audience.Customer{cust("pa", "c6", "Zsófia Kiss")}); err != nil {
			t.Fatal(err)
		}
		if got := find(t, "pa", "zsofia", 0); got != "c6" {
			t.Errorf("a customer named on re-import: [%s], want [c6]", got)
		}
	})

	t.Run("many", func(t *testing.T) {
		as := open(t)
		var cs []*audience.Customer
		for i := range 3000 {
			cs = append(cs, cust("pm", fmt.Sprintf("m%04d", i), fmt.Sprintf("Mária Szabó %d", i)))
		}
		cs = append(cs, cust("pm", "z1", "Márton Rare"))
		if _, err := as.UpsertCustomers(ctx, cs); err != nil {
			t.Fatal(err)
		}
		got, err := as.FindCustomersByName(ctx, "pm", "maria", 0)
		if err != nil || len(got) != audience.MaxNameResults || got[0].ID != "m0000" || got[len(got)-1].ID != fmt.Sprintf("m%04d", audience.MaxNameResults-1) {
			t.Errorf("a common name: %d customers, %v", len(got), err)
		}
		if got := namesFound(t, as, "pm", "mar rare", 5); got != "z1" {
			t.Errorf("mar rare = [%s], want [z1] (the rarer word is read from the index)", got)
		}
		if got := namesFound(t, as, "pm", "mária 1234", 5); got != "m1234" {
			t.Errorf("mária 1234 = [%s], want [m1234]", got)
		}
		// The rarest word is the one read: a common longer word with a
		// rare shorter one, beyond the first MaxNameScan of the common.
		if got := namesFound(t, as, "pm", "maria 2999", 5); got != "m2999" {
			t.Errorf("maria 2999 = [%s], want [m2999] (the rarer word is read from the index)", got)
		}
		if _, err := as.UpsertCustomers(ctx, []*audience.Customer{cust("pm", "z2", "Mária Wu")}); err != nil {
			t.Fatal(err)
		}
		if got := namesFound(t, as, "pm", "maria wu", 5); got != "z2" {
			t.Errorf("maria wu = [%s], want [z2]", got)
		}
	})
}

// namesFound returns the IDs FindCustomersByName finds, space-separated.
func namesFound(t *testing.T, as audience.Store, page, q string, limit int) string {
	t.Helper()
	cs, err := as.FindCustomersByName(context.Background(), page, q, limit)
	if err != nil {
		t.Fatalf("FindCustomersByName(%s, %q): %v", page, q, err)
	}
	if cs == nil {
		t.Errorf("FindCustomersByName(%s, %q) = nil, want a list", page, q)
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		if c.PageID != page {
			t.Errorf("FindCustomersByName(%s, %q) returned %s of page %s", page, q, c.ID, c.PageID)
		}
		ids[i] = c.ID
	}
	return strings.Join(ids, " ")
}

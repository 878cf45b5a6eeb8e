package redis

import (
	"context"
	"testing"

	"github.com/heraldhq/herald/audience"
)

// TestCustomerNamesBuild checks that customers written before the name
// index existed (a deployment upgraded in place) are found by name: the
// first search of the page builds the index in batches, and a customer
// renamed or deleted meanwhile is indexed as it is now.
func TestCustomerNamesBuild(t *testing.T) {
	ctx := context.Background()
	prefix := testPrefix(t)
	db := openTest(t, prefix)
	defer db.Close()
	db.addrBatch = 2
	var cs []*audience.Customer
	for _, c := range [][2]string{{"c1", "Kovács Anna"}, {"c2", "Wójcik Łucja"}, {"c3", "Anna Nagy"}, {"c4", "Tóth Bea"}, {"c5", ""}} {
		cs = append(cs, &audience.Customer{ID: c[0], PageID: "pa", Name: c[1], CreatedAt: t0, UpdatedAt: t0})
	}
	if _, err := db.UpsertCustomers(ctx, cs); err != nil {
		t.Fatal(err)
	}
	// Forget the index, as if the customers predated it.
	rdb := needRedis(t)
	if err := rdb.Del(ctx, db.keys.customerNames("pa"), db.keys.customerNameWords("pa"), db.keys.customerNamesBuilt("pa")).Err(); err != nil {
		t.Fatal(err)
	}
	// Changed before any search: renamed (the upsert indexes the new name)
	// and deleted (nothing to index).
	if _, err := db.UpsertCustomers(ctx, []*audience.Customer{{ID: "c4", PageID: "pa", Name: "Tóth Annamária", CreatedAt: t0, UpdatedAt: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteCustomer(ctx, "pa", "c3"); err != nil {
		t.Fatal(err)
	}
	fresh := openTest(t, prefix)
	defer fresh.Close()
	fresh.addrBatch = 2
	for _, tt := range []struct{ q, want string }{{"anna", "c1 c4"}, {"lucja", "c2"}, {"nagy", ""}, {"bea", ""}} {
		got := ""
		cs, err := fresh.FindCustomersByName(ctx, "pa", tt.q, 10)
		for i, c := range cs {
			if i > 0 {
				got += " "
			}
			got += c.ID
		}
		if err != nil || got != tt.want {
			t.Errorf("FindCustomersByName(%q) = %q, %v; want %q", tt.q, got, err, tt.want)
		}
	}
	if n, _ := rdb.Exists(ctx, fresh.keys.customerNamesBuilt("pa")).Result(); n != 1 {
		t.Error("the build set no marker")
	}
}

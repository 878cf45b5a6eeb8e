package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
)

// TestStagedImportLeavesNoStaging: a staged import (more customers than
// one script takes) switches in whole and leaves no staging key behind;
// a write to the page's customers between the copy and the switch (here a
// delete from inside the staging, by a tiny chunk size and a hook-free
// race: the version check) makes the switch stage again rather than lose
// the write.
func TestStagedImportLeavesNoStaging(t *testing.T) {
	prefix := testPrefix(t)
	db := openTest(t, prefix)
	db.importChunk = 7
	ctx := context.Background()
	now := time.Now()
	mk := func(n int, name string) []*audience.Customer {
		cs := make([]*audience.Customer, n)
		for i := range cs {
			cs[i] = &audience.Customer{ID: fmt.Sprintf("k%03d", i), PageID: "pstage", Name: name, Phone: fmt.Sprintf("+3620%07d", i),
				CreatedAt: now, UpdatedAt: now}
		}
		return cs
	}
	if n, err := db.UpsertCustomers(ctx, mk(50, "first")); err != nil || n != 50 {
		t.Fatalf("first import = %d, %v; want 50 created", n, err)
	}
	if n, err := db.UpsertCustomers(ctx, mk(60, "second")); err != nil || n != 10 {
		t.Fatalf("second import = %d, %v; want 10 created", n, err)
	}
	if c, _ := db.FindCustomerByID(ctx, "pstage", "k049"); c == nil || c.Name != "second" {
		t.Errorf("k049 after the second import: %+v", c)
	}
	if cs, err := db.FindCustomersByAddress(ctx, "pstage", "sms", "+36200000059"); err != nil || len(cs) != 1 {
		t.Errorf("address index after the staged import: %v, %v", cs, err)
	}
	// The name index came through the staging too: every customer is
	// "second" now, and none is still found as "first".
	if cs, err := db.FindCustomersByName(ctx, "pstage", "second", 100); err != nil || len(cs) != 60 {
		t.Errorf("name search after the staged import: %d, %v; want 60", len(cs), err)
	}
	if cs, err := db.FindCustomersByName(ctx, "pstage", "first", 100); err != nil || len(cs) != 0 {
		t.Errorf("old name after the staged import: %d, %v; want 0", len(cs), err)
	}
	if n, _ := db.CountCustomers(ctx, "pstage"); n != 60 {
		t.Errorf("count %d, want 60", n)
	}
	keys, err := db.client.Keys(ctx, prefix+":*customers:import:*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("staging keys left: %v (%v)", keys, err)
	}
	for _, k := range []string{db.keys.customers("pstage"), db.keys.customerIDs("pstage"), db.keys.customerAddresses("pstage")} {
		if ttl, _ := db.client.PTTL(ctx, k).Result(); ttl != -1 {
			t.Errorf("%s has a TTL after the switch: %s", k, ttl)
		}
	}

	// The version moves between begin and switch: the switch refuses, and
	// nothing changes.
	args := []any{}
	for _, c := range mk(20, "third") {
		doc, _ := encode(c)
		args = append(args, c.ID, doc, c.Phone, c.Email, c.Slack, c.Name)
	}
	live := []string{db.keys.customers("pstage"), db.keys.customerIDs("pstage"), db.keys.customerAddresses("pstage"),
		db.keys.customerNames("pstage"), db.keys.customerNameWords("pstage")}
	staging := []string{prefix + ":s1", prefix + ":s2", prefix + ":s3", prefix + ":s5", prefix + ":s6"}
	ver, err := beginCustomerImportScript.Run(ctx, db.client, concat(live, []string{db.keys.customersVersion("pstage")}, staging), 60000).Int64()
	if err != nil {
		t.Fatal(err)
	}
	stageKeys := []string{staging[0], staging[1], staging[2], prefix + ":s4", staging[3], staging[4], prefix + ":s7"}
	if _, err := stageCustomersScript.Run(ctx, db.client, stageKeys, append([]any{60000}, args...)...).Int(); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteCustomer(ctx, "pstage", "k059"); err != nil {
		t.Fatal(err)
	}
	markers := []string{db.keys.customerAddressesBuilt("pstage"), db.keys.customerNamesBuilt("pstage")}
	ok, err := switchCustomerImportScript.Run(ctx, db.client, concat(live, markers, []string{db.keys.customersVersion("pstage")}, staging), ver).Int()
	if err != nil || ok != 0 {
		t.Fatalf("switch after a concurrent delete = %d, %v; want 0 (refused)", ok, err)
	}
	if c, _ := db.FindCustomerByID(ctx, "pstage", "k000"); c == nil || c.Name != "second" {
		t.Errorf("a refused switch changed k000: %+v", c)
	}
	if _, err := db.FindCustomerByID(ctx, "pstage", "k059"); err == nil {
		t.Errorf("the concurrent delete was undone")
	}
}

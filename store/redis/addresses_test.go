package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
)

// The address index (customers:addrs) is built lazily for customers
// written before it existed. These tests write customers, then delete the
// index and its marker: the layout a deployment upgraded in place has.

func addrCustomer(id, pageID, phone, email, slack string) *audience.Customer {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return &audience.Customer{ID: id, PageID: pageID, Name: "Customer " + id,
		Phone: phone, Email: email, Slack: slack, CreatedAt: at, UpdatedAt: at}
}

// forgetAddressIndex turns the page's keys into the pre-index layout.
func forgetAddressIndex(t testing.TB, db *DB, pageID string) {
	t.Helper()
	if err := needRedis(t).Del(context.Background(), db.keys.customerAddresses(pageID), db.keys.customerAddressesBuilt(pageID)).Err(); err != nil {
		t.Fatal(err)
	}
}

// oldWrite stores a customer as the code before the index did: the
// document and the ID index, no address entries.
func oldWrite(t testing.TB, db *DB, c *audience.Customer) {
	t.Helper()
	doc, err := encode(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, rdb := context.Background(), needRedis(t)
	if err := rdb.HSet(ctx, db.keys.customers(c.PageID), c.ID, doc).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZAdd(ctx, db.keys.customerIDs(c.PageID), goredis.Z{Member: c.ID}).Err(); err != nil {
		t.Fatal(err)
	}
}

// oldDelete deletes a customer as the code before the index did.
func oldDelete(t testing.TB, db *DB, pageID, id string) {
	t.Helper()
	ctx, rdb := context.Background(), needRedis(t)
	if err := rdb.HDel(ctx, db.keys.customers(pageID), id).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZRem(ctx, db.keys.customerIDs(pageID), id).Err(); err != nil {
		t.Fatal(err)
	}
}

func hasMarker(t testing.TB, db *DB, pageID string) bool {
	t.Helper()
	n, err := needRedis(t).Exists(context.Background(), db.keys.customerAddressesBuilt(pageID)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// checkIndexExact compares the page's address index with the members its
// current customer documents call for: nothing missing, nothing stale.
func checkIndexExact(t *testing.T, db *DB, pageID string) int {
	t.Helper()
	ctx, rdb := context.Background(), needRedis(t)
	docs, err := rdb.HGetAll(ctx, db.keys.customers(pageID)).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{}
	for id, doc := range docs {
		var c audience.Customer
		if err := json.Unmarshal([]byte(doc), &c); err != nil {
			t.Fatal(err)
		}
		for _, a := range []struct{ kind, addr string }{{"sms", c.Phone}, {"email", c.Email}, {"slack", c.Slack}} {
			if a.addr != "" {
				want = append(want, a.kind+"\x00"+a.addr+"\x00"+id)
			}
		}
	}
	slices.Sort(want)
	got, err := rdb.ZRange(ctx, db.keys.customerAddresses(pageID), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		got = []string{}
	}
	if !slices.Equal(got, want) {
		missing, stale := 0, 0
		for _, m := range want {
			if !slices.Contains(got, m) {
				missing++
			}
		}
		for _, m := range got {
			if !slices.Contains(want, m) {
				stale++
			}
		}
		t.Errorf("page %s: address index has %d members, want %d (%d missing, %d stale)", pageID, len(got), len(want), missing, stale)
	}
	return len(want)
}

func findIDs(t *testing.T, db *DB, pageID string, kind channel.Kind, address string) []string {
	t.Helper()
	got, err := db.FindCustomersByAddress(context.Background(), pageID, kind, address)
	if err != nil {
		t.Fatalf("FindCustomersByAddress(%s, %s, %q): %v", pageID, kind, address, err)
	}
	ids := []string{}
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	return ids
}

func wantIDs(t *testing.T, db *DB, pageID string, kind channel.Kind, address string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := findIDs(t, db, pageID, kind, address); !slices.Equal(got, want) {
		t.Errorf("FindCustomersByAddress(%s, %s, %q) = %v, want %v", pageID, kind, address, got, want)
	}
}

// TestCustomerAddressBackfill: customers of the pre-index layout are found
// once the first lookup has built the index, as they are now.
func TestCustomerAddressBackfill(t *testing.T) {
	prefix := testPrefix(t)
	ctx := context.Background()
	old := openTest(t, prefix)
	defer old.Close()

	const p1, p2, p3, p4, p5 = "+36201110001", "+36201110002", "+36201110003", "+36201110004", "+36201110005"
	cs := []*audience.Customer{
		addrCustomer("a", "pa", p1, "ann@example.com", "U1"),
		addrCustomer("b", "pa", p2, "", ""),
		addrCustomer("c", "pa", p3, "", ""),
		addrCustomer("d", "pa", p1, "", "https://hooks.slack.com/services/T/B/X"),
		addrCustomer("e", "pa", p4, "", ""),
		addrCustomer("f", "pa", p5, "", ""),
		addrCustomer("a", "pb", p1, "", ""),
	}
	if _, err := old.UpsertCustomers(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if !hasMarker(t, old, "pa") || !hasMarker(t, old, "pb") {
		t.Fatal("the first upsert into an empty page set no marker")
	}
	forgetAddressIndex(t, old, "pa")
	forgetAddressIndex(t, old, "pb")
	// The index of a release before emails were folded: its build drops it.
	legacy := old.keys.legacyCustomerAddresses("pa")
	if err := needRedis(t).ZAdd(ctx, legacy[0], goredis.Z{Member: "email\x00Ann@example.com\x00a"}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := needRedis(t).Set(ctx, legacy[1], "1", 0).Err(); err != nil {
		t.Fatal(err)
	}

	// Before the upgrade's first lookup: b changed its phone and c was
	// deleted by a node of the old layout; e changed and f was deleted
	// through the new scripts (which keep the index, but cannot remove
	// entries a build has not written yet).
	oldWrite(t, old, addrCustomer("b", "pa", p3, "b@example.com", ""))
	oldDelete(t, old, "pa", "c")
	if _, err := old.UpsertCustomers(ctx, []*audience.Customer{addrCustomer("e", "pa", p2, "", "")}); err != nil {
		t.Fatal(err)
	}
	if err := old.DeleteCustomer(ctx, "pa", "f"); err != nil {
		t.Fatal(err)
	}
	if hasMarker(t, old, "pa") {
		t.Fatal("an upsert into a page with customers set the marker")
	}

	db := openTest(t, prefix) // a fresh process: nothing remembered
	defer db.Close()
	wantIDs(t, db, "pa", channel.SMS, p1, "a", "d")
	if !hasMarker(t, db, "pa") {
		t.Error("the build set no marker")
	}
	if hasMarker(t, db, "pb") {
		t.Error("a lookup on pa built pb")
	}
	checkIndexExact(t, db, "pa")
	wantIDs(t, db, "pa", channel.SMS, p3, "b") // b's new phone; c is gone
	wantIDs(t, db, "pa", channel.SMS, p2, "e") // e's new phone, not b's old one
	wantIDs(t, db, "pa", channel.SMS, p4)      // e's old phone
	wantIDs(t, db, "pa", channel.SMS, p5)      // f, deleted
	wantIDs(t, db, "pa", channel.Email, "ann@EXAMPLE.com", "a")
	wantIDs(t, db, "pa", channel.Email, "ANN@example.com", "a")
	if n := needRedis(t).Exists(ctx, legacy...).Val(); n != 0 {
		t.Errorf("%d keys of the legacy address index left after the build", n)
	}
	wantIDs(t, db, "pa", channel.Email, "b@example.com", "b")
	wantIDs(t, db, "pa", channel.Slack, "U1", "a")
	wantIDs(t, db, "pa", channel.Slack, "https://hooks.slack.com/services/T/B/X", "d")
	wantIDs(t, db, "pb", channel.SMS, p1, "a")
	checkIndexExact(t, db, "pb")

	// After the build the scripts keep the index as before.
	if _, err := db.UpsertCustomers(ctx, []*audience.Customer{addrCustomer("a", "pa", p5, "", "")}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteCustomer(ctx, "pa", "d"); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, db, "pa", channel.SMS, p1)
	wantIDs(t, db, "pa", channel.SMS, p5, "a")
	checkIndexExact(t, db, "pa")

	t.Run("remembered per process", func(t *testing.T) {
		// Once the process knows the page is built it reads neither the
		// marker nor the hash again: with both gone, nothing is rebuilt.
		forgetAddressIndex(t, db, "pa")
		wantIDs(t, db, "pa", channel.SMS, p5)
		if hasMarker(t, db, "pa") {
			t.Error("a remembered page was built again")
		}
		// A marker found in Redis is remembered too, without a build.
		other := openTest(t, prefix)
		defer other.Close()
		if err := needRedis(t).Set(ctx, other.keys.customerAddressesBuilt("pa"), "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, other, "pa", channel.SMS, p5)
		if _, ok := other.addrBuilt.Load("pa"); !ok {
			t.Error("the marker was not remembered")
		}
	})

	t.Run("page without customers", func(t *testing.T) {
		// Nothing to build and nothing written (a lookup must not leave
		// keys behind for any page ID); the first upsert sets the marker.
		fresh := openTest(t, prefix)
		defer fresh.Close()
		wantIDs(t, fresh, "pnone", channel.SMS, p1)
		if _, ok := fresh.addrBuilt.Load("pnone"); !ok {
			t.Error("an empty page was not remembered as built")
		}
		keys, err := needRedis(t).Keys(ctx, prefix+":page:{pnone}:*").Result()
		if err != nil || len(keys) != 0 {
			t.Errorf("keys of a page without customers after a lookup: %v, %v", keys, err)
		}
		if _, err := fresh.UpsertCustomers(ctx, []*audience.Customer{addrCustomer("z", "pnone", p1, "", "")}); err != nil {
			t.Fatal(err)
		}
		if !hasMarker(t, fresh, "pnone") {
			t.Error("the first upsert set no marker")
		}
		again := openTest(t, prefix)
		defer again.Close()
		wantIDs(t, again, "pnone", channel.SMS, p1, "z")
	})
}

// TestCustomerAddressBuildConcurrent: two nodes build a page of old-layout
// customers at once, in small batches, while customers are changed,
// deleted and added; afterwards the index is exactly what the documents
// call for.
func TestCustomerAddressBuildConcurrent(t *testing.T) {
	prefix := testPrefix(t)
	ctx := context.Background()
	w := openTest(t, prefix)
	defer w.Close()
	const n = 2000 // well past the listpack limit, so HSCAN takes many steps
	phone := func(i int) string { return fmt.Sprintf("+3620%07d", i) }
	cs := make([]*audience.Customer, 0, n)
	for i := range n {
		cs = append(cs, addrCustomer(fmt.Sprintf("c%05d", i), "pa", phone(i), fmt.Sprintf("c%d@example.com", i), ""))
	}
	if _, err := w.UpsertCustomers(ctx, cs); err != nil {
		t.Fatal(err)
	}
	forgetAddressIndex(t, w, "pa")

	nodes := []*DB{openTest(t, prefix), openTest(t, prefix)}
	for _, db := range nodes {
		db.addrBatch = 20
		defer db.Close()
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, db := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := db.FindCustomersByAddress(ctx, "pa", channel.SMS, phone(1)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i += 7 {
			var err error
			switch i % 3 {
			case 0: // a new phone
				_, err = w.UpsertCustomers(ctx, []*audience.Customer{addrCustomer(fmt.Sprintf("c%05d", i), "pa", phone(n+i), "", "U"+fmt.Sprint(i))})
			case 1:
				err = w.DeleteCustomer(ctx, "pa", fmt.Sprintf("c%05d", i))
			case 2: // a new customer
				_, err = w.UpsertCustomers(ctx, []*audience.Customer{addrCustomer(fmt.Sprintf("n%05d", i), "pa", phone(i), "", "")})
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if !hasMarker(t, w, "pa") {
		t.Fatal("no marker after the build")
	}
	if got := checkIndexExact(t, w, "pa"); got < n {
		t.Errorf("only %d index members", got)
	}
	wantIDs(t, nodes[0], "pa", channel.SMS, phone(7))                      // 7 % 3 == 1: deleted
	wantIDs(t, nodes[0], "pa", channel.SMS, phone(14), "c00014", "n00014") // a new customer beside the old one
	wantIDs(t, nodes[1], "pa", channel.SMS, phone(21))                     // changed: the old phone is gone
	wantIDs(t, nodes[1], "pa", channel.SMS, phone(n+21), "c00021")
}

// TestCustomerAddressBuild10k builds the index of 10 000 old-layout
// customers and reports how long the first lookup took (not asserted:
// the machine is shared).
func TestCustomerAddressBuild10k(t *testing.T) {
	prefix := testPrefix(t)
	ctx := context.Background()
	w := openTest(t, prefix)
	defer w.Close()
	const n = 10_000
	for start := 0; start < n; start += 1000 {
		cs := make([]*audience.Customer, 0, 1000)
		for i := start; i < start+1000; i++ {
			c := addrCustomer(fmt.Sprintf("cust-%05d", i), "big", fmt.Sprintf("+3630%07d", i), fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("U%07d", i))
			c.Plan, c.Region, c.Language = "enterprise", "eu-central", "hu"
			c.Components = []string{"api", "web"}
			c.Attributes = map[string]string{"account": fmt.Sprintf("acct-%d", i)}
			cs = append(cs, c)
		}
		if _, err := w.UpsertCustomers(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	forgetAddressIndex(t, w, "big")

	db := openTest(t, prefix)
	defer db.Close()
	begin := time.Now()
	wantIDs(t, db, "big", channel.SMS, fmt.Sprintf("+3630%07d", 9876), "cust-09876")
	took := time.Since(begin)
	t.Logf("first lookup of a page of %d old-layout customers (build included): %v", n, took)
	begin = time.Now()
	wantIDs(t, db, "big", channel.Email, "user42@example.com", "cust-00042")
	t.Logf("next lookup: %v", time.Since(begin))
	if got := checkIndexExact(t, db, "big"); got != 3*n {
		t.Errorf("%d index members, want %d", got, 3*n)
	}
}

package sqlite_test

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
)

var nameCustomers = flag.Int("name-customers", 100_000, "customers BenchmarkFindCustomersByName loads")

// BenchmarkFindCustomersByName searches a page of -name-customers
// customers (hu, pl and hr names) as an agent types: a full name, a
// surname, and a two-letter prefix shared by a good part of the page.
func BenchmarkFindCustomersByName(b *testing.B) {
	ctx := context.Background()
	db := open(b, filepath.Join(b.TempDir(), "herald.db"))
	b.Cleanup(func() { db.Close() })
	first := []string{"Anna", "Ágnes", "Zsófia", "Łucja", "Małgorzata", "Ivana", "Đurđa", "Péter", "Krzysztof", "Marko", "Gábor", "Zoltán", "Tomasz", "Ivan", "Józef", "Katarzyna"}
	last := []string{"Kovács", "Nagy", "Szabó", "Tóth", "Horváth", "Kiss", "Nowak", "Wiśniewski", "Wójcik", "Kowalczyk", "Horvat", "Kovačević", "Babić", "Marić", "Jurić", "Novak"}
	start := time.Now()
	const batchSize = 5000
	batch := make([]*audience.Customer, 0, batchSize)
	now := time.Now().UTC()
	for i := range *nameCustomers {
		name := fmt.Sprintf("%s %s-%s %d", first[i%len(first)], last[(i/7)%len(last)], last[(i/131)%len(last)], i)
		batch = append(batch, &audience.Customer{ID: fmt.Sprintf("c%08d", i), PageID: "p1", Name: name, Phone: fmt.Sprintf("+3620%07d", i),
			CreatedAt: now, UpdatedAt: now})
		if len(batch) == batchSize {
			if _, err := db.UpsertCustomers(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if _, err := db.UpsertCustomers(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded %d customers in %s", *nameCustomers, time.Since(start).Round(time.Millisecond))
	for _, q := range []string{"anna kovacs", "wojcik", "ko", "zsofia babic 4242"} {
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := db.FindCustomersByName(ctx, "p1", q, 20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

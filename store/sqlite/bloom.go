package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
)

// idFilter is a Bloom filter over the keys (idHash) of every delivery ID in
// both ID levels. Planning asks it first whether a delivery's ID may exist:
// almost every ID of a plan is new, the filter says so for all but about 1%
// of them, and only those few are looked up in SQL. Without it, checking
// each batch against the ID levels was a quarter of planning's CPU.
//
// The filter lives in memory, next to the one writer connection. Keys are
// added as they are written, before the transaction commits: a rollback
// leaves extra keys, which only cost a lookup. Another process writing the
// file would make it wrong, so every use checks PRAGMA data_version, which
// changes when another connection commits, and rebuilds the filter then.
type idFilter struct {
	bits    []uint64
	mask    uint64 // len(bits)*64 - 1 (a power of two)
	n, capa int    // keys added; keys the size was chosen for
	version int64  // data_version when built
}

// filterBitsPerKey and filterProbes give a false-positive rate near 1%.
const (
	filterBitsPerKey = 10
	filterProbes     = 7
)

func newIDFilter(capa int) *idFilter {
	capa = max(capa, 1<<16)
	m := uint64(1) << bits.Len64(uint64(capa*filterBitsPerKey-1))
	return &idFilter{bits: make([]uint64, m/64), mask: m - 1, capa: capa}
}

// probes returns the filter's bit positions for k: double hashing over two
// halves of a mixed key (IDs other than notify.DeliveryIDs hash by FNV).
func (f *idFilter) probe(k int64, fn func(bit uint64) bool) bool {
	x := uint64(k)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	h1, h2 := x, x>>32|1
	for i := range uint64(filterProbes) {
		if !fn((h1 + i*h2) & f.mask) {
			return false
		}
	}
	return true
}

func (f *idFilter) add(k int64) {
	f.probe(k, func(b uint64) bool { f.bits[b/64] |= 1 << (b % 64); return true })
	f.n++
}

// mayHave reports whether k may have been added (false: it never was).
func (f *idFilter) mayHave(k int64) bool {
	return f.probe(k, func(b uint64) bool { return f.bits[b/64]&(1<<(b%64)) != 0 })
}

// filter returns the ID filter, up to date with the file, for use inside
// the write transaction tx (whose write lock keeps other writers out while
// it is used). It rebuilds it when another connection has committed since,
// or when it holds more keys than it was sized for.
func (db *DB) filter(ctx context.Context, tx *sql.Tx) (*idFilter, error) {
	var version int64
	if err := tx.QueryRowContext(ctx, "PRAGMA data_version").Scan(&version); err != nil {
		return nil, fmt.Errorf("sqlite: delivery ID filter: %w", err)
	}
	f := db.ids
	if f != nil && f.version == version && f.n <= f.capa {
		return f, nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM delivery_ids) + (SELECT count(*) FROM delivery_ids_new)").Scan(&n); err != nil {
		return nil, fmt.Errorf("sqlite: delivery ID filter: %w", err)
	}
	f = newIDFilter(2 * n)
	rows, err := tx.QueryContext(ctx, "SELECT k FROM delivery_ids UNION ALL SELECT k FROM delivery_ids_new")
	if err != nil {
		return nil, fmt.Errorf("sqlite: delivery ID filter: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sqlite: delivery ID filter: %w", err)
		}
		f.add(k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: delivery ID filter: %w", err)
	}
	f.version = version
	db.ids = f
	return f, nil
}

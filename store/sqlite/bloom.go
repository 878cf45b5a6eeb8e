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
	blocks  [][8]uint64 // one 64-byte cache line each
	mask    uint64      // len(blocks) - 1 (a power of two)
	n, capa int         // keys added; keys the size was chosen for
	version int64       // data_version when built
}

// filterBitsPerKey gives a false-positive rate near 1% with split blocks.
const filterBitsPerKey = 12

// blockSalts are the Parquet split-block Bloom filter's odd constants: key
// bits i are chosen by multiplying with salt i.
var blockSalts = [8]uint32{0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31}

func newIDFilter(capa int) *idFilter {
	capa = max(capa, 1<<16)
	nb := uint64(1) << bits.Len64(uint64(capa*filterBitsPerKey/512))
	return &idFilter{blocks: make([][8]uint64, nb), mask: nb - 1, capa: capa}
}

// block returns k's block and the bit it sets in each of the block's eight
// words: a split-block Bloom filter (as in Parquet), so a key touches one
// cache line instead of one per probe, which was most of the filter's cost.
func (f *idFilter) block(k int64) (*[8]uint64, [8]uint64) {
	x := uint64(k)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	var m [8]uint64
	lo := uint32(x)
	for i, salt := range blockSalts {
		m[i] = 1 << ((lo * salt) >> 26)
	}
	return &f.blocks[(x>>32)&f.mask], m
}

func (f *idFilter) add(k int64) {
	b, m := f.block(k)
	for i := range b {
		b[i] |= m[i]
	}
	f.n++
}

func (f *idFilter) mayHave(k int64) bool {
	b, m := f.block(k)
	for i := range b {
		if b[i]&m[i] == 0 {
			return false
		}
	}
	return true
}

// filter returns the ID filter, up to date with the file, for use inside
// the write transaction tx (whose write lock keeps other writers out while
// it is used). It rebuilds it when another connection has committed since,
// or when it holds more keys than it was sized for.
const dataVersionSQL = "PRAGMA data_version"

func (db *DB) filter(ctx context.Context, tx *sql.Tx) (*idFilter, error) {
	var version int64
	if err := db.txRow(ctx, tx, dataVersionSQL).Scan(&version); err != nil {
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

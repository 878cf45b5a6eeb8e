package sqlite

import "fmt"

// SetMergeEvery makes db merge its new delivery IDs into the big level
// after every n deliveries, so tests reach both levels with few rows.
func SetMergeEvery(db *DB, n int64) { db.mergeEvery = n }

// SaveGroups returns how many groups of complaint saves db has written.
func SaveGroups(db *DB) int {
	db.saves.mu.Lock()
	defer db.saves.mu.Unlock()
	return db.saves.groups
}

// SetMinFree changes the free space db's ProbeWrite asks for.
func SetMinFree(db *DB, n uint64) { db.minFree = n }

// SetMaxPageCount caps db's file at n pages on its writer, so that a write
// past them fails as on a full disk (SQLITE_FULL).
func SetMaxPageCount(db *DB, n int) error {
	_, err := db.w.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", n))
	return err
}

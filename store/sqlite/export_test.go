package sqlite

// SetMergeEvery makes db merge its new delivery IDs into the big level
// after every n deliveries, so tests reach both levels with few rows.
func SetMergeEvery(db *DB, n int64) { db.mergeEvery = n }

// SaveGroups returns how many groups of complaint saves db has written.
func SaveGroups(db *DB) int {
	db.saves.mu.Lock()
	defer db.saves.mu.Unlock()
	return db.saves.groups
}

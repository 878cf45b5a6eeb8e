package slackapp

import "testing"

// SetHistoryPages makes the look for a crashed post read at most n pages of
// the channel's history until t ends. Call it before starting a node, and
// not in a parallel test: the nodes read it without a lock.
func SetHistoryPages(t testing.TB, n int) {
	old := historyPages
	historyPages = n
	t.Cleanup(func() { historyPages = old })
}

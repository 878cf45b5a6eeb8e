package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// testAutoReplies: queue.AutoReplies counts an address's automatic
// answers in a rolling window: max go, the next is refused, the same
// answer asked again is no second one, the window rolls, addresses count
// apart, and concurrent takers (other nodes) never get more than max
// between them.
func testAutoReplies(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	const window, max = time.Hour, 3
	take := func(t *testing.T, key, id string, now time.Time) bool {
		t.Helper()
		ok, err := ns.TakeAutoReply(ctx, key, id, now, window, max)
		if err != nil {
			t.Fatalf("TakeAutoReply(%s, %s): %v", key, id, err)
		}
		return ok
	}
	const anna = "email:anna@example.org"
	for i := range max {
		if !take(t, anna, fmt.Sprintf("a%d", i), at(time.Duration(i)*time.Minute)) {
			t.Fatalf("answer %d of %d refused", i+1, max)
		}
	}
	if take(t, anna, "a3", at(10*time.Minute)) {
		t.Fatalf("answer %d taken; want refused (at most %d within %s)", max+1, max, window)
	}
	if !take(t, anna, "a1", at(11*time.Minute)) {
		t.Error("the same answer again (a retry) refused; want taken, as it was")
	}
	if !take(t, "sms:+36201234567", "b0", at(12*time.Minute)) || !take(t, "email:bob@example.org", "c0", at(12*time.Minute)) {
		t.Error("another address refused: each address counts apart")
	}
	// a0 was taken at 0: an hour later it is out of the window, and one
	// more answer goes; the next is refused again (a1 and a2 still count).
	if !take(t, anna, "a4", at(window)) {
		t.Error("an answer a window after the first refused; want taken")
	}
	if take(t, anna, "a5", at(window+30*time.Second)) {
		t.Error("a fourth answer within the window taken after it rolled by one")
	}
	if !take(t, anna, "a6", at(window+2*time.Minute+time.Second)) {
		t.Error("an answer a window after the first three refused; want taken")
	}

	t.Run("invalid", func(t *testing.T) {
		for _, tt := range []struct {
			key, id string
			window  time.Duration
			max     int
		}{{"", "x", time.Hour, 1}, {"k", "", time.Hour, 1}, {"k", "x", 0, 1}, {"k", "x", time.Hour, 0}} {
			if _, err := ns.TakeAutoReply(ctx, tt.key, tt.id, at(0), tt.window, tt.max); incident.ErrorCode(err) != incident.EINVALID {
				t.Errorf("TakeAutoReply(%q, %q, %s, %d) = %v, want EINVALID", tt.key, tt.id, tt.window, tt.max, err)
			}
		}
	})

	t.Run("concurrent takers", func(t *testing.T) {
		const callers = 12
		var wg sync.WaitGroup
		got := make([]bool, callers)
		errs := make([]error, callers)
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = ns.TakeAutoReply(ctx, "email:flood@example.org", fmt.Sprintf("f%d", i), at(2*time.Hour), window, max)
			}()
		}
		wg.Wait()
		n := 0
		for i := range callers {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if got[i] {
				n++
			}
		}
		if n != max {
			t.Errorf("%d of %d concurrent answers taken, want %d", n, callers, max)
		}
	})
}

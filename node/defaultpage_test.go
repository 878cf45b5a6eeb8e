package node

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/heraldhq/herald/store/enginetest"
)

// TestTwoNodesStartTogether starts two nodes at once on one empty Redis,
// as a deployment's first rollout does: both must come up on the same
// default page, and only one page may exist. The race is lost only now
// and then, so it runs on several fresh prefixes.
func TestTwoNodesStartTogether(t *testing.T) {
	ctx := context.Background()
	for round := range 5 {
		store := enginetest.Redis(t, "herald-nodes-")
		nodes := make([]*Node, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range nodes {
			cfg := DefaultConfig()
			cfg.DataDir, cfg.Addr, cfg.LogLevel = t.TempDir(), "127.0.0.1:0", "warn"
			cfg.RedisURL, cfg.RedisPrefix = enginetest.RedisURL, store.Prefix()
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				nodes[i], errs[i] = New(ctx, cfg, Options{Log: slog.New(slog.DiscardHandler)})
			}()
		}
		close(start)
		wg.Wait()
		for i, n := range nodes {
			if errs[i] != nil {
				t.Fatalf("round %d, node %d: %v", round, i, errs[i])
			}
			defer n.Close()
		}
		if nodes[0].Page.ID != nodes[1].Page.ID {
			t.Errorf("round %d: the nodes came up on two pages, %s and %s", round, nodes[0].Page.ID, nodes[1].Page.ID)
		}
		pages, err := store.FindPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pages) != 1 {
			t.Fatalf("round %d: two nodes starting together made %d pages; want 1", round, len(pages))
		}
	}
}

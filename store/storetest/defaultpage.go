package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/heraldhq/herald/incident"
)

// testDefaultPage starts many EnsureDefaultPage calls at once on one
// empty store, as nodes starting together do.
func testDefaultPage(t *testing.T, s incident.Store) {
	RunDefaultPageRace(t, s)

	// The claim outlives the page for a while. Should every page be gone
	// meanwhile (only data surgery gets there: the API deletes a page with
	// Change.KeepAPage, so two racing deletions of the last two pages keep
	// one), a start says so rather than creating a page unclaimed, which
	// would reopen the race. The test deletes without KeepAPage, as surgery
	// would.
	ctx := context.Background()
	pages, err := s.FindPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, s, &incident.Change{DeletePageIDs: []string{pages[0].ID}})
	svc, _ := newService(s)
	_, err = svc.EnsureDefaultPage(ctx, "https://status.example.test")
	wantErr(t, "EnsureDefaultPage with the claim held and no page", err, incident.ErrConflict)
	if pages, err := s.FindPages(ctx); err != nil || len(pages) != 0 {
		t.Errorf("FindPages = %d pages, %v; want none", len(pages), err)
	}
}

// RunDefaultPageRace calls EnsureDefaultPage from many goroutines at once,
// spread over stores, which must be handles on one empty backend (two
// processes on one SQLite file, two nodes on one Redis): every call must
// return the same page, and exactly one page may exist afterwards. Each
// goroutine has a Service of its own, as each node has.
func RunDefaultPageRace(t *testing.T, stores ...incident.Store) {
	t.Helper()
	ctx := context.Background()
	const callers = 16
	got := make([]*incident.Page, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		svc, _ := newService(stores[i%len(stores)])
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = svc.EnsureDefaultPage(ctx, fmt.Sprintf("https://status%d.example.test", i))
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: EnsureDefaultPage: %v", i, err)
		}
	}
	for _, s := range stores {
		pages, err := s.FindPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pages) != 1 {
			ids := make([]string, len(pages))
			for i, p := range pages {
				ids[i] = p.ID
			}
			t.Fatalf("%d callers at once made %d pages %v; want 1", callers, len(pages), ids)
		}
		for i, p := range got {
			if p.ID != pages[0].ID {
				t.Errorf("caller %d got page %s; the stored page is %s", i, p.ID, pages[0].ID)
			}
		}
		if pages[0].Name != incident.DefaultPageName {
			t.Errorf("page name = %q, want %q", pages[0].Name, incident.DefaultPageName)
		}
	}
}

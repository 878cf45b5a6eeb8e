package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// testLastPageRace deletes the last two pages at once, round after round,
// each call through a Service of its own (as on two nodes): herald must
// always keep a page, so exactly one deletion wins and the other is told
// the page is the last one (incident.ErrLastPage).
func testLastPageRace(t *testing.T, s incident.Store) {
	ctx := incident.WithActor(context.Background(), incident.Actor{TokenID: "t1", Name: "alice", Role: incident.RoleAdmin})
	setup, _ := newService(s)
	first, err := setup.CreatePage(ctx, incident.PageInput{Name: ptr("First"), URL: ptr("https://first.test")})
	if err != nil {
		t.Fatal(err)
	}
	survivor := first.ID
	const rounds = 40
	for round := range rounds {
		other, err := setup.CreatePage(ctx, incident.PageInput{Name: ptr(fmt.Sprintf("Page %d", round)), URL: ptr("https://other.test")})
		if err != nil {
			t.Fatal(err)
		}
		ids := [2]string{survivor, other.ID}
		var errs [2]error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range ids {
			svc, _ := newService(s)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = svc.DeletePage(ctx, ids[i])
			}()
		}
		close(start)
		wg.Wait()

		pages, err := s.FindPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pages) != 1 {
			t.Fatalf("round %d: deleting %v at once left %d pages (errors %v, %v); want exactly one", round, ids, len(pages), errs[0], errs[1])
		}
		kept := -1
		for i, id := range ids {
			if pages[0].ID == id {
				kept = i
			}
		}
		switch {
		case kept < 0:
			t.Fatalf("round %d: the page left is %s, neither of %v", round, pages[0].ID, ids)
		case errs[1-kept] != nil:
			t.Fatalf("round %d: deleting %s (now gone) failed: %v", round, ids[1-kept], errs[1-kept])
		}
		wantErr(t, fmt.Sprintf("round %d: deleting %s, the last page", round, ids[kept]), errs[kept], incident.ErrLastPage)
		if _, err := s.FindPageByID(ctx, ids[1-kept]); incident.ErrorCode(err) != incident.ENOTFOUND {
			t.Fatalf("round %d: deleted page %s: %v, want not found", round, ids[1-kept], err)
		}
		survivor = ids[kept]
	}
}

// testKeepAPage pins down Change.KeepAPage at the store: what counts is
// the pages left after the whole Change, and a refused Change writes
// nothing, its audit entry included.
func testKeepAPage(t *testing.T, s incident.Store) {
	ctx := context.Background()
	commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pa", base), newPage("pb", at(time.Second))}})
	audit := func(id string) []*incident.AuditEntry {
		return []*incident.AuditEntry{{ID: "a-" + id, PageID: id, Actor: "x", Action: "page.delete", ObjectType: "page", ObjectID: id, At: base}}
	}

	// Both pages, each named twice, and one that does not exist: none left.
	err := s.Commit(ctx, &incident.Change{DeletePageIDs: []string{"pa", "pb", "pa", "nope", "pb"}, KeepAPage: true, Audit: audit("pa")})
	wantErr(t, "deleting every page", err, incident.ErrLastPage)
	if pages, err := s.FindPages(ctx); err != nil || len(pages) != 2 {
		t.Fatalf("FindPages after the refused deletion = %d pages, %v; want 2", len(pages), err)
	}
	if _, total, err := s.FindAudit(ctx, incident.AuditFilter{PageID: "pa"}); err != nil || total != 0 {
		t.Errorf("audit after the refused deletion = %d entries, %v; want none", total, err)
	}

	// One of two: fine.
	commit(t, s, &incident.Change{DeletePageIDs: []string{"pa", "nope"}, KeepAPage: true, Audit: audit("pa")})

	// The last one, with a page written in the same Change: one is left.
	commit(t, s, &incident.Change{Pages: []*incident.Page{newPage("pc", base)}, DeletePageIDs: []string{"pb"}, KeepAPage: true})
	// The last one, rewritten and deleted in the same Change: none would be left.
	err = s.Commit(ctx, &incident.Change{Pages: []*incident.Page{newPage("pc", base)}, DeletePageIDs: []string{"pc"}, KeepAPage: true})
	wantErr(t, "rewriting and deleting the last page", err, incident.ErrLastPage)
	if pages, err := s.FindPages(ctx); err != nil || len(pages) != 1 || pages[0].ID != "pc" {
		t.Fatalf("FindPages = %d pages, %v; want only pc", len(pages), err)
	}

	// Without KeepAPage the last page goes (data surgery, tests).
	commit(t, s, &incident.Change{DeletePageIDs: []string{"pc"}})
	if pages, err := s.FindPages(ctx); err != nil || len(pages) != 0 {
		t.Errorf("FindPages = %d pages, %v; want none", len(pages), err)
	}
}

package notify_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/store/sqlite"
)

func init() {
	engines = append([]struct {
		name string
		open func(t *testing.T) engine
	}{
		{"sqlite", func(t *testing.T) engine {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			var x any = db
			e, ok := x.(engine)
			if !ok {
				t.Skip("store/sqlite does not implement notify.Store yet")
			}
			return e
		}},
	}, engines...)
}

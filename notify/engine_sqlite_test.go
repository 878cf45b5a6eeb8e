package notify_test

import (
	"testing"

	"github.com/heraldhq/herald/store/enginetest"
)

func init() {
	engines = append([]struct {
		name string
		open func(t *testing.T) engine
	}{
		{"sqlite", func(t *testing.T) engine { return enginetest.SQLite(t) }},
	}, engines...)
}

package incident_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/heraldhq/herald/incident"
)

// marked is an engine's error that says the store is unreachable.
type marked struct{}

func (marked) Error() string     { return "engine: unreachable" }
func (marked) Unreachable() bool { return true }

// TestUnreachable: the network failing on the way to the store, a deadline
// spent waiting for it and an error marked so are "unreachable" (503);
// a bug, a domain error or a cancelled request are not.
func TestUnreachable(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "x", IsTimeout: false}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"dial error, wrapped", fmt.Errorf("redis: ping: %w", dial), true},
		{"connection refused", fmt.Errorf("x: %w", syscall.ECONNREFUSED), true},
		{"connection reset", fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"deadline", fmt.Errorf("redis: find: %w", context.DeadlineExceeded), true},
		{"marked by the engine", fmt.Errorf("x: %w", marked{}), true},
		{"unavailable code", incident.Errorf(incident.EUNAVAILABLE, "at capacity"), true},
		{"a bug", errors.New("index out of range"), false},
		{"not found", incident.NotFound("incident", "x"), false},
		{"internal", incident.Errorf(incident.EINTERNAL, "oops"), false},
		{"cancelled by the client", fmt.Errorf("x: %w", context.Canceled), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := incident.Unreachable(tt.err); got != tt.want {
				t.Errorf("Unreachable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

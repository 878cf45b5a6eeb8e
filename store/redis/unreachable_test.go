package redis

import (
	"errors"
	"fmt"
	"io"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// TestUnreachableErrors: go-redis's signs that Redis cannot be reached now
// are the store's "unreachable" (503 at the front doors); a missing key or
// a script's own error are not.
func TestUnreachableErrors(t *testing.T) {
	db := &DB{}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"pool timeout", fmt.Errorf("redis: claim: %w", goredis.ErrPoolTimeout), true},
		{"client closed", goredis.ErrClosed, true},
		{"connection ended mid-reply", fmt.Errorf("redis: find: %w", io.EOF), true},
		{"loading", replyError("LOADING Redis is loading the dataset in memory"), true},
		{"failing over", fmt.Errorf("x: %w", replyError("READONLY You can't write against a read only replica.")), true},
		{"missing key", goredis.Nil, false},
		{"script error", replyError("ERR user_script:1: bad argument"), false},
		{"a bug", errors.New("decode: unexpected field"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := db.Unreachable(tt.err); got != tt.want {
				t.Errorf("Unreachable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// replyError is an error reply from Redis, as go-redis's goredis.Error.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

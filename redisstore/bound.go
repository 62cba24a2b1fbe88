package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultTimeout bounds each Redis call of a Store or Ledger given no
// timeout of its own: well under go-redis v9.22's default read timeout (5 s),
// so that a stalled Redis fails a request quickly instead of hanging it.
const DefaultTimeout = 500 * time.Millisecond

// bound runs one Redis call under a deadline of timeout.
//
// A client created with ContextTimeoutEnabled applies the deadline to the
// socket itself, and the call returns when it passes. Without it go-redis
// ignores context deadlines and waits for its own ReadTimeout; then the
// call runs in a goroutine and bound returns context.DeadlineExceeded at
// the deadline, leaving the call to finish (or time out) on its own.
type bound struct {
	timeout  time.Duration
	honoured bool // the client applies context deadlines itself
}

func newBound(client redis.UniversalClient, timeout time.Duration) bound {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return bound{timeout: timeout, honoured: honoursContext(client)}
}

// honoursContext reports whether client was created with
// ContextTimeoutEnabled.
func honoursContext(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// do runs fn with a context whose deadline is at most timeout away.
func (b bound) do(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if b.honoured {
		return fn(ctx)
	}
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

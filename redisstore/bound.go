package redisstore

import (
	"context"
	"errors"
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

// do runs fn with a context whose deadline is at most timeout away. A
// call that fails once that context is done fails with an error that is
// also the context's (context.DeadlineExceeded), whoever noticed first.
func (b bound) do(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if b.honoured {
		return withContextError(ctx, fn(ctx))
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

// withContextError returns err, the error of a call with ctx, which has a
// deadline, made the context's error too when ctx was done by the time it
// failed. go-redis reports the deadline it put on the socket as the
// socket's timeout ("i/o timeout") when it does not retry, and may do so
// a moment before the timer that ends ctx has run.
func withContextError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	ctxErr := ctx.Err()
	if deadline, _ := ctx.Deadline(); ctxErr == nil && !time.Now().Before(deadline) {
		ctxErr = context.DeadlineExceeded
	}
	if ctxErr == nil || errors.Is(err, ctxErr) {
		return err
	}
	return contextError{err: err, ctx: ctxErr}
}

// contextError is the error of a call that failed once its context was
// done: it reads as the call's error and is also the context's.
type contextError struct{ err, ctx error }

func (e contextError) Error() string   { return e.err.Error() }
func (e contextError) Unwrap() []error { return []error{e.err, e.ctx} }

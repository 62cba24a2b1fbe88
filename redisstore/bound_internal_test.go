package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// lateContext is a context whose deadline has passed while the timer
// that ends it has yet to run: it is not done.
type lateContext struct{ context.Context }

func (lateContext) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

func TestWithContextError(t *testing.T) {
	ioTimeout := errors.New("read tcp: i/o timeout")
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	pending, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	wrapped := errors.Join(ioTimeout, context.DeadlineExceeded)

	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want error // in the chain of the result, beside err
		same bool  // the result is err itself
	}{
		{name: "success", ctx: expired, err: nil, same: true},
		{name: "failure before the deadline", ctx: pending, err: ioTimeout, same: true},
		{name: "failure past the deadline", ctx: expired, err: ioTimeout, want: context.DeadlineExceeded},
		{name: "failure past the deadline, ctx not yet done", ctx: lateContext{pending}, err: ioTimeout, want: context.DeadlineExceeded},
		{name: "failure of a canceled call", ctx: canceled, err: ioTimeout, want: context.Canceled},
		{name: "already the context's error", ctx: expired, err: wrapped, same: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := withContextError(tc.ctx, tc.err)
			if tc.same {
				assert.Equal(t, tc.err, got)
				if tc.err != nil {
					assert.NotErrorIs(t, got, context.Canceled)
				}
				return
			}
			assert.ErrorIs(t, got, tc.err)
			assert.ErrorIs(t, got, tc.want)
			assert.Equal(t, tc.err.Error(), got.Error(), "it reads as the call's error")
		})
	}
}

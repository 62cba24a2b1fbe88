package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/redisstore/redistest"
)

// The faults below make Redis fail the calls of a test. A pause holds
// commands far longer than the bound of the calls under it, and a test
// waits far longer than anything it waits for should take, so that a
// starved CPU cannot blur the two.
const (
	faultPause = 20 * time.Second
	faultBound = 100 * time.Millisecond
	faultWait  = 30 * time.Second
)

// honouringClient returns a client of srv that applies context deadlines
// to its socket, so that a call that times out closes its connection and
// the paused server drops the command, and that retries nothing. It is
// closed when the test ends.
func honouringClient(t testing.TB, srv *redistest.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                  srv.Addr(),
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialTimeout:           time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// pauseWrites makes srv hold every write command (scripts and PUBLISH
// included) for faultPause, and returns the function that ends the pause
// at once. Reads go on.
func pauseWrites(t testing.TB, srv *redistest.Server) (resume func()) {
	t.Helper()
	admin := srv.NewClient()
	require.NoError(t, admin.Do(context.Background(), "CLIENT", "PAUSE", faultPause.Milliseconds(), "WRITE").Err())
	return func() {
		require.NoError(t, admin.Do(context.Background(), "CLIENT", "UNPAUSE").Err())
	}
}

// pauseAll makes srv hold every command for faultPause. Nothing ends the
// pause early (CLIENT UNPAUSE is held too), but stopping the server does,
// as the end of the test does.
func pauseAll(t testing.TB, srv *redistest.Server) {
	t.Helper()
	require.NoError(t, srv.NewClient().Do(context.Background(), "CLIENT", "PAUSE", faultPause.Milliseconds(), "ALL").Err())
}

// refuseWrites makes srv refuse every write with NOREPLICAS while reads
// go on, and returns the function that lets writes through again.
func refuseWrites(t testing.TB, srv *redistest.Server) (allow func()) {
	t.Helper()
	admin := srv.NewClient()
	require.NoError(t, admin.ConfigSet(context.Background(), "min-replicas-to-write", "1").Err())
	return func() {
		require.NoError(t, admin.ConfigSet(context.Background(), "min-replicas-to-write", "0").Err())
	}
}

// blockedClients returns the number of clients whose command srv holds.
func blockedClients(t testing.TB, admin *redis.Client) int {
	t.Helper()
	info, err := admin.Info(context.Background(), "clients").Result()
	require.NoError(t, err)
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "blocked_clients:"); ok {
			n, err := strconv.Atoi(v)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no blocked_clients in INFO clients: %q", info)
	return 0
}

// killMidCall runs call while srv holds writes, kills every connection
// but its own once call's write is held, and returns call's error. The
// killed connection takes the held write with it: Redis never runs it.
func killMidCall(t *testing.T, srv *redistest.Server, call func() error) error {
	t.Helper()
	resume := pauseWrites(t, srv)
	defer resume()
	admin := srv.NewClient()
	errc := make(chan error, 1)
	go func() { errc <- call() }()
	require.Eventually(t, func() bool { return blockedClients(t, admin) > 0 }, faultWait, 10*time.Millisecond,
		"the write reaches the paused server")
	require.NoError(t, admin.ClientKillByFilter(context.Background(), "TYPE", "normal", "SKIPME", "yes").Err())
	select {
	case err := <-errc:
		return err
	case <-time.After(faultWait):
		t.Fatalf("the call did not return within %v of its connection being killed", faultWait)
		return nil
	}
}

// writeFault makes Redis fail the write of a call, and then heals:
// afterwards Redis holds what it held before the call, and works.
type writeFault struct {
	name string
	// bound is the Timeout of the Store or Ledger under the fault: short
	// where the call is to time out, far longer than the test where it
	// is not.
	bound time.Duration
	// timesOut reports whether the call fails at its bound.
	timesOut bool
	// run runs call under the fault and returns its error once Redis
	// is healthy again.
	run func(t *testing.T, srv *redistest.Server, call func() error) error
}

// writeFaults are the ways a write fails with state left intact. (A
// stopped server fails writes too, but comes back empty; see
// TestStoreRedisDown and TestLedgerRedisDownAndBack.)
var writeFaults = []writeFault{
	{
		name: "paused", bound: faultBound, timesOut: true,
		run: func(t *testing.T, srv *redistest.Server, call func() error) error {
			defer pauseWrites(t, srv)()
			return call()
		},
	},
	{
		name: "refused", bound: time.Minute,
		run: func(t *testing.T, srv *redistest.Server, call func() error) error {
			defer refuseWrites(t, srv)()
			return call()
		},
	},
	{name: "connection killed", bound: time.Minute, run: killMidCall},
}

// assertFailed checks that err is the error of a call that failed under
// f: a timeout exactly when f times calls out.
func (f writeFault) assertFailed(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	if !assert.Error(t, err, msgAndArgs...) {
		return
	}
	if f.timesOut {
		assert.ErrorIs(t, err, context.DeadlineExceeded, msgAndArgs...)
	} else {
		assert.NotErrorIs(t, err, context.DeadlineExceeded, msgAndArgs...)
	}
}

// readFault makes every command of srv fail from now on, for the rest
// of the test.
type readFault struct {
	name string
	// timesOut reports whether calls fail at their bound.
	timesOut bool
	fail     func(t *testing.T, srv *redistest.Server)
}

var readFaults = []readFault{
	{name: "stopped", fail: func(_ *testing.T, srv *redistest.Server) { srv.Stop() }},
	{name: "paused", timesOut: true, fail: func(t *testing.T, srv *redistest.Server) { pauseAll(t, srv) }},
}

// assertFailed checks that err is the error of a call that failed under
// f.
func (f readFault) assertFailed(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	if assert.Error(t, err, msgAndArgs...) && f.timesOut {
		assert.ErrorIs(t, err, context.DeadlineExceeded, msgAndArgs...)
	}
}

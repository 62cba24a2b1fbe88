package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/ledgertest"
	"github.com/oidc-logout/logout/redisstore"
	"github.com/oidc-logout/logout/redisstore/redistest"
)

var base = time.Unix(1_700_000_000, 0)

func anyCheck(key string) logout.LedgerQuery { return logout.LedgerQuery{Key: key} }

// TestLedgerContract runs the shared contract suite, on one server
// (MGET) and on a ring of two servers (pipelined GETs, keys spread over
// both); every subtest gets its own key prefix.
func TestLedgerContract(t *testing.T) {
	for name, client := range map[string]redis.UniversalClient{
		"Client": redistest.Start(t).NewClient(),
		"Ring":   newRing(t, redistest.Start(t), redistest.Start(t)),
	} {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int64
			ledgertest.Run(t, func(t *testing.T) logout.Ledger {
				return redisstore.NewLedger(client, fmt.Sprintf("contract%d:", n.Add(1)))
			})
		})
	}
}

// newRing returns a ring client over servers, closed when the test ends.
func newRing(t *testing.T, servers ...*redistest.Server) *redis.Ring {
	addrs := make(map[string]string, len(servers))
	for i, s := range servers {
		addrs[fmt.Sprintf("shard%d", i)] = s.Addr()
	}
	// No heartbeat during the test: a shard that is down stays in the ring.
	ring := redis.NewRing(&redis.RingOptions{Addrs: addrs, MaxRetries: -1, HeartbeatFrequency: time.Hour})
	t.Cleanup(func() { _ = ring.Close() })
	return ring
}

func TestLedgerRingSpreadsKeys(t *testing.T) {
	ctx := context.Background()
	a, b := redistest.Start(t), redistest.Start(t)
	rev := redisstore.NewLedger(newRing(t, a, b), "")
	var checks []logout.LedgerQuery
	for i := range 8 {
		checks = append(checks, anyCheck(logout.SessionIDKey(fmt.Sprint(i))))
	}
	for _, c := range checks {
		require.NoError(t, rev.Record(ctx, c.Key, base, time.Minute))
	}
	require.NotZero(t, a.NewClient().DBSize(ctx).Val(), "keys on the first server")
	require.NotZero(t, b.NewClient().DBSize(ctx).Val(), "keys on the second server")
	for i := range checks {
		got, err := rev.Seen(ctx, append([]logout.LedgerQuery{anyCheck("x"), anyCheck("y")}, checks[i])...)
		require.NoError(t, err)
		assert.True(t, got, "key %d", i)
	}
	got, err := rev.Seen(ctx, anyCheck("x"), anyCheck("y"), anyCheck("z"))
	require.NoError(t, err)
	assert.False(t, got)

	b.Stop()
	_, err = rev.Seen(ctx, checks...)
	assert.Error(t, err, "a shard that is down is an error, not a miss")
}

func TestLedgerKeysAndTTL(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	client := srv.NewClient()
	rev := redisstore.NewLedger(client, "app1:")
	key := logout.SIDKey("https://op.example", "s1")

	require.NoError(t, rev.Record(ctx, key, base.Add(1500*time.Microsecond), 90*time.Second))

	v, err := client.Get(ctx, "app1:"+key).Result()
	require.NoError(t, err)
	assert.Equal(t, "1700000000002", v, "time in Unix milliseconds, rounded up")
	ttl := client.PTTL(ctx, "app1:"+key).Val()
	assert.InDelta(t, 90*time.Second, ttl, float64(2*time.Second))

	// A later Record with a shorter TTL and an earlier time keeps both.
	require.NoError(t, rev.Record(ctx, key, base, time.Second))
	assert.Equal(t, "1700000000002", client.Get(ctx, "app1:"+key).Val())
	assert.Greater(t, client.PTTL(ctx, "app1:"+key).Val(), 80*time.Second)

	// A longer TTL extends the record.
	require.NoError(t, rev.Record(ctx, key, base, time.Hour))
	assert.Greater(t, client.PTTL(ctx, "app1:"+key).Val(), 59*time.Minute)
}

func TestLedgerDefaultPrefixAndIsolation(t *testing.T) {
	ctx := context.Background()
	client := redistest.Start(t).NewClient()
	a := redisstore.NewLedger(client, "")
	b := redisstore.NewLedger(client, "other-app:")
	key := logout.SessionIDKey("x")
	require.NoError(t, a.Record(ctx, key, base, time.Minute))

	assert.Equal(t, int64(1), client.Exists(ctx, redisstore.DefaultLedgerPrefix+key).Val())
	got, err := b.Seen(ctx, anyCheck(key))
	require.NoError(t, err)
	assert.False(t, got, "a different prefix must not see the record")
}

func TestLedgerSinceRoundsUp(t *testing.T) {
	ctx := context.Background()
	rev := redisstore.NewLedger(redistest.Start(t).NewClient(), "")
	key := logout.SubjectKey("https://op.example", "alice")
	at := base.Add(999_999 * time.Nanosecond) // just under a millisecond
	require.NoError(t, rev.Record(ctx, key, at, time.Minute))

	for _, tc := range []struct {
		since time.Time
		want  bool
	}{
		{at, true},                         // rounding never loses a record
		{base.Add(time.Millisecond), true}, // rounded up: errs towards revoked
		{base.Add(2 * time.Millisecond), false},
		{time.Time{}, true},
	} {
		got, err := rev.Seen(ctx, logout.LedgerQuery{Key: key, Since: tc.since})
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "since %v", tc.since)
	}
}

func TestLedgerRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	client := redistest.Start(t).NewClient()
	rev := redisstore.NewLedger(client, "p:")
	for _, ttl := range []time.Duration{0, -time.Second} {
		assert.Error(t, rev.Record(ctx, "k", base, ttl), "ttl %v", ttl)
	}
	assert.Zero(t, client.Exists(ctx, "p:k").Val())

	require.NoError(t, client.Set(ctx, "p:garbage", "not-a-number", time.Minute).Err())
	_, err := rev.Seen(ctx, anyCheck("garbage"))
	assert.ErrorContains(t, err, "not a time")
	_, err = rev.Seen(ctx, anyCheck("absent"), anyCheck("garbage"))
	assert.ErrorContains(t, err, "not a time")
}

// roundTrips counts the commands and pipelines a client sends.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

func TestRevokedIsOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	client := redistest.Start(t).NewClient()
	rev := redisstore.NewLedger(client, "")
	sub := logout.SubjectKey("https://op.example", "dave")
	require.NoError(t, rev.Record(ctx, sub, base, time.Minute))
	hook := &roundTrips{}
	client.AddHook(hook)

	for _, tc := range []struct {
		name   string
		checks []logout.LedgerQuery
		want   bool
	}{
		{"none", nil, false},
		{"one", []logout.LedgerQuery{anyCheck(sub)}, true},
		{"three, last matches", []logout.LedgerQuery{
			anyCheck(logout.SIDKey("https://op.example", "s")), anyCheck(logout.SessionIDKey("id")), anyCheck(sub),
		}, true},
		{"three, none match", []logout.LedgerQuery{
			anyCheck("a"), anyCheck("b"), {Key: sub, Since: base.Add(time.Second)},
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hook.n.Load()
			got, err := rev.Seen(ctx, tc.checks...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			want := int64(1)
			if len(tc.checks) == 0 {
				want = 0
			}
			assert.Equal(t, want, hook.n.Load()-before, "round trips")
		})
	}
}

// TestLedgerSharedByInstances has three app instances, each with its
// own client, share logouts through one server.
func TestLedgerSharedByInstances(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	instances := make([]*redisstore.Ledger, 3)
	for i := range instances {
		instances[i] = redisstore.NewLedger(srv.NewClient(), "shop:")
	}
	for i, inst := range instances {
		key := logout.SIDKey("https://op.example", fmt.Sprintf("sid-%d", i))
		require.NoError(t, inst.Record(ctx, key, base, time.Minute))
		for j, other := range instances {
			got, err := other.Seen(ctx, anyCheck(key))
			require.NoError(t, err)
			assert.True(t, got, "instance %d must see the logout recorded by instance %d", j, i)
		}
	}
}

func TestLedgerRedisDownAndBack(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rev := redisstore.NewLedger(srv.NewClient(), "")
	key := logout.SessionIDKey("k")
	require.NoError(t, rev.Record(ctx, key, base, time.Minute))

	srv.Stop()
	require.NotPanics(t, func() {
		assert.Error(t, rev.Record(ctx, key, base, time.Minute))
		got, err := rev.Seen(ctx, anyCheck(key))
		assert.Error(t, err)
		assert.False(t, got)
		got, err = rev.Seen(ctx, anyCheck(key), anyCheck("other"))
		assert.Error(t, err)
		assert.False(t, got)
	})

	srv.Restart() // empty: the server keeps nothing on disk
	got, err := rev.Seen(ctx, anyCheck(key))
	require.NoError(t, err)
	assert.False(t, got, "records do not survive a restart without persistence")
	require.NoError(t, rev.Record(ctx, key, base, time.Minute), "the script is loaded again after the restart")
	got, err = rev.Seen(ctx, anyCheck(key), anyCheck("other"))
	require.NoError(t, err)
	assert.True(t, got)
}

func TestRevokedHonoursContextDeadline(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	rev := redisstore.NewLedger(client, "")
	// A server that does not answer: CLIENT PAUSE holds every command for
	// the pause, far longer than the look-up's deadline. The two are
	// far enough apart that a starved CPU cannot blur them.
	const pause, deadline = 20 * time.Second, 100 * time.Millisecond
	require.NoError(t, srv.NewClient().Do(context.Background(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err())

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	_, err := rev.Seen(ctx, anyCheck("a"), anyCheck("b"))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), pause/2, "the look-up gives up at its deadline, not when the server answers")
}

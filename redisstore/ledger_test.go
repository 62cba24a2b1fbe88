package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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

	var onB []logout.LedgerQuery
	for _, c := range checks {
		if b.NewClient().Exists(ctx, redisstore.DefaultLedgerPrefix+c.Key).Val() == 1 {
			onB = append(onB, c)
		}
	}
	b.Stop()
	require.NotEmpty(t, onB)
	_, err = rev.Seen(ctx, onB...)
	assert.ErrorIs(t, err, redisstore.ErrLedgerRead, "a shard that is down is an error, not a miss")
	got, err = rev.Seen(ctx, checks...)
	require.NoError(t, err, "the records of the shard still up answer")
	assert.True(t, got)
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
		assert.ErrorContains(t, rev.Record(ctx, "k", base, ttl), "ttl must be positive", "ttl %v", ttl)
		for _, ttls := range [][2]time.Duration{{ttl, time.Hour}, {time.Minute, ttl}} {
			ok, err := rev.RecordOnce(ctx, "jti", ttls[0], "k", base, ttls[1])
			assert.ErrorContains(t, err, "ttl must be positive", "ttls %v", ttls)
			assert.False(t, ok)
		}
	}
	assert.Zero(t, client.Exists(ctx, "p:k", "p:jti").Val(), "nothing is written")

	require.NoError(t, client.Set(ctx, "p:garbage", "not-a-number", time.Minute).Err())
	for _, checks := range [][]logout.LedgerQuery{{anyCheck("garbage")}, {anyCheck("absent"), anyCheck("garbage")}} {
		_, err := rev.Seen(ctx, checks...)
		assert.ErrorIs(t, err, redisstore.ErrBadRecord)
		assert.NotErrorIs(t, err, redisstore.ErrLedgerRead)
		assert.EqualError(t, err, `redisstore: bad record: key "garbage" holds "not-a-number", not a time: `+
			`strconv.ParseInt: parsing "not-a-number": invalid syntax`)
	}
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

// TestLedgerWriteFailures: a Record or RecordOnce that Redis fails
// (paused past the ledger's Timeout, refused, or cut off by a killed
// connection) reports the error, never a recorded logout, and writes
// nothing: the record it would have extended is as it was, and a
// back-channel token whose record failed is not taken for a replay when
// the provider retries.
func TestLedgerWriteFailures(t *testing.T) {
	ctx := context.Background()
	for _, f := range writeFaults {
		t.Run(f.name, func(t *testing.T) {
			srv := redistest.Start(t)
			admin := srv.NewClient()
			l := redisstore.NewLedgerWithConfig(honouringClient(t, srv), redisstore.LedgerConfig{Prefix: "f:", Timeout: f.bound})
			require.NoError(t, l.Record(ctx, "old", base, time.Hour))
			ttl := admin.PTTL(ctx, "f:old").Val()

			for _, tc := range []struct {
				name string
				call func() error
			}{
				{"Record of a new key", func() error { return l.Record(ctx, "new", base, time.Hour) }},
				{"Record of a recorded key", func() error { return l.Record(ctx, "old", base.Add(time.Hour), 2*time.Hour) }},
				{"RecordOnce", func() error {
					ok, err := l.RecordOnce(ctx, "jti", time.Minute, "sid", base, time.Hour)
					assert.False(t, ok, "a failed RecordOnce recorded nothing")
					return err
				}},
			} {
				f.assertFailed(t, f.run(t, srv, tc.call), tc.name)
			}

			keys, err := admin.Keys(ctx, "f:*").Result()
			require.NoError(t, err)
			assert.Equal(t, []string{"f:old"}, keys, "no key written")
			assert.Equal(t, strconv.FormatInt(base.UnixMilli(), 10), admin.Get(ctx, "f:old").Val(), "the record keeps its time")
			assert.LessOrEqual(t, admin.PTTL(ctx, "f:old").Val(), ttl, "and its expiry")

			// Redis works again: the provider's retry is recorded.
			ok, err := l.RecordOnce(ctx, "jti", time.Minute, "sid", base, time.Hour)
			require.NoError(t, err)
			assert.True(t, ok, "the retry is no replay")
			assert.True(t, seen(t, l, "sid"))
		})
	}
}

// TestLedgerReadFailures: a look-up that Redis fails (stopped, or paused
// past the ledger's Timeout) is an error, never "not seen", whether it
// reads one key (GET) or several (MGET), and whether the client applies
// the deadline to its socket (ContextTimeoutEnabled) or the Ledger's
// bound gives up on it. The error wraps ErrLedgerRead and says so once.
func TestLedgerReadFailures(t *testing.T) {
	ctx := context.Background()
	for _, f := range readFaults {
		t.Run(f.name, func(t *testing.T) {
			srv := redistest.Start(t)
			ledgers := map[string]*redisstore.Ledger{
				"honouring":     redisstore.NewLedgerWithConfig(honouringClient(t, srv), redisstore.LedgerConfig{Timeout: faultBound}),
				"not honouring": redisstore.NewLedgerWithConfig(srv.NewClient(), redisstore.LedgerConfig{Timeout: faultBound}),
			}
			f.fail(t, srv)
			for name, l := range ledgers {
				for _, checks := range [][]logout.LedgerQuery{
					{anyCheck("a")},
					{anyCheck("a"), anyCheck("b"), anyCheck("c")},
				} {
					got, err := l.Seen(ctx, checks...)
					f.assertFailed(t, err, "%s, %d keys", name, len(checks))
					assert.ErrorIs(t, err, redisstore.ErrLedgerRead, "%s, %d keys", name, len(checks))
					assert.True(t, strings.HasPrefix(err.Error(), "redisstore: reading the ledger: "), err)
					assert.Equal(t, 1, strings.Count(err.Error(), "redisstore:"), err)
					assert.False(t, got)
				}
			}
		})
	}
}

// TestLedgerScriptErrors: a key that holds what no Ledger writes (here
// left by another program) fails the script that merges a record into
// it. The error is returned, the key is left as it was, and RecordOnce
// does not record the token's jti either, so that a retry is no replay.
func TestLedgerScriptErrors(t *testing.T) {
	ctx := context.Background()
	client := redistest.Start(t).NewClient()
	l := redisstore.NewLedger(client, "p:")
	require.NoError(t, client.Set(ctx, "p:text", "not-a-number", 0).Err())
	require.NoError(t, client.HSet(ctx, "p:hash", "f", "v").Err())

	for _, key := range []string{"text", "hash"} {
		t.Run(key, func(t *testing.T) {
			dump := client.Dump(ctx, "p:"+key).Val()
			assert.ErrorContains(t, l.Record(ctx, key, base, time.Hour), "redisstore: recording")
			ok, err := l.RecordOnce(ctx, "jti-"+key, time.Minute, key, base, time.Hour)
			assert.ErrorContains(t, err, "redisstore: recording")
			assert.False(t, ok)

			assert.Equal(t, dump, client.Dump(ctx, "p:"+key).Val(), "the key is as it was")
			assert.Equal(t, time.Duration(-1), client.PTTL(ctx, "p:"+key).Val(), "without expiry")
			assert.Zero(t, client.Exists(ctx, "p:jti-"+key).Val(), "the jti is not recorded")
		})
	}
}

// shardOf returns the index in servers of the shard of ring that keeps
// key.
func shardOf(t *testing.T, ring *redis.Ring, servers []*redis.Client, key string) int {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, ring.Set(ctx, key, "probe", time.Minute).Err())
	defer func() { require.NoError(t, ring.Del(ctx, key).Err()) }()
	for i, s := range servers {
		if s.Exists(ctx, key).Val() == 1 {
			return i
		}
	}
	t.Fatalf("no server keeps %q", key)
	return -1
}

// keyOnShard returns a key starting with name whose prefixed form ring keeps
// on servers[shard].
func keyOnShard(t *testing.T, ring *redis.Ring, servers []*redis.Client, prefix, name string, shard int) string {
	t.Helper()
	for i := range 1000 {
		key := fmt.Sprintf("%s-%d", name, i)
		if shardOf(t, ring, servers, prefix+key) == shard {
			return key
		}
	}
	t.Fatalf("no key for shard %d", shard)
	return ""
}

// TestLedgerPartialReadFailure: with a ring, whose keys live on different
// servers, a look-up that one server fails answers "seen" when the other
// server holds a record of the request, whichever key comes first: the
// session has ended whatever the failed server holds, so that FailOpen
// never lets it through. Otherwise it is an error that wraps
// ErrLedgerRead, never hidden as "not seen". The same holds for the
// CachedLedger's reads from Redis.
func TestLedgerPartialReadFailure(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			ctx := context.Background()
			srvs := []*redistest.Server{redistest.Start(t), redistest.Start(t)}
			clients := []*redis.Client{srvs[0].NewClient(), srvs[1].NewClient()}
			ring := newRing(t, srvs...)
			var l logout.Ledger = redisstore.NewLedger(ring, "part:")
			if cached {
				l = newCached(t, ring, redisstore.CachedLedgerConfig{Prefix: "part:"})
			}
			recorded := keyOnShard(t, ring, clients, "part:", "recorded", 0)
			absent := keyOnShard(t, ring, clients, "part:", "absent", 0)
			lost := keyOnShard(t, ring, clients, "part:", "lost", 1)
			// Written behind the CachedLedger's view, so that it reads them.
			require.NoError(t, redisstore.NewLedger(ring, "part:").Record(ctx, recorded, base, time.Hour))
			srvs[1].Stop()
			for _, keys := range [][]string{{recorded, lost}, {lost, recorded}} {
				got, err := l.Seen(ctx, anyCheck(keys[0]), anyCheck(keys[1]))
				require.NoError(t, err, "%v", keys)
				assert.True(t, got, "%v", keys)
			}
			got, err := l.Seen(ctx, anyCheck(absent), anyCheck(lost))
			assert.ErrorIs(t, err, redisstore.ErrLedgerRead)
			assert.ErrorContains(t, err, fmt.Sprintf("key %q", lost))
			assert.False(t, got)

			got, err = l.Seen(ctx, anyCheck(absent), anyCheck(recorded))
			require.NoError(t, err, "the server that holds both keys answers")
			assert.True(t, got)
		})
	}
}

// TestLedgerBadRecordBehindRecord: a key that holds no record's time is
// an error only when no other key of the request is recorded.
func TestLedgerBadRecordBehindRecord(t *testing.T) {
	ctx := context.Background()
	for name, client := range map[string]redis.UniversalClient{
		"Client": redistest.Start(t).NewClient(),
		"Ring":   newRing(t, redistest.Start(t), redistest.Start(t)),
	} {
		t.Run(name, func(t *testing.T) {
			l := redisstore.NewLedger(client, "bad:")
			require.NoError(t, client.Set(ctx, "bad:garbage", "not-a-number", time.Minute).Err())
			require.NoError(t, l.Record(ctx, "recorded", base, time.Hour))
			for _, keys := range [][]string{{"garbage", "recorded"}, {"recorded", "garbage"}} {
				got, err := l.Seen(ctx, anyCheck(keys[0]), anyCheck(keys[1]))
				require.NoError(t, err, "%v", keys)
				assert.True(t, got, "%v", keys)
			}
			got, err := l.Seen(ctx, anyCheck("garbage"), anyCheck("absent"))
			assert.ErrorIs(t, err, redisstore.ErrBadRecord)
			assert.False(t, got)
		})
	}
}

// TestRecordOnceSplitFailures: with a ring, whose keys live on different
// servers, RecordOnce sets the jti first and records the key after. When
// the key's server fails the record, the jti is deleted again, so that
// the provider's retry is not taken for a replay; when the jti's server
// fails, nothing is recorded. Either way the error is returned.
func TestRecordOnceSplitFailures(t *testing.T) {
	ctx := context.Background()
	srvs := []*redistest.Server{redistest.Start(t), redistest.Start(t)}
	clients := []*redis.Client{srvs[0].NewClient(), srvs[1].NewClient()}
	ring := newRing(t, srvs...)
	l := redisstore.NewLedger(ring, "once:")

	// The jti lives on the first server, the key on the second.
	const jtiOn, keyOn = 0, 1
	for _, tc := range []struct {
		name    string
		failing int // the server that refuses writes
	}{
		{name: "record refused", failing: keyOn},
		{name: "jti refused", failing: jtiOn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jti := keyOnShard(t, ring, clients, "once:", "jti-"+tc.name, jtiOn)
			sid := keyOnShard(t, ring, clients, "once:", "sid-"+tc.name, keyOn)
			allow := refuseWrites(t, srvs[tc.failing])
			ok, err := l.RecordOnce(ctx, jti, time.Minute, sid, base, time.Hour)
			allow()
			assert.ErrorContains(t, err, "NOREPLICAS")
			assert.False(t, ok)
			assert.Zero(t, clients[jtiOn].Exists(ctx, "once:"+jti).Val(), "the jti is not left recorded")
			assert.Zero(t, clients[keyOn].Exists(ctx, "once:"+sid).Val(), "the key is not recorded")

			ok, err = l.RecordOnce(ctx, jti, time.Minute, sid, base, time.Hour)
			require.NoError(t, err)
			assert.True(t, ok, "the retry is no replay")
			assert.EqualValues(t, 1, clients[jtiOn].Exists(ctx, "once:"+jti).Val())
			assert.EqualValues(t, 1, clients[keyOn].Exists(ctx, "once:"+sid).Val())

			ok, err = l.RecordOnce(ctx, jti, time.Minute, sid, base, time.Hour)
			require.NoError(t, err)
			assert.False(t, ok, "a replay")
		})
	}
}

// TestLedgerPublishesRecords: each record is published on ChangesChannel
// as "<time ms> <ttl ms> <key>", its time and TTL rounded up to whole
// milliseconds, and not moved when already whole.
func TestLedgerPublishesRecords(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	sub := srv.NewClient().Subscribe(ctx, redisstore.ChangesChannel("pub:"))
	t.Cleanup(func() { _ = sub.Close() })
	_, err := sub.Receive(ctx) // the subscription's confirmation
	require.NoError(t, err)
	client := srv.NewClient()
	l := redisstore.NewLedger(client, "pub:")

	for _, tc := range []struct {
		key     string
		at      time.Time
		ttl     time.Duration
		payload string
	}{
		{"whole", base, 90 * time.Second, "1700000000000 90000 whole"},
		{"rounded", base.Add(time.Nanosecond), 1500 * time.Microsecond, "1700000000001 2 rounded"},
	} {
		require.NoError(t, l.Record(ctx, tc.key, tc.at, tc.ttl))
		rctx, cancel := context.WithTimeout(ctx, faultWait)
		msg, err := sub.ReceiveMessage(rctx)
		cancel()
		require.NoError(t, err)
		assert.Equal(t, tc.payload, msg.Payload)
	}
	assert.Equal(t, "1700000000000", client.Get(ctx, "pub:whole").Val(), "a whole millisecond is kept")
}

package redisstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
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

// freshWait is how long a test waits for a subscription to come up: far
// more than it takes, so that a starved CPU does not fail the test.
const freshWait = 15 * time.Second

// newCached returns a CachedLedger on client, closed when the test ends.
func newCached(t testing.TB, client redis.UniversalClient, cfg redisstore.CachedLedgerConfig) *redisstore.CachedLedger {
	t.Helper()
	c := redisstore.NewCachedLedger(client, cfg)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	return c
}

// waitFresh waits until c's view may answer on its own.
func waitFresh(t testing.TB, c *redisstore.CachedLedger) {
	t.Helper()
	deadline := time.Now().Add(freshWait)
	for !c.Fresh() {
		if time.Now().After(deadline) {
			t.Fatalf("the local view is not fresh after %s", freshWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func seen(t testing.TB, l logout.Ledger, keys ...string) bool {
	t.Helper()
	qs := make([]logout.LedgerQuery, len(keys))
	for i, k := range keys {
		qs[i] = anyCheck(k)
	}
	got, err := l.Seen(context.Background(), qs...)
	require.NoError(t, err)
	return got
}

// TestCachedLedgerContract runs the contract suite on CachedLedger and,
// on a Redis Cluster, on Ledger too.
func TestCachedLedgerContract(t *testing.T) {
	cluster := redistest.StartCluster(t, 3).NewClient()
	for name, tc := range map[string]struct {
		client redis.UniversalClient
		cached bool
	}{
		"Client/Cached":  {redistest.Start(t).NewClient(), true},
		"Cluster/Cached": {cluster, true},
		"Cluster/Plain":  {cluster, false},
	} {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int64
			ledgertest.Run(t, func(t *testing.T) logout.Ledger {
				prefix := fmt.Sprintf("%s%d:", name, n.Add(1))
				if !tc.cached {
					return redisstore.NewLedger(tc.client, prefix)
				}
				return newCached(t, tc.client, redisstore.CachedLedgerConfig{Prefix: prefix})
			})
		})
	}
}

// TestCachedLedgerAnswersLocally: once a key is in the view, looking it up
// again makes no round trip. The staleness bound is long, so that a
// starved CPU cannot let the view go stale during the test.
func TestCachedLedgerAnswersLocally(t *testing.T) {
	client := redistest.Start(t).NewClient()
	c := newCached(t, client, redisstore.CachedLedgerConfig{MaxStaleness: 8 * time.Second})
	waitFresh(t, c)
	require.NoError(t, client.Ping(context.Background()).Err()) // a pooled connection: no handshake below
	hook := &roundTrips{}
	client.AddHook(hook)
	keys := []string{logout.SIDKey(issuer, "s"), logout.SubjectKey(issuer, "alice"), logout.SessionIDKey("id")}
	assert.False(t, seen(t, c, keys...))
	assert.EqualValues(t, 1, hook.n.Load(), "the first look-up reads every key in one round trip")
	for range 100 {
		assert.False(t, seen(t, c, keys...))
	}
	assert.EqualValues(t, 1, hook.n.Load(), "later look-ups are local")
	st := c.Stats()
	assert.EqualValues(t, 100, st.Local)
	assert.EqualValues(t, 1, st.Remote)
	assert.Equal(t, 3, st.Entries)

	require.NoError(t, c.Record(context.Background(), keys[1], base, time.Hour))
	assert.True(t, seen(t, c, keys...), "a record of this instance is in its view at once")
}

// TestCachedLedgerSeesOtherInstances: a record written by another
// instance, through a CachedLedger, a plain Ledger or RecordOnce, reaches
// the view; after the staleness bound it is certain to.
func TestCachedLedgerSeesOtherInstances(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{})
	b := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{})
	plain := redisstore.NewLedger(srv.NewClient(), "")
	waitFresh(t, b)
	write := map[string]func(key string) error{
		"CachedLedger": func(key string) error { return a.Record(ctx, key, base, time.Hour) },
		"Ledger":       func(key string) error { return plain.Record(ctx, key, base, time.Hour) },
		"RecordOnce": func(key string) error {
			_, err := plain.RecordOnce(ctx, key+"-jti", time.Minute, key, base, time.Hour)
			return err
		},
	}
	for name, w := range write {
		t.Run(name, func(t *testing.T) {
			key := logout.SIDKey(issuer, name)
			require.False(t, seen(t, b, key), "the view now holds: no record")
			require.NoError(t, w(key))
			time.Sleep(2 * redisstore.DefaultMaxStaleness)
			assert.True(t, seen(t, b, key), "a view past the bound never misses a record")
		})
	}
}

// TestCachedLedgerBrokenSubscription: records published while the
// subscription is down are missed by the view, so the view is dropped and
// rebuilt; none of them is ever answered as "not seen".
func TestCachedLedgerBrokenSubscription(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	admin := srv.NewClient()
	b := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{})
	plain := redisstore.NewLedger(srv.NewClient(), "")
	waitFresh(t, b)
	for i := range 5 {
		key := logout.SessionIDKey(fmt.Sprint("broken", i))
		require.False(t, seen(t, b, key))
		require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err())
		require.NoError(t, plain.Record(ctx, key, base, time.Hour))
		time.Sleep(2 * redisstore.DefaultMaxStaleness)
		assert.True(t, seen(t, b, key), "round %d: a record missed by the subscription", i)
	}
	require.Eventually(t, func() bool { return b.Stats().Breaks >= 1 }, freshWait, 10*time.Millisecond)
	waitFresh(t, b)
}

// TestCachedLedgerStalledRedis: while Redis holds every command (the PINGs
// too), the view goes stale and look-ups go to Redis, where they time
// out: a stalled channel never makes a look-up answer "not seen".
func TestCachedLedgerStalledRedis(t *testing.T) {
	srv := redistest.Start(t)
	c := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{Timeout: 200 * time.Millisecond})
	waitFresh(t, c)
	key := logout.SessionIDKey("stalled")
	require.False(t, seen(t, c, key))
	require.NoError(t, srv.NewClient().Do(context.Background(), "CLIENT", "PAUSE", 3000, "ALL").Err())
	time.Sleep(2 * redisstore.DefaultMaxStaleness)
	got, err := c.Seen(context.Background(), anyCheck(key))
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the look-up goes to Redis")
	assert.False(t, got)
	waitFresh(t, c) // and the view comes back once Redis answers again
	assert.False(t, seen(t, c, key))
}

// TestCachedLedgerRedisRestart: Redis stops and comes back empty; the view
// follows.
func TestCachedLedgerRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{})
	waitFresh(t, c)
	key := logout.SessionIDKey("restart")
	require.False(t, seen(t, c, key))
	srv.Stop()
	time.Sleep(2 * redisstore.DefaultMaxStaleness)
	_, err := c.Seen(ctx, anyCheck(key))
	assert.Error(t, err, "no answer from a view that cannot be kept fresh")
	srv.Restart()
	waitFresh(t, c)
	require.NoError(t, redisstore.NewLedger(srv.NewClient(), "").Record(ctx, key, base, time.Hour))
	time.Sleep(2 * redisstore.DefaultMaxStaleness)
	assert.True(t, seen(t, c, key))
}

// TestCachedLedgerBoundedView: a full view forgets keys and reads them
// again.
func TestCachedLedgerBoundedView(t *testing.T) {
	srv := redistest.Start(t)
	c := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{MaxEntries: 10})
	waitFresh(t, c)
	for i := range 50 {
		require.NoError(t, c.Record(context.Background(), fmt.Sprint("k", i), base, time.Hour))
	}
	assert.LessOrEqual(t, c.Stats().Entries, 10)
	for i := range 50 {
		assert.True(t, seen(t, c, fmt.Sprint("k", i)))
	}
}

// onceRecorder is backchannel.OnceRecorder, whose module this one does
// not require.
type onceRecorder interface {
	logout.Ledger
	RecordOnce(ctx context.Context, once string, onceTTL time.Duration, key string, at time.Time, ttl time.Duration) (bool, error)
}

var (
	_ onceRecorder = (*redisstore.Ledger)(nil)
	_ onceRecorder = (*redisstore.CachedLedger)(nil)
)

func TestRecordOnce(t *testing.T) {
	cluster := redistest.StartCluster(t, 3).NewClient()
	for name, client := range map[string]redis.UniversalClient{
		"Client": redistest.Start(t).NewClient(), "Cluster": cluster,
	} {
		for _, kind := range []string{"Ledger", "CachedLedger"} {
			t.Run(name+"/"+kind, func(t *testing.T) {
				ctx := context.Background()
				prefix := "once-" + kind + ":"
				var l onceRecorder = redisstore.NewLedger(client, prefix)
				if kind == "CachedLedger" {
					l = newCached(t, client, redisstore.CachedLedgerConfig{Prefix: prefix})
				}
				jti, sid := logout.JTIKey(issuer, "j1"), logout.SIDKey(issuer, "s1")
				ok, err := l.RecordOnce(ctx, jti, time.Minute, sid, base, time.Hour)
				require.NoError(t, err)
				assert.True(t, ok)
				assert.True(t, seen(t, l, sid))
				assert.True(t, seen(t, l, jti))
				ok, err = l.RecordOnce(ctx, jti, time.Minute, logout.SIDKey(issuer, "s2"), base, time.Hour)
				require.NoError(t, err)
				assert.False(t, ok, "a replay")
				assert.False(t, seen(t, l, logout.SIDKey(issuer, "s2")), "a replay records nothing")
				_, err = l.RecordOnce(ctx, jti, 0, sid, base, time.Hour)
				assert.Error(t, err)

				// Many instances receive the same token at once: one records it.
				var wins atomic.Int32
				var wg sync.WaitGroup
				for range 16 {
					wg.Go(func() {
						ok, err := l.RecordOnce(ctx, logout.JTIKey(issuer, "race"), time.Minute, sid, base, time.Hour)
						assert.NoError(t, err)
						if ok {
							wins.Add(1)
						}
					})
				}
				wg.Wait()
				assert.EqualValues(t, 1, wins.Load())
			})
		}
	}
}

// TestCachedLedgerRecordOnceInView: the key a CachedLedger's RecordOnce
// records is in its view at once, as Record's is; a replay or a failed
// RecordOnce puts nothing there. The subscription is refused (a proxy
// answers SUBSCRIBE with an error), so that only RecordOnce itself can
// have put the key in the view.
func TestCachedLedgerRecordOnceInView(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	p := redistest.StartProxy(t, srv.Addr())
	p.Fail("SUBSCRIBE", "ERR subscriptions refused")
	client := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	c := newCached(t, client, redisstore.CachedLedgerConfig{})
	jti, sid := logout.JTIKey(issuer, "j1"), logout.SIDKey(issuer, "s1")

	ok, err := c.RecordOnce(ctx, jti, time.Minute, sid, base, time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, seen(t, c, sid))
	assert.Equal(t, redisstore.CachedLedgerStats{Local: 1, Entries: 1, Nodes: 1, StaleNodes: 1}, c.Stats(),
		"answered from the view, without a subscription")

	s2 := logout.SIDKey(issuer, "s2")
	ok, err = c.RecordOnce(ctx, jti, time.Minute, s2, base, time.Hour)
	require.NoError(t, err)
	require.False(t, ok, "a replay")
	_, err = c.RecordOnce(ctx, logout.JTIKey(issuer, "j2"), 0, s2, base, time.Hour)
	require.Error(t, err)
	assert.Equal(t, 1, c.Stats().Entries, "neither the replay nor the failure is in the view")
	assert.False(t, seen(t, c, s2))
	assert.EqualValues(t, 1, c.Stats().Remote, "read from Redis")
	assert.Positive(t, p.Answered("SUBSCRIBE"), "the subscription was refused")
	assert.False(t, c.Fresh())
}

// TestCachedLedgerAPI: a CachedLedger has the methods of a session-check
// ledger and of a back-channel store, and its own; its Ledger is not
// exposed, so that no caller reads or writes past the view.
func TestCachedLedgerAPI(t *testing.T) {
	typ := reflect.TypeFor[redisstore.CachedLedger]()
	for i := range typ.NumField() {
		assert.False(t, typ.Field(i).IsExported(), "exported field %s", typ.Field(i).Name)
	}
	ptr := reflect.TypeFor[*redisstore.CachedLedger]()
	var methods []string
	for i := range ptr.NumMethod() {
		methods = append(methods, ptr.Method(i).Name)
	}
	assert.Equal(t, []string{"Close", "Fresh", "Record", "RecordOnce", "Seen", "Stats"}, methods)
}

// TestRecordOnceIsOneRoundTrip: on one server, the back-channel write is
// one command.
func TestRecordOnceIsOneRoundTrip(t *testing.T) {
	client := redistest.Start(t).NewClient()
	l := redisstore.NewLedger(client, "")
	ctx := context.Background()
	_, err := l.RecordOnce(ctx, "warm", time.Minute, "warm-key", base, time.Hour) // loads the script
	require.NoError(t, err)
	hook := &roundTrips{}
	client.AddHook(hook)
	ok, err := l.RecordOnce(ctx, "jti", time.Minute, "key", base, time.Hour)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.EqualValues(t, 1, hook.n.Load())
}

// TestTimeoutBoundsEveryCall: the store's and the ledger's Timeout cut
// each call to a stalled Redis, whatever the client's options, with an
// error wrapping context.DeadlineExceeded. A client without
// ContextTimeoutEnabled and with a long read timeout would wait for
// Redis; one with it that retries nothing reports the socket's timeout.
func TestTimeoutBoundsEveryCall(t *testing.T) {
	for name, opts := range map[string]redis.Options{
		"ReadTimeout":           {ReadTimeout: 30 * time.Second, MaxRetries: -1},
		"ContextTimeoutEnabled": {ContextTimeoutEnabled: true, MaxRetries: -1},
	} {
		t.Run(name, func(t *testing.T) {
			srv := redistest.Start(t)
			opts.Addr = srv.Addr()
			client := redis.NewClient(&opts)
			t.Cleanup(func() { _ = client.Close() })
			store := redisstore.NewStore(client, hashKey)
			store.Timeout = 200 * time.Millisecond
			ledger := redisstore.NewLedgerWithConfig(client, redisstore.LedgerConfig{Timeout: 200 * time.Millisecond})
			cached := newCached(t, client, redisstore.CachedLedgerConfig{Timeout: 200 * time.Millisecond})
			cookie := login(t, store, map[any]any{"id_token": "t"})
			loggedIn, err := store.New(newRequest(http.MethodGet, "/", cookie), sessionName)
			require.NoError(t, err)
			require.False(t, loggedIn.IsNew)
			// The pause is far longer than the bound, so that a starved CPU
			// cannot blur the two.
			const pause = 10 * time.Second
			require.NoError(t, srv.NewClient().Do(context.Background(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err())
			ctx := context.Background()
			calls := map[string]func() error{
				"Store.New": func() error {
					_, err := store.New(newRequest(http.MethodGet, "/", cookie), sessionName)
					return err
				},
				"Store.Save (login: SET)": func() error { return login2(store) },
				"Store.Save (logout: DEL)": func() error {
					loggedIn.Options.MaxAge = -1
					return store.Save(newRequest(http.MethodGet, "/logout"), httptest.NewRecorder(), loggedIn)
				},
				"Ledger.Record": func() error { return ledger.Record(ctx, "k", base, time.Hour) },
				"Ledger.RecordOnce": func() error {
					_, err := ledger.RecordOnce(ctx, "jti", time.Minute, "k", base, time.Hour)
					return err
				},
				"Ledger.Seen (GET)": func() error {
					_, err := ledger.Seen(ctx, anyCheck("k"))
					return err
				},
				"Ledger.Seen (MGET)": func() error {
					_, err := ledger.Seen(ctx, anyCheck("k"), anyCheck("l"))
					return err
				},
				"CachedLedger.Seen": func() error {
					_, err := cached.Seen(ctx, anyCheck("k"))
					return err
				},
			}
			for name, call := range calls {
				start := time.Now()
				err := call()
				assert.ErrorIs(t, err, context.DeadlineExceeded, name)
				assert.Less(t, time.Since(start), pause/2, "%s gives up at the store's timeout", name)
			}
		})
	}
}

// login2 saves a new session and returns the error.
func login2(store *redisstore.Store) error {
	r := newRequest(http.MethodGet, "/login")
	s, err := store.New(r, sessionName)
	if err != nil {
		return err
	}
	s.Values["id_token"] = "t"
	return s.Save(r, httptest.NewRecorder())
}

// TestSessionCheckOnCachedLedger: two instances, each with a CachedLedger
// of its own; a logout on one signs the replayed cookie out on both, the
// other at the latest once its view has passed the staleness bound.
func TestSessionCheckOnCachedLedger(t *testing.T) {
	for name, client := range map[string]func() redis.UniversalClient{
		"Client":  func() redis.UniversalClient { return redistest.Start(t).NewClient() },
		"Cluster": func() redis.UniversalClient { return redistest.StartCluster(t, 3).NewClient() },
	} {
		t.Run(name, func(t *testing.T) {
			c := client()
			var views []*redisstore.CachedLedger
			cached := func(cfg *logout.Config) {
				v := newCached(t, c, redisstore.CachedLedgerConfig{Prefix: "cached:"})
				views = append(views, v)
				cfg.SessionCheck.Ledger = v
			}
			a, b := newApp(t, nil, "", false, cached), newApp(t, nil, "", false, cached)
			waitFresh(t, views[0])
			waitFresh(t, views[1])
			cookie := a.login(t, time.Now().Add(-time.Minute))
			require.Equal(t, "in", a.get(t, "/", cookie).Body.String())
			require.Equal(t, "in", b.get(t, "/", cookie).Body.String())
			require.Equal(t, http.StatusFound, a.get(t, "/logout", cookie).Code)
			assert.Equal(t, "out", a.get(t, "/", cookie).Body.String(), "same instance: at once")
			time.Sleep(2 * redisstore.DefaultMaxStaleness)
			assert.Equal(t, "out", b.get(t, "/", cookie).Body.String(), "other instance")
			assert.Positive(t, views[1].Stats().Local, "the other instance answered from its view")
		})
	}
}

// TestCachedLedgerFailedRecordStaysOutOfView: a record that Redis
// refuses is an error, and the view does not take it either: it would
// answer "seen" for a logout no other instance sees.
func TestCachedLedgerFailedRecordStaysOutOfView(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	c := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{Prefix: "v:", MaxStaleness: 8 * time.Second})
	waitFresh(t, c)
	key := logout.SessionIDKey("refused")
	require.False(t, seen(t, c, key), "the view now holds: no record")

	allow := refuseWrites(t, srv)
	assert.ErrorContains(t, c.Record(ctx, key, base, time.Hour), "NOREPLICAS")
	allow()

	assert.False(t, seen(t, c, key), "the view holds no record of the refused write")
	assert.Zero(t, srv.NewClient().Exists(ctx, "v:"+key).Val())
}

// TestCachedLedgerReadFailures: when Redis fails (stopped, or paused past
// the Timeout), the view cannot be kept fresh, and look-ups, of keys the
// view holds as "no record" or not at all, are errors, never "not seen";
// a failed read leaves nothing in the view.
func TestCachedLedgerReadFailures(t *testing.T) {
	for _, f := range readFaults {
		t.Run(f.name, func(t *testing.T) {
			srv := redistest.Start(t)
			c := newCached(t, honouringClient(t, srv), redisstore.CachedLedgerConfig{Timeout: faultBound})
			waitFresh(t, c)
			held := logout.SessionIDKey("held")
			require.False(t, seen(t, c, held), "the view now holds: no record")
			f.fail(t, srv)
			require.Eventually(t, func() bool { return !c.Fresh() }, faultWait, 10*time.Millisecond,
				"the view goes stale once Redis stops answering")

			entries := c.Stats().Entries
			for _, keys := range [][]string{{held}, {"unknown"}, {held, "unknown"}} {
				checks := make([]logout.LedgerQuery, len(keys))
				for i, k := range keys {
					checks[i] = anyCheck(k)
				}
				got, err := c.Seen(context.Background(), checks...)
				f.assertFailed(t, err, "%v", keys)
				assert.ErrorIs(t, err, redisstore.ErrLedgerRead)
				assert.True(t, strings.HasPrefix(err.Error(), "redisstore: reading the ledger: "), err)
				assert.Equal(t, 1, strings.Count(err.Error(), "redisstore:"), err)
				assert.False(t, got)
			}
			assert.Zero(t, c.Stats().Local, "no look-up was answered from the view")
			assert.LessOrEqual(t, c.Stats().Entries, entries, "a failed read adds nothing to the view")
		})
	}
}

// TestCachedLedgerFreshViewReadFailure: within the staleness bound, a
// view that holds a key answers for it while Redis stalls; a key it does
// not hold is read from Redis, and a read that times out is an error
// that leaves nothing in the view.
func TestCachedLedgerFreshViewReadFailure(t *testing.T) {
	srv := redistest.Start(t)
	c := newCached(t, honouringClient(t, srv), redisstore.CachedLedgerConfig{Timeout: faultBound, MaxStaleness: 8 * time.Second})
	waitFresh(t, c)
	held := logout.SessionIDKey("held")
	require.False(t, seen(t, c, held), "the view now holds: no record")
	pauseAll(t, srv)

	got, err := c.Seen(context.Background(), anyCheck("unknown"))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, redisstore.ErrLedgerRead)
	assert.False(t, got)
	assert.Equal(t, 1, c.Stats().Entries, "the failed read is not kept")
	assert.False(t, seen(t, c, held), "the view answers within its bound")
}

// TestCachedLedgerUnreadableRecord: a key that does not hold a record's
// time, or is not a string at all, is an error of the look-up, never "not
// seen", also behind a key without record.
func TestCachedLedgerUnreadableRecord(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	admin := srv.NewClient()
	require.NoError(t, admin.Set(ctx, "u:text", "not-a-number", time.Hour).Err())
	require.NoError(t, admin.HSet(ctx, "u:hash", "f", "v").Err())
	c := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{Prefix: "u:"})
	waitFresh(t, c)
	for key, want := range map[string]struct {
		is  error
		msg string
	}{
		"text": {redisstore.ErrBadRecord, `redisstore: bad record: key "text" holds "not-a-number", not a time`},
		"hash": {redisstore.ErrLedgerRead, "WRONGTYPE"},
	} {
		for _, checks := range [][]logout.LedgerQuery{{anyCheck(key)}, {anyCheck("absent"), anyCheck(key)}} {
			got, err := c.Seen(ctx, checks...)
			assert.ErrorIs(t, err, want.is, "%v", checks)
			assert.ErrorContains(t, err, want.msg, "%v", checks)
			assert.Equal(t, 1, strings.Count(err.Error(), "redisstore:"), err)
			assert.False(t, got)
		}
	}
}

// TestCachedLedgerReadsSince: a record read from Redis matches a look-up
// since exactly its time, as it does once in the view. The record is
// written without being published, so that the view does not hold it
// before the first look-up.
func TestCachedLedgerReadsSince(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	c := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{MaxStaleness: 8 * time.Second})
	waitFresh(t, c)
	key := logout.SubjectKey(issuer, "since")
	require.NoError(t, srv.NewClient().Set(ctx, redisstore.DefaultLedgerPrefix+key, base.UnixMilli(), time.Hour).Err())
	for _, tc := range []struct {
		since time.Time
		want  bool
	}{
		{base, true},
		{base.Add(time.Millisecond), false},
		{base, true},
	} {
		got, err := c.Seen(ctx, logout.LedgerQuery{Key: key, Since: tc.since})
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "since %v", tc.since)
	}
	// The first look-up reads Redis unless the record's notice reached the
	// view first; the others read the view.
	assert.LessOrEqual(t, c.Stats().Remote, uint64(1))
}

// TestCachedLedgerRecordWithoutExpiry: a record that Redis keeps without
// expiry (written by hand, say) is seen, as a Ledger sees it.
func TestCachedLedgerRecordWithoutExpiry(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	key := logout.SubjectKey(issuer, "kept")
	require.NoError(t, srv.NewClient().Set(ctx, redisstore.DefaultLedgerPrefix+key, base.UnixMilli(), 0).Err())
	c := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{MaxStaleness: 8 * time.Second})
	waitFresh(t, c)
	assert.True(t, seen(t, redisstore.NewLedger(srv.NewClient(), ""), key))
	assert.True(t, seen(t, c, key), "read from Redis")
	assert.True(t, seen(t, c, key), "and from the view")
	assert.EqualValues(t, 1, c.Stats().Local)
}

// TestCachedLedgerNoChecks: a look-up of nothing is "not seen" at once,
// from no view and no round trip.
func TestCachedLedgerNoChecks(t *testing.T) {
	srv := redistest.Start(t)
	c := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{})
	srv.Stop()
	got, err := c.Seen(context.Background())
	require.NoError(t, err)
	assert.False(t, got)
	st := c.Stats()
	assert.Zero(t, st.Local+st.Remote, "no look-up is counted")
}

// TestCachedLedgerStartsWithRedisDown: a CachedLedger made while Redis
// is down answers every look-up with an error, and builds its view once
// Redis is back.
func TestCachedLedgerStartsWithRedisDown(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	client := srv.NewClient()
	srv.Stop()
	c := newCached(t, client, redisstore.CachedLedgerConfig{})
	assert.False(t, c.Fresh())
	got, err := c.Seen(ctx, anyCheck("k"))
	assert.Error(t, err)
	assert.False(t, got)

	srv.Restart()
	waitFresh(t, c)
	assert.False(t, seen(t, c, "k"))
	require.NoError(t, redisstore.NewLedger(srv.NewClient(), "").Record(ctx, "k", base, time.Hour))
	assert.Eventually(t, func() bool { return seen(t, c, "k") }, faultWait, 10*time.Millisecond)
}

// TestCachedLedgerClosed: a closed CachedLedger has no view: it asks
// Redis for every look-up, and sees at once a record written since by
// another instance. The staleness bound is long, so that only the close
// can end the view's freshness during the test.
func TestCachedLedgerClosed(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	c := redisstore.NewCachedLedger(srv.NewClient(), redisstore.CachedLedgerConfig{MaxStaleness: 8 * time.Second})
	waitFresh(t, c)
	require.False(t, seen(t, c, "k"), "the view now holds: no record")
	require.NoError(t, c.Close())
	assert.False(t, c.Fresh())

	require.NoError(t, redisstore.NewLedger(srv.NewClient(), "").Record(ctx, "k", base, time.Hour))
	remote := c.Stats().Remote
	assert.True(t, seen(t, c, "k"), "a closed view is not read")
	assert.Equal(t, remote+1, c.Stats().Remote)
}

// TestCachedLedgerCloseEndsSubscription: Close ends the goroutines of the
// subscription, and a second Close reports that the subscription is
// closed already.
func TestCachedLedgerCloseEndsSubscription(t *testing.T) {
	srv := redistest.Start(t)
	c := redisstore.NewCachedLedger(srv.NewClient(), redisstore.CachedLedgerConfig{})
	waitFresh(t, c)
	require.NoError(t, c.Close())
	assert.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		return !strings.Contains(stacks, "(*CachedLedger).ping") && !strings.Contains(stacks, "(*CachedLedger).receive") &&
			!strings.Contains(stacks, "(*CachedLedger).manage") && !strings.Contains(stacks, "(*CachedLedger).checkState")
	}, faultWait, 10*time.Millisecond, "the goroutines of the subscription end")
	assert.ErrorContains(t, c.Close(), "redisstore: closing the subscription")
}

// TestCachedLedgerRestartDropsView: Redis without persistence restarts
// empty; the view, which held a record, is dropped with the
// subscription, and does not answer "seen" for what Redis no longer
// holds.
func TestCachedLedgerRestartDropsView(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	c := newCached(t, srv.NewClient(), redisstore.CachedLedgerConfig{})
	waitFresh(t, c)
	key := logout.SessionIDKey("lost")
	require.NoError(t, c.Record(ctx, key, base, time.Hour))
	require.True(t, seen(t, c, key))
	require.Equal(t, 1, c.Stats().Entries)

	srv.Restart()
	require.Eventually(t, func() bool { return c.Stats().Breaks >= 1 }, faultWait, 10*time.Millisecond,
		"the subscription breaks")
	waitFresh(t, c)
	assert.False(t, seen(t, c, key), "the record lost with Redis is not answered from the view")
}

// TestCachedLedgerRing: on a Ring, every shard publishes the records it
// holds to its own subscribers; the CachedLedger subscribes on each, and
// sees the records of every shard.
func TestCachedLedgerRing(t *testing.T) {
	ctx := context.Background()
	ring := newRing(t, redistest.Start(t), redistest.Start(t))
	a := newCached(t, ring, redisstore.CachedLedgerConfig{})
	waitFresh(t, a)
	assert.Equal(t, 2, a.Stats().Nodes)
	writer := redisstore.NewLedger(ring, "")
	var keys []string
	for i := range 8 {
		keys = append(keys, logout.SessionIDKey(fmt.Sprint("ring", i)))
	}
	require.False(t, seen(t, a, keys...), "the view now holds: no record")
	for _, k := range keys {
		require.NoError(t, writer.Record(ctx, k, base, time.Hour))
	}
	time.Sleep(2 * redisstore.DefaultMaxStaleness)
	remote := a.Stats().Remote
	for _, k := range keys {
		assert.True(t, seen(t, a, k), k)
	}
	assert.Equal(t, remote, a.Stats().Remote, "every record reached the view")
}

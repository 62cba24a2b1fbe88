package redisstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/redisstore"
	"github.com/oidc-logout/logout/redisstore/redistest"
)

func benchSeen(b *testing.B, n int) {
	ctx := context.Background()
	rev := redisstore.NewLedger(redistest.Start(b).NewClient(), "")
	checks := make([]logout.LedgerQuery, n)
	for i := range checks {
		checks[i] = logout.LedgerQuery{Key: logout.SessionIDKey(string(rune('a' + i))), Since: base}
	}
	require.NoError(b, rev.Record(ctx, checks[n-1].Key, base.Add(-time.Second), time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := rev.Seen(ctx, checks...); err != nil || ok {
			b.Fatalf("Seen = %v, %v", ok, err)
		}
	}
}

// BenchmarkSeenOneKey is the session check's look-up of one key: a GET.
func BenchmarkSeenOneKey(b *testing.B) { benchSeen(b, 1) }

// BenchmarkSeenTwoKeys is the session check's look-up of sid and sub:
// one MGET.
func BenchmarkSeenTwoKeys(b *testing.B) { benchSeen(b, 2) }

// BenchmarkSeenFourKeys is the session check's look-up: sid, sub, the
// session id and the id_token hash, one MGET.
func BenchmarkSeenFourKeys(b *testing.B) { benchSeen(b, 4) }

func BenchmarkRevoke(b *testing.B) {
	ctx := context.Background()
	rev := redisstore.NewLedger(redistest.Start(b).NewClient(), "")
	b.ReportAllocs()
	for b.Loop() {
		if err := rev.Record(ctx, "k", base, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreGet reads a session with 3 KB + 1.5 KB + 0.8 KB of tokens.
func BenchmarkStoreGet(b *testing.B) {
	store := redisstore.NewStore(redistest.Start(b).NewClient(), hashKey)
	cookie := login(b, store, bigTokens(b))
	b.ReportAllocs()
	for b.Loop() {
		s, err := store.New(newRequest(http.MethodGet, "/", cookie), sessionName)
		if err != nil || s.IsNew {
			b.Fatalf("New: %v", err)
		}
	}
}

// BenchmarkStoreSave writes such a session back.
func BenchmarkStoreSave(b *testing.B) {
	store := redisstore.NewStore(redistest.Start(b).NewClient(), hashKey)
	cookie := login(b, store, bigTokens(b))
	r := newRequest(http.MethodGet, "/", cookie)
	s, err := store.New(r, sessionName)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if err := store.Save(r, httptest.NewRecorder(), s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogoutRedisStore is a login followed by a logout through the
// middleware, which deletes the Redis record.
func BenchmarkLogoutRedisStore(b *testing.B) {
	store := redisstore.NewStore(redistest.Start(b).NewClient(), hashKey)
	h := newMiddleware(b, store, nil).Wrap(http.NotFoundHandler())
	values := bigTokens(b)
	b.ReportAllocs()
	for b.Loop() {
		cookie := login(b, store, values)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, newRequest(http.MethodGet, "/logout", cookie))
		if w.Code != http.StatusFound {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkWrapWithRedisCheck is a signed-in request through the
// middleware with the session check on Redis (sid, sub and session id
// looked up in one round trip), next to the same with the in-memory store.
func BenchmarkWrapWithRedisCheck(b *testing.B) {
	benchWrapCheck(b, redisstore.NewLedger(redistest.Start(b).NewClient(), ""))
}

// BenchmarkWrapWithMemoryCheck is BenchmarkWrapWithRedisCheck on
// logout.MemoryLedger.
func BenchmarkWrapWithMemoryCheck(b *testing.B) {
	benchWrapCheck(b, logout.NewMemoryLedger(logout.MemoryLedgerConfig{}))
}

// BenchmarkWrapNoCheck is the baseline of the BenchmarkWrapWith*
// benchmarks: the same signed-in request, whose handler reads the
// session, without the session check.
func BenchmarkWrapNoCheck(b *testing.B) {
	benchWrapCheck(b, nil)
}

// BenchmarkWrapWithCachedRedisCheck is BenchmarkWrapWithRedisCheck on a
// CachedLedger: the keys are in the local view after the first request.
func BenchmarkWrapWithCachedRedisCheck(b *testing.B) {
	c := newCached(b, redistest.Start(b).NewClient(), redisstore.CachedLedgerConfig{})
	waitFresh(b, c)
	benchWrapCheck(b, c)
	reportLocal(b, c)
}

// BenchmarkWrapWithCachedClusterCheck is the same on a 3-node Redis
// Cluster.
func BenchmarkWrapWithCachedClusterCheck(b *testing.B) {
	c := newCached(b, redistest.StartCluster(b, 3).NewClient(), redisstore.CachedLedgerConfig{})
	waitFresh(b, c)
	benchWrapCheck(b, c)
	reportLocal(b, c)
}

// reportLocal reports the share of look-ups the view answered.
func reportLocal(b *testing.B, c *redisstore.CachedLedger) {
	st := c.Stats()
	b.ReportMetric(100*float64(st.Local)/float64(max(st.Local+st.Remote, 1)), "%local")
}

func benchWrapCheck(b *testing.B, rev logout.Ledger) {
	h, cookie := signedInHandler(b, rev)
	b.ReportAllocs()
	for b.Loop() {
		serveSignedIn(b, h, cookie)
	}
}

// signedInHandler returns the middleware, with the session check on rev
// (none when nil), around a handler that reads the session, and the
// cookie of a signed-in session.
func signedInHandler(b *testing.B, rev logout.Ledger) (http.Handler, *http.Cookie) {
	store := sessions.NewCookieStore(hashKey)
	m := newMiddleware(b, store, func(c *logout.Config) {
		if rev != nil {
			c.SessionCheck = &logout.SessionCheckConfig{Ledger: rev}
		}
	})
	// The handler reads the session, as a signed-in page does.
	h := m.Wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if s, err := store.Get(r, sessionName); err != nil || s.IsNew {
			b.Fatalf("not signed in: %v", err)
		}
	}))
	r := newRequest(http.MethodGet, "/login")
	s, err := store.New(r, sessionName)
	require.NoError(b, err)
	s.Values["id_token"] = fakeJWT(b, map[string]any{"sub": "alice", "sid": "op-s1"}, 0)
	if rev != nil {
		m.InitSession(s)
	}
	w := httptest.NewRecorder()
	require.NoError(b, s.Save(r, w))
	return h, w.Result().Cookies()[0]
}

// serveSignedIn serves one signed-in request.
func serveSignedIn(b *testing.B, h http.Handler, cookie *http.Cookie) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, newRequest(http.MethodGet, "/", cookie))
	if len(w.Result().Cookies()) != 0 {
		b.Fatal("the session was cleared")
	}
}

// BenchmarkSessionCheckRatios measures, in one process, a signed-in
// request with the session check on each store against the same request
// without the check, in interleaved rounds (every variant once per round,
// each round starting with another, so that a busy machine slows them
// alike), and reports the median of the
// per-round ratios: x-memory, x-redis (Ledger, one round trip per
// request), x-cached (CachedLedger on one server), x-cluster
// (CachedLedger on a 3-node Redis Cluster), and cached/memory, the
// CachedLedger against the MemoryLedger. Run it with -benchtime=1x.
func BenchmarkSessionCheckRatios(b *testing.B) {
	single := redistest.Start(b)
	cached := newCached(b, single.NewClient(), redisstore.CachedLedgerConfig{})
	cluster := newCached(b, redistest.StartCluster(b, 3).NewClient(), redisstore.CachedLedgerConfig{})
	waitFresh(b, cached)
	waitFresh(b, cluster)
	variants := []struct {
		name string
		rev  logout.Ledger
	}{
		{"none", nil},
		{"x-memory", logout.NewMemoryLedger(logout.MemoryLedgerConfig{})},
		{"x-redis", redisstore.NewLedger(single.NewClient(), "")},
		{"x-cached", cached},
		{"x-cluster", cluster},
	}
	const rounds, perRound = 31, 500
	handlers := make([]http.Handler, len(variants))
	cookies := make([]*http.Cookie, len(variants))
	for i, v := range variants {
		handlers[i], cookies[i] = signedInHandler(b, v.rev)
		serveSignedIn(b, handlers[i], cookies[i]) // the first look-up fills a view
	}
	ratios := make([][]float64, len(variants))
	var vsMemory []float64 // x-cached over x-memory
	for b.Loop() {
		for round := range rounds {
			times := make([]time.Duration, len(variants))
			for j := range variants {
				i := (j + round) % len(variants) // no variant always runs first
				start := time.Now()
				for range perRound {
					serveSignedIn(b, handlers[i], cookies[i])
				}
				times[i] = time.Since(start)
			}
			for i := range variants {
				ratios[i] = append(ratios[i], float64(times[i])/float64(times[0]))
			}
			vsMemory = append(vsMemory, float64(times[3])/float64(times[1]))
		}
	}
	for i, v := range variants[1:] {
		b.ReportMetric(median(ratios[i+1]), v.name)
	}
	b.ReportMetric(median(vsMemory), "cached/memory")
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

// BenchmarkPropagationRedis measures how long a logout recorded by one
// instance takes to be seen by another, both with a CachedLedger on one
// redis-server: from the start of Record on the first to the first Seen
// of the second that answers "seen". p50-µs and p99-µs are the
// percentiles over the iterations, %>10ms the share of records that took
// longer than 10 ms.
func BenchmarkPropagationRedis(b *testing.B) {
	srv := redistest.Start(b)
	benchPropagation(b, srv.NewClient(), srv.NewClient())
}

// BenchmarkPropagationCluster is the same on a 3-node Redis Cluster, the
// two instances with clients of their own.
func BenchmarkPropagationCluster(b *testing.B) {
	c := redistest.StartCluster(b, 3)
	benchPropagation(b, c.NewClient(), c.NewClient())
}

func benchPropagation(b *testing.B, ca, cb redis.UniversalClient) {
	ctx := context.Background()
	a := newCached(b, ca, redisstore.CachedLedgerConfig{})
	other := newCached(b, cb, redisstore.CachedLedgerConfig{})
	waitFresh(b, other)
	var samples []time.Duration
	i := 0
	for b.Loop() {
		i++
		key := logout.SessionIDKey(fmt.Sprint("prop", i))
		if ok, err := other.Seen(ctx, logout.LedgerQuery{Key: key}); err != nil || ok {
			b.Fatalf("Seen = %v, %v", ok, err)
		}
		start := time.Now()
		if err := a.Record(ctx, key, base, time.Minute); err != nil {
			b.Fatal(err)
		}
		for {
			ok, err := other.Seen(ctx, logout.LedgerQuery{Key: key})
			if err != nil {
				b.Fatal(err)
			}
			if ok {
				break
			}
			runtime.Gosched()
		}
		samples = append(samples, time.Since(start))
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds()), "p99-µs")
	slow := len(samples) - sort.Search(len(samples), func(i int) bool { return samples[i] > 10*time.Millisecond })
	b.ReportMetric(100*float64(slow)/float64(len(samples)), "%>10ms")
	reportLocal(b, other)
}

// BenchmarkPropagationAcrossBus is BenchmarkPropagationCluster with every
// record on a master other than the one serving the slot of the changes
// channel (where a single subscription to it would sit), written 5 ms
// after the previous one was seen, so that a record relayed by the
// cluster bus would follow other bus traffic. %38-50ms is the share of
// records seen 38 to 50 ms after the write began: the mark of a message
// held by Nagle's algorithm until a delayed ACK.
func BenchmarkPropagationAcrossBus(b *testing.B) {
	c := redistest.StartClusterWith(b, redistest.ClusterConfig{NodeTimeout: 2 * time.Second})
	ctx := context.Background()
	const prefix = "across:"
	admin := c.NewClient()
	y := (nodeOfKey(b, c, admin, redisstore.ChangesChannel(prefix)) + 1) % len(c.Nodes)
	tag := "" // every key hashes by this tag, to a slot of y
	for i := 0; tag == ""; i++ {
		if nodeOfKey(b, c, admin, fmt.Sprint("{t", i, "}")) == y {
			tag = fmt.Sprint("{t", i, "}")
		}
	}
	writer := redisstore.NewLedger(c.NewClient(), prefix)
	other := newCached(b, c.NewClient(), redisstore.CachedLedgerConfig{Prefix: prefix})
	waitFresh(b, other)
	var samples []time.Duration
	i := 0
	for b.Loop() {
		key := logout.SessionIDKey(fmt.Sprint(tag, i))
		i++
		if ok, err := other.Seen(ctx, logout.LedgerQuery{Key: key}); err != nil || ok {
			b.Fatalf("Seen = %v, %v", ok, err)
		}
		time.Sleep(5 * time.Millisecond)
		start := time.Now()
		if err := writer.Record(ctx, key, base, time.Minute); err != nil {
			b.Fatal(err)
		}
		for {
			ok, err := other.Seen(ctx, logout.LedgerQuery{Key: key})
			if err != nil {
				b.Fatal(err)
			}
			if ok {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
		samples = append(samples, time.Since(start))
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds()), "p99-µs")
	nagle := 0
	for _, d := range samples {
		if d >= 38*time.Millisecond && d < 50*time.Millisecond {
			nagle++
		}
	}
	b.ReportMetric(100*float64(nagle)/float64(len(samples)), "%38-50ms")
}

// BenchmarkBackChannelWriteSteps is the back-channel handler's write on a
// Ledger without RecordOnce: Seen of the jti, Record of the sid, Record
// of the jti, three round trips one after another.
func BenchmarkBackChannelWriteSteps(b *testing.B) {
	ctx := context.Background()
	l := redisstore.NewLedger(redistest.Start(b).NewClient(), "")
	i := 0
	for b.Loop() {
		i++
		jti, sid := logout.JTIKey(issuer, fmt.Sprint("j", i)), logout.SIDKey(issuer, fmt.Sprint("s", i))
		if ok, err := l.Seen(ctx, logout.LedgerQuery{Key: jti}); err != nil || ok {
			b.Fatal(ok, err)
		}
		if err := l.Record(ctx, sid, base, time.Hour); err != nil {
			b.Fatal(err)
		}
		if err := l.Record(ctx, jti, base, 7*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBackChannelWriteOnce is the same write with RecordOnce: one
// script, one round trip.
func BenchmarkBackChannelWriteOnce(b *testing.B) {
	ctx := context.Background()
	l := redisstore.NewLedger(redistest.Start(b).NewClient(), "")
	i := 0
	for b.Loop() {
		i++
		jti, sid := logout.JTIKey(issuer, fmt.Sprint("j", i)), logout.SIDKey(issuer, fmt.Sprint("s", i))
		if ok, err := l.RecordOnce(ctx, jti, 7*time.Minute, sid, base, time.Hour); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

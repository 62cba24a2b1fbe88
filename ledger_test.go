package logout_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/ledgertest"
)

func TestMemoryLedgerContract(t *testing.T) {
	t.Parallel() // its expiry test waits two seconds
	ledgertest.Run(t, func(*testing.T) logout.Ledger {
		return logout.NewMemoryLedger(logout.MemoryLedgerConfig{})
	})
}

// fakeClock is a settable clock for stores and handlers under test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func isSeen(t *testing.T, s logout.Ledger, key string) bool {
	t.Helper()
	ok, err := s.Seen(context.Background(), logout.LedgerQuery{Key: key})
	require.NoError(t, err)
	return ok
}

func TestMemoryLedgerRefuseWhenFull(t *testing.T) {
	clock := newFakeClock()
	var logs bytes.Buffer
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{
		MaxEntries: 3, RefuseWhenFull: true, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, s.Record(ctx, fmt.Sprint(i), clock.Now(), time.Duration(i+1)*time.Minute))
	}
	err := s.Record(ctx, "3", clock.Now(), time.Hour)
	require.ErrorIs(t, err, logout.ErrLedgerFull)
	assert.False(t, isSeen(t, s, "3"))
	assert.True(t, isSeen(t, s, "0"), "a full store must not forget a live record")
	assert.Equal(t, logout.MemoryLedgerStats{Records: 3, Refused: 1}, s.Stats())
	assert.Contains(t, logs.String(), "record refused")

	// Updating a key already held is not a new record.
	require.NoError(t, s.Record(ctx, "2", clock.Now(), 2*time.Hour))

	// Once the first record expires there is room again.
	clock.Advance(time.Minute)
	assert.False(t, isSeen(t, s, "0"), "expired records no longer match")
	require.NoError(t, s.Record(ctx, "3", clock.Now(), time.Hour))
	assert.Equal(t, 3, s.Len())
	assert.True(t, isSeen(t, s, "3"))
}

func TestMemoryLedgerFullEvictsClosestToExpiry(t *testing.T) {
	clock := newFakeClock()
	var logs bytes.Buffer
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{
		MaxEntries: 3, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	ctx := context.Background()
	ttls := map[string]time.Duration{"a": time.Hour, "b": time.Minute, "c": 2 * time.Hour}
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, s.Record(ctx, k, clock.Now(), ttls[k]))
	}
	// The new record is kept: a logout is never silently lost.
	require.NoError(t, s.Record(ctx, "new", clock.Now(), 30*time.Minute))
	assert.True(t, isSeen(t, s, "new"))
	assert.False(t, isSeen(t, s, "b"), "the record closest to its expiry goes")
	assert.True(t, isSeen(t, s, "a"))
	assert.True(t, isSeen(t, s, "c"))
	assert.Equal(t, logout.MemoryLedgerStats{Records: 3, Evicted: 1}, s.Stats())
	assert.Contains(t, logs.String(), "evicted")
	assert.NotContains(t, logs.String(), `"b"`, "keys are not logged")

	// An expired record makes room without counting as an eviction.
	clock.Advance(31 * time.Minute)
	require.NoError(t, s.Record(ctx, "later", clock.Now(), time.Hour))
	assert.Equal(t, uint64(1), s.Stats().Evicted)
	assert.True(t, isSeen(t, s, "later"))

	// Fullness is logged at most every 10 seconds.
	require.NoError(t, s.Record(ctx, "x", clock.Now(), 3*time.Hour))
	n := strings.Count(logs.String(), "\n")
	require.NoError(t, s.Record(ctx, "y", clock.Now(), 3*time.Hour))
	require.NoError(t, s.Record(ctx, "z", clock.Now(), 3*time.Hour))
	assert.Equal(t, uint64(4), s.Stats().Evicted)
	assert.Equal(t, n, strings.Count(logs.String(), "\n"), "one log line per 10 seconds at most")
}

// A back-channel logout writes two records per token; a full store must
// keep the newest ones.
func TestMemoryLedgerFullKeepsEveryNewRecord(t *testing.T) {
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{MaxEntries: 100})
	ctx := context.Background()
	for i := range 1000 {
		require.NoError(t, s.Record(ctx, fmt.Sprint(i), time.Now(), time.Hour+time.Duration(i)*time.Second))
		require.True(t, isSeen(t, s, fmt.Sprint(i)))
	}
	assert.Equal(t, 100, s.Len())
	assert.Equal(t, 100, logout.MemoryHeapLen(s))
	for i := 900; i < 1000; i++ {
		assert.True(t, isSeen(t, s, fmt.Sprint(i)), "record %d", i)
	}
}

// Expired records are dropped a batch at a time: no Record call sweeps
// the whole store while holding the lock.
func TestMemoryLedgerExpiresIncrementally(t *testing.T) {
	clock := newFakeClock()
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{MaxEntries: 20000, Now: clock.Now})
	ctx := context.Background()
	for i := range 10000 {
		require.NoError(t, s.Record(ctx, fmt.Sprint(i), clock.Now(), time.Minute))
	}
	clock.Advance(time.Hour)
	for i := range 100 {
		before := s.Len()
		require.NoError(t, s.Record(ctx, fmt.Sprint("new", i), clock.Now(), time.Hour))
		assert.Equal(t, before+1-logout.MemoryExpireBatch, s.Len())
		assert.False(t, isSeen(t, s, fmt.Sprint(i*10)), "expired records never match")
	}
	for i := range 10000 {
		require.NoError(t, s.Record(ctx, fmt.Sprint("more", i), clock.Now(), time.Hour))
	}
	assert.Equal(t, 10100, s.Len(), "every expired record is dropped in time")
	assert.Equal(t, s.Len(), logout.MemoryHeapLen(s))
}

func TestMemoryLedgerExtendKeepsLaterExpiry(t *testing.T) {
	clock := newFakeClock()
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{Now: clock.Now})
	ctx := context.Background()
	require.NoError(t, s.Record(ctx, "k", clock.Now(), time.Minute))
	require.NoError(t, s.Record(ctx, "k", clock.Now(), time.Hour))
	require.NoError(t, s.Record(ctx, "k", clock.Now(), time.Second)) // shorter: ignored
	clock.Advance(2 * time.Minute)
	require.NoError(t, s.Record(ctx, "other", clock.Now(), time.Minute)) // drops expired heap items
	assert.True(t, isSeen(t, s, "k"), "the later expiry is kept")
	clock.Advance(time.Hour)
	assert.False(t, isSeen(t, s, "k"))
	require.NoError(t, s.Record(ctx, "again", clock.Now(), time.Minute))
	assert.Equal(t, 1, s.Len(), "expired records are dropped when new ones come in")
}

func TestMemoryLedgerRejectsBadTTL(t *testing.T) {
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{})
	for _, ttl := range []time.Duration{0, -time.Second} {
		assert.Error(t, s.Record(context.Background(), "k", time.Now(), ttl))
	}
}

func TestMemoryLedgerHeapStaysBounded(t *testing.T) {
	clock := newFakeClock()
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{Now: clock.Now})
	ctx := context.Background()
	// Extending the same key adds no record to the heap.
	for i := range 1000 {
		require.NoError(t, s.Record(ctx, "k", clock.Now(), time.Duration(i+1)*time.Second))
	}
	assert.Equal(t, 1, s.Len())
	assert.Equal(t, 1, logout.MemoryHeapLen(s))

	// Three chunks of records that expire together, then new records
	// until every expired one is dropped: the chunks they held are freed
	// but one spare.
	n := 3 * logout.MemoryHeapChunkSize
	for i := range n {
		require.NoError(t, s.Record(ctx, fmt.Sprint("old", i), clock.Now(), time.Minute))
	}
	require.Equal(t, 4, logout.MemoryHeapChunks(s))
	clock.Advance(time.Hour)
	for i := range n/logout.MemoryExpireBatch + 1 {
		require.NoError(t, s.Record(ctx, fmt.Sprint("new", i), clock.Now(), time.Minute))
	}
	require.Equal(t, n/logout.MemoryExpireBatch+1, s.Len(), "every expired record dropped")
	assert.LessOrEqual(t, logout.MemoryHeapChunks(s), 2, "chunks freed")
}

func TestKeysAreUnambiguous(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range []string{
		logout.SIDKey("https://a", "b:c"),
		logout.SIDKey("https://a:b", "c"),
		logout.SubjectKey("https://a", "b:c"),
		logout.SessionIDKey("b:c"),
		logout.SIDKey("", "x"),
		logout.SubjectKey("", "x"),
	} {
		assert.False(t, keys[k], "duplicate key %q", k)
		keys[k] = true
	}
}

// fillExpired returns a MemoryLedger of n records that expire at once,
// and the clock, advanced past their expiry.
func fillExpired(b *testing.B, n int) (*logout.MemoryLedger, *fakeClock) {
	clock := newFakeClock()
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{MaxEntries: 2 * n, Now: clock.Now})
	for i := range n {
		require.NoError(b, s.Record(context.Background(), logout.SessionIDKey(fmt.Sprint("old", i)), clock.Now(), time.Minute))
	}
	clock.Advance(time.Hour)
	return s, clock
}

// BenchmarkMemoryLedgerSeenWhileExpiring measures look-ups while new
// records come in and 1M expired ones are dropped: max-µs is the slowest
// look-up, which waits for at most one Record (and for whatever else the
// machine does: the OS may deschedule the goroutine mid-look-up).
func BenchmarkMemoryLedgerSeenWhileExpiring(b *testing.B) {
	s, clock := fillExpired(b, 1_000_000)
	ctx := context.Background()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = s.Record(ctx, logout.SessionIDKey(fmt.Sprint("new", i)), clock.Now(), time.Hour)
		}
	}()
	q := logout.LedgerQuery{Key: logout.SessionIDKey("absent")}
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		_, _ = s.Seen(ctx, q)
		lat = append(lat, time.Since(start))
	}
	close(stop)
	<-done
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*999/1000].Microseconds()), "p99.9-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}

// BenchmarkMemoryLedgerRecord measures inserting a new record into an
// empty store and into one of 1M live records, and the memory each record
// takes.
func BenchmarkMemoryLedgerRecord(b *testing.B) {
	for _, n := range []int{0, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{MaxEntries: 1 << 30})
			for i := range n {
				require.NoError(b, s.Record(ctx, logout.SessionIDKey(fmt.Sprintf("%043d", i)), time.Now(), time.Hour))
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			// Minus the 51 bytes of each key's text.
			perRecord := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(max(n, 1))
			i := 0
			for b.Loop() {
				i++
				_ = s.Record(ctx, logout.SessionIDKey(fmt.Sprintf("new%040d", i)), time.Now(), time.Hour)
			}
			runtime.KeepAlive(s)
			if n > 0 {
				b.ReportMetric(perRecord-51, "B/record")
			}
		})
	}
}

// TestFullMemoryLedgerKeepsLogoutTombstone: with the session check's
// ledger full of other records, a logout still writes its tombstones, so
// a copy of the cookie taken before the logout is signed out.
func TestFullMemoryLedgerKeepsLogoutTombstone(t *testing.T) {
	ctx := context.Background()
	ledger := logout.NewMemoryLedger(logout.MemoryLedgerConfig{MaxEntries: 4})
	for i := range 4 {
		require.NoError(t, ledger.Record(ctx, fmt.Sprint("other", i), time.Now(), time.Hour))
	}
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	m, err := logout.New(logout.Config{
		Store:        store,
		SessionName:  "app",
		SessionCheck: &logout.SessionCheckConfig{Ledger: ledger},
		Providers:    []logout.Provider{{ClientID: "client-1", EndSessionEndpoint: "https://op.example.com/end", PostLogoutRedirectURI: "https://app.example.com/logout/callback"}},
	})
	require.NoError(t, err)
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, err := store.Get(r, "app"); err == nil && s.Values["id_token"] != nil {
			_, _ = io.WriteString(w, "in")
			return
		}
		_, _ = io.WriteString(w, "out")
	}))
	get := func(path string, c *http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "https://app.example.com"+path, nil)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.AddCookie(c)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	r := httptest.NewRequest(http.MethodGet, "https://app.example.com/login", nil)
	s, err := store.New(r, "app")
	require.NoError(t, err)
	s.Values["id_token"] = "header.eyJzdWIiOiJhbGljZSJ9.sig"
	m.InitSession(s)
	w := httptest.NewRecorder()
	require.NoError(t, s.Save(r, w))
	copied := w.Result().Cookies()[0]
	require.Equal(t, "in", get("/", copied).Body.String())

	require.Equal(t, http.StatusFound, get("/logout", copied).Code)
	assert.Equal(t, "out", get("/", copied).Body.String(), "the copied cookie is signed out")
	assert.Positive(t, ledger.Stats().Evicted, "the full store made room, and says so")
}

// TestMemoryLedgerLogsFullnessEveryTenSeconds: a full store logs at most
// once every ten seconds, however often it evicts.
func TestMemoryLedgerLogsFullnessEveryTenSeconds(t *testing.T) {
	clock := newFakeClock()
	var logs strings.Builder
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{
		MaxEntries: 1, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	record := func(key string) { require.NoError(t, s.Record(t.Context(), key, clock.Now(), time.Hour)) }
	record("a")
	record("b")
	record("c")
	assert.Equal(t, 1, strings.Count(logs.String(), "memory ledger is full"), "two evictions at once")
	clock.Advance(10*time.Second - time.Nanosecond)
	record("d")
	assert.Equal(t, 1, strings.Count(logs.String(), "memory ledger is full"))
	clock.Advance(time.Nanosecond)
	record("e")
	assert.Equal(t, 2, strings.Count(logs.String(), "memory ledger is full"), "ten seconds later")
	assert.Equal(t, uint64(4), s.Stats().Evicted)
}

// TestMemoryLedgerExtendsTheEarliestOfTwo: extending the record closest
// to its expiry moves it behind the other one, which is then the first to
// go.
func TestMemoryLedgerExtendsTheEarliestOfTwo(t *testing.T) {
	clock := newFakeClock()
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{Now: clock.Now})
	ctx := t.Context()
	require.NoError(t, s.Record(ctx, "a", clock.Now(), time.Minute))
	require.NoError(t, s.Record(ctx, "b", clock.Now(), 2*time.Minute))
	require.NoError(t, s.Record(ctx, "a", clock.Now(), 3*time.Minute))
	clock.Advance(2 * time.Minute)
	require.NoError(t, s.Record(ctx, "c", clock.Now(), time.Hour)) // drops what expired
	for key, want := range map[string]bool{"a": true, "b": false, "c": true} {
		seen, err := s.Seen(ctx, logout.LedgerQuery{Key: key})
		require.NoError(t, err)
		assert.Equal(t, want, seen, key)
	}
	assert.Equal(t, 2, s.Len())
}

// TestMemoryLedgerReplacesAnExpiredRecord: a record that expired but was
// not dropped yet (more than a batch expired at once) is replaced by a new
// one, with the new time even when it is earlier.
func TestMemoryLedgerReplacesAnExpiredRecord(t *testing.T) {
	clock := newFakeClock()
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{Now: clock.Now})
	ctx := t.Context()
	start := clock.Now()
	n := 10 * logout.MemoryExpireBatch
	for i := range n {
		require.NoError(t, s.Record(ctx, fmt.Sprint("k", i), start.Add(time.Hour), time.Minute))
	}
	clock.Advance(time.Minute) // every record expires now, exactly
	for i := range n {
		require.NoError(t, s.Record(ctx, fmt.Sprint("k", i), start, time.Hour))
	}
	for i := range n {
		seen, err := s.Seen(ctx, logout.LedgerQuery{Key: fmt.Sprint("k", i), Since: start.Add(time.Second)})
		require.NoError(t, err)
		assert.False(t, seen, "k%d keeps the time of its expired record", i)
	}
}

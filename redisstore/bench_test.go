package redisstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/sessions"
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

// BenchmarkSeenFourKeys is the look-up with SessionIDs on: sid, sub,
// the session id and the id_token hash, one MGET.
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

func benchWrapCheck(b *testing.B, rev logout.Ledger) {
	store := sessions.NewCookieStore(hashKey)
	m := newMiddleware(b, store, func(c *logout.Config) {
		c.SessionCheck = &logout.SessionCheckConfig{Ledger: rev, SessionIDs: true}
	})
	h := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := newRequest(http.MethodGet, "/login")
	s, err := store.New(r, sessionName)
	require.NoError(b, err)
	s.Values["id_token"] = fakeJWT(b, map[string]any{"sub": "alice", "sid": "op-s1"}, 0)
	require.NoError(b, m.InitSession(s))
	w := httptest.NewRecorder()
	require.NoError(b, s.Save(r, w))
	cookie := w.Result().Cookies()[0]
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, newRequest(http.MethodGet, "/", cookie))
		if len(w.Result().Cookies()) != 0 {
			b.Fatal("the session was cleared")
		}
	}
}

package logout_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// unsignedJWT returns a JWT-shaped string with claims as payload.
func unsignedJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	return logout.FakeJWTForTest(t, claims)
}

func newCookieStore() *sessions.CookieStore {
	s := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	s.Options.HttpOnly = true
	s.MaxAge(3600)
	return s
}

// saveSession returns the session cookie that store writes for values.
func saveSession(t testing.TB, store sessions.Store, values map[any]any) *http.Cookie {
	t.Helper()
	return logout.SaveSessionForTest(t, store, testSession, values)
}

// seenSession is what the next handler saw.
type seenSession struct {
	IDToken string
	IsNew   bool
	Len     int
	Other   string // value of the "other" cookie
}

// recordNext returns a handler that records what it sees of the session.
func recordNext(store sessions.Store, seen *seenSession) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, testSession)
		seen.IDToken, _ = s.Values["id_token"].(string)
		seen.IsNew, seen.Len = s.IsNew, len(s.Values)
		if c, err := r.Cookie("other"); err == nil {
			seen.Other = c.Value
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// countingLedger counts look-ups and can be made to fail.
type countingLedger struct {
	logout.Ledger
	lookups    atomic.Int64
	revokes    atomic.Int64
	fail       atomic.Bool // every call fails
	failWrites atomic.Bool // Record fails
}

var errStoreDown = errors.New("store down")

func (c *countingLedger) Seen(ctx context.Context, checks ...logout.LedgerQuery) (bool, error) {
	c.lookups.Add(1)
	if c.fail.Load() {
		return false, errStoreDown
	}
	return c.Ledger.Seen(ctx, checks...)
}

func (c *countingLedger) Record(ctx context.Context, key string, at time.Time, ttl time.Duration) error {
	c.revokes.Add(1)
	if c.fail.Load() || c.failWrites.Load() {
		return errStoreDown
	}
	return c.Ledger.Record(ctx, key, at, ttl)
}

func newCounting() *countingLedger {
	return &countingLedger{Ledger: logout.NewMemoryLedger(logout.MemoryLedgerConfig{})}
}

func newCheckedMiddleware(t testing.TB, store sessions.Store, mutate func(*logout.Config)) *logout.Middleware {
	t.Helper()
	cfg := logout.Config{
		Store:        store,
		SessionName:  testSession,
		SessionCheck: &logout.SessionCheckConfig{Ledger: newCounting()},
		Providers:    []logout.Provider{{Issuer: testIssuer, ClientID: testClient, EndSessionEndpoint: testIssuer + "/session/end"}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := logout.New(cfg)
	require.NoError(t, err)
	return m
}

func get(h http.Handler, path string, cookies ...*http.Cookie) *http.Response {
	r := httptest.NewRequest(http.MethodGet, "https://app.example.com"+path, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestSessionCheckRevokedBySID(t *testing.T) {
	store := newCookieStore()
	revs := newCounting()
	m := newCheckedMiddleware(t, store, func(c *logout.Config) { c.SessionCheck.Ledger = revs })
	tok := unsignedJWT(t, map[string]any{"iss": testIssuer, "sub": "alice", "sid": "op-sess-1", "iat": time.Now().Unix()})
	cookie := saveSession(t, store, map[any]any{"id_token": tok, "cart": "3 items", "logout_session_id": "id-1"})
	other := &http.Cookie{Name: "other", Value: "keep-me"}
	var seen seenSession
	h := m.Wrap(recordNext(store, &seen))

	resp := get(h, "/account", cookie, other)
	assert.Equal(t, tok, seen.IDToken, "a session that is not revoked passes")
	assert.Nil(t, logout.ResponseCookieForTest(resp, testSession), "no Set-Cookie for a session that is not revoked")
	assert.EqualValues(t, 1, revs.lookups.Load())

	require.NoError(t, revs.Record(context.Background(), logout.SIDKey(testIssuer, "op-sess-1"), time.Now(), time.Hour))
	seen = seenSession{}
	resp = get(h, "/account", cookie, other)
	assert.Empty(t, seen.IDToken, "next sees a signed-out request")
	assert.True(t, seen.IsNew)
	assert.Zero(t, seen.Len)
	assert.Equal(t, "keep-me", seen.Other, "other cookies are left alone")
	assert.True(t, logout.ExpiredForTest(logout.ResponseCookieForTest(resp, testSession)), "the session cookie is expired")
	assert.Nil(t, logout.ResponseCookieForTest(resp, "other"))
	assert.EqualValues(t, 2, revs.lookups.Load(), "one look-up per request")
}

func TestSessionCheckSubjectSinceLogin(t *testing.T) {
	store := newCookieStore()
	revs := newCounting()
	m := newCheckedMiddleware(t, store, func(c *logout.Config) { c.SessionCheck.Ledger = revs })
	logoutAt := time.Now().Truncate(time.Second)
	require.NoError(t, revs.Record(context.Background(), logout.SubjectKey(testIssuer, "bob"), logoutAt, time.Hour))
	tests := []struct {
		name        string
		claims      map[string]any
		wantRevoked bool
	}{
		{"issued before the logout", map[string]any{"iss": testIssuer, "sub": "bob", "iat": logoutAt.Add(-time.Minute).Unix()}, true},
		{"issued in the same second", map[string]any{"iss": testIssuer, "sub": "bob", "iat": logoutAt.Unix()}, true},
		{"new login after the logout", map[string]any{"iss": testIssuer, "sub": "bob", "iat": logoutAt.Add(time.Second).Unix()}, false},
		{"no iat", map[string]any{"iss": testIssuer, "sub": "bob"}, true},
		{"other subject", map[string]any{"iss": testIssuer, "sub": "carol", "iat": 1}, false},
		{"other issuer", map[string]any{"iss": "https://other.example", "sub": "bob", "iat": 1}, false},
		{"issuer of the only provider", map[string]any{"sub": "bob", "iat": 1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cookie := saveSession(t, store, map[any]any{"id_token": unsignedJWT(t, tc.claims)})
			var seen seenSession
			resp := get(m.Wrap(recordNext(store, &seen)), "/", cookie)
			assert.Equal(t, tc.wantRevoked, seen.IDToken == "")
			assert.Equal(t, tc.wantRevoked, logout.ExpiredForTest(logout.ResponseCookieForTest(resp, testSession)))
		})
	}
}

func TestSessionCheckSkipsRequestsWithoutSession(t *testing.T) {
	store := newCookieStore()
	revs := newCounting()
	m := newCheckedMiddleware(t, store, func(c *logout.Config) { c.SessionCheck.Ledger = revs })
	var seen seenSession
	h := m.Wrap(recordNext(store, &seen))
	get(h, "/")                                                    // no cookie
	get(h, "/", &http.Cookie{Name: testSession, Value: "garbage"}) // undecodable
	get(h, "/", saveSession(t, store, map[any]any{"theme": "dark"}))
	assert.Zero(t, revs.lookups.Load(), "nothing to check, no look-up")
}

func TestSessionCheckStoreFailure(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		t.Run(map[bool]string{false: "fail closed", true: "fail open"}[failOpen], func(t *testing.T) {
			store := newCookieStore()
			revs := newCounting()
			revs.fail.Store(true)
			var logs bytes.Buffer
			m := newCheckedMiddleware(t, store, func(c *logout.Config) {
				c.SessionCheck.Ledger, c.SessionCheck.FailOpen = revs, failOpen
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			tok := unsignedJWT(t, map[string]any{"sub": "alice", "sid": "s"})
			cookie := saveSession(t, store, map[any]any{"id_token": tok})
			var seen seenSession
			resp := get(m.Wrap(recordNext(store, &seen)), "/", cookie)
			assert.Equal(t, failOpen, seen.IDToken == tok)
			assert.Nil(t, logout.ResponseCookieForTest(resp, testSession), "a store failure never deletes the session")
			assert.Contains(t, logs.String(), "session check failed")
			assert.NotContains(t, logs.String(), tok)

			revs.fail.Store(false)
			seen = seenSession{}
			get(m.Wrap(recordNext(store, &seen)), "/", cookie)
			assert.Equal(t, tok, seen.IDToken, "signed in again once the store is back")
		})
	}
}

func TestSessionCheckReplayedCookieAfterLogout(t *testing.T) {
	store := newCookieStore()
	revs := newCounting()
	m := newCheckedMiddleware(t, store, func(c *logout.Config) {
		c.SessionCheck.Ledger = revs
	})
	var seen seenSession
	h := m.Wrap(recordNext(store, &seen))
	loginCookie := saveSession(t, store, map[any]any{"id_token": unsignedJWT(t, map[string]any{"sub": "alice"})})

	// First request: the session gets its random id.
	resp := get(h, "/", loginCookie)
	withID := logout.ResponseCookieForTest(resp, testSession)
	require.NotNil(t, withID, "the session id is saved")
	require.False(t, logout.ExpiredForTest(withID))
	resp = get(h, "/", withID)
	assert.Nil(t, logout.ResponseCookieForTest(resp, testSession), "the id is saved once")

	// Logout clears the session and records tombstones.
	resp = get(h, "/logout", withID)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.True(t, logout.ExpiredForTest(logout.ResponseCookieForTest(resp, testSession)))
	assert.EqualValues(t, 2, revs.revokes.Load(), "tombstones of the session id and the id_token")

	for name, c := range map[string]*http.Cookie{"copy with id": withID, "copy from login": loginCookie} {
		seen = seenSession{}
		resp = get(h, "/", c)
		assert.Empty(t, seen.IDToken, name)
		assert.True(t, logout.ExpiredForTest(logout.ResponseCookieForTest(resp, testSession)), name)
	}

	// A new login is not affected.
	fresh := saveSession(t, store, map[any]any{"id_token": unsignedJWT(t, map[string]any{"sub": "alice", "iat": 2})})
	seen = seenSession{}
	get(h, "/", fresh)
	assert.NotEmpty(t, seen.IDToken)
}

func TestSessionCheckTombstoneFailure(t *testing.T) {
	for _, failClosed := range []bool{false, true} {
		t.Run(map[bool]string{false: "default logs out", true: "fail closed"}[failClosed], func(t *testing.T) {
			store := newCookieStore()
			revs := newCounting()
			var logs bytes.Buffer
			var handled error
			m := newCheckedMiddleware(t, store, func(c *logout.Config) {
				c.SessionCheck.Ledger = revs
				c.SessionCheck.FailOpen = !failClosed
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
					handled = err
					logout.DefaultErrorHandler(w, r, err)
				}
			})
			tok := unsignedJWT(t, map[string]any{"sub": "alice"})
			cookie := saveSession(t, store, map[any]any{"id_token": tok, "logout_session_id": "id-1"})
			revs.fail.Store(true)

			resp := get(m.Wrap(http.NotFoundHandler()), "/logout", cookie)
			assert.Contains(t, logs.String(), "tombstone failed")
			assert.NotContains(t, logs.String(), tok)
			if !failClosed {
				assert.Equal(t, http.StatusFound, resp.StatusCode)
				assert.True(t, logout.ExpiredForTest(logout.ResponseCookieForTest(resp, testSession)))
				assert.NoError(t, handled)
				return
			}
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.ErrorIs(t, handled, logout.ErrTombstone)
			assert.ErrorIs(t, handled, errStoreDown)
			assert.Nil(t, logout.ResponseCookieForTest(resp, testSession), "the session is left as it was")

			revs.fail.Store(false)
			resp = get(m.Wrap(http.NotFoundHandler()), "/logout", cookie)
			assert.Equal(t, http.StatusFound, resp.StatusCode, "the retry logs out")
			assert.True(t, logout.ExpiredForTest(logout.ResponseCookieForTest(resp, testSession)))
		})
	}
}

// TestSessionCheckFullLedgerStopsTheLogout: a ledger that refuses the
// tombstone because it is full makes the logout fail visibly (503, session
// intact), even without TombstoneFailClosed, so that a copied cookie is
// never left signed in behind a logout that reported success.
func TestSessionCheckFullLedgerStopsTheLogout(t *testing.T) {
	store := newCookieStore()
	full := logout.NewMemoryLedger(logout.MemoryLedgerConfig{MaxEntries: 1, RefuseWhenFull: true})
	require.NoError(t, full.Record(t.Context(), "other", time.Now(), time.Hour))
	m := newCheckedMiddleware(t, store, func(c *logout.Config) {
		c.SessionCheck.Ledger = full
	})
	tok := unsignedJWT(t, map[string]any{"sub": "alice"})
	cookie := saveSession(t, store, map[any]any{"id_token": tok, "logout_session_id": "id-1"})
	resp := get(m.Wrap(http.NotFoundHandler()), "/logout", cookie)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Nil(t, logout.ResponseCookieForTest(resp, testSession), "the session is left as it was")
}

func TestSessionCheckInitSession(t *testing.T) {
	store := newCookieStore()
	m := newCheckedMiddleware(t, store, nil)
	s := sessions.NewSession(store, testSession)
	m.InitSession(s)
	id, _ := s.Values["logout_session_id"].(string)
	assert.Len(t, id, 43)
	m.InitSession(s)
	assert.Equal(t, id, s.Values["logout_session_id"], "an existing id is kept")
}

func TestSessionCheckLoginAfterRevocationInSameRequest(t *testing.T) {
	store := newCookieStore()
	revs := newCounting()
	m := newCheckedMiddleware(t, store, func(c *logout.Config) { c.SessionCheck.Ledger = revs })
	require.NoError(t, revs.Record(context.Background(), logout.SIDKey(testIssuer, "old"), time.Now(), time.Hour))
	old := saveSession(t, store, map[any]any{"id_token": unsignedJWT(t, map[string]any{"sid": "old", "sub": "x"})})
	newTok := unsignedJWT(t, map[string]any{"sid": "new", "sub": "x"})
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, testSession)
		assert.Empty(t, s.Values)
		s.Values["id_token"] = newTok
		require.NoError(t, s.Save(r, w))
	})
	// An outer handler that reads the session first caches it in the
	// request's sessions.Registry, which the login handler then shares.
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = store.Get(r, testSession)
			next.ServeHTTP(w, r)
		})
	}
	for name, h := range map[string]http.Handler{
		"alone":                  m.Wrap(login),
		"under a session reader": outer(m.Wrap(login)),
	} {
		resp := get(h, "/callback", old)
		c := logout.ResponseCookieForTest(resp, testSession)
		require.NotNil(t, c, name)
		assert.False(t, logout.ExpiredForTest(c), "%s: the new login's cookie is not expired", name)
		var seen seenSession
		get(m.Wrap(recordNext(store, &seen)), "/", c)
		assert.Equal(t, newTok, seen.IDToken, name)
	}
}

func TestSessionCheckConfig(t *testing.T) {
	_, err := logout.New(logout.Config{
		Store:        newCookieStore(),
		SessionName:  testSession,
		SessionCheck: &logout.SessionCheckConfig{},
		Providers:    []logout.Provider{{EndSessionEndpoint: testIssuer + "/end"}},
	})
	require.ErrorIs(t, err, logout.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "SessionCheck.Ledger")
}

// benchmarkSessionRequests serves requests carrying a signed-in session
// cookie through h, whose next handler reads the session as apps do.
func benchmarkSessionRequests(b *testing.B, check bool) {
	store := newCookieStore()
	m := newCheckedMiddleware(b, store, func(c *logout.Config) {
		if !check {
			c.SessionCheck = nil
		}
	})
	tok := unsignedJWT(b, map[string]any{"iss": testIssuer, "sub": "alice", "sid": "s1", "iat": time.Now().Unix()})
	// The session as the app's login handler saves it: with the id that
	// InitSession gives it, in both runs, so that the check has nothing
	// to add and save.
	login := sessions.NewSession(store, testSession)
	login.Values["id_token"] = tok
	newCheckedMiddleware(b, store, nil).InitSession(login)
	cookie := saveSession(b, store, login.Values)
	h := m.Wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, testSession)
		if err != nil || s.Values["id_token"] != tok {
			b.Fatal("session not readable")
		}
	}))
	w := httptest.NewRecorder()
	r0 := httptest.NewRequest(http.MethodGet, "/account", nil)
	r0.AddCookie(cookie)
	b.ReportAllocs()
	for b.Loop() {
		r := r0.WithContext(context.Background()) // a fresh sessions.Registry per request
		h.ServeHTTP(w, r)
	}
}

// BenchmarkWrapWithSessionCheck measures a wrapped request with the
// session check on (memory store) whose handler reads the session: the
// session is decoded once and shared through sessions.Registry.
func BenchmarkWrapWithSessionCheck(b *testing.B) { benchmarkSessionRequests(b, true) }

// BenchmarkWrapSessionReadNoCheck is the same request with the check off,
// the baseline for BenchmarkWrapWithSessionCheck.
func BenchmarkWrapSessionReadNoCheck(b *testing.B) { benchmarkSessionRequests(b, false) }

func TestDispatchForAdapters(t *testing.T) {
	store := newCookieStore()
	revs := newCounting()
	m := newCheckedMiddleware(t, store, func(c *logout.Config) { c.SessionCheck.Ledger = revs })
	require.NoError(t, revs.Record(context.Background(), logout.SIDKey(testIssuer, "s"), time.Now(), time.Hour))
	r := httptest.NewRequest(http.MethodGet, "/page", nil)
	r.AddCookie(saveSession(t, store, map[any]any{"id_token": unsignedJWT(t, map[string]any{"sid": "s"})}))
	w := httptest.NewRecorder()
	r2 := m.Dispatch(w, r)
	require.NotNil(t, r2, "a page of the app goes on")
	_, err := r2.Cookie(testSession)
	assert.ErrorIs(t, err, http.ErrNoCookie, "the next handler sees no session cookie")
	assert.True(t, logout.ExpiredForTest(logout.ResponseCookieForTest(w.Result(), testSession)))

	off := newCheckedMiddleware(t, store, func(c *logout.Config) { c.SessionCheck = nil })
	assert.Same(t, r, off.Dispatch(httptest.NewRecorder(), r), "without the check, the request itself")

	w = httptest.NewRecorder()
	assert.Nil(t, m.Dispatch(w, httptest.NewRequest(http.MethodPost, "/logout", nil)), "the logout is served")
	assert.Equal(t, http.StatusFound, w.Code)
}

func TestNeedsRequest(t *testing.T) {
	store := newCookieStore()
	off := newCheckedMiddleware(t, store, func(c *logout.Config) { c.SessionCheck = nil })
	on := newCheckedMiddleware(t, store, nil)
	var asked []string
	has := func(name string) bool { asked = append(asked, name); return true }
	hasNot := func(string) bool { return false }
	for _, tt := range []struct {
		name      string
		m         *logout.Middleware
		path      string
		hasCookie func(string) bool
		want      bool
	}{
		{"logout path", off, "/logout", nil, true},
		{"app page, check off", off, "/page", has, false},
		{"app page with the session cookie", on, "/page", has, true},
		{"app page without it", on, "/page", hasNot, false},
		{"app page, no cookie function", on, "/page", nil, false},
	} {
		assert.Equal(t, tt.want, tt.m.NeedsRequest(tt.path, tt.hasCookie), tt.name)
	}
	assert.Equal(t, []string{testSession}, asked, "asked for the session cookie only, with the check on")
}

// TestLogoutExpiresCookieWithItsOwnScope pins that the expiring cookie
// carries the session's own Domain and Path: a browser keeps a cookie
// that is expired under another scope, and the user stays signed in.
func TestLogoutExpiresCookieWithItsOwnScope(t *testing.T) {
	store := newCookieStore()
	store.Options.Domain = "app.example.com"
	store.Options.Path = "/app"
	m := newCheckedMiddleware(t, store, func(c *logout.Config) { c.SessionCheck = nil })
	resp := get(m, "/logout", saveSession(t, store, map[any]any{"id_token": "idt"}))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	c := logout.ResponseCookieForTest(resp, testSession)
	require.NotNil(t, c)
	assert.True(t, logout.ExpiredForTest(c))
	assert.Equal(t, "app.example.com", c.Domain)
	assert.Equal(t, "/app", c.Path)
}

// TestEndedSessionKeepsOtherCookies pins that the app, behind the check,
// sees every other cookie of a request whose session has ended, each
// whole, and not the session's.
func TestEndedSessionKeepsOtherCookies(t *testing.T) {
	store := newCookieStore()
	revs := newCounting()
	m := newCheckedMiddleware(t, store, func(c *logout.Config) { c.SessionCheck.Ledger = revs })
	require.NoError(t, revs.Record(context.Background(), logout.SIDKey(testIssuer, "s"), time.Now(), time.Hour))
	r := httptest.NewRequest(http.MethodGet, "/page", nil)
	r.AddCookie(&http.Cookie{Name: "a", Value: "1"})
	r.AddCookie(saveSession(t, store, map[any]any{"id_token": unsignedJWT(t, map[string]any{"sid": "s"})}))
	r.AddCookie(&http.Cookie{Name: "b", Value: "2"})
	r.AddCookie(&http.Cookie{Name: "c", Value: "3"})
	next := m.Dispatch(httptest.NewRecorder(), r)
	require.NotNil(t, next)
	require.NotSame(t, r, next)
	var got []string
	for _, c := range next.Cookies() {
		got = append(got, c.Name+"="+c.Value)
	}
	assert.Equal(t, []string{"a=1", "b=2", "c=3"}, got)
}

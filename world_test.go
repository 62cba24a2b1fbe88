package logout_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// A world is a logout middleware whose every collaborator records what
// was done to it: a server-side session store, a ledger, a provider that
// counts discovery and revocation requests, the hooks, the error handler
// and the app behind Wrap. Tests of refusals assert on it that nothing
// happened, not only what the response says.
type world struct {
	store  *worldStore
	ledger *worldLedger
	op     *worldOP
	m      *logout.Middleware
	h      http.Handler // m.Wrap(app)

	before, after, next atomic.Int32
	failBefore          atomic.Bool

	// sessionID is the random id of the session login saved.
	sessionID string

	mu   sync.Mutex
	errs []error // handed to the ErrorHandler
}

// worldClientID is the client of the world's provider.
const worldClientID = "client-w"

// newWorld returns a world whose middleware has token revocation, the
// session check with SessionIDs, front-channel logout and both hooks on;
// mutate adjusts its Config.
func newWorld(t *testing.T, mutate func(*logout.Config)) *world {
	t.Helper()
	w := &world{
		store:  newWorldStore(t),
		ledger: &worldLedger{MemoryLedger: logout.NewMemoryLedger(logout.MemoryLedgerConfig{})},
		op:     newWorldOP(t),
	}
	cfg := logout.Config{
		Store:            w.store,
		SessionName:      testSession,
		FrontChannelPath: "/frontchannel-logout",
		Revocation:       logout.RevokeTokens,
		SessionCheck:     &logout.SessionCheckConfig{Ledger: w.ledger},
		BeforeLogout: func(*http.Request, *sessions.Session) error {
			w.before.Add(1)
			if w.failBefore.Load() {
				return errors.New("audit log unavailable")
			}
			return nil
		},
		AfterLogout: func(*http.Request, logout.Event) { w.after.Add(1) },
		ErrorHandler: func(rw http.ResponseWriter, r *http.Request, err error) {
			w.mu.Lock()
			w.errs = append(w.errs, err)
			w.mu.Unlock()
			logout.DefaultErrorHandler(rw, r, err)
		},
		Providers: []logout.Provider{{Issuer: w.op.URL, ClientID: worldClientID, PostLogoutRedirectURI: testAppURL + "/logout/callback"}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	var err error
	w.m, err = logout.New(cfg)
	require.NoError(t, err)
	w.h = w.m.Wrap(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.next.Add(1)
		_, _ = rw.Write([]byte("app"))
	}))
	return w
}

// worldIDToken returns the id_token of alice's session at the world's
// provider.
func (w *world) idToken(t *testing.T) string {
	return logout.FakeJWTForTest(t, map[string]any{
		"iss": w.op.URL, "sub": "alice", "sid": "op-sid-1", "aud": worldClientID, "iat": time.Now().Unix(),
	})
}

// login saves alice's session, with its tokens and a session id, and
// returns its cookie.
func (w *world) login(t *testing.T) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/login", nil)
	rec := httptest.NewRecorder()
	s, err := w.store.New(r, testSession)
	require.NoError(t, err)
	s.Values["id_token"] = w.idToken(t)
	s.Values["access_token"] = "at-1"
	s.Values["refresh_token"] = "rt-1"
	w.m.InitSession(s)
	w.sessionID, _ = s.Values["logout_session_id"].(string)
	require.NotEmpty(t, w.sessionID)
	require.NoError(t, w.store.FilesystemStore.Save(r, rec, s))
	c := logout.ResponseCookieForTest(rec.Result(), testSession)
	require.NotNil(t, c)
	return c
}

// serve sends r through the wrapped app.
func (w *world) serve(t *testing.T, r *http.Request) *http.Response {
	t.Helper()
	return serveStrict(t, w.h, r)
}

// serveStrict sends r to h and returns the response, failing the test
// when h writes more than one response or changes its headers after
// writing them: a refusal that goes on after answering would do both,
// and httptest.ResponseRecorder alone would not show it.
func serveStrict(t *testing.T, h http.Handler, r *http.Request) *http.Response {
	t.Helper()
	rec := &strictRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(rec, r)
	assert.LessOrEqual(t, rec.writes, 1, "WriteHeader called %d times", rec.writes)
	if rec.snap != nil {
		assert.Equal(t, rec.snap, rec.Header(), "headers changed after they were written")
	}
	return rec.Result()
}

// strictRecorder counts WriteHeader calls and keeps the headers as they
// were written.
type strictRecorder struct {
	*httptest.ResponseRecorder
	writes int
	snap   http.Header
}

func (r *strictRecorder) WriteHeader(code int) {
	r.writes++
	if r.writes == 1 {
		r.snap = r.Header().Clone()
	}
	r.ResponseRecorder.WriteHeader(code)
}

func (r *strictRecorder) Write(b []byte) (int, error) {
	if r.writes == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseRecorder.Write(b)
}

// lastErr returns the last error handed to the ErrorHandler, or nil.
func (w *world) lastErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) == 0 {
		return nil
	}
	return w.errs[len(w.errs)-1]
}

// signedIn reports whether the session of cookie still holds its
// id_token in the store.
func (w *world) signedIn(t *testing.T, cookie *http.Cookie) bool {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(cookie)
	s, err := w.store.FilesystemStore.Get(r, testSession)
	if err != nil {
		return false
	}
	_, ok := s.Values["id_token"].(string)
	return ok
}

// tombstoned reports whether the ledger holds a tombstone of the
// session login saved (of its session id).
func (w *world) tombstoned(t *testing.T) bool {
	t.Helper()
	seen, err := w.ledger.MemoryLedger.Seen(context.Background(), logout.LedgerQuery{Key: logout.SessionIDKey(w.sessionID)})
	require.NoError(t, err)
	return seen
}

// assertUntouched checks that a refused request changed nothing: no
// session saved or deleted, no ledger record, no token revoked, no
// cookie set, the hooks after the refusal not run, and the app not
// reached. The session of cookie is still signed in.
func (w *world) assertUntouched(t *testing.T, resp *http.Response, cookie *http.Cookie) {
	t.Helper()
	assert.Zero(t, w.store.saves.Load(), "session store written")
	assert.Zero(t, w.ledger.records.Load(), "ledger written")
	assert.Zero(t, w.op.revocations.Load(), "token revoked")
	assert.Zero(t, w.after.Load(), "AfterLogout called")
	assert.Zero(t, w.next.Load(), "the app was reached")
	assert.Empty(t, resp.Header.Values("Set-Cookie"), "cookies set")
	assert.Empty(t, resp.Header.Get("Clear-Site-Data"))
	assert.Empty(t, resp.Header.Get("Location"))
	assert.True(t, w.signedIn(t, cookie), "the session was ended")
}

// worldStore is a server-side gorilla store (files) that counts saves
// and can be made to fail them.
type worldStore struct {
	*sessions.FilesystemStore
	saves atomic.Int32
	fail  atomic.Bool
}

func newWorldStore(t *testing.T) *worldStore {
	fs := sessions.NewFilesystemStore(t.TempDir(), stHashKey)
	fs.Options.Secure, fs.Options.HttpOnly = true, true
	return &worldStore{FilesystemStore: fs}
}

var errWorldStoreDown = errors.New("session store down")

func (s *worldStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if s.fail.Load() {
		return errWorldStoreDown
	}
	s.saves.Add(1)
	return s.FilesystemStore.Save(r, w, sess)
}

// worldLedger is a MemoryLedger that counts the records written through
// it and can be made to fail.
type worldLedger struct {
	*logout.MemoryLedger
	records, seen        atomic.Int32
	failRecord, failSeen atomic.Bool
	recordedKeys         sync.Map
}

var errLedgerDown = errors.New("ledger down")

func (l *worldLedger) Record(ctx context.Context, key string, at time.Time, ttl time.Duration) error {
	if l.failRecord.Load() {
		return errLedgerDown
	}
	l.records.Add(1)
	l.recordedKeys.Store(key, true)
	return l.MemoryLedger.Record(ctx, key, at, ttl)
}

func (l *worldLedger) Seen(ctx context.Context, q ...logout.LedgerQuery) (bool, error) {
	l.seen.Add(1)
	if l.failSeen.Load() {
		return false, errLedgerDown
	}
	return l.MemoryLedger.Seen(ctx, q...)
}

// worldOP is a provider with discovery and a revocation endpoint that
// counts its requests; revokeStatus sets the revocation's answer.
type worldOP struct {
	*httptest.Server
	discoveries, revocations atomic.Int32
	revokeStatus             atomic.Int32
	revoked                  sync.Map // token type hints revoked
}

func newWorldOP(t *testing.T) *worldOP {
	op := &worldOP{}
	op.revokeStatus.Store(http.StatusOK)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		op.discoveries.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer":               op.URL,
			"end_session_endpoint": op.URL + "/session/end",
			"revocation_endpoint":  op.URL + "/revoke",
		})
	})
	mux.HandleFunc("/revoke", func(w http.ResponseWriter, r *http.Request) {
		op.revocations.Add(1)
		_ = r.ParseForm()
		status := int(op.revokeStatus.Load())
		if status == http.StatusOK {
			op.revoked.Store(r.PostForm.Get("token_type_hint"), r.PostForm.Get("token"))
		}
		w.WriteHeader(status)
	})
	op.Server = httptest.NewServer(mux)
	t.Cleanup(op.Close)
	return op
}

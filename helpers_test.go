package logout

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/require"
)

// testStateCookie is the state cookie of testConfig, whose post-logout
// redirect URI is https.
const testStateCookie = "__Host-logout_state"

const (
	testSessionName = "app"
	testEndpoint    = "https://op.example.com/oidc/session/end?tenant=acme"
	testClientID    = "client-1"
	testPostLogout  = "https://app.example.com/logout/callback"
	testIDToken     = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl"
	testAppURL      = "https://app.example.com"
)

var (
	testHashKey  = []byte("0123456789abcdef0123456789abcdef")
	testBlockKey = []byte("abcdef0123456789abcdef0123456789")
)

func newTestStore() *sessions.CookieStore {
	s := sessions.NewCookieStore(testHashKey, testBlockKey)
	s.Options.Secure = true
	s.Options.HttpOnly = true
	return s
}

// testConfig returns a valid Config; mutate adjusts it per test.
func testConfig(store sessions.Store, mutate func(*Config)) Config {
	cfg := Config{
		Store:       store,
		SessionName: testSessionName,
		Providers:   []Provider{{ClientID: testClientID, EndSessionEndpoint: testEndpoint, PostLogoutRedirectURI: testPostLogout}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return cfg
}

func newTestMiddleware(t testing.TB, store sessions.Store, mutate func(*Config)) *Middleware {
	t.Helper()
	m, err := New(testConfig(store, mutate))
	require.NoError(t, err)
	return m
}

// sessionCookie returns the cookie that store issues for a session holding values.
func sessionCookie(t testing.TB, store sessions.Store, values map[any]any) *http.Cookie {
	t.Helper()
	return SaveSessionForTest(t, store, testSessionName, values)
}

// newRequest builds a same-origin browser request to the app.
func newRequest(method, target string, cookies ...*http.Cookie) *http.Request {
	return NewRequestForTest(method, target, cookies...)
}

func serve(h http.Handler, r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// findCookie returns the Set-Cookie of resp named name, or nil.
func findCookie(resp *http.Response, name string) *http.Cookie {
	return ResponseCookieForTest(resp, name)
}

// location parses the Location header of resp.
func location(t testing.TB, resp *http.Response) *url.URL {
	t.Helper()
	loc := resp.Header.Get("Location")
	require.NotEmpty(t, loc, "no Location header")
	u, err := url.Parse(loc)
	require.NoError(t, err)
	return u
}

// failingStore decodes sessions like a CookieStore but cannot save them.
type failingStore struct {
	*sessions.CookieStore
}

var errDiskFull = errors.New("disk full")

func (failingStore) Save(*http.Request, http.ResponseWriter, *sessions.Session) error {
	return errDiskFull
}

// recordingStore records every session it saves.
type recordingStore struct {
	*sessions.CookieStore
	saved []sessions.Session
}

func (s *recordingStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	cp := *sess
	opts := *sess.Options
	cp.Options = &opts
	cp.Values = make(map[any]any, len(sess.Values))
	for k, v := range sess.Values {
		cp.Values[k] = v
	}
	s.saved = append(s.saved, cp)
	return s.CookieStore.Save(r, w, sess)
}

// discoveredEndpoint returns the end-session endpoint that Discover finds
// for the middleware's only provider.
func discoveredEndpoint(m *Middleware, ctx context.Context) (string, error) {
	p, err := m.Discover(ctx, "")
	return p.EndSessionEndpoint, err
}

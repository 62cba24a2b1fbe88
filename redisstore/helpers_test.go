package redisstore_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

const (
	sessionName = "app"
	appURL      = "https://app.example.com"
	issuer      = "https://op.example.com"
	endpoint    = issuer + "/oidc/session/end"
	postLogout  = appURL + "/logout/callback"
	clientID    = "client-1"
)

var hashKey = []byte("0123456789abcdef0123456789abcdef")

// fakeJWT returns an unsigned JWT-shaped token with the given claims,
// padded with a "pad" claim to about size bytes.
func fakeJWT(t testing.TB, claims map[string]any, size int) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := enc(map[string]string{"alg": "RS256", "kid": "k1"})
	sig := strings.Repeat("s", 342)
	c := map[string]any{"iss": issuer, "aud": clientID, "iat": time.Now().Unix()}
	for k, v := range claims {
		c[k] = v
	}
	tok := head + "." + enc(c) + "." + sig
	if pad := (size - len(tok)) * 3 / 4; pad > 0 {
		c["pad"] = strings.Repeat("p", pad)
		tok = head + "." + enc(c) + "." + sig
	}
	return tok
}

// bigTokens returns session values with a ~3 KB id_token and access and
// refresh tokens beside it: far more than a 4 KB cookie holds.
func bigTokens(t testing.TB) map[any]any {
	return map[any]any{
		"id_token":      fakeJWT(t, map[string]any{"sub": "alice", "sid": "op-session-1"}, 3000),
		"access_token":  fakeJWT(t, map[string]any{"sub": "alice", "scope": "openid profile"}, 1500),
		"refresh_token": strings.Repeat("r", 800),
	}
}

// login saves a new session holding values and returns its cookie.
func login(t testing.TB, store sessions.Store, values map[any]any) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, appURL+"/login", nil)
	w := httptest.NewRecorder()
	s, err := store.New(r, sessionName)
	require.NoError(t, err)
	for k, v := range values {
		s.Values[k] = v
	}
	require.NoError(t, s.Save(r, w))
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	return cookies[0]
}

// newRequest builds a same-origin browser request to the app.
func newRequest(method, path string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(method, appURL+path, nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// newMiddleware returns a logout middleware for store; mutate adjusts the
// configuration.
func newMiddleware(t testing.TB, store sessions.Store, mutate func(*logout.Config)) *logout.Middleware {
	t.Helper()
	cfg := logout.Config{
		Store:       store,
		SessionName: sessionName,
		Providers: []logout.Provider{{
			ClientID: clientID, EndSessionEndpoint: endpoint, PostLogoutRedirectURI: postLogout,
		}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := logout.New(cfg)
	require.NoError(t, err)
	return m
}

// setCookies maps the names of the response's Set-Cookie headers to the
// cookies.
func setCookies(w *httptest.ResponseRecorder) map[string]*http.Cookie {
	out := make(map[string]*http.Cookie)
	for _, c := range w.Result().Cookies() {
		out[c.Name] = c
	}
	return out
}

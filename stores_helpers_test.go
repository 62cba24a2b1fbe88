package logout_test

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

// Fixtures of the package's external tests.
const (
	testSession = "app"
	testAppURL  = "https://app.example.com"
	// stateCookie is the state cookie of an app whose post-logout
	// redirect URI is https.
	stateCookie = "__Host-logout_state"
	testIssuer  = "https://op.example.com"
	testClient  = "client-1"
)

var stHashKey = []byte("0123456789abcdef0123456789abcdef")

// stJWT returns an unsigned JWT-shaped token with claims, padded with a
// "pad" claim to about size bytes.
func stJWT(t testing.TB, claims map[string]any, size int) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := enc(map[string]string{"alg": "RS256", "kid": "k1"})
	sig := strings.Repeat("s", 342) // an RS256 signature
	c := map[string]any{"iss": testIssuer, "aud": testClient, "iat": time.Now().Unix()}
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

// stSmallTokens returns session values that fit a cookie.
func stSmallTokens(t testing.TB) map[any]any {
	return map[any]any{"id_token": stJWT(t, map[string]any{"sub": "alice", "sid": "op-s1"}, 0)}
}

// stBigTokens returns session values with a ~3 KB id_token, an access
// token and a refresh token: about 5 KB, more than a cookie holds.
func stBigTokens(t testing.TB) map[any]any {
	return map[any]any{
		"id_token":      stJWT(t, map[string]any{"sub": "alice", "sid": "op-s1"}, 3000),
		"access_token":  stJWT(t, map[string]any{"sub": "alice", "scope": "openid profile"}, 1500),
		"refresh_token": strings.Repeat("r", 800),
	}
}

// stLogin saves a new session called name holding values and returns its
// cookie.
func stLogin(t testing.TB, store sessions.Store, name string, values map[any]any) *http.Cookie {
	t.Helper()
	return logout.SaveSessionForTest(t, store, name, values)
}

// stRequest builds a same-origin browser request to the app (testAppURL).
func stRequest(method, path string, cookies ...*http.Cookie) *http.Request {
	return logout.NewRequestForTest(method, path, cookies...)
}

// stMiddleware returns a logout middleware for store; mutate adjusts it.
func stMiddleware(t testing.TB, store sessions.Store, mutate func(*logout.Config)) *logout.Middleware {
	t.Helper()
	cfg := logout.Config{
		Store:       store,
		SessionName: testSession,
		Providers:   []logout.Provider{{ClientID: testClient, EndSessionEndpoint: testIssuer + "/oidc/session/end", PostLogoutRedirectURI: testAppURL + "/logout/callback"}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := logout.New(cfg)
	require.NoError(t, err)
	return m
}

// stSetCookies maps the names of the response's Set-Cookie headers to
// the cookies; a name set twice fails the test.
func stSetCookies(t testing.TB, w *httptest.ResponseRecorder) map[string]*http.Cookie {
	t.Helper()
	out := make(map[string]*http.Cookie)
	for _, c := range w.Result().Cookies() {
		require.NotContains(t, out, c.Name, "cookie %q set twice", c.Name)
		out[c.Name] = c
	}
	return out
}

// stSignedIn is a handler that answers "in" when the request's session
// holds an id_token, and "out" otherwise.
func stSignedIn(store sessions.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, testSession)
		if err == nil && s.Values["id_token"] != nil {
			_, _ = w.Write([]byte("in"))
			return
		}
		_, _ = w.Write([]byte("out"))
	})
}

package logout

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/require"
)

// NewRequestForTest builds a same-origin browser request to
// https://app.example.com+target with cookies. It serves the package's
// internal and external tests alike.
func NewRequestForTest(method, target string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(method, "https://app.example.com"+target, nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// SaveSessionForTest saves a new session called name, holding values, in
// store, and returns the cookie the store sets for it. It serves the
// package's internal and external tests alike.
func SaveSessionForTest(t testing.TB, store sessions.Store, name string, values map[any]any) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/login", nil)
	w := httptest.NewRecorder()
	s, err := store.New(r, name)
	require.NoError(t, err)
	for k, v := range values {
		s.Values[k] = v
	}
	require.NoError(t, store.Save(r, w, s))
	c := ResponseCookieForTest(w.Result(), name)
	require.NotNil(t, c, "the store set no %q cookie", name)
	return c
}

// ResponseCookieForTest returns the last Set-Cookie of resp named name, as
// a browser would apply it, or nil.
func ResponseCookieForTest(resp *http.Response, name string) *http.Cookie {
	var found *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == name {
			found = c
		}
	}
	return found
}

// FakeJWTForTest returns a JWT-shaped string with claims as its payload
// and no valid signature: the session check reads the payload only.
func FakeJWTForTest(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(payload) + "." + enc([]byte("sig"))
}

// ExpiredForTest reports whether c deletes a cookie: Max-Age=0 on the
// wire, or an Expires in the past. It serves the package's internal and
// external tests alike.
func ExpiredForTest(c *http.Cookie) bool {
	return c != nil && (c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())))
}

package logout

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoStoreSignedIn pins Config.NoStoreSignedIn: through Wrap, an app's
// response to a request carrying the session cookie gets Cache-Control:
// no-store, unless the app chose its own Cache-Control or a Content-Type
// other than HTML.
func TestNoStoreSignedIn(t *testing.T) {
	store := newTestStore()
	signedIn := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
	page := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<p>Signed in</p>"))
	}
	tests := []struct {
		name    string
		on      bool
		cookie  *http.Cookie
		handler http.HandlerFunc
		want    string // the response's Cache-Control
	}{
		{"HTML page, signed in", true, signedIn, page, "no-store"},
		{"HTML page, signed out", true, nil, page, ""},
		{"setting off", false, signedIn, page, ""},
		{"the app's own Cache-Control", true, signedIn, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "private, max-age=60")
			page(w, r)
		}, "private, max-age=60"},
		{"an image", true, signedIn, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write([]byte("\x89PNG\r\n\x1a\n"))
		}, ""},
		{"no Content-Type, HTML sniffed", true, signedIn, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("<!doctype html><p>Signed in</p>"))
		}, "no-store"},
		{"no Content-Type, an image sniffed", true, signedIn, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("\x89PNG\r\n\x1a\n"))
		}, ""},
		{"WriteHeader first, no Content-Type", true, signedIn, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("<p>Signed in</p>"))
		}, "no-store"},
		{"JSON", true, signedIn, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMiddleware(t, store, func(c *Config) { c.NoStoreSignedIn = tt.on })
			var cookies []*http.Cookie
			if tt.cookie != nil {
				cookies = append(cookies, tt.cookie)
			}
			resp := serve(m.Wrap(tt.handler), newRequest(http.MethodGet, "/account", cookies...))
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tt.want, resp.Header.Get("Cache-Control"))
		})
	}
	t.Run("ResponseController reaches the app's writer", func(t *testing.T) {
		m := newTestMiddleware(t, store, func(c *Config) { c.NoStoreSignedIn = true })
		var flushErr error
		h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			flushErr = http.NewResponseController(w).Flush()
		}))
		resp := serve(h, newRequest(http.MethodGet, "/account", signedIn))
		require.NoError(t, flushErr)
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	})
}

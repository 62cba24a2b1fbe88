package logout

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClearSiteData checks the header on the three responses that end a
// logout: the redirect to the provider (which sets the state cookie), the
// callback's redirect, and a local-only logout's redirect.
func TestClearSiteData(t *testing.T) {
	for _, tt := range []struct {
		name                        string
		types                       []string
		toProvider, callback, local string
	}{
		{"default", nil, `"cache"`, `"cache"`, `"cache"`},
		{"off", []string{}, "", "", ""},
		{"storage", []string{"cache", "storage"}, `"cache", "storage"`, `"cache", "storage"`, `"cache", "storage"`},
		{"cookies only at the end", []string{"cache", "cookies"}, `"cache"`, `"cache", "cookies"`, `"cache", "cookies"`},
		{"cookies alone", []string{"cookies"}, "", `"cookies"`, `"cookies"`},
		{"everything", []string{"*"}, `"cache", "executionContexts", "storage"`, `"*"`, `"*"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newTestStore()
			m := newTestMiddleware(t, store, func(c *Config) { c.ClearSiteData = tt.types })
			st, state := logoutThenCallback(t, m, store, "/logout")
			cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
			resp := serve(m, newRequest(http.MethodGet, "/logout", cookie))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, tt.toProvider, resp.Header.Get("Clear-Site-Data"), "to the provider")

			resp = serve(m, providerReturn("?state="+url.QueryEscape(state), st))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, tt.callback, resp.Header.Get("Clear-Site-Data"), "callback")

			resp = serve(m, newRequest(http.MethodPost, "/logout"))
			require.Equal(t, "/", resp.Header.Get("Location"), "a local-only logout")
			assert.Equal(t, tt.local, resp.Header.Get("Clear-Site-Data"), "local-only logout")
		})
	}
}

// Responses that end no logout carry no Clear-Site-Data: refused logouts
// and callbacks, and pass-through requests.
func TestClearSiteDataOnlyWhenALogoutEnds(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, nil)
	h := m.Wrap(http.NotFoundHandler())
	cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
	crossSite := newRequest(http.MethodGet, "/logout", cookie)
	crossSite.Header.Set("Sec-Fetch-Site", "cross-site")
	for name, r := range map[string]*http.Request{
		"cross-site logout":  crossSite,
		"PUT logout":         newRequest(http.MethodPut, "/logout", cookie),
		"callback, no state": providerReturn(""),
		"other page":         newRequest(http.MethodGet, "/dashboard", cookie),
	} {
		resp := serve(h, r)
		assert.NotEqual(t, http.StatusFound, resp.StatusCode, name)
		assert.Empty(t, resp.Header.Get("Clear-Site-Data"), name)
	}
	// Without a post-logout URI, the logout's response is the last one.
	m = newTestMiddleware(t, store, func(c *Config) { c.Providers[0].PostLogoutRedirectURI, c.ClearSiteData = "", []string{"cookies"} })
	resp := serve(m, newRequest(http.MethodGet, "/logout", cookie))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, `"cookies"`, resp.Header.Get("Clear-Site-Data"))
}

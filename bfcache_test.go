package logout

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLogoutSetsACookieForTheBackForwardCache pins what makes Chromium
// evict a no-store signed-in page from its back/forward cache after every
// kind of logout: each logout response sets a cookie the page can see.
// Chromium does not count the deletion of the session cookie; it counts a
// cookie that is set. A logout through the provider sets the state
// cookie; every other logout sets the empty, one-second "_end" cookie.
func TestLogoutSetsACookieForTheBackForwardCache(t *testing.T) {
	store := newTestStore()
	withToken := map[any]any{"id_token": testIDToken}
	noToken := map[any]any{"user": "ada"}
	tests := []struct {
		name      string
		mutate    func(*Config)
		values    map[any]any
		wantState bool   // the state cookie, with a state, is set
		wantEnd   string // name of the empty cookie set instead, or ""
		secure    bool   // the state cookie is Secure (an https callback)
	}{
		{"through the provider and back", nil, withToken, true, "", true},
		{"local-only: no id_token", nil, noToken, false, testStateCookie + "_end", true},
		// No callback, so no state cookie: the plain name, not Secure.
		{"no PostLogoutRedirectURI", func(c *Config) { c.Providers[0].PostLogoutRedirectURI = "" }, withToken, false, "logout_state_end", false},
		{"client_id without id_token", func(c *Config) { c.ProviderLogoutWithoutIDToken = true }, noToken, false, testStateCookie + "_end", true},
		{"http callback", func(c *Config) { c.Providers[0].PostLogoutRedirectURI = "http://127.0.0.1/logout/callback" }, noToken, false, "logout_state_end", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMiddleware(t, store, tt.mutate)
			resp := serve(m, newRequest(http.MethodPost, "/logout", sessionCookie(t, store, tt.values)))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.True(t, ExpiredForTest(findCookie(resp, testSessionName)), "the session cookie is deleted")
			stateName := testStateCookie
			if !tt.secure {
				stateName = "logout_state"
			}
			state := findCookie(resp, stateName)
			if tt.wantState {
				require.NotNil(t, state)
				assert.NotEmpty(t, state.Value)
				assert.Nil(t, findCookie(resp, stateName+"_end"), "the state cookie is enough")
				return
			}
			assert.Nil(t, state, "no state cookie")
			end := findCookie(resp, tt.wantEnd)
			require.NotNil(t, end, "a cookie is set")
			assert.Empty(t, end.Value)
			assert.Equal(t, 1, end.MaxAge, "it lives one second")
			assert.Equal(t, "/", end.Path, "the state cookie's path")
			assert.True(t, end.HttpOnly)
			assert.Equal(t, tt.secure, end.Secure, "Secure like the state cookie")
			assert.Equal(t, http.SameSiteLaxMode, end.SameSite)
		})
	}
}

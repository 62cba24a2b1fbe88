package logout

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewValidatesConfig(t *testing.T) {
	store := newTestStore()
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"no store", func(c *Config) { c.Store = nil }, "Config.Store"},
		{"no session name", func(c *Config) { c.SessionName = "" }, "Config.SessionName"},
		{"relative path", func(c *Config) { c.Path = "logout" }, "Config.Path"},
		{"no provider", func(c *Config) { c.Providers[0].EndSessionEndpoint = "" }, "Config.Providers[0].EndSessionEndpoint or Issuer is required"},
		{"relative endpoint", func(c *Config) { c.Providers[0].EndSessionEndpoint = "/oidc/session/end" }, "Config.Providers[0].EndSessionEndpoint: invalid endpoint: end-session endpoint"},
		{"ftp endpoint", func(c *Config) { c.Providers[0].EndSessionEndpoint = "ftp://op.example.com/end" }, "Config.Providers[0].EndSessionEndpoint: invalid endpoint: end-session endpoint"},
		{"endpoint with fragment", func(c *Config) { c.Providers[0].EndSessionEndpoint = "https://op.example.com/end#x" }, "Config.Providers[0].EndSessionEndpoint: invalid endpoint: end-session endpoint"},
		{"endpoint with userinfo", func(c *Config) { c.Providers[0].EndSessionEndpoint = "https://u:p@op.example.com/end" }, "Config.Providers[0].EndSessionEndpoint: invalid endpoint: end-session endpoint"},
		{"bad issuer", func(c *Config) { c.Providers[0].EndSessionEndpoint, c.Providers[0].Issuer = "", "op.example.com" }, "Config.Providers[0].Issuer"},
		{"relative post-logout URI", func(c *Config) { c.Providers[0].PostLogoutRedirectURI = "/logout/callback" }, "Config.Providers[0].PostLogoutRedirectURI"},
		{"unknown Clear-Site-Data type", func(c *Config) { c.ClearSiteData = []string{"cache", "Cache"} }, "Config.ClearSiteData"},
		{"repeated Clear-Site-Data type", func(c *Config) { c.ClearSiteData = []string{"cache", "cache"} }, "Config.ClearSiteData"},
		{"quoted Clear-Site-Data type", func(c *Config) { c.ClearSiteData = []string{`"cache"`} }, "Config.ClearSiteData"},
		{"callback equals logout path", func(c *Config) { c.CallbackPath = "/logout" }, "Config.CallbackPath"},
		{"post-logout URI on the logout path", func(c *Config) { c.Providers[0].PostLogoutRedirectURI = testAppURL + "/logout" }, "the path of the PostLogoutRedirectURI"},
		{"logout path on the post-logout URI's", func(c *Config) { c.Path = "/logout/callback" }, "the path of the PostLogoutRedirectURI"},
		{"callback without post-logout URI", func(c *Config) { c.Providers[0].PostLogoutRedirectURI, c.CallbackPath = "", "/cb" }, "Config.CallbackPath"},
		{"no provider", func(c *Config) { c.Providers = nil }, "Config.Providers"},
		{"provider without issuer or endpoint", func(c *Config) { c.Providers[0].EndSessionEndpoint = "" }, "Config.Providers[0].EndSessionEndpoint or Issuer"},
		{"second provider without issuer", func(c *Config) {
			c.Providers = append(c.Providers, Provider{Issuer: "https://b.example.com"})
		}, "Config.Providers[0].Issuer is required"},
		{"unknown signing algorithm", func(c *Config) { c.Providers[0].SigningAlgorithms = []string{"RS256", "none"} }, `Config.Providers[0].SigningAlgorithms: "none"`},
		{"bad jwks_uri", func(c *Config) { c.Providers[0].JWKSURI = "keys.json" }, "Config.Providers[0].JWKSURI"},
		{"bad revocation endpoint", func(c *Config) { c.Providers[0].RevocationEndpoint = "/revoke" }, "Config.Providers[0].RevocationEndpoint"},
		{"revocation without endpoint", func(c *Config) { c.Revocation = RevokeTokens }, "RevocationEndpoint or Issuer is required"},
		{"revocation without client", func(c *Config) {
			c.Revocation, c.Providers[0].ClientID, c.Providers[0].RevocationEndpoint = RevokeTokens, "", "https://op.example.com/revoke"
		}, "ClientID is required"},
		{"post-logout URI off the callback path", func(c *Config) {
			c.Providers = append(c.Providers, Provider{Issuer: "https://b.example.com", PostLogoutRedirectURI: testAppURL + "/other"})
			c.Providers[0].Issuer = "https://a.example.com"
		}, `must lead to the callback path "/logout/callback"`},
		{"front-channel without issuer", func(c *Config) {
			c.FrontChannelPath, c.SessionCheck = "/fc", &SessionCheckConfig{Ledger: NewMemoryLedger(MemoryLedgerConfig{})}
		}, "Config.FrontChannelPath needs"},
		{"provider logout without id_token or client", func(c *Config) { c.Providers[0].ClientID, c.ProviderLogoutWithoutIDToken = "", true }, "Config.ProviderLogoutWithoutIDToken"},
		{"bad allowed origin", func(c *Config) { c.AllowedReturnOrigins = []string{"https://shop.example.com/path"} }, "Config.AllowedReturnOrigins"},
		{"open default landing", func(c *Config) { c.DefaultReturnTo = "//evil.com" }, "Config.DefaultReturnTo"},
		{"unknown revocation policy", func(c *Config) { c.Revocation = RevokeTokensOrFail + 1 }, "Config.Revocation"},
		{"session check without ledger", func(c *Config) { c.SessionCheck = &SessionCheckConfig{} }, "Config.SessionCheck.Ledger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(testConfig(store, tt.mutate))
			require.Error(t, err)
			assert.Nil(t, m)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

// trustPortal trusts https://portal.example.com's cross-origin requests.
func trustPortal(c *Config) {
	c.CrossOriginProtection = http.NewCrossOriginProtection()
	if err := c.CrossOriginProtection.AddTrustedOrigin("https://portal.example.com"); err != nil {
		panic(err)
	}
}

func TestNewAcceptsMinimalConfigs(t *testing.T) {
	for name, cfg := range map[string]Config{
		"endpoint only": {Store: newTestStore(), SessionName: "s", Providers: []Provider{{EndSessionEndpoint: testEndpoint}}},
		"issuer only":   {Store: newTestStore(), SessionName: "s", Providers: []Provider{{Issuer: "https://op.example.com"}}},
		"GenAuth":       {Store: newTestStore(), SessionName: "s", Providers: []Provider{{EndSessionEndpoint: GenAuthEndpoint("https://x.genauth.ai")}}},
		"lookup only":   {Store: newTestStore(), SessionName: "s", LookupProvider: func(context.Context, string) (Provider, bool) { return Provider{}, false }},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := New(cfg)
			require.NoError(t, err)
			assert.True(t, m.NeedsRequest("/logout", nil))
			assert.False(t, m.NeedsRequest("/logout/callback", nil), "no callback without PostLogoutRedirectURI")
		})
	}
}

func TestPassThroughReachesNextUntouched(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, nil)
	cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Next", r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	})
	h := m.Wrap(next)
	for _, path := range []string{"/", "/logout/", "/logoutx", "/LOGOUT", "/api/logout", "/logout/callback/x"} {
		t.Run(path, func(t *testing.T) {
			resp := serve(h, newRequest(http.MethodDelete, path, cookie))
			assert.Equal(t, http.StatusTeapot, resp.StatusCode)
			assert.Equal(t, path, resp.Header.Get("X-Next"))
			assert.Empty(t, resp.Header.Values("Set-Cookie"))
			assert.Empty(t, resp.Header.Get("Cache-Control"))
		})
	}
}

// teapot is a handler that is not an http.HandlerFunc.
type teapot struct{}

func (teapot) ServeHTTP(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }

func TestPassThroughDoesNotAllocate(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/dashboard", teapot{})
	for name, next := range map[string]http.Handler{
		"HandlerFunc": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }),
		"struct":      teapot{},
		"ServeMux":    mux,
	} {
		t.Run(name, func(t *testing.T) {
			m := newTestMiddleware(t, newTestStore(), nil)
			h := m.Wrap(next)
			r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, http.StatusTeapot, w.Code, "next is called")
			bare := testing.AllocsPerRun(1000, func() { next.ServeHTTP(w, r) })
			allocs := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) })
			assert.Equal(t, bare, allocs, "the wrapper adds no allocation")
		})
	}
}

func TestWrapNilPanics(t *testing.T) {
	m := newTestMiddleware(t, newTestStore(), nil)
	assert.PanicsWithValue(t, "logout: Wrap called with a nil handler", func() { m.Wrap(nil) })
}

func TestLogoutRedirectsToProvider(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			store := newTestStore()
			m := newTestMiddleware(t, store, nil)
			cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken, "name": "Ada"})
			resp := serve(m.Wrap(http.NotFoundHandler()), newRequest(method, "/logout", cookie))

			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))

			loc := location(t, resp)
			assert.Equal(t, "https://op.example.com/oidc/session/end", loc.Scheme+"://"+loc.Host+loc.Path)
			q := loc.Query()
			assert.Equal(t, "acme", q.Get("tenant"), "endpoint query kept")
			assert.Equal(t, testIDToken, q.Get("id_token_hint"))
			assert.Equal(t, testPostLogout, q.Get("post_logout_redirect_uri"))
			assert.Equal(t, testClientID, q.Get("client_id"))
			state := q.Get("state")
			raw, err := base64.RawURLEncoding.DecodeString(state)
			require.NoError(t, err)
			assert.Len(t, raw, 32)

			sc := findCookie(resp, testSessionName)
			require.NotNil(t, sc, "session cookie must be cleared")
			assert.True(t, ExpiredForTest(sc))
			assert.Equal(t, "/", sc.Path)

			st := findCookie(resp, testStateCookie)
			require.NotNil(t, st)
			assert.True(t, st.HttpOnly)
			assert.True(t, st.Secure)
			assert.Equal(t, http.SameSiteLaxMode, st.SameSite)
			assert.Equal(t, "/", st.Path, "its deletion at the callback must be visible to the signed-in pages")
			assert.Equal(t, 600, st.MaxAge)
			gotState, returnTo, ok := parseStateCookie(st.Value)
			require.True(t, ok)
			assert.Equal(t, state, gotState)
			assert.Equal(t, "/", returnTo)
		})
	}
}

func TestLogoutClearsServerSideRecord(t *testing.T) {
	store := &recordingStore{CookieStore: newTestStore()}
	m := newTestMiddleware(t, store, nil)
	cookie := sessionCookie(t, store.CookieStore, map[any]any{"id_token": testIDToken, "refresh_token": "r"})
	resp := serve(m, newRequest(http.MethodPost, "/logout", cookie))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Len(t, store.saved, 1)
	assert.Equal(t, -1, store.saved[0].Options.MaxAge, "Save must be asked to delete the record")
	assert.Empty(t, store.saved[0].Values, "no value of the old session may survive")
	assert.Equal(t, 30*86400, store.Options.MaxAge, "store defaults must not be modified")
}

func TestLogoutClearsRegistryCachedSession(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, nil)
	cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken, "user": "ada"})
	r := newRequest(http.MethodGet, "/logout", cookie)
	cached, err := store.Get(r, testSessionName) // an outer middleware loaded it first
	require.NoError(t, err)
	require.Equal(t, "ada", cached.Values["user"])

	resp := serve(m, r)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Empty(t, cached.Values)
	again, err := sessions.GetRegistry(r).Get(store, testSessionName)
	require.NoError(t, err)
	assert.Empty(t, again.Values)
}

func TestStateIsFreshOnEveryLogout(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, nil)
	seen := map[string]bool{}
	for range 20 {
		cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
		state := location(t, serve(m, newRequest(http.MethodGet, "/logout", cookie))).Query().Get("state")
		require.NotEmpty(t, state)
		assert.False(t, seen[state], "state repeated")
		seen[state] = true
	}
}

func TestUndecodableSessionCookieIsStillLoggedOut(t *testing.T) {
	store := newTestStore()
	good := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
	rotated := sessionCookie(t, sessions.NewCookieStore([]byte("another-hash-key-of-32-bytes!!!!")), map[any]any{"id_token": testIDToken})
	shortLived := sessions.NewCookieStore(testHashKey, testBlockKey)
	tests := map[string]string{
		"tampered":     good.Value[:len(good.Value)-4] + "AAAA",
		"rotated keys": rotated.Value,
		"garbage":      "%%%not-base64%%%",
		"empty":        "",
		"huge":         strings.Repeat("A", 8192),
		"truncated":    good.Value[:10],
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			m := newTestMiddleware(t, store, nil)
			resp := serve(m, newRequest(http.MethodGet, "/logout", &http.Cookie{Name: testSessionName, Value: value}))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, "/", resp.Header.Get("Location"), "no token: local logout")
			assert.True(t, ExpiredForTest(findCookie(resp, testSessionName)))
		})
	}
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		shortLived.MaxAge(1)
		old := sessionCookie(t, shortLived, map[any]any{"id_token": testIDToken})
		time.Sleep(2100 * time.Millisecond) // securecookie timestamps have second resolution
		m := newTestMiddleware(t, shortLived, nil)
		resp := serve(m, newRequest(http.MethodGet, "/logout", old))
		require.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Equal(t, "/", resp.Header.Get("Location"))
		assert.True(t, ExpiredForTest(findCookie(resp, testSessionName)))
	})
}

// nilStore is a store that never hands out a session.
type nilStore struct{ *sessions.CookieStore }

func (nilStore) Get(*http.Request, string) (*sessions.Session, error) {
	return nil, errors.New("unavailable")
}

func (nilStore) New(*http.Request, string) (*sessions.Session, error) {
	return nil, errors.New("unavailable")
}

func TestStoreWithoutSessionStillExpiresCookieAtRoot(t *testing.T) {
	m := newTestMiddleware(t, nilStore{newTestStore()}, func(c *Config) { c.Path = "/deep/logout/path" })
	resp := serve(m, newRequest(http.MethodGet, "/deep/logout/path", &http.Cookie{Name: testSessionName, Value: "x"}))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	sc := findCookie(resp, testSessionName)
	require.NotNil(t, sc)
	assert.True(t, ExpiredForTest(sc))
	assert.Equal(t, "/", sc.Path)
}

func TestSaveFailureIsNotALogout(t *testing.T) {
	base := newTestStore()
	cookie := sessionCookie(t, base, map[any]any{"id_token": testIDToken})
	var handled error
	m := newTestMiddleware(t, failingStore{base}, nil)
	resp := serve(m, newRequest(http.MethodGet, "/logout", cookie))
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Location"))
	assert.Nil(t, findCookie(resp, testStateCookie))

	m = newTestMiddleware(t, failingStore{base}, func(c *Config) {
		c.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
			handled = err
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	resp = serve(m, newRequest(http.MethodGet, "/logout", cookie))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.ErrorIs(t, handled, ErrSessionSave)
	assert.ErrorIs(t, handled, errDiskFull)
}

func TestMethodNotAllowed(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, nil)
	cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
	for _, method := range []string{http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		t.Run("logout "+method, func(t *testing.T) {
			resp := serve(m, newRequest(method, "/logout", cookie))
			assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
			assert.Equal(t, "GET, POST", resp.Header.Get("Allow"))
			assert.Empty(t, resp.Header.Values("Set-Cookie"), "session untouched")
		})
	}
	t.Run("callback POST", func(t *testing.T) {
		resp := serve(m, newRequest(http.MethodPost, "/logout/callback?state=x"))
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		assert.Equal(t, "GET", resp.Header.Get("Allow"))
	})
}

func TestCrossSiteRequests(t *testing.T) {
	store := newTestStore()
	cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
	tests := []struct {
		name          string
		method        string
		fetchSite     string
		origin        string
		mutate        func(*Config)
		wantForbidden bool
	}{
		{"same-origin", "POST", "same-origin", testAppURL, nil, false},
		{"typed URL", "GET", "none", "", nil, false},
		{"no headers", "GET", "", "", nil, false},
		{"same host Origin, old browser", "POST", "", testAppURL, nil, false},
		// http.CrossOriginProtection compares the Origin's host with the
		// request's as they are, and ignores the rest of the Origin (which
		// a browser never sends with a path or another scheme).
		{"same host Origin in other case", "POST", "", "https://APP.example.com", nil, true},
		{"Origin with path", "POST", "", testAppURL + "/x", nil, false},
		{"cross-site GET link", "GET", "cross-site", "", nil, true},
		{"cross-site POST form", "POST", "cross-site", "https://evil.example", nil, true},
		{"same-site subdomain", "POST", "same-site", "https://blog.app.example.com", nil, true},
		{"foreign Origin, old browser", "POST", "", "https://evil.example", nil, true},
		{"null Origin", "POST", "", "null", nil, true},
		{"same host Origin without scheme", "POST", "", "://app.example.com", nil, true},
		{"same host Origin with other scheme", "POST", "", "ftp://app.example.com", nil, false},
		{"trusted origin", "POST", "cross-site", "https://portal.example.com", trustPortal, false},
		{"untrusted next to trusted", "POST", "cross-site", "https://evil.example", trustPortal, true},
		{"trusted origin, GET", "GET", "cross-site", "https://portal.example.com", trustPortal, false},
		{"bypassed", "GET", "cross-site", "", func(c *Config) {
			c.CrossOriginProtection = http.NewCrossOriginProtection()
			c.CrossOriginProtection.AddInsecureBypassPattern("/logout")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMiddleware(t, store, tt.mutate)
			r := httptest.NewRequest(tt.method, testAppURL+"/logout", nil)
			r.AddCookie(cookie)
			if tt.fetchSite != "" {
				r.Header.Set("Sec-Fetch-Site", tt.fetchSite)
			}
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			resp := serve(m.Wrap(http.NotFoundHandler()), r)
			if tt.wantForbidden {
				assert.Equal(t, http.StatusForbidden, resp.StatusCode)
				assert.Empty(t, resp.Header.Values("Set-Cookie"), "session must be left intact")
				assert.Empty(t, resp.Header.Get("Location"))
				return
			}
			assert.Equal(t, http.StatusFound, resp.StatusCode)
			assert.True(t, ExpiredForTest(findCookie(resp, testSessionName)))
		})
	}
}

func TestPrefetchDoesNotLogOut(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, nil)
	cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
	for header, value := range map[string]string{
		"Sec-Purpose": "prefetch",
		"Purpose":     "prefetch",
		"X-Moz":       "prefetch",
	} {
		t.Run(header, func(t *testing.T) {
			r := newRequest(http.MethodGet, "/logout", cookie)
			r.Header.Set(header, value)
			resp := serve(m, r)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.Empty(t, resp.Header.Values("Set-Cookie"), "session untouched")
			assert.Empty(t, resp.Header.Get("Location"))
		})
	}
	t.Run("prerender", func(t *testing.T) {
		r := newRequest(http.MethodGet, "/logout", cookie)
		r.Header.Set("Sec-Purpose", "prefetch;prerender")
		assert.Equal(t, http.StatusServiceUnavailable, serve(m, r).StatusCode)
	})
}

// logoutThenCallback performs a logout and returns the state cookie and the
// state sent to the provider.
func logoutThenCallback(t *testing.T, m *Middleware, store sessions.Store, target string) (*http.Cookie, string) {
	t.Helper()
	cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
	resp := serve(m, newRequest(http.MethodGet, target, cookie))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	st := findCookie(resp, testStateCookie)
	require.NotNil(t, st)
	return st, location(t, resp).Query().Get("state")
}

// providerReturn is the cross-site navigation with which the provider sends
// the browser back to the callback.
func providerReturn(query string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, testAppURL+"/logout/callback"+query, nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

func TestCallbackVerifiesStateAndReturns(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, nil)
	h := m.Wrap(http.NotFoundHandler())
	st, state := logoutThenCallback(t, m, store, "/logout?return_to="+url.QueryEscape("/account?tab=security"))

	resp := serve(h, providerReturn("?state="+url.QueryEscape(state), st))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/account?tab=security", resp.Header.Get("Location"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	del := findCookie(resp, testStateCookie)
	require.NotNil(t, del)
	assert.True(t, ExpiredForTest(del))
	assert.Equal(t, "/", del.Path)
}

func TestCallbackRefusesBadState(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, nil)
	st, state := logoutThenCallback(t, m, store, "/logout?return_to=%2Faccount")
	otherCookie, otherState := logoutThenCallback(t, m, store, "/logout?return_to=%2Faccount")
	// A return without a state or a cookie lands on DefaultReturnTo, never
	// on the saved target; the cookie, if any, is deleted.
	t.Run("missing", func(t *testing.T) {
		for name, tt := range map[string]struct {
			r         *http.Request
			hasCookie bool
		}{
			"no state, no cookie": {providerReturn(""), false},
			"no state":            {providerReturn("", st), true},
			"no cookie":           {providerReturn("?state=" + state), false},
			"empty state param":   {providerReturn("?state=", st), true},
		} {
			resp := serve(m, tt.r)
			assert.Equal(t, http.StatusFound, resp.StatusCode, name)
			assert.Equal(t, "/", resp.Header.Get("Location"), name)
			if del := findCookie(resp, testStateCookie); tt.hasCookie {
				assert.True(t, del != nil && ExpiredForTest(del), "%s: the cookie is deleted", name)
			} else {
				assert.Nil(t, del, name)
			}
		}
	})
	// A state that does not match sends the browser to DefaultReturnTo,
	// never to the saved target, and leaves the cookie for the logout it
	// belongs to.
	for name, r := range map[string]*http.Request{
		"wrong state":            providerReturn("?state=AAAA"+state[4:], st),
		"state of other logout":  providerReturn("?state="+otherState, st),
		"cookie of other logout": providerReturn("?state="+state, otherCookie),
		"malformed cookie":       providerReturn("?state="+state, &http.Cookie{Name: testStateCookie, Value: state}),
		"prefix of state":        providerReturn("?state="+state[:20]+"&lang=de", st),
	} {
		t.Run(name, func(t *testing.T) {
			resp := serve(m, r)
			assert.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, "/", resp.Header.Get("Location"))
			assert.Empty(t, resp.Header.Values("Set-Cookie"), "the state cookie is left alone")
			assert.Empty(t, resp.Header.Get("Clear-Site-Data"))
		})
	}
}

func TestCallbackRechecksSavedReturnTarget(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, nil)
	// A cookie planted by someone who can set cookies for the app: the
	// state matches, but the return target is hostile.
	planted := &http.Cookie{Name: testStateCookie, Value: "s1." + base64.RawURLEncoding.EncodeToString([]byte("//evil.com"))}
	resp := serve(m, providerReturn("?state=s1", planted))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
}

func TestReturnTarget(t *testing.T) {
	store := newTestStore()
	tests := []struct {
		name, target, want string
		post               bool
	}{
		{"default", "", "/", false},
		{"path", "/orders/42?x=1#top", "/orders/42?x=1#top", false},
		{"allowlisted origin", "https://shop.example.com/cart", "https://shop.example.com/cart", false},
		{"open redirect", "//evil.com", "/", false},
		{"other origin", "https://evil.com/", "/", false},
		{"POST form", "/bye", "/bye", true},
		{"POST form open redirect", "https://evil.com", "/", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMiddleware(t, store, func(c *Config) {
				c.AllowedReturnOrigins = []string{"https://shop.example.com"}
			})
			var r *http.Request
			if tt.post {
				r = httptest.NewRequest(http.MethodPost, testAppURL+"/logout", strings.NewReader("return_to="+url.QueryEscape(tt.target)))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				r = httptest.NewRequest(http.MethodGet, testAppURL+"/logout?return_to="+url.QueryEscape(tt.target), nil)
			}
			// No id_token: local logout goes straight to the return target.
			resp := serve(m, r)
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, tt.want, resp.Header.Get("Location"))
		})
	}
}

func TestLogoutWithoutIDToken(t *testing.T) {
	store := newTestStore()
	noToken := sessionCookie(t, store, map[any]any{"user": "ada"})

	t.Run("local logout by default", func(t *testing.T) {
		m := newTestMiddleware(t, store, nil)
		resp := serve(m, newRequest(http.MethodGet, "/logout?return_to=/bye", noToken))
		require.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Equal(t, "/bye", resp.Header.Get("Location"))
		assert.True(t, ExpiredForTest(findCookie(resp, testSessionName)))
		assert.Nil(t, findCookie(resp, testStateCookie))
	})
	t.Run("ProviderLogoutWithoutIDToken", func(t *testing.T) {
		m := newTestMiddleware(t, store, func(c *Config) { c.ProviderLogoutWithoutIDToken = true })
		resp := serve(m, newRequest(http.MethodGet, "/logout", noToken))
		require.Equal(t, http.StatusFound, resp.StatusCode)
		q := location(t, resp).Query()
		assert.Equal(t, url.Values{"client_id": {testClientID}, "tenant": {"acme"}}, q,
			"client_id alone: no post_logout_redirect_uri or state without id_token_hint")
		assert.True(t, ExpiredForTest(findCookie(resp, testSessionName)))
		assert.Nil(t, findCookie(resp, testStateCookie))
	})
	t.Run("non-string token", func(t *testing.T) {
		m := newTestMiddleware(t, store, nil)
		c := sessionCookie(t, store, map[any]any{"id_token": 42})
		resp := serve(m, newRequest(http.MethodGet, "/logout", c))
		assert.Equal(t, "/", resp.Header.Get("Location"))
	})
}

func TestNoPostLogoutRedirectURI(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, func(c *Config) { c.Providers[0].PostLogoutRedirectURI = "" })
	cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
	resp := serve(m, newRequest(http.MethodGet, "/logout", cookie))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	q := location(t, resp).Query()
	assert.Equal(t, testIDToken, q.Get("id_token_hint"))
	assert.False(t, q.Has("post_logout_redirect_uri"))
	assert.False(t, q.Has("state"), "state is only useful with a return URI")
	assert.Nil(t, findCookie(resp, testStateCookie))
}

func TestOptionalParameters(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, func(c *Config) {
		c.EndSessionParams = func(_ *http.Request, s *sessions.Session) url.Values {
			return url.Values{"ui_locales": {"zh-CN en"}, "prompt": {"none"}, "logout_hint": {s.Values["email"].(string)},
				"state": {"forged"}, "client_id": {"other"}, "id_token_hint": {"x"}, "post_logout_redirect_uri": {"https://evil.example"}}
		}
	})
	cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken, "email": "ada@example.com"})
	q := location(t, serve(m, newRequest(http.MethodGet, "/logout", cookie))).Query()
	assert.Equal(t, "zh-CN en", q.Get("ui_locales"))
	assert.Equal(t, "none", q.Get("prompt"))
	assert.Equal(t, "ada@example.com", q.Get("logout_hint"))
	assert.Equal(t, []string{testClientID}, q["client_id"], "the middleware's own parameters win")
	assert.Equal(t, []string{testIDToken}, q["id_token_hint"])
	assert.Equal(t, []string{testPostLogout}, q["post_logout_redirect_uri"])
	assert.Len(t, q["state"], 1)
	assert.NotEqual(t, "forged", q.Get("state"))
}

func TestHooks(t *testing.T) {
	store := newTestStore()
	cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken})

	t.Run("before sees tokens, after sees event", func(t *testing.T) {
		var seen string
		var event Event
		m := newTestMiddleware(t, store, func(c *Config) {
			c.BeforeLogout = func(_ *http.Request, s *sessions.Session) error {
				seen, _ = s.Values["id_token"].(string)
				return nil
			}
			c.AfterLogout = func(_ *http.Request, e Event) { event = e }
		})
		resp := serve(m, newRequest(http.MethodGet, "/logout?return_to=/bye", cookie))
		require.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Equal(t, testIDToken, seen)
		assert.Equal(t, Event{HadIDToken: true, ProviderLogout: true, ReturnTo: "/bye"}, event)
	})
	t.Run("before error stops the logout", func(t *testing.T) {
		errAudit := errors.New("audit log unavailable")
		var handled error
		afterCalled := false
		m := newTestMiddleware(t, store, func(c *Config) {
			c.BeforeLogout = func(*http.Request, *sessions.Session) error { return errAudit }
			c.AfterLogout = func(*http.Request, Event) { afterCalled = true }
			c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
				handled = err
				DefaultErrorHandler(w, r, err)
			}
		})
		resp := serve(m, newRequest(http.MethodGet, "/logout", cookie))
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		assert.Empty(t, resp.Header.Values("Set-Cookie"))
		assert.ErrorIs(t, handled, ErrHook)
		assert.ErrorIs(t, handled, errAudit)
		assert.False(t, afterCalled)
	})
}

func TestLogsNeverContainTokensOrState(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := newTestStore()
	m := newTestMiddleware(t, store, func(c *Config) { c.Logger = logger })
	h := m.Wrap(http.NotFoundHandler())
	secret := "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJlLXNlY3JldA"
	cookie := sessionCookie(t, store, map[any]any{"id_token": secret})

	resp := serve(h, newRequest(http.MethodGet, "/logout?return_to=//evil.com", cookie))
	state := location(t, resp).Query().Get("state")
	serve(h, newRequest(http.MethodGet, "/logout", &http.Cookie{Name: testSessionName, Value: "tampered"}))
	serve(h, providerReturn("?state=wrong-"+state, findCookie(resp, testStateCookie)))
	serve(h, providerReturn("?state="+state))
	serve(m, providerReturn("?state=", findCookie(resp, testStateCookie)))
	cross := newRequest(http.MethodGet, "/logout", cookie)
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	serve(h, cross)

	logs := buf.String()
	require.Contains(t, logs, `logout: session cleared" had_id_token=true provider_logout=true`)
	require.Contains(t, logs, `logout: session cleared" had_id_token=false provider_logout=false`)
	require.Contains(t, logs, "return target refused")
	require.Contains(t, logs, "state does not match")
	require.Contains(t, logs, "has_state=true has_cookie=false")
	require.Contains(t, logs, "has_state=false has_cookie=true")
	for _, leak := range []string{secret, "c2VjcmV0LXBheWxvYWQ", state, cookie.Value} {
		assert.NotContains(t, logs, leak)
	}
}

func TestMountOnServeMux(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, nil)
	mux := http.NewServeMux()
	mux.Handle("/logout", m)
	mux.Handle("/logout/callback", m)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/logout", nil)
	require.NoError(t, err)
	req.AddCookie(sessionCookie(t, store, map[any]any{"id_token": testIDToken}))
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	state := location(t, resp).Query().Get("state")

	req, err = http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/logout/callback?state="+state, nil)
	require.NoError(t, err)
	req.AddCookie(findCookie(resp, testStateCookie))
	resp, err = client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
}

func TestStateCookieFollowsPostLogoutScheme(t *testing.T) {
	store := newTestStore()
	m := newTestMiddleware(t, store, func(c *Config) {
		c.Providers[0].PostLogoutRedirectURI = "http://127.0.0.1:8080/signed-out"
	})
	assert.True(t, m.NeedsRequest("/signed-out", nil))
	cookie := sessionCookie(t, store, map[any]any{"id_token": testIDToken})
	resp := serve(m, newRequest(http.MethodGet, "/logout", cookie))
	assert.Nil(t, findCookie(resp, "__Host-logout_state"))
	st := findCookie(resp, "logout_state")
	require.NotNil(t, st)
	assert.False(t, st.Secure, "an http callback could never receive a Secure cookie")
	assert.Equal(t, 600, st.MaxAge)
	assert.Equal(t, "/", st.Path)
	assert.Empty(t, st.Domain)

	secure := newTestMiddleware(t, store, nil)
	resp = serve(secure, newRequest(http.MethodGet, "/logout", cookie))
	assert.Nil(t, findCookie(resp, "logout_state"))
	st = findCookie(resp, "__Host-logout_state")
	require.NotNil(t, st, "an https callback gets a __Host- cookie")
	assert.True(t, st.Secure)
	assert.Equal(t, "/", st.Path)
	assert.Empty(t, st.Domain)
}

func TestStatusCode(t *testing.T) {
	for err, want := range map[error]int{
		ErrCrossSite:            403,
		ErrMethodNotAllowed:     405,
		ErrPrefetch:             503,
		ErrTombstone:            503,
		ErrLedger:               503,
		ErrCrossSiteNavigation:  200,
		ErrFrontChannelRequest:  400,
		ErrRevocation:           502,
		ErrDiscovery:            502,
		ErrNoEndSessionEndpoint: 502,
		ErrSessionSave:          500,
		errors.New("other"):     500,
	} {
		assert.Equal(t, want, StatusCode(err), err.Error())
	}
}

func TestDefaultErrorHandlerMessages(t *testing.T) {
	tests := []struct {
		err    error
		status int
		body   string
	}{
		{fmt.Errorf("wrapped: %w", ErrCrossSite), 403, "cross-site logout request refused"},
		{fmt.Errorf("%w: %w", ErrRevocation, ErrDiscovery), 502, "you are still signed in"},
		{ErrDiscovery, 502, "you are signed out of this site"},
		{fmt.Errorf("%w: store down", ErrTombstone), 503, "you are still signed in"},
		{fmt.Errorf("%w: token abc.def.ghi", ErrSessionSave), 500, "Internal Server Error"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		DefaultErrorHandler(w, httptest.NewRequest(http.MethodGet, "/logout", nil), tt.err)
		assert.Equal(t, tt.status, w.Code, tt.err.Error())
		assert.Contains(t, w.Body.String(), tt.body)
		assert.NotContains(t, w.Body.String(), "abc.def.ghi", "error text is never shown")
		assert.Equal(t, "text/plain; charset=utf-8", w.Header().Get("Content-Type"))
	}
}

// TestWrapCallsEveryKindOfHandler: the pass-through reaches an
// http.HandlerFunc, called directly, and any other handler, through its
// ServeHTTP method.
func TestWrapCallsEveryKindOfHandler(t *testing.T) {
	m := newTestMiddleware(t, newTestStore(), nil)
	calls := 0
	f := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls++ })
	w := httptest.NewRecorder()
	m.Wrap(f).ServeHTTP(w, newRequest(http.MethodGet, "/page"))
	assert.Equal(t, 1, calls)
	w = httptest.NewRecorder()
	m.Wrap(teapot{}).ServeHTTP(w, newRequest(http.MethodGet, "/page"))
	assert.Equal(t, http.StatusTeapot, w.Code)
}

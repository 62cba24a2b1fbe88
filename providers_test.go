package logout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// Two providers, and a tenant that only LookupProvider knows.
const (
	mpIssuerA  = "https://a.example.com/oidc"
	mpIssuerB  = "https://b.example.com"
	mpIssuerT  = "https://tenant.example.com/t/42"
	mpCallback = "https://app.example.com/logout/callback"
	mpSession  = "app"
)

// mpStateCookie is the state cookie's name: the post-logout redirect
// URIs are https.
const mpStateCookie = "__Host-logout_state"

// mpProviders are the static providers of the multi-provider tests: A's
// post-logout redirect URI has a query.
var mpProviders = []logout.Provider{
	{Issuer: mpIssuerA, EndSessionEndpoint: mpIssuerA + "/session/end", ClientID: "client-a",
		PostLogoutRedirectURI: "https://app.example.com/logout/callback?from=a"},
	{Issuer: mpIssuerB + "/", EndSessionEndpoint: mpIssuerB + "/logout", ClientID: "client-b", PostLogoutRedirectURI: mpCallback},
}

// mpLookup knows mpIssuerT and counts its calls.
func mpLookup(calls *atomic.Int32) func(context.Context, string) (logout.Provider, bool) {
	return func(_ context.Context, iss string) (logout.Provider, bool) {
		calls.Add(1)
		if iss != mpIssuerT {
			return logout.Provider{}, false
		}
		return logout.Provider{Issuer: mpIssuerT, EndSessionEndpoint: mpIssuerT + "/end", ClientID: "client-t", PostLogoutRedirectURI: mpCallback}, true
	}
}

// mpMiddleware returns a middleware with mpProviders and mpLookup.
func mpMiddleware(t *testing.T, store sessions.Store, logs *bytes.Buffer, mutate func(*logout.Config)) *logout.Middleware {
	t.Helper()
	var calls atomic.Int32
	cfg := logout.Config{
		Store:          store,
		SessionName:    mpSession,
		Providers:      mpProviders,
		LookupProvider: mpLookup(&calls),
	}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := logout.New(cfg)
	require.NoError(t, err)
	return m
}

func mpToken(t *testing.T, iss string) string {
	return logout.FakeJWTForTest(t, map[string]any{"iss": iss, "sub": "u1", "sid": "s1"})
}

func TestProvidersLogoutGoesToTheSessionsIssuer(t *testing.T) {
	tests := []struct {
		name         string
		idToken      func(t *testing.T) string
		wantEndpoint string // "" for a local logout
		wantClient   string
		wantPostURI  string
		wantLog      string
	}{
		{"provider A", func(t *testing.T) string { return mpToken(t, mpIssuerA) },
			mpIssuerA + "/session/end", "client-a", "https://app.example.com/logout/callback?from=a", ""},
		{"provider B, iss without the configured trailing slash", func(t *testing.T) string { return mpToken(t, mpIssuerB) },
			mpIssuerB + "/logout", "client-b", mpCallback, ""},
		{"provider A, iss with a trailing slash", func(t *testing.T) string { return mpToken(t, mpIssuerA+"/") },
			mpIssuerA + "/session/end", "client-a", "https://app.example.com/logout/callback?from=a", ""},
		{"looked-up tenant", func(t *testing.T) string { return mpToken(t, mpIssuerT) },
			mpIssuerT + "/end", "client-t", mpCallback, ""},
		{"unknown issuer: local logout", func(t *testing.T) string { return mpToken(t, "https://evil.example.com") },
			"", "", "", "not a configured provider"},
		{"id_token without iss: local logout", func(t *testing.T) string {
			return logout.FakeJWTForTest(t, map[string]any{"sub": "u1"})
		}, "", "", "", "not a configured provider"},
		{"not a JWT: local logout", func(*testing.T) string { return "opaque" }, "", "", "", "not a configured provider"},
		{"no id_token: local logout", func(*testing.T) string { return "" }, "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newCookieStore()
			var logs bytes.Buffer
			var ev logout.Event
			m := mpMiddleware(t, store, &logs, func(c *logout.Config) {
				c.AfterLogout = func(_ *http.Request, e logout.Event) { ev = e }
			})
			values := map[any]any{"user": "u1"}
			if tok := tt.idToken(t); tok != "" {
				values["id_token"] = tok
			}
			login := logout.SaveSessionForTest(t, store, mpSession, values)
			w := httptest.NewRecorder()
			m.ServeHTTP(w, logout.NewRequestForTest(http.MethodGet, "/logout?return_to=/bye", login))
			resp := w.Result()
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.True(t, logout.ExpiredForTest(logout.ResponseCookieForTest(resp, mpSession)), "the session is cleared")
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			state := logout.ResponseCookieForTest(resp, mpStateCookie)
			if tt.wantEndpoint == "" {
				assert.Equal(t, "/bye", loc.String(), "a local logout lands on the return target")
				assert.Nil(t, state, "no state cookie")
				assert.False(t, ev.ProviderLogout)
				assert.Empty(t, ev.Issuer)
			} else {
				q := loc.Query()
				loc.RawQuery = ""
				assert.Equal(t, tt.wantEndpoint, loc.String())
				assert.Equal(t, tt.wantClient, q.Get("client_id"))
				assert.Equal(t, tt.wantPostURI, q.Get("post_logout_redirect_uri"))
				assert.Equal(t, values["id_token"], q.Get("id_token_hint"))
				require.NotNil(t, state)
				assert.True(t, state.Secure, "the default post-logout redirect URI is https")
				assert.True(t, ev.ProviderLogout)
				assert.NotEmpty(t, ev.Issuer)
			}
			if tt.wantLog != "" {
				assert.Contains(t, logs.String(), tt.wantLog)
			} else {
				assert.NotContains(t, logs.String(), "not a configured provider")
			}
			assert.NotContains(t, logs.String(), "eyJ", "no token is logged")
		})
	}
}

func TestProvidersCallbackServesEveryProvider(t *testing.T) {
	store := newCookieStore()
	m := mpMiddleware(t, store, nil, nil)
	for _, iss := range []string{mpIssuerA, mpIssuerB, mpIssuerT} {
		login := logout.SaveSessionForTest(t, store, mpSession, map[any]any{"id_token": mpToken(t, iss)})
		w := httptest.NewRecorder()
		m.ServeHTTP(w, logout.NewRequestForTest(http.MethodGet, "/logout?return_to=/bye", login))
		loc, err := url.Parse(w.Result().Header.Get("Location"))
		require.NoError(t, err)
		state := logout.ResponseCookieForTest(w.Result(), mpStateCookie)
		require.NotNil(t, state, iss)
		w = httptest.NewRecorder()
		m.ServeHTTP(w, logout.NewRequestForTest(http.MethodGet, "/logout/callback?state="+loc.Query().Get("state"), state))
		assert.Equal(t, "/bye", w.Result().Header.Get("Location"), iss)
	}
}

func TestProvidersLookupErrors(t *testing.T) {
	tests := []struct {
		name        string
		found       logout.Provider
		noStatic    bool   // no configured provider, so no callback path
		wantMessage string // in the error of Discover
	}{
		{"another issuer", logout.Provider{Issuer: "https://other.example.com", EndSessionEndpoint: "https://other.example.com/end"}, false,
			`Config.LookupProvider returned issuer "https://other.example.com"`},
		{"invalid endpoint", logout.Provider{Issuer: mpIssuerT, EndSessionEndpoint: "javascript:alert(1)"}, false, "EndSessionEndpoint"},
		{"relative post-logout redirect URI", logout.Provider{Issuer: mpIssuerT, EndSessionEndpoint: mpIssuerT + "/end", PostLogoutRedirectURI: "/cb"}, false,
			"PostLogoutRedirectURI"},
		{"post-logout redirect URI on another path", logout.Provider{Issuer: mpIssuerT, EndSessionEndpoint: mpIssuerT + "/end", PostLogoutRedirectURI: "https://app.example.com/cb"}, false,
			"must lead to the callback path"},
		{"post-logout redirect URI without a callback path", logout.Provider{Issuer: mpIssuerT, EndSessionEndpoint: mpIssuerT + "/end", PostLogoutRedirectURI: mpCallback}, true,
			"PostLogoutRedirectURI needs Config.CallbackPath"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newCookieStore()
			m := mpMiddleware(t, store, nil, func(c *logout.Config) {
				c.LookupProvider = func(context.Context, string) (logout.Provider, bool) { return tt.found, true }
				if tt.noStatic {
					c.Providers = nil
				}
			})
			login := logout.SaveSessionForTest(t, store, mpSession, map[any]any{"id_token": mpToken(t, mpIssuerT)})
			w := httptest.NewRecorder()
			m.ServeHTTP(w, logout.NewRequestForTest(http.MethodGet, "/logout", login))
			assert.Equal(t, http.StatusInternalServerError, w.Code)
			assert.Nil(t, logout.ResponseCookieForTest(w.Result(), mpSession), "the session is left as it was")
			p, err := m.Discover(context.Background(), mpIssuerT)
			assert.ErrorIs(t, err, logout.ErrUnknownProvider)
			assert.ErrorContains(t, err, tt.wantMessage)
			assert.Empty(t, p.Issuer)
		})
	}
}

func TestProvidersConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*logout.Config)
		wantErr string
	}{
		{"ProviderLogoutWithoutIDToken", func(c *logout.Config) { c.ProviderLogoutWithoutIDToken = true }, "needs a single provider"},
		{"ProviderLogoutWithoutIDToken with one provider and LookupProvider", func(c *logout.Config) {
			c.Providers, c.ProviderLogoutWithoutIDToken = c.Providers[:1], true
		}, "needs a single provider"},
		{"provider without issuer", func(c *logout.Config) {
			c.Providers = []logout.Provider{{EndSessionEndpoint: mpIssuerA + "/end"}}
		}, "Config.Providers[0].Issuer is required"},
		{"invalid endpoint", func(c *logout.Config) {
			c.Providers = []logout.Provider{{Issuer: mpIssuerA, EndSessionEndpoint: "ftp://x"}}
		}, "Config.Providers[0].EndSessionEndpoint"},
		{"issuer twice", func(c *logout.Config) {
			c.Providers = []logout.Provider{{Issuer: mpIssuerA}, {Issuer: mpIssuerA + "/"}}
		}, "listed twice"},
		{"relative post-logout redirect URI", func(c *logout.Config) {
			c.Providers = []logout.Provider{{Issuer: mpIssuerA, PostLogoutRedirectURI: "/cb"}}
		}, "must be an absolute URL"},
		{"relative CallbackPath", func(c *logout.Config) { c.CallbackPath = "callback" }, `callback path "callback"`},
		{"CallbackPath equal to Path", func(c *logout.Config) { c.CallbackPath = "/logout" }, `differ from the logout path "/logout"`},
		{"provider's post-logout redirect URI on another path", func(c *logout.Config) {
			c.Providers = append(c.Providers, logout.Provider{Issuer: mpIssuerT + "/x", PostLogoutRedirectURI: "https://app.example.com/other"})
		}, `Config.Providers[2].PostLogoutRedirectURI "https://app.example.com/other" must lead to the callback path "/logout/callback"`},
		{"revocation without the provider's client", func(c *logout.Config) {
			c.Revocation = logout.RevokeTokens
			c.Providers = []logout.Provider{{Issuer: mpIssuerA}}
		}, "Config.Providers[0].ClientID is required for token revocation"},
		{"front-channel without SessionCheck", func(c *logout.Config) { c.FrontChannelPath = "/fc" }, "needs Config.SessionCheck"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			cfg := logout.Config{
				Store:          newCookieStore(),
				SessionName:    mpSession,
				Providers:      append([]logout.Provider(nil), mpProviders...),
				LookupProvider: mpLookup(&calls),
			}
			tt.mutate(&cfg)
			_, err := logout.New(cfg)
			require.ErrorIs(t, err, logout.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, 1, strings.Count(err.Error(), "logout: "), err.Error())
		})
	}
}

func TestProvidersCallbackPathWithoutDefaultURI(t *testing.T) {
	for _, tt := range []struct {
		name       string
		callback   string
		wantSecure bool
	}{
		{"CallbackPath alone: Secure state cookie", "/logout/callback", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newCookieStore()
			m := mpMiddleware(t, store, nil, func(c *logout.Config) {
				c.Providers = []logout.Provider{mpProviders[0], {Issuer: mpIssuerB, EndSessionEndpoint: mpIssuerB + "/logout"}}
				c.CallbackPath = tt.callback
			})
			login := logout.SaveSessionForTest(t, store, mpSession, map[any]any{"id_token": mpToken(t, mpIssuerA)})
			w := httptest.NewRecorder()
			m.ServeHTTP(w, logout.NewRequestForTest(http.MethodGet, "/logout", login))
			loc, err := url.Parse(w.Result().Header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, "https://app.example.com/logout/callback?from=a", loc.Query().Get("post_logout_redirect_uri"))
			state := logout.ResponseCookieForTest(w.Result(), mpStateCookie)
			require.NotNil(t, state)
			assert.Equal(t, tt.wantSecure, state.Secure)
			assert.True(t, m.NeedsRequest(tt.callback, nil))

			// B has no post-logout redirect URI: no state, and the provider
			// shows its own page.
			login = logout.SaveSessionForTest(t, store, mpSession, map[any]any{"id_token": mpToken(t, mpIssuerB)})
			w = httptest.NewRecorder()
			m.ServeHTTP(w, logout.NewRequestForTest(http.MethodGet, "/logout", login))
			loc, err = url.Parse(w.Result().Header.Get("Location"))
			require.NoError(t, err)
			assert.Empty(t, loc.Query().Get("post_logout_redirect_uri"))
			assert.Empty(t, loc.Query().Get("state"))
			assert.Nil(t, logout.ResponseCookieForTest(w.Result(), mpStateCookie))
		})
	}
}

func TestProvidersRevokeAtTheSessionsProvider(t *testing.T) {
	fa, fb := &fakeRevocationEndpoint{}, &fakeRevocationEndpoint{}
	bare := startDiscovery(t, nil) // no revocation_endpoint
	providers := []logout.Provider{
		{Issuer: mpIssuerA, EndSessionEndpoint: mpIssuerA + "/end", ClientID: "client-a", ClientSecret: "secret-a",
			RevocationEndpoint: startRevocationEndpoint(t, fa)},
		{Issuer: mpIssuerB, EndSessionEndpoint: mpIssuerB + "/end", ClientID: "client-b", ClientSecret: "secret-b",
			RevocationEndpoint: startRevocationEndpoint(t, fb)},
		{Issuer: bare, EndSessionEndpoint: bare + "/end", ClientID: "client-t"}, // its provider has no revocation endpoint
	}
	tests := []struct {
		iss          string
		wantA, wantB []string // the tokens each endpoint received
		wantUser     string
	}{
		{mpIssuerA, []string{"rt", "at"}, nil, "client-a"},
		{mpIssuerB, nil, []string{"rt", "at"}, "client-b"},
		{bare, nil, nil, ""},
		{"https://evil.example.com", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.iss, func(t *testing.T) {
			fa.requests, fb.requests = nil, nil
			store := newCookieStore()
			m := mpMiddleware(t, store, nil, func(c *logout.Config) {
				c.Providers, c.LookupProvider = providers, nil
				c.Revocation = logout.RevokeTokens
			})
			login := logout.SaveSessionForTest(t, store, mpSession, map[any]any{
				"id_token": mpToken(t, tt.iss), "refresh_token": "rt", "access_token": "at",
			})
			w := httptest.NewRecorder()
			m.ServeHTTP(w, logout.NewRequestForTest(http.MethodGet, "/logout", login))
			require.Equal(t, http.StatusFound, w.Code)
			assert.Equal(t, tt.wantA, revokedTokens(fa), "provider A's endpoint")
			assert.Equal(t, tt.wantB, revokedTokens(fb), "provider B's endpoint")
			for _, req := range append(fa.received(), fb.received()...) {
				assert.Equal(t, tt.wantUser, req.User, "each provider gets its own client's credentials")
			}
		})
	}
}

// revokedTokens lists the tokens f was asked to revoke, in order.
func revokedTokens(f *fakeRevocationEndpoint) []string {
	var out []string
	for _, r := range f.received() {
		out = append(out, r.Form.Get("token"))
	}
	return out
}

func TestProvidersFrontChannelAcceptsEveryProvidersIssuer(t *testing.T) {
	for _, tt := range []struct {
		iss    string
		status int
	}{
		{mpIssuerA, http.StatusOK},
		{mpIssuerB, http.StatusOK},
		{mpIssuerB + "/", http.StatusOK},
		{mpIssuerT, http.StatusOK},
		{"https://evil.example.com", http.StatusBadRequest},
	} {
		t.Run(tt.iss, func(t *testing.T) {
			m := mpMiddleware(t, newCookieStore(), nil, func(c *logout.Config) {
				c.SessionCheck = &logout.SessionCheckConfig{Ledger: logout.NewMemoryLedger(logout.MemoryLedgerConfig{})}
				c.FrontChannelPath = fcPath
			})
			w := httptest.NewRecorder()
			m.ServeHTTP(w, logout.NewRequestForTest(http.MethodGet, frontChannelURL(tt.iss, "sid-1")))
			assert.Equal(t, tt.status, w.Code)
		})
	}
}

func TestProvidersDiscoveryPerIssuer(t *testing.T) {
	var hits [2]atomic.Int32
	var issuers [2]string
	for i := range 2 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			iss := "http://" + r.Host
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "end_session_endpoint": iss + "/end"})
		}))
		t.Cleanup(srv.Close)
		issuers[i] = srv.URL
	}
	store := newCookieStore()
	var lookups atomic.Int32
	m := mpMiddleware(t, store, nil, func(c *logout.Config) {
		c.Providers = []logout.Provider{{Issuer: issuers[0]}}
		c.LookupProvider = func(_ context.Context, iss string) (logout.Provider, bool) {
			lookups.Add(1)
			return logout.Provider{Issuer: iss}, iss == issuers[1]
		}
	})
	for range 3 {
		for i, iss := range issuers {
			got, err := m.Discover(context.Background(), iss)
			require.NoError(t, err)
			assert.Equal(t, iss+"/end", got.EndSessionEndpoint)
			assert.Equal(t, iss, got.Issuer)
			login := logout.SaveSessionForTest(t, store, mpSession, map[any]any{"id_token": mpToken(t, iss)})
			w := httptest.NewRecorder()
			m.ServeHTTP(w, logout.NewRequestForTest(http.MethodGet, "/logout", login))
			loc, err := url.Parse(w.Result().Header.Get("Location"))
			require.NoError(t, err)
			loc.RawQuery = ""
			assert.Equal(t, iss+"/end", loc.String(), "provider %d", i)
		}
	}
	assert.Equal(t, int32(1), hits[0].Load(), "the listed provider's document is fetched once")
	assert.Equal(t, int32(1), hits[1].Load(), "the looked-up provider's document is cached")
	assert.Equal(t, int32(6), lookups.Load(), "only an issuer that is not listed is looked up")

	_, err := m.Discover(context.Background(), "")
	assert.ErrorIs(t, err, logout.ErrUnknownProvider, "several providers: an issuer is needed")
	_, err = m.Discover(context.Background(), "https://evil.example.com")
	assert.ErrorIs(t, err, logout.ErrUnknownProvider)
}

func TestSingleProviderDiscover(t *testing.T) {
	m, err := logout.New(logout.Config{Store: newCookieStore(), SessionName: mpSession, Providers: []logout.Provider{{
		Issuer: mpIssuerA, EndSessionEndpoint: mpIssuerA + "/end", RevocationEndpoint: mpIssuerA + "/revoke", JWKSURI: mpIssuerA + "/jwks",
	}}})
	require.NoError(t, err)
	for _, iss := range []string{"", mpIssuerA, mpIssuerA + "/"} {
		got, err := m.Discover(context.Background(), iss)
		require.NoError(t, err)
		assert.Equal(t, mpIssuerA+"/end", got.EndSessionEndpoint)
	}
	_, err = m.Discover(context.Background(), mpIssuerB)
	assert.True(t, errors.Is(err, logout.ErrUnknownProvider))
}

func TestProvidersWrapPassThroughAllocs(t *testing.T) {
	m := mpMiddleware(t, newCookieStore(), nil, nil)
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := m.Wrap(next)
	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	w := httptest.NewRecorder()
	bare := testing.AllocsPerRun(1000, func() { next.ServeHTTP(w, r) })
	allocs := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) })
	assert.Equal(t, bare, allocs, "the wrapper adds no allocation with several providers")
}

func TestProvidersExplicitCallbackPathAcceptsAnyURIPath(t *testing.T) {
	// Behind a proxy that rewrites paths, the URI the provider knows and
	// the path the app sees differ: Config.CallbackPath says which.
	m, err := logout.New(logout.Config{
		Store: newCookieStore(), SessionName: mpSession, CallbackPath: "/cb",
		Providers: []logout.Provider{{Issuer: mpIssuerA, EndSessionEndpoint: mpIssuerA + "/end", PostLogoutRedirectURI: "https://app.example.com/auth/logout/callback"}},
	})
	require.NoError(t, err)
	assert.True(t, m.NeedsRequest("/cb", nil))
}

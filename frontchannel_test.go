package logout_test

import (
	"bytes"
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

	"github.com/oidc-logout/logout"
)

const fcPath = "/frontchannel-logout"

// newFrontChannelMiddleware returns a middleware with the session check on
// revs and front-channel logout at fcPath.
func newFrontChannelMiddleware(t *testing.T, store *sessions.CookieStore, revs *countingLedger, mutate func(*logout.Config)) *logout.Middleware {
	t.Helper()
	return newCheckedMiddleware(t, store, func(c *logout.Config) {
		c.SessionCheck.Ledger = revs
		c.FrontChannelPath = fcPath
		if mutate != nil {
			mutate(c)
		}
	})
}

// frontChannelURL is the URL a provider's logout page loads.
func frontChannelURL(iss, sid string) string {
	return fcPath + "?" + url.Values{"iss": {iss}, "sid": {sid}}.Encode()
}

// login returns the cookie of a session for sid, and the cookie that the
// first request through h (which registers the sid) gives back.
func loginAndRegister(t *testing.T, h http.Handler, store *sessions.CookieStore, sid string) (login, registered *http.Cookie) {
	t.Helper()
	tok := unsignedJWT(t, map[string]any{"sub": "alice", "sid": sid, "iat": time.Now().Add(-time.Minute).Unix()})
	login = saveSession(t, store, map[any]any{"id_token": tok})
	resp := get(h, "/", login)
	registered = logout.ResponseCookieForTest(resp, testSession)
	require.NotNil(t, registered, "the first request registers the sid and saves the session")
	require.False(t, logout.ExpiredForTest(registered))
	return login, registered
}

func TestFrontChannelLogoutEndsRegisteredSession(t *testing.T) {
	store, revs := newCookieStore(), newCounting()
	m := newFrontChannelMiddleware(t, store, revs, nil)
	var seen seenSession
	h := m.Wrap(recordNext(store, &seen))
	login, registered := loginAndRegister(t, h, store, "op-sid-1")
	_, other := loginAndRegister(t, h, store, "op-sid-2")

	resp := get(h, "/", registered)
	assert.Nil(t, logout.ResponseCookieForTest(resp, testSession), "registered once: no further Set-Cookie")
	writes := revs.revokes.Load()

	// The provider's logout page loads the URI in an iframe: a cross-site
	// GET without the app's cookies.
	r := httptest.NewRequest(http.MethodGet, "https://app.example.com"+frontChannelURL(testIssuer, "op-sid-1"), nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Sec-Fetch-Dest", "iframe")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "no-cache, no-store", w.Header().Get("Cache-Control"))
	assert.Equal(t, "no-cache", w.Header().Get("Pragma"))
	assert.Empty(t, w.Header().Get("X-Frame-Options"), "the provider must be able to frame it")
	assert.Equal(t, writes+1, revs.revokes.Load(), "one record: the sid")

	for name, c := range map[string]*http.Cookie{"registered cookie": registered, "cookie from before registration": login} {
		seen = seenSession{}
		resp = get(h, "/", c)
		assert.Empty(t, seen.IDToken, name)
		assert.True(t, logout.ExpiredForTest(logout.ResponseCookieForTest(resp, testSession)), name)
	}
	seen = seenSession{}
	get(h, "/", other)
	assert.NotEmpty(t, seen.IDToken, "another provider session is untouched")
}

func TestFrontChannelLogoutIgnoresUnregisteredSID(t *testing.T) {
	store, revs := newCookieStore(), newCounting()
	var logs bytes.Buffer
	m := newFrontChannelMiddleware(t, store, revs, func(c *logout.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	var seen seenSession
	h := m.Wrap(recordNext(store, &seen))

	// Made-up sids, and the sid of a session not seen yet, are not
	// recorded: nobody can fill the store with GET requests.
	for i := range 200 {
		resp := get(h, frontChannelURL(testIssuer, fmt.Sprintf("made-up-%d", i)))
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	resp := get(h, frontChannelURL(testIssuer, "op-sid-later"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Zero(t, revs.revokes.Load(), "nothing written")
	assert.Contains(t, logs.String(), "registered_session=false")

	_, registered := loginAndRegister(t, h, store, "op-sid-later")
	seen = seenSession{}
	get(h, "/", registered)
	assert.NotEmpty(t, seen.IDToken, "a front-channel logout before the registration does not end the session")
}

// TestFrontChannelLogoutIssuerSpelling: an issuer with and without a
// trailing slash is one provider, whichever spelling the provider's Issuer, the
// id_token and the front-channel request use: the session is signed out,
// never a silent 200 that ends nothing.
func TestFrontChannelLogoutIssuerSpelling(t *testing.T) {
	spellings := []string{testIssuer, testIssuer + "/"}
	for _, configured := range spellings {
		for _, token := range spellings {
			for _, request := range spellings {
				t.Run(fmt.Sprintf("config=%s/token=%s/request=%s", configured, token, request), func(t *testing.T) {
					store, revs := newCookieStore(), newCounting()
					m := newFrontChannelMiddleware(t, store, revs, func(c *logout.Config) { c.Providers[0].Issuer = configured })
					var seen seenSession
					h := m.Wrap(recordNext(store, &seen))
					tok := unsignedJWT(t, map[string]any{"iss": token, "sub": "alice", "sid": "sid-1"})
					registered := logout.ResponseCookieForTest(get(h, "/", saveSession(t, store, map[any]any{"id_token": tok})), testSession)
					require.NotNil(t, registered)

					require.Equal(t, http.StatusOK, get(h, frontChannelURL(request, "sid-1")).StatusCode)
					get(h, "/", registered)
					assert.Empty(t, seen.IDToken, "signed out")
				})
			}
		}
	}
}

func TestFrontChannelLogoutRefusesBadRequests(t *testing.T) {
	store, revs := newCookieStore(), newCounting()
	m := newFrontChannelMiddleware(t, store, revs, nil)
	h := m.Wrap(http.NotFoundHandler())
	_, _ = loginAndRegister(t, m.Wrap(recordNext(store, &seenSession{})), store, "sid-1")
	writes := revs.revokes.Load()
	good := url.Values{"iss": {testIssuer}, "sid": {"sid-1"}}
	tests := []struct {
		name, method, query string
		want                int
	}{
		{"POST", http.MethodPost, good.Encode(), http.StatusMethodNotAllowed},
		{"HEAD", http.MethodHead, good.Encode(), http.StatusMethodNotAllowed},
		{"no query", http.MethodGet, "", http.StatusBadRequest},
		{"no sid", http.MethodGet, "iss=" + url.QueryEscape(testIssuer), http.StatusBadRequest},
		{"no iss", http.MethodGet, "sid=sid-1", http.StatusBadRequest},
		{"empty sid", http.MethodGet, "iss=" + url.QueryEscape(testIssuer) + "&sid=", http.StatusBadRequest},
		{"other issuer", http.MethodGet, "iss=https%3A%2F%2Fevil.example&sid=sid-1", http.StatusBadRequest},
		{"issuer with a path", http.MethodGet, "iss=" + url.QueryEscape(testIssuer+"/x") + "&sid=sid-1", http.StatusBadRequest},
		{"two sids", http.MethodGet, good.Encode() + "&sid=sid-2", http.StatusBadRequest},
		{"two issuers", http.MethodGet, good.Encode() + "&iss=" + url.QueryEscape(testIssuer), http.StatusBadRequest},
		{"malformed escape", http.MethodGet, good.Encode() + "&x=%zz", http.StatusBadRequest},
		{"over-long sid", http.MethodGet, "iss=" + url.QueryEscape(testIssuer) + "&sid=" + strings.Repeat("s", 1025), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "https://app.example.com"+fcPath+"?"+tt.query, nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.Equal(t, tt.want, w.Code)
			if tt.want == http.StatusMethodNotAllowed {
				assert.Equal(t, "GET", w.Header().Get("Allow"))
			}
			assert.Equal(t, writes, revs.revokes.Load(), "nothing recorded")
		})
	}
}

func TestFrontChannelLogoutStoreFailures(t *testing.T) {
	store, revs := newCookieStore(), newCounting()
	var logs bytes.Buffer
	m := newFrontChannelMiddleware(t, store, revs, func(c *logout.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.SessionCheck.FailOpen = true
	})
	var seen seenSession
	h := m.Wrap(recordNext(store, &seen))
	tok := unsignedJWT(t, map[string]any{"sub": "alice", "sid": "sid-1"})
	login := saveSession(t, store, map[any]any{"id_token": tok, "logout_session_id": "id-1"})

	// The registration fails: the request goes on, nothing is saved, and
	// the next request tries again.
	revs.failWrites.Store(true)
	resp := get(h, "/", login)
	assert.Equal(t, tok, seen.IDToken)
	assert.Nil(t, logout.ResponseCookieForTest(resp, testSession))
	assert.Contains(t, logs.String(), "registering the session for front-channel logout failed")
	assert.Equal(t, http.StatusOK, get(h, frontChannelURL(testIssuer, "sid-1")).StatusCode, "not registered: ignored")

	revs.failWrites.Store(false)
	resp = get(h, "/", login)
	registered := logout.ResponseCookieForTest(resp, testSession)
	require.NotNil(t, registered, "registered once the store is back")

	// Store failures at front-channel logout are errors, not a silent 200
	// that the provider would take for success.
	revs.fail.Store(true)
	assert.Equal(t, http.StatusServiceUnavailable, get(h, frontChannelURL(testIssuer, "sid-1")).StatusCode, "failed look-up")
	revs.fail.Store(false)
	revs.failWrites.Store(true)
	assert.Equal(t, http.StatusServiceUnavailable, get(h, frontChannelURL(testIssuer, "sid-1")).StatusCode, "failed write")
	revs.failWrites.Store(false)

	require.Equal(t, http.StatusOK, get(h, frontChannelURL(testIssuer, "sid-1")).StatusCode)
	seen = seenSession{}
	get(h, "/", registered)
	assert.Empty(t, seen.IDToken)
	assert.NotContains(t, logs.String(), tok)
}

func TestFrontChannelLogoutWithSessionIDsSavesOnce(t *testing.T) {
	store, revs := newCookieStore(), newCounting()
	m := newFrontChannelMiddleware(t, store, revs, nil)
	tok := unsignedJWT(t, map[string]any{"sub": "alice", "sid": "sid-1"})
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
	r.AddCookie(saveSession(t, store, map[any]any{"id_token": tok}))
	m.Wrap(http.NotFoundHandler()).ServeHTTP(w, r)
	assert.Len(t, w.Header().Values("Set-Cookie"), 1, "the session id and the registration are saved together")
}

func TestFrontChannelLogoutMountedOnMux(t *testing.T) {
	store, revs := newCookieStore(), newCounting()
	m := newFrontChannelMiddleware(t, store, revs, nil)
	assert.True(t, m.NeedsRequest(fcPath, nil))
	assert.True(t, m.NeedsRequest("/logout", nil))
	assert.False(t, m.NeedsRequest("/frontchannel-logout/x", nil))
	_, _ = loginAndRegister(t, m.Wrap(http.NotFoundHandler()), store, "sid-1")
	writes := revs.revokes.Load()

	mux := http.NewServeMux()
	mux.Handle("GET "+fcPath, m)
	resp := get(mux, frontChannelURL(testIssuer, "sid-1"))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, writes+1, revs.revokes.Load())
}

func TestFrontChannelPathValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*logout.Config)
	}{
		{"no session check", func(c *logout.Config) { c.SessionCheck = nil }},
		{"no issuer", func(c *logout.Config) { c.Providers[0].Issuer = "" }},
		{"relative path", func(c *logout.Config) { c.FrontChannelPath = "frontchannel" }},
		{"logout path", func(c *logout.Config) { c.FrontChannelPath = "/logout" }},
		{"callback path", func(c *logout.Config) {
			c.Providers[0].PostLogoutRedirectURI = "https://app.example.com/logout/callback"
			c.FrontChannelPath = "/logout/callback"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := logout.Config{
				Store:            newCookieStore(),
				SessionName:      testSession,
				SessionCheck:     &logout.SessionCheckConfig{Ledger: newCounting()},
				FrontChannelPath: fcPath,
				Providers:        []logout.Provider{{Issuer: testIssuer, EndSessionEndpoint: testIssuer + "/session/end"}},
			}
			tt.mutate(&cfg)
			_, err := logout.New(cfg)
			require.Error(t, err)
			assert.ErrorIs(t, err, logout.ErrInvalidConfig)
			assert.Contains(t, err.Error(), "Config.FrontChannelPath")
		})
	}
}

func TestFrontChannelRegistrationIsRenewed(t *testing.T) {
	now := time.Now().Unix()
	tests := []struct {
		name, flag   string
		wantRegister bool
	}{
		{"never registered", "", true},
		{"registered just now", fmt.Sprintf("%d:sid-1", now), false},
		{"registered more than half the session's lifetime ago", fmt.Sprintf("%d:sid-1", now-1900), true},
		{"registered for another sid", fmt.Sprintf("%d:sid-0", now), true},
		{"registration time unreadable", "soon:sid-1", true},
		{"unreadable flag", "garbage", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, revs := newCookieStore(), newCounting() // sessions live 3600 s
			m := newFrontChannelMiddleware(t, store, revs, nil)
			values := map[any]any{"id_token": unsignedJWT(t, map[string]any{"sub": "alice", "sid": "sid-1"}), "logout_session_id": "id-1"}
			if tt.flag != "" {
				values["logout_frontchannel_sid"] = tt.flag
			}
			resp := get(m.Wrap(http.NotFoundHandler()), "/", saveSession(t, store, values))
			assert.Equal(t, tt.wantRegister, logout.ResponseCookieForTest(resp, testSession) != nil)
			assert.Equal(t, tt.wantRegister, revs.revokes.Load() == 1)
		})
	}
}

package logout_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// TestLogoutRefusalsChangeNothing pins what a refused logout leaves
// behind: nothing. The session is neither saved nor deleted, no token is
// revoked, no tombstone recorded, no cookie set, and AfterLogout never
// runs, whatever the response.
func TestLogoutRefusalsChangeNothing(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		headers map[string]string
		setup   func(*world)
		status  int
		want    error
		// before is how many times BeforeLogout ran.
		before int32
	}{
		{name: "PUT", method: http.MethodPut, status: http.StatusMethodNotAllowed, want: logout.ErrMethodNotAllowed},
		{name: "DELETE", method: http.MethodDelete, status: http.StatusMethodNotAllowed, want: logout.ErrMethodNotAllowed},
		{name: "cross-site GET", headers: map[string]string{"Sec-Fetch-Site": "cross-site"},
			status: http.StatusForbidden, want: logout.ErrCrossSite},
		{name: "same-site GET from a sibling subdomain", headers: map[string]string{"Sec-Fetch-Site": "same-site"},
			status: http.StatusForbidden, want: logout.ErrCrossSite},
		{name: "cross-site POST", method: http.MethodPost,
			headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
			status:  http.StatusForbidden, want: logout.ErrCrossSite},
		{name: "foreign Origin without Sec-Fetch-Site", method: http.MethodPost,
			headers: map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"},
			status:  http.StatusForbidden, want: logout.ErrCrossSite},
		{name: "prefetch", headers: map[string]string{"Sec-Purpose": "prefetch"},
			status: http.StatusServiceUnavailable, want: logout.ErrPrefetch},
		{name: "prerender", headers: map[string]string{"Sec-Purpose": "prefetch;prerender"},
			status: http.StatusServiceUnavailable, want: logout.ErrPrefetch},
		{name: "Purpose prefetch", headers: map[string]string{"Purpose": "prefetch"},
			status: http.StatusServiceUnavailable, want: logout.ErrPrefetch},
		{name: "X-Moz prefetch", headers: map[string]string{"X-Moz": "prefetch"},
			status: http.StatusServiceUnavailable, want: logout.ErrPrefetch},
		{name: "BeforeLogout fails", setup: func(w *world) { w.failBefore.Store(true) },
			status: http.StatusInternalServerError, want: logout.ErrHook, before: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, nil)
			cookie := w.login(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			r := stRequest(orGet(tt.method), "/logout?return_to=/account", cookie)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			resp := w.serve(t, r)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.ErrorIs(t, w.lastErr(), tt.want)
			assert.Equal(t, tt.before, w.before.Load(), "BeforeLogout calls")
			w.assertUntouched(t, resp, cookie)
			assert.False(t, w.tombstoned(t))
		})
	}
}

func orGet(method string) string {
	if method == "" {
		return http.MethodGet
	}
	return method
}

// TestLogoutFailClosedLeavesSessionAsItWas pins the fail-closed policies:
// a revocation or tombstone that fails stops the logout before the
// session is cleared, so that the user can try again.
func TestLogoutFailClosedLeavesSessionAsItWas(t *testing.T) {
	for _, tt := range []struct {
		name        string
		mutate      func(*logout.Config)
		setup       func(*testing.T, *world)
		status      int
		want        []error
		revocations int32 // made before the failure
	}{
		{name: "revocation fails", mutate: func(c *logout.Config) { c.Revocation = logout.RevokeTokensOrFail },
			setup:  func(_ *testing.T, w *world) { w.op.revokeStatus.Store(http.StatusServiceUnavailable) },
			status: http.StatusBadGateway, want: []error{logout.ErrRevocation}, revocations: 2},
		{name: "tombstone fails", mutate: nil,
			setup:  func(_ *testing.T, w *world) { w.ledger.failRecord.Store(true) },
			status: http.StatusServiceUnavailable, want: []error{logout.ErrTombstone}, revocations: 2},
		{name: "ledger full", setup: func(t *testing.T, w *world) {
			full := logout.NewMemoryLedger(logout.MemoryLedgerConfig{MaxEntries: 1, RefuseWhenFull: true})
			require.NoError(t, full.Record(t.Context(), "other", time.Now(), time.Hour))
			w.ledger.MemoryLedger = full
		}, status: http.StatusServiceUnavailable, want: []error{logout.ErrTombstone, logout.ErrLedgerFull}, revocations: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.mutate)
			cookie := w.login(t)
			tt.setup(t, w)
			resp := w.serve(t, stRequest(http.MethodGet, "/logout", cookie))
			assert.Equal(t, tt.status, resp.StatusCode)
			for _, want := range tt.want {
				assert.ErrorIs(t, w.lastErr(), want)
			}
			assert.Equal(t, tt.revocations, w.op.revocations.Load(), "revocations before the failure")
			w.op.revocations.Store(0)
			w.ledger.records.Store(0) // a refused attempt
			w.assertUntouched(t, resp, cookie)
			assert.False(t, w.tombstoned(t))
		})
	}
	t.Run("session cannot be saved", func(t *testing.T) {
		w := newWorld(t, nil)
		cookie := w.login(t)
		w.store.fail.Store(true)
		resp := w.serve(t, stRequest(http.MethodGet, "/logout", cookie))
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		assert.ErrorIs(t, w.lastErr(), logout.ErrSessionSave)
		assert.Empty(t, resp.Header.Values("Set-Cookie"), "no state cookie, no session cookie")
		assert.Empty(t, resp.Header.Get("Location"))
		assert.Zero(t, w.after.Load())
		assert.True(t, w.signedIn(t, cookie))
		// The tombstone was recorded before the save: a copy of the
		// cookie is signed out by the session check all the same.
		assert.True(t, w.tombstoned(t))
	})
}

// TestLogoutSucceeds is the baseline of the refusal tests: an accepted
// logout does every one of the things the refusals must not do, once.
func TestLogoutSucceeds(t *testing.T) {
	w := newWorld(t, nil)
	cookie := w.login(t)
	resp := w.serve(t, stRequest(http.MethodGet, "/logout?return_to=/account", cookie))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.NoError(t, w.lastErr())

	loc := location(t, resp)
	assert.Equal(t, w.op.URL+"/session/end", loc.Scheme+"://"+loc.Host+loc.Path)
	assert.Equal(t, w.idToken(t)[:20], loc.Query().Get("id_token_hint")[:20])
	assert.NotEmpty(t, loc.Query().Get("state"))
	state := logout.ResponseCookieForTest(resp, stateCookie)
	require.NotNil(t, state)
	assert.True(t, strings.HasPrefix(state.Value, loc.Query().Get("state")+"."))

	assert.Equal(t, int32(1), w.store.saves.Load(), "one save: the cleared session")
	assert.Equal(t, int32(2), w.op.revocations.Load())
	rt, _ := w.op.revoked.Load(logout.TokenTypeRefreshToken)
	at, _ := w.op.revoked.Load(logout.TokenTypeAccessToken)
	assert.Equal(t, "rt-1", rt)
	assert.Equal(t, "at-1", at)
	assert.Equal(t, int32(2), w.ledger.records.Load(), "the session id and the token hash")
	assert.Equal(t, int32(1), w.before.Load())
	assert.Equal(t, int32(1), w.after.Load())
	assert.Zero(t, w.next.Load())
	assert.False(t, w.signedIn(t, cookie), "the server-side record is gone")
	c := logout.ResponseCookieForTest(resp, testSession)
	require.NotNil(t, c)
	assert.Less(t, c.MaxAge, 0)
}

// TestLogoutReadsSessionTokensOnce pins that a logout reads the session's
// tokens once, before anything changes, and that every step uses that
// one reading: the id_token hint, both revocations and the token-hash
// tombstone.
func TestLogoutReadsSessionTokensOnce(t *testing.T) {
	var calls atomic.Int32
	w := newWorld(t, func(c *logout.Config) {
		c.SessionTokens = func(s *sessions.Session) logout.Tokens {
			calls.Add(1)
			return logout.DefaultSessionTokens(s)
		}
	})
	cookie := w.login(t)
	calls.Store(0)
	resp := w.serve(t, stRequest(http.MethodPost, "/logout", cookie))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, int32(1), calls.Load(), "Config.SessionTokens calls")
	assert.NotEmpty(t, location(t, resp).Query().Get("id_token_hint"))
	assert.Equal(t, int32(2), w.op.revocations.Load())
	assert.Equal(t, int32(2), w.ledger.records.Load(), "the session id and the token hash")
}

// location parses the Location header of resp.
func location(t *testing.T, resp *http.Response) *url.URL {
	t.Helper()
	u, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return u
}

// TestLogoutDiscoveryFailureStillSignsOut pins the one failure that comes
// after the session is cleared: the provider's endpoint cannot be found.
// The user is signed out here and told so; no state cookie is left
// behind, and AfterLogout does not report a logout that did not reach
// the provider.
func TestLogoutDiscoveryFailureStillSignsOut(t *testing.T) {
	w := newWorld(t, func(c *logout.Config) { c.Revocation = logout.NoRevocation })
	cookie := w.login(t)
	w.op.Close()
	resp := w.serve(t, stRequest(http.MethodGet, "/logout", cookie))
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.ErrorIs(t, w.lastErr(), logout.ErrDiscovery)
	assert.Nil(t, logout.ResponseCookieForTest(resp, stateCookie))
	assert.Equal(t, int32(1), w.store.saves.Load())
	assert.False(t, w.signedIn(t, cookie))
	assert.True(t, w.tombstoned(t))
	assert.Zero(t, w.after.Load())
	assert.Empty(t, resp.Header.Get("Location"))
}

// TestLogoutLookupProviderErrorChangesNothing: a LookupProvider that
// answers for another issuer stops the logout before anything changes.
func TestLogoutLookupProviderErrorChangesNothing(t *testing.T) {
	w := newWorld(t, func(c *logout.Config) {
		c.Providers, c.Revocation = nil, logout.NoRevocation
		c.LookupProvider = func(_ context.Context, iss string) (logout.Provider, bool) {
			return logout.Provider{Issuer: "https://other.example"}, true
		}
	})
	cookie := w.login(t)
	resp := w.serve(t, stRequest(http.MethodGet, "/logout", cookie))
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.ErrorIs(t, w.lastErr(), logout.ErrUnknownProvider)
	assert.Equal(t, int32(0), w.before.Load())
	w.assertUntouched(t, resp, cookie)
	assert.False(t, w.tombstoned(t))
}

// startLogout logs out the world's session and returns the state sent to
// the provider and the state cookie; the world's counters are then reset.
func startLogout(t *testing.T, w *world, returnTo string) (string, *http.Cookie) {
	t.Helper()
	resp := w.serve(t, stRequest(http.MethodGet, "/logout?return_to="+url.QueryEscape(returnTo), w.login(t)))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	state := location(t, resp).Query().Get("state")
	require.NotEmpty(t, state)
	c := logout.ResponseCookieForTest(resp, stateCookie)
	require.NotNil(t, c)
	w.store.saves.Store(0)
	w.ledger.records.Store(0)
	w.op.revocations.Store(0)
	w.after.Store(0)
	return state, c
}

// TestCallbackRefusalsNeverReachTheSavedTarget pins the callback's
// refusals: a return that cannot be honoured lands on DefaultReturnTo,
// never on the saved return target, and changes nothing else. A wrong
// state leaves the state cookie for the logout it belongs to (in another
// tab, say); a return without state deletes it.
func TestCallbackRefusalsNeverReachTheSavedTarget(t *testing.T) {
	tests := []struct {
		name          string
		method        string
		query         func(state string) string
		status        int
		want          error  // handed to the ErrorHandler, or nil
		loc           string // the redirect, if any
		cookieDeleted bool
	}{
		{name: "POST", method: http.MethodPost, query: func(s string) string { return "?state=" + s },
			status: http.StatusMethodNotAllowed, want: logout.ErrMethodNotAllowed},
		{name: "no state", query: func(string) string { return "" },
			status: http.StatusFound, loc: "/", cookieDeleted: true},
		{name: "empty state", query: func(string) string { return "?state=" },
			status: http.StatusFound, loc: "/", cookieDeleted: true},
		{name: "wrong state", query: func(s string) string { return "?state=x" + s + "&lang=fr" },
			status: http.StatusFound, loc: "/"},
		{name: "state of another cookie", query: func(s string) string { return "?state=" + s[1:] },
			status: http.StatusFound, loc: "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, nil)
			state, c := startLogout(t, w, "/account")
			errsBefore := w.lastErr()
			resp := serveStrict(t, w.m, stRequest(orGet(tt.method), "/logout/callback"+tt.query(state), c))
			assert.Equal(t, tt.status, resp.StatusCode)
			if tt.want != nil {
				assert.ErrorIs(t, w.lastErr(), tt.want)
			} else {
				assert.Equal(t, errsBefore, w.lastErr(), "no error handled")
			}
			assert.Equal(t, tt.loc, resp.Header.Get("Location"))
			if del := logout.ResponseCookieForTest(resp, stateCookie); tt.cookieDeleted {
				require.NotNil(t, del)
				assert.Less(t, del.MaxAge, 0)
				assert.Len(t, resp.Header.Values("Set-Cookie"), 1)
			} else {
				assert.Empty(t, resp.Header.Values("Set-Cookie"), "the state cookie is kept")
			}
			assert.Empty(t, resp.Header.Get("Clear-Site-Data"))
			assert.Zero(t, w.store.saves.Load()+w.ledger.records.Load()+w.next.Load())

			// The right state still completes the logout afterwards, and
			// through Wrap the app does not see the provider's return.
			resp = w.serve(t, stRequest(http.MethodGet, "/logout/callback?state="+state, c))
			assert.Equal(t, "/account", resp.Header.Get("Location"))
			assert.Zero(t, w.next.Load(), "the app was reached")
			expired := logout.ResponseCookieForTest(resp, stateCookie)
			require.NotNil(t, expired)
			assert.Less(t, expired.MaxAge, 0)
		})
	}
}

// TestFrontChannelRefusalsRecordNothing pins front-channel logout's
// refusals: no record is written, so the session stays signed in.
func TestFrontChannelRefusalsRecordNothing(t *testing.T) {
	fc := func(q url.Values) string { return "/frontchannel-logout?" + q.Encode() }
	tests := []struct {
		name   string
		method string
		target func(iss string) string
		setup  func(*world)
		status int
		want   error // nil: no error reaches the ErrorHandler
	}{
		{name: "POST", method: http.MethodPost,
			target: func(iss string) string { return fc(url.Values{"iss": {iss}, "sid": {"op-sid-1"}}) },
			status: http.StatusMethodNotAllowed, want: logout.ErrMethodNotAllowed},
		{name: "no iss", target: func(string) string { return fc(url.Values{"sid": {"op-sid-1"}}) },
			status: http.StatusBadRequest, want: logout.ErrFrontChannelRequest},
		{name: "no sid", target: func(iss string) string { return fc(url.Values{"iss": {iss}}) },
			status: http.StatusBadRequest, want: logout.ErrFrontChannelRequest},
		{name: "two sids", target: func(iss string) string { return fc(url.Values{"iss": {iss}, "sid": {"op-sid-1", "x"}}) },
			status: http.StatusBadRequest, want: logout.ErrFrontChannelRequest},
		{name: "two isses", target: func(iss string) string { return fc(url.Values{"iss": {iss, iss}, "sid": {"op-sid-1"}}) },
			status: http.StatusBadRequest, want: logout.ErrFrontChannelRequest},
		{name: "empty sid", target: func(iss string) string { return fc(url.Values{"iss": {iss}, "sid": {""}}) },
			status: http.StatusBadRequest, want: logout.ErrFrontChannelRequest},
		{name: "over-long sid", target: func(iss string) string { return fc(url.Values{"iss": {iss}, "sid": {strings.Repeat("s", 1025)}}) },
			status: http.StatusBadRequest, want: logout.ErrFrontChannelRequest},
		{name: "another issuer", target: func(string) string { return fc(url.Values{"iss": {"https://evil.example"}, "sid": {"op-sid-1"}}) },
			status: http.StatusBadRequest, want: logout.ErrFrontChannelRequest},
		{name: "malformed query", target: func(iss string) string { return "/frontchannel-logout?iss=%zz&sid=op-sid-1" },
			status: http.StatusBadRequest, want: logout.ErrFrontChannelRequest},
		{name: "look-up fails", target: func(iss string) string { return fc(url.Values{"iss": {iss}, "sid": {"op-sid-1"}}) },
			setup: func(w *world) { w.ledger.failSeen.Store(true) }, status: http.StatusServiceUnavailable, want: logout.ErrLedger},
		{name: "unregistered sid", target: func(iss string) string { return fc(url.Values{"iss": {iss}, "sid": {"op-sid-2"}}) },
			status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, nil)
			cookie := w.login(t)
			registered := w.serve(t, stRequest(http.MethodGet, "/", cookie))
			require.Equal(t, int32(1), w.ledger.records.Load(), "the sid is registered")
			if c := logout.ResponseCookieForTest(registered, testSession); c != nil {
				cookie = c
			}
			w.ledger.records.Store(0)
			w.next.Store(0)
			if tt.setup != nil {
				tt.setup(w)
			}
			resp := w.serve(t, stRequest(orGet(tt.method), tt.target(w.op.URL)))
			assert.Equal(t, tt.status, resp.StatusCode)
			if tt.want != nil {
				assert.ErrorIs(t, w.lastErr(), tt.want)
			}
			if tt.status != http.StatusOK {
				assert.Error(t, w.lastErr())
			}
			assert.Zero(t, w.ledger.records.Load(), "ledger written")
			assert.Zero(t, w.next.Load(), "the app was reached")
			w.ledger.failSeen.Store(false)
			seen, err := w.ledger.MemoryLedger.Seen(t.Context(), logout.LedgerQuery{Key: logout.SIDKey(w.op.URL, "op-sid-1")})
			require.NoError(t, err)
			assert.False(t, seen, "the session was ended")
			assert.Equal(t, "app", bodyOf(t, w.serve(t, stRequest(http.MethodGet, "/", cookie))))
			assert.True(t, w.signedIn(t, cookie))
		})
	}
}

// TestFrontChannelLogoutRecordsTheSID is the baseline of the refusals:
// an accepted front-channel logout records the sid, once, and the
// session is signed out on its next request.
func TestFrontChannelLogoutRecordsTheSID(t *testing.T) {
	w := newWorld(t, nil)
	cookie := w.login(t)
	if c := logout.ResponseCookieForTest(w.serve(t, stRequest(http.MethodGet, "/", cookie)), testSession); c != nil {
		cookie = c
	}
	w.ledger.records.Store(0)
	resp := w.serve(t, stRequest(http.MethodGet, "/frontchannel-logout?"+url.Values{"iss": {w.op.URL}, "sid": {"op-sid-1"}}.Encode()))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int32(1), w.ledger.records.Load())
	_, ok := w.ledger.recordedKeys.Load(logout.SIDKey(w.op.URL, "op-sid-1"))
	assert.True(t, ok)
	w.store.saves.Store(0)
	resp = w.serve(t, stRequest(http.MethodGet, "/", cookie))
	assert.Equal(t, int32(1), w.store.saves.Load(), "the ended session is deleted")
	assert.False(t, w.signedIn(t, cookie))
	c := logout.ResponseCookieForTest(resp, testSession)
	require.NotNil(t, c)
	assert.Less(t, c.MaxAge, 0)
}

// bodyOf returns the body of resp.
func bodyOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// TestLogoutFormBodyIsBounded pins the bound on a logout form: a body
// over 64 KiB is not read, and its return target is not honoured.
func TestLogoutFormBodyIsBounded(t *testing.T) {
	for _, tt := range []struct {
		name string
		pad  int
		want string
	}{
		{name: "under the bound", pad: 60 << 10, want: "/account"},
		{name: "over the bound", pad: 70 << 10, want: "/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := stMiddleware(t, sessions.NewCookieStore(stHashKey), nil)
			body := "return_to=%2Faccount&pad=" + strings.Repeat("p", tt.pad)
			r := httptest.NewRequest(http.MethodPost, testAppURL+"/logout", strings.NewReader(body))
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp := serveStrict(t, m, r)
			assert.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, tt.want, resp.Header.Get("Location"), "a local logout lands on the return target")
		})
	}
}

// TestRefusedReturnTargetIsLogged: a refused return target is logged
// and replaced by DefaultReturnTo; a logout without one logs no refusal.
func TestRefusedReturnTargetIsLogged(t *testing.T) {
	for _, tt := range []struct {
		query   string
		refused bool
	}{
		{query: "", refused: false},
		{query: "?return_to=/account", refused: false},
		{query: "?return_to=https://evil.example/", refused: true},
	} {
		t.Run(tt.query, func(t *testing.T) {
			var logs strings.Builder
			m := stMiddleware(t, sessions.NewCookieStore(stHashKey), func(c *logout.Config) {
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			resp := serveStrict(t, m, stRequest(http.MethodGet, "/logout"+tt.query))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, tt.refused, strings.Contains(logs.String(), "return target refused"), logs.String())
			if tt.refused {
				assert.Equal(t, "/", resp.Header.Get("Location"))
			}
		})
	}
}

// TestLookupProviderIsNotAskedAboutEmptyOrOverLongIssuers: a session
// whose id_token has no iss, or one longer than 2048 bytes, is logged
// out locally without a look-up, which could be a database query.
func TestLookupProviderIsNotAskedAboutEmptyOrOverLongIssuers(t *testing.T) {
	longest := "https://op.example/" + strings.Repeat("t", 2048-len("https://op.example/"))
	for _, tc := range []struct {
		iss     string
		lookups int32
	}{{"", 0}, {longest, 1}, {longest + "t", 0}} {
		iss := tc.iss
		t.Run(fmt.Sprint(len(iss)), func(t *testing.T) {
			var lookups atomic.Int32
			store := sessions.NewFilesystemStore(t.TempDir(), stHashKey)
			store.MaxLength(0)
			m := stMiddleware(t, store, func(c *logout.Config) {
				c.Providers = nil
				c.LookupProvider = func(context.Context, string) (logout.Provider, bool) {
					lookups.Add(1)
					return logout.Provider{}, false
				}
			})
			tok := logout.FakeJWTForTest(t, map[string]any{"iss": iss, "sub": "alice"})
			cookie := stLogin(t, store, testSession, map[any]any{"id_token": tok})
			resp := serveStrict(t, m, stRequest(http.MethodGet, "/logout", cookie))
			assert.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, "/", resp.Header.Get("Location"), "local logout")
			assert.Equal(t, tc.lookups, lookups.Load(), "an issuer of up to 2048 bytes is looked up")
		})
	}
}

// TestMountedMiddlewareAnswersOnlyItsOwnPaths: mounted on "/", the
// middleware answers 404 to the pages of the app and ends no session.
func TestMountedMiddlewareAnswersOnlyItsOwnPaths(t *testing.T) {
	w := newWorld(t, nil)
	cookie := w.login(t)
	mux := http.NewServeMux()
	mux.Handle("/", w.m)
	for _, path := range []string{"/", "/account", "/logout/", "/logout/x", "/frontchannel-logout/x", "/Logout"} {
		resp := serveStrict(t, mux, stRequest(http.MethodGet, path, cookie))
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		w.assertUntouched(t, resp, cookie)
	}
	resp := serveStrict(t, mux, stRequest(http.MethodGet, "/logout", cookie))
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.False(t, w.signedIn(t, cookie))
}

// TestRefusalLogLevels: what browsers do on their own (a prefetch, a
// HEAD) is logged at INFO, what may be an attack at WARN, and a failure
// of the app or the provider at ERROR.
func TestRefusalLogLevels(t *testing.T) {
	for _, tt := range []struct {
		name    string
		request func(w *world, cookie *http.Cookie) *http.Request
		level   string
	}{
		{"prefetch", func(_ *world, c *http.Cookie) *http.Request {
			r := stRequest(http.MethodGet, "/logout", c)
			r.Header.Set("Sec-Purpose", "prefetch")
			return r
		}, "INFO"},
		{"HEAD", func(_ *world, c *http.Cookie) *http.Request { return stRequest(http.MethodHead, "/logout", c) }, "INFO"},
		{"cross-site", func(_ *world, c *http.Cookie) *http.Request {
			r := stRequest(http.MethodGet, "/logout", c)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			return r
		}, "WARN"},
		{"revocation fails", func(w *world, c *http.Cookie) *http.Request {
			w.op.revokeStatus.Store(http.StatusInternalServerError)
			return stRequest(http.MethodGet, "/logout", c)
		}, "ERROR"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			w := newWorld(t, func(c *logout.Config) {
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				c.Revocation = logout.RevokeTokensOrFail
			})
			cookie := w.login(t)
			w.serve(t, tt.request(w, cookie))
			require.Contains(t, logs.String(), "request failed")
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "request failed") {
					assert.Contains(t, line, "level="+tt.level, line)
				}
			}
		})
	}
}

// TestMountedWithSessionCheckWarnsOnce: a session check that no request
// can reach (the middleware mounted, never wrapped around the app) is
// logged once, at the first request, and never when Wrap or an adapter
// runs it.
func TestMountedWithSessionCheckWarnsOnce(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(m *logout.Middleware)
		warns int
	}{
		{"mounted only", func(*logout.Middleware) {}, 1},
		{"wrapped too", func(m *logout.Middleware) { m.Wrap(http.NotFoundHandler()) }, 0},
		{"through an adapter", func(m *logout.Middleware) { m.Dispatch(httptest.NewRecorder(), stRequest(http.MethodGet, "/")) }, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			store := sessions.NewCookieStore(stHashKey)
			m := stMiddleware(t, store, func(c *logout.Config) {
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				c.SessionCheck = &logout.SessionCheckConfig{Ledger: logout.NewMemoryLedger(logout.MemoryLedgerConfig{})}
			})
			tt.setup(m)
			mux := http.NewServeMux()
			mux.Handle("/logout", m)
			for range 2 {
				serveStrict(t, mux, stRequest(http.MethodGet, "/logout", stLogin(t, store, testSession, stSmallTokens(t))))
			}
			assert.Equal(t, tt.warns, strings.Count(logs.String(), "Config.SessionCheck is set but never runs"), logs.String())
		})
	}
}

// TestSessionWithoutIDTokenWarns: a logout of a session that holds the
// app's values but no id_token where Config.SessionTokens looks (a wrong
// key, most likely) is logged once a minute at most, naming the setting.
func TestSessionWithoutIDTokenWarns(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values map[any]any
		warns  int
	}{
		{"token under another key", map[any]any{"idtoken": "x", "user": "alice"}, 1},
		{"token under the default key", map[any]any{"id_token": "x", "user": "alice"}, 0},
		{"only the middleware's values", map[any]any{"logout_session_id": "id-1"}, 0},
		{"no session", nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			store := sessions.NewCookieStore(stHashKey)
			m := stMiddleware(t, store, func(c *logout.Config) {
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				c.SessionCheck = &logout.SessionCheckConfig{Ledger: logout.NewMemoryLedger(logout.MemoryLedgerConfig{})}
			})
			for range 3 {
				var cookies []*http.Cookie
				if tt.values != nil {
					cookies = append(cookies, stLogin(t, store, testSession, tt.values))
				}
				serveStrict(t, m.Wrap(http.NotFoundHandler()), stRequest(http.MethodGet, "/logout", cookies...))
			}
			assert.Equal(t, tt.warns, strings.Count(logs.String(), "no id_token (Config.SessionTokens"), logs.String())
			if tt.warns > 0 {
				assert.Contains(t, logs.String(), "session=app")
				assert.NotContains(t, logs.String(), `"x"`)
			}
		})
	}
}

// TestCrossSiteNavigationGetsAConfirmationPage: a link to the logout path
// on another site leads to a page that asks the user to confirm, changes
// nothing, and whose button signs out; other cross-site requests stay
// refused with a bare 403.
func TestCrossSiteNavigationGetsAConfirmationPage(t *testing.T) {
	navigation := func(method, site, dest string, c *http.Cookie) *http.Request {
		r := stRequest(method, "/logout?return_to=%2Faccount", c)
		r.Header.Set("Sec-Fetch-Site", site)
		r.Header.Set("Sec-Fetch-Mode", map[string]string{"document": "navigate"}[dest])
		r.Header.Set("Sec-Fetch-Dest", dest)
		return r
	}
	t.Run("link on another site", func(t *testing.T) {
		w := newWorld(t, nil)
		cookie := w.login(t)
		resp := w.serve(t, navigation(http.MethodGet, "cross-site", "document", cookie))
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		body := bodyOf(t, resp)
		assert.Contains(t, body, `<form method="post">`)
		assert.NotContains(t, body, "<script")
		assert.NotContains(t, body, "alice")
		assert.ErrorIs(t, w.lastErr(), logout.ErrCrossSite)
		assert.ErrorIs(t, w.lastErr(), logout.ErrCrossSiteNavigation)
		w.assertUntouched(t, resp, cookie)

		// The button posts to the same URL from the app's own page.
		post := stRequest(http.MethodPost, "/logout?return_to=%2Faccount", cookie)
		post.Header.Set("Origin", testAppURL)
		resp = w.serve(t, post)
		assert.Equal(t, http.StatusFound, resp.StatusCode)
		assert.False(t, w.signedIn(t, cookie))
		state := logout.ResponseCookieForTest(resp, stateCookie)
		require.NotNil(t, state)
		assert.True(t, strings.HasSuffix(state.Value, "."+base64.RawURLEncoding.EncodeToString([]byte("/account"))), "the return target is kept")
	})
	for _, tt := range []struct {
		name   string
		method string
		site   string
		dest   string
	}{
		{"image on another site", http.MethodGet, "cross-site", "image"},
		{"frame on another site", http.MethodGet, "cross-site", "iframe"},
		{"form post from another site", http.MethodPost, "cross-site", "document"},
		{"link on a sibling subdomain, as an image", http.MethodGet, "same-site", "image"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, nil)
			cookie := w.login(t)
			resp := w.serve(t, navigation(tt.method, tt.site, tt.dest, cookie))
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.NotErrorIs(t, w.lastErr(), logout.ErrCrossSiteNavigation)
			w.assertUntouched(t, resp, cookie)
		})
	}
}

// TestServeNotFound: the adapters' way to the landing of Wrap. Only a
// GET to the callback path with the state cookie is sent to
// DefaultReturnTo, with the state cookie deleted and nothing else
// changed; for any other request ServeNotFound writes nothing.
func TestServeNotFound(t *testing.T) {
	w := newWorld(t, nil)
	_, c := startLogout(t, w, "/account")
	for _, tt := range []struct {
		name  string
		r     *http.Request
		lands bool
	}{
		{"the provider's return without state", stRequest(http.MethodGet, "/logout/callback?lang=fr", c), true},
		{"no logout in progress", stRequest(http.MethodGet, "/logout/callback"), false},
		{"another path", stRequest(http.MethodGet, "/logout/callbacks", c), false},
		{"a POST", stRequest(http.MethodPost, "/logout/callback", c), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			assert.Equal(t, tt.lands, w.m.ServeNotFound(rec, tt.r))
			resp := rec.Result()
			if !tt.lands {
				assert.False(t, rec.Flushed)
				assert.Empty(t, rec.Header(), "nothing written")
				assert.Empty(t, bodyOf(t, resp))
				return
			}
			assertLandedOnDefault(t, resp)
			assert.Len(t, resp.Header.Values("Set-Cookie"), 1, "only the state cookie")
		})
	}
	assert.Zero(t, w.store.saves.Load(), "no session saved")
	assert.Zero(t, w.ledger.records.Load(), "nothing recorded")
	assert.Zero(t, w.next.Load(), "the app is not called")

	// A callback that is DefaultReturnTo is a page of the app: never taken.
	landing := newWorld(t, func(cfg *logout.Config) {
		cfg.Providers[0].PostLogoutRedirectURI = testAppURL + "/"
	})
	_, c = startLogout(t, landing, "/account")
	rec := httptest.NewRecorder()
	assert.False(t, landing.m.ServeNotFound(rec, stRequest(http.MethodGet, "/", c)))
	assert.Empty(t, rec.Header())
}

// assertLandedOnDefault checks the landing of a provider return without
// its state: an uncached 302 to DefaultReturnTo that deletes the state cookie.
func assertLandedOnDefault(t *testing.T, resp *http.Response) {
	t.Helper()
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	del := logout.ResponseCookieForTest(resp, stateCookie)
	require.NotNil(t, del)
	assert.Less(t, del.MaxAge, 0)
}

// TestProviderReturnWithoutStateNeverEndsOnA404: a provider that comes
// back to a callback path the app does not serve, without the state, sends
// the user to DefaultReturnTo; a page the app does serve there is left
// alone, and so is a 404 without a logout in progress.
func TestProviderReturnWithoutStateNeverEndsOnA404(t *testing.T) {
	w := newWorld(t, nil)
	_, c := startLogout(t, w, "/account")
	app := http.NewServeMux()
	app.HandleFunc("GET /{$}", func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write([]byte("home")) })
	h := w.m.Wrap(app)

	resp := serveStrict(t, h, stRequest(http.MethodGet, "/logout/callback?lang=fr", c))
	assertLandedOnDefault(t, resp)
	assert.Empty(t, bodyOf(t, resp), "nothing of the app's 404 page")

	resp = serveStrict(t, h, stRequest(http.MethodGet, "/logout/callback"))
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no logout in progress: the app's answer")

	app.HandleFunc("GET /logout/callback", func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write([]byte("page")) })
	resp = serveStrict(t, h, stRequest(http.MethodGet, "/logout/callback", c))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "page", bodyOf(t, resp))
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
}

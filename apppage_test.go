package logout

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// appPage is the app's own page at every path: it answers 200 with the
// path, so that a test can tell it from the middleware's answers.
var appPage = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-App", "yes")
	_, _ = io.WriteString(w, "app page "+r.URL.Path)
})

// appPageMiddleware returns a middleware whose post-logout redirect URI is
// the app's page at path, and the app wrapped in it.
func appPageMiddleware(t *testing.T, path string, mutate func(*Config)) (*Middleware, http.Handler) {
	t.Helper()
	m := newTestMiddleware(t, newTestStore(), func(c *Config) {
		c.Providers[0].PostLogoutRedirectURI = testAppURL + path
		if mutate != nil {
			mutate(c)
		}
	})
	return m, m.Wrap(appPage)
}

// pageRequest is a request to the app page at target, as the provider's
// redirect (a cross-site navigation) or a visit sends it.
func pageRequest(method, target string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(method, testAppURL+target, nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// assertAppPage checks that resp is the app's page, untouched by the middleware.
func assertAppPage(t *testing.T, resp *http.Response, path string) {
	t.Helper()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "yes", resp.Header.Get("X-App"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "app page "+path, string(body))
	assert.Empty(t, resp.Header.Values("Set-Cookie"), "no cookie set or expired")
	assert.Empty(t, resp.Header.Get("Cache-Control"), "no header of the middleware")
	assert.Empty(t, resp.Header.Get("Clear-Site-Data"))
}

// appPageLogout logs out through h and returns the state cookie and the
// state sent to the provider, after checking that the provider is told to
// come back to the page.
func appPageLogout(t *testing.T, m *Middleware, h http.Handler, path, target string) (*http.Cookie, string) {
	t.Helper()
	cookie := sessionCookie(t, m.store, map[any]any{"id_token": testIDToken})
	resp := serve(h, newRequest(http.MethodGet, target, cookie))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc := location(t, resp)
	require.Equal(t, testAppURL+path, loc.Query().Get("post_logout_redirect_uri"))
	st := findCookie(resp, testStateCookie)
	require.NotNil(t, st)
	assert.Equal(t, "/", st.Path, "the state cookie reaches the page, and its deletion the signed-in pages")
	return st, loc.Query().Get("state")
}

func TestAppPageAsPostLogoutRedirectURI(t *testing.T) {
	for _, path := range []string{"/", "/homepage"} {
		t.Run(path, func(t *testing.T) {
			m, h := appPageMiddleware(t, path, nil)
			assert.True(t, m.NeedsRequest(path, nil))
			st, state := appPageLogout(t, m, h, path, "/logout?return_to=%2Faccount")

			// Visits to the page are the app's, with or without a logout
			// in progress, and so are requests that are not a GET.
			for name, r := range map[string]*http.Request{
				"visit":                 pageRequest(http.MethodGet, path),
				"visit, logout pending": pageRequest(http.MethodGet, path+"?tab=1", st),
				"empty state":           pageRequest(http.MethodGet, path+"?state=", st),
				"POST with state":       pageRequest(http.MethodPost, path+"?state="+url.QueryEscape(state), st),
				"HEAD with state":       pageRequest(http.MethodHead, path+"?state="+url.QueryEscape(state), st),
			} {
				assert.NotNil(t, m.Dispatch(httptest.NewRecorder(), r), name)
				resp := serve(h, r)
				assertAppPage(t, resp, path)
			}

			// A return whose cookie has expired lands on DefaultReturnTo:
			// on "/", which is that page, the app serves it.
			expired := pageRequest(http.MethodGet, path+"?state="+url.QueryEscape(state))
			if path == "/" {
				assert.NotNil(t, m.Dispatch(httptest.NewRecorder(), expired))
				assertAppPage(t, serve(h, expired), path)
			} else {
				assert.Nil(t, m.Dispatch(httptest.NewRecorder(), expired))
				resp := serve(h, expired)
				assert.Equal(t, http.StatusFound, resp.StatusCode)
				assert.Equal(t, "/", resp.Header.Get("Location"))
			}

			// The provider's return: the requested target, then the page.
			r := pageRequest(http.MethodGet, path+"?state="+url.QueryEscape(state), st)
			assert.Nil(t, m.Dispatch(httptest.NewRecorder(), r))
			resp := serve(h, r)
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, "/account", resp.Header.Get("Location"))
			assert.Equal(t, `"cache"`, resp.Header.Get("Clear-Site-Data"))
			del := findCookie(resp, testStateCookie)
			require.NotNil(t, del)
			assert.True(t, ExpiredForTest(del))
			assert.Equal(t, "/", del.Path)
		})
	}
}

// Without a return target, the user lands on DefaultReturnTo: for an app
// that registered its page and set DefaultReturnTo to it, that page, served
// by the app, without state in the address.
func TestAppPageLandsOnDefaultReturnTo(t *testing.T) {
	for _, tt := range []struct{ path, defaultReturnTo, want string }{
		{"/", "", "/"},
		{"/homepage", "", "/"},
		{"/homepage", "/homepage", "/homepage"},
		{"/", "/welcome?lang=de", "/welcome?lang=de"},
	} {
		t.Run(tt.path+" "+tt.defaultReturnTo, func(t *testing.T) {
			m, h := appPageMiddleware(t, tt.path, func(c *Config) { c.DefaultReturnTo = tt.defaultReturnTo })
			st, state := appPageLogout(t, m, h, tt.path, "/logout")
			resp := serve(h, pageRequest(http.MethodGet, tt.path+"?state="+url.QueryEscape(state), st))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			landing := location(t, resp)
			assert.Equal(t, tt.want, landing.RequestURI())
			assert.False(t, landing.Query().Has("state"))

			// The browser follows, without the expired state cookie.
			next := pageRequest(http.MethodGet, landing.RequestURI())
			assert.NotNil(t, m.Dispatch(httptest.NewRecorder(), next))
			assertAppPage(t, serve(h, next), landing.Path)
		})
	}
}

// A forged or stale state never reaches the saved target: the browser is
// sent to DefaultReturnTo, where the app answers, and the cookie stays for
// the logout it belongs to.
func TestAppPageForgedState(t *testing.T) {
	for _, path := range []string{"/", "/homepage"} {
		t.Run(path, func(t *testing.T) {
			m, h := appPageMiddleware(t, path, nil)
			st, state := appPageLogout(t, m, h, path, "/logout?return_to=%2Faccount")
			for name, q := range map[string]string{
				"forged":         "?state=forged",
				"other param":    "?lang=de&state=forged",
				"repeated state": "?state=forged&state=" + url.QueryEscape(state),
			} {
				resp := serve(h, pageRequest(http.MethodGet, path+q, st))
				require.Equal(t, http.StatusFound, resp.StatusCode, name)
				landing := location(t, resp)
				assert.Equal(t, "/", landing.RequestURI(), name)
				assert.Empty(t, resp.Header.Values("Set-Cookie"), "%s: the cookie is left alone", name)
				assertAppPage(t, serve(h, pageRequest(http.MethodGet, landing.RequestURI(), st)), "/")
			}
			// The genuine return still works afterwards.
			resp := serve(h, pageRequest(http.MethodGet, path+"?state="+url.QueryEscape(state), st))
			assert.Equal(t, "/account", resp.Header.Get("Location"))
		})
	}
}

// Mounted on a mux, the middleware answers every request to the callback
// path: the app's page there needs Wrap, which mux.Handle can take.
func TestAppPageMountedOnMux(t *testing.T) {
	m, _ := appPageMiddleware(t, "/homepage", nil)
	mux := http.NewServeMux()
	mux.Handle("/logout", m)
	mux.Handle("/homepage", m.Wrap(appPage))
	assertAppPage(t, serve(mux, pageRequest(http.MethodGet, "/homepage")), "/homepage")
	st, state := appPageLogout(t, m, mux, "/homepage", "/logout")
	resp := serve(mux, pageRequest(http.MethodGet, "/homepage?state="+url.QueryEscape(state), st))
	assert.Equal(t, "/", resp.Header.Get("Location"))

	bare := http.NewServeMux()
	bare.Handle("/homepage", m)
	resp = serve(bare, pageRequest(http.MethodGet, "/homepage"))
	assert.Equal(t, http.StatusFound, resp.StatusCode, "mounted without Wrap, the page is the callback's alone")
	assert.Equal(t, "/", resp.Header.Get("Location"))
}

// A request to a callback that is the app's home page, without state,
// costs nothing more than one to another page.
func TestAppPagePassThroughDoesNotAllocate(t *testing.T) {
	for _, target := range []string{"/", "/?tab=1&x=2"} {
		next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
		m, _ := appPageMiddleware(t, "/", nil)
		h := m.Wrap(next)
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.AddCookie(&http.Cookie{Name: "app", Value: "x"})
		w := httptest.NewRecorder()
		bare := testing.AllocsPerRun(1000, func() { next.ServeHTTP(w, r) })
		allocs := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) })
		assert.Equal(t, bare, allocs, target)
		assert.Equal(t, http.StatusTeapot, w.Code)
	}
}

func TestDispatchServesProviderReturnsOnly(t *testing.T) {
	m := newTestMiddleware(t, newTestStore(), nil)
	st := &http.Cookie{Name: testStateCookie, Value: "s1.Lw"}
	for _, tt := range []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"logout", newRequest(http.MethodGet, "/logout"), true},
		{"logout POST", newRequest(http.MethodPost, "/logout"), true},
		{"callback return", providerReturn("?state=s1", st), true},
		{"callback, no cookie: it cannot be honoured", providerReturn("?state=s1"), true},
		{"callback, no state", providerReturn("", st), false},
		{"other path", newRequest(http.MethodGet, "/dashboard?state=s1", st), false},
	} {
		assert.Equal(t, tt.want, m.Dispatch(httptest.NewRecorder(), tt.r) == nil, tt.name)
	}
}

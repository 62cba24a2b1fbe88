package demoapp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/demoapp"
	"github.com/oidc-logout/logout/examples/provider"
)

// env is a provider on localhost and the demo app on 127.0.0.1: two sites.
type env struct {
	op     *provider.Provider
	app    *demoapp.App
	appURL string
}

func newEnv(t *testing.T, scopes ...string) *env {
	t.Helper()
	return newEnvWith(t, func(cfg *demoapp.Config) { cfg.Scopes = scopes })
}

// newEnvWith is newEnv with a hook that changes the app's configuration.
func newEnvWith(t *testing.T, tweak func(*demoapp.Config)) *env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	appURL := "http://" + srv.Listener.Addr().String()
	op, err := provider.Start(t.Context(), provider.Config{
		RedirectURIs:           []string{appURL + demoapp.CallbackPath},
		PostLogoutRedirectURIs: []string{appURL + demoapp.LogoutCallbackPath},
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, op.Close()) })
	cfg := demoapp.Config{
		Issuer: op.Issuer(), ClientID: op.ClientID(), ClientSecret: op.ClientSecret(), BaseURL: appURL,
	}
	tweak(&cfg)
	app, err := demoapp.New(t.Context(), cfg)
	require.NoError(t, err)
	srv.Config.Handler = app
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{op: op, app: app, appURL: appURL}
}

// browser is an http.Client with a cookie jar that records the URLs it
// is redirected through.
type browser struct {
	t      *testing.T
	client *http.Client
	hops   []*url.URL
	// stopAt, when it returns true for a redirect target, stops there.
	stopAt func(*url.URL) bool
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	b := &browser{t: t}
	b.client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		b.hops = append(b.hops, req.URL)
		if b.stopAt != nil && b.stopAt(req.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// do sends a request like a browser's same-origin navigation and returns
// the final URL, status and body.
func (b *browser) do(method, target string, form url.Values) (*url.URL, int, string) {
	b.t.Helper()
	b.hops = nil
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.Background(), method, target, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		u, _ := url.Parse(target)
		req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	}
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.Request.URL, resp.StatusCode, string(data)
}

func (b *browser) cookie(rawURL, name string) *http.Cookie {
	u, err := url.Parse(rawURL)
	require.NoError(b.t, err)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var authRequestIDRe = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)

// login goes from the app's /login through the provider's login form and
// back, and returns the final page.
func (e *env) login(t *testing.T, b *browser) string {
	t.Helper()
	final, status, body := b.do(http.MethodGet, e.appURL+"/login", nil)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "localhost", final.Hostname(), "the login form is served by the provider")
	m := authRequestIDRe.FindStringSubmatch(body)
	require.NotNil(t, m, "login form: %s", body)
	form := url.Values{"authRequestID": {m[1]}, "username": {e.op.Username()}, "password": {e.op.Password()}}
	loginURL := final.Scheme + "://" + final.Host + "/login"
	final, status, body = b.do(http.MethodPost, loginURL, form)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, e.appURL+"/", final.String())
	return body
}

func TestLoginAndLogoutThroughTheProvider(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)

	_, _, body := b.do(http.MethodGet, e.appURL+"/", nil)
	assert.Contains(t, body, `<p id="status">`+demoapp.StatusSignedOut+`</p>`)

	body = e.login(t, b)
	assert.Contains(t, body, demoapp.StatusSignedIn+`<strong id="name">`+e.op.Name()+`</strong>`)
	assert.Contains(t, body, e.op.Subject())
	session := b.cookie(e.appURL, demoapp.SessionName)
	require.NotNil(t, session)
	t.Logf("session cookie: %d bytes", len(session.Value))
	assert.Less(t, len(session.Name)+len(session.Value), 4096)
	assert.Equal(t, 1, e.op.ActiveSessions())

	final, status, body := b.do(http.MethodPost, e.appURL+"/logout", url.Values{"return_to": {"/?signed_out=1"}})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, e.appURL+"/?signed_out=1", final.String())
	assert.Contains(t, body, `<p id="status">`+demoapp.StatusSignedOut+`</p>`)
	assert.Contains(t, body, `id="notice"`)
	assertEndSessionHop(t, b.hops, e)

	assert.Nil(t, b.cookie(e.appURL, demoapp.SessionName), "the app session cookie is gone")
	assert.Zero(t, e.op.ActiveSessions(), "the provider session is ended")
	assert.Zero(t, e.op.ActiveTokens(), "the tokens are revoked")

	final, status, body = b.do(http.MethodGet, e.appURL+"/login", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "localhost", final.Hostname(), "a new login asks for the password again")
	assert.Contains(t, body, `id="password"`)
}

// assertEndSessionHop checks the redirect to the provider's end-session
// endpoint and the way back through the app's callback.
func assertEndSessionHop(t *testing.T, hops []*url.URL, e *env) {
	t.Helper()
	require.Len(t, hops, 3, "end_session, logout callback, return target")
	end := hops[0]
	assert.Equal(t, e.op.Issuer()+"/end_session", end.Scheme+"://"+end.Host+end.Path)
	q := end.Query()
	assert.NotEmpty(t, q.Get("id_token_hint"))
	assert.Equal(t, e.appURL+demoapp.LogoutCallbackPath, q.Get("post_logout_redirect_uri"))
	assert.Equal(t, e.op.ClientID(), q.Get("client_id"))
	require.NotEmpty(t, q.Get("state"))
	assert.Equal(t, q.Get("state"), hops[1].Query().Get("state"), "the provider returns the state")
	assert.Equal(t, demoapp.LogoutCallbackPath, hops[1].Path)
}

func TestSingleSignOnUntilLogout(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	e.login(t, b)

	final, _, body := b.do(http.MethodGet, e.appURL+"/login", nil)
	assert.Equal(t, e.appURL+"/", final.String(), "a live provider session signs in without the form")
	assert.Contains(t, body, demoapp.StatusSignedIn)
	assert.Equal(t, 1, e.op.ActiveSessions(), "single sign-on reuses the session")

	_, _, body = b.do(http.MethodGet, e.appURL+"/logout", nil)
	assert.Contains(t, body, demoapp.StatusSignedOut)
	final, _, _ = b.do(http.MethodGet, e.appURL+"/login", nil)
	assert.Equal(t, "localhost", final.Hostname(), "after logout the provider asks for the password")
}

func TestLogoutRevokesTokensBeforeLeavingForTheProvider(t *testing.T) {
	e := newEnv(t, "openid", "profile", "email", "offline_access")
	b := newBrowser(t)
	e.login(t, b)
	require.Equal(t, 2, e.op.ActiveTokens(), "an access token and a refresh token")

	b.stopAt = func(u *url.URL) bool { return u.Hostname() == "localhost" }
	final, status, _ := b.do(http.MethodPost, e.appURL+"/logout", url.Values{})
	assert.Equal(t, http.StatusFound, status)
	assert.Equal(t, "/logout", final.Path, "stopped before the provider")
	assert.Zero(t, e.op.ActiveTokens(), "Config.Revocation revoked both tokens (RFC 7009)")
	assert.Equal(t, 1, e.op.ActiveSessions(), "the provider session ends only at end_session")
}

func TestIssuerWithATrailingSlash(t *testing.T) {
	e := newEnvWith(t, func(cfg *demoapp.Config) { cfg.Issuer += "/" })
	b := newBrowser(t)
	assert.Contains(t, e.login(t, b), demoapp.StatusSignedIn)
	_, _, body := b.do(http.MethodPost, e.appURL+"/logout", url.Values{})
	assert.Contains(t, body, demoapp.StatusSignedOut)
	assert.Zero(t, e.op.ActiveSessions())
}

func TestCrossSiteLogoutIsRefused(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	e.login(t, b)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.appURL+"/logout", strings.NewReader(""))
	require.NoError(t, err)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	_, _, body := b.do(http.MethodGet, e.appURL+"/", nil)
	assert.Contains(t, body, demoapp.StatusSignedIn, "still signed in")
	assert.Equal(t, 1, e.op.ActiveSessions())
}

func TestCallbackRefusesAForgedState(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	b.stopAt = func(u *url.URL) bool { return u.Hostname() == "localhost" }
	_, status, _ := b.do(http.MethodGet, e.appURL+"/login", nil)
	require.Equal(t, http.StatusFound, status)

	_, status, body := b.do(http.MethodGet, e.appURL+demoapp.CallbackPath+"?code=x&state=forged", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "state does not match")
	assert.Nil(t, b.cookie(e.appURL, demoapp.SessionName))
}

func TestSignedInPagesReloadWhenRestoredFromTheBackForwardCache(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	body := e.login(t, b)
	assert.Contains(t, body, `<script src="`+demoapp.ReloadScriptPath+`"></script>`)

	resp, err := b.client.Get(e.appURL + demoapp.ReloadScriptPath)
	require.NoError(t, err)
	script, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(script), "event.persisted")
	assert.Contains(t, string(script), "location.reload()")

	resp, err = b.client.Get(e.appURL + "/")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'", "the CSP lets the script run")
}

func TestHomePageIsNeverCached(t *testing.T) {
	e := newEnv(t)
	rec := httptest.NewRecorder()
	e.app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  demoapp.Config
		want string
	}{
		{"no issuer", demoapp.Config{ClientID: "c", BaseURL: "http://127.0.0.1:1"}, "Issuer"},
		{"no client", demoapp.Config{Issuer: "http://localhost:1", BaseURL: "http://127.0.0.1:1"}, "ClientID"},
		{"base URL with path", demoapp.Config{Issuer: "http://localhost:1", ClientID: "c", BaseURL: "http://127.0.0.1:1/app"}, "BaseURL"},
		{"relative base URL", demoapp.Config{Issuer: "http://localhost:1", ClientID: "c", BaseURL: "/"}, "BaseURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := demoapp.New(t.Context(), tt.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

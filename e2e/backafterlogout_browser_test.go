package e2e

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/demoapp"
)

// TestBrowsersBackAfterLogout runs, in Chromium and in Firefox, every kind
// of logout an app without script in its pages has, and presses Back to
// the signed-in page after each: the page must come from the server again
// (one more request reaches the app) and show the user signed out. The
// signed-in page is sent with Cache-Control: no-store. The kinds: through
// the provider and back to the app's page; local-only (a session without
// id_token, landing on the app's home page); without PostLogoutRedirectURI
// (the user stays on the provider's page); through a provider that asks
// the user to confirm on its own page (panva's oidc-provider). The last
// two cases send the signed-in page without no-store: both browsers
// restore it, signed in, without asking the app, unless
// Config.NoStoreSignedIn adds no-store.
func TestBrowsersBackAfterLogout(t *testing.T) {
	cases := []struct {
		name     string
		cfg      plainAppConfig
		restored bool // Back restores the signed-in page
	}{
		{"provider round trip", plainAppConfig{page: "/homepage"}, false},
		{"local-only logout", plainAppConfig{page: "/", noIDToken: true}, false},
		{"no post-logout redirect URI", plainAppConfig{page: "/homepage", noPostLogout: true}, false},
		{"provider confirmation page", plainAppConfig{page: "/homepage", nodeOP: true}, false},
		{"page without no-store", plainAppConfig{page: "/homepage", cacheable: true}, true},
		{"page without no-store, NoStoreSignedIn", plainAppConfig{page: "/homepage", cacheable: true, noStoreSignedIn: true}, false},
	}
	for _, engine := range browserEngines() {
		t.Run(engine.name, func(t *testing.T) {
			for _, tt := range cases {
				t.Run(tt.name, func(t *testing.T) {
					app := startPlainApp(t, tt.cfg)
					b := engine.start(t)
					signInPlain(t, b, app)
					took := logoutPlain(t, b, app)
					t.Logf("%s: logout click to landing page: %v", b.Name(), took)
					hits := app.accountHits.Load()
					steps := 1
					if tt.cfg.nodeOP {
						// The provider's confirmation page is in the
						// history between the signed-in page and the
						// landing (going back to it, Chromium asks the
						// provider again, which sends it to the landing).
						steps = 2
					}
					back := goBack(t, b, steps, app.url+"/account")
					if tt.restored {
						assert.True(t, back.Restored, "Back restores the page from the back/forward cache")
						assert.Equal(t, hits, app.accountHits.Load(), "no request reached the app")
						assert.Equal(t, plainSignedIn+app.op.Name(), back.Status)
						return
					}
					assert.False(t, back.Restored, "Back does not restore the signed-in page from the back/forward cache")
					assert.Equal(t, hits+1, app.accountHits.Load(), "Back asked the app for the page again")
					assert.Equal(t, plainSignedOut, back.Status)
					assert.NotContains(t, bodyHTML(b), app.op.Name(), "no signed-in content after Back")
				})
			}
		})
	}
}

// signInPlain signs in on the provider's form (and, for oidc-provider, its
// consent form) and lands on the plain app's signed-in page.
func signInPlain(t *testing.T, b browser, app *plainApp) {
	t.Helper()
	b.Open(app.url + app.cfg.page)
	require.Equal(t, plainSignedOut, textOf(b, "status"))
	click(t, b, "login")
	opHost := mustHost(t, app.op.Issuer())
	waitPage(t, b, onHost(opHost))
	if app.cfg.nodeOP {
		fillCSS(t, b, `input[name="login"]`, app.op.Username())
		fillCSS(t, b, `input[name="password"]`, app.op.Password())
		clickCSS(t, b, `button[type="submit"]`)
		// The consent form, then the app.
		if u := waitPage(t, b, func(u string) bool {
			return u == app.url+"/account" || (onHost(opHost)(u) && bodyHasConsent(b))
		}); u != app.url+"/account" {
			clickCSS(t, b, `button[type="submit"]`)
		}
	} else {
		fill(t, b, "username", app.op.Username())
		fill(t, b, "password", app.op.Password())
		click(t, b, "submit")
	}
	waitPage(t, b, at(app.url+"/account"))
	require.Equal(t, plainSignedIn+app.op.Name(), textOf(b, "status"))
	_, ok := b.Cookie(app.url+"/", plainSession)
	require.True(t, ok, "the app's session cookie is set")
}

// bodyHasConsent reports whether the page is oidc-provider's consent form.
func bodyHasConsent(b browser) bool {
	var ok bool
	b.Eval(`document.querySelector('input[name="prompt"][value="consent"]') !== null`, &ok)
	return ok
}

// logoutPlain clicks the logout button of the signed-in page and waits
// for the landing page: the app's page for a logout that comes back to
// the app, the provider's page without a post-logout redirect URI. On
// oidc-provider's confirmation page it confirms. It returns the time from
// the click to the landing page's load.
func logoutPlain(t *testing.T, b browser, app *plainApp) time.Duration {
	t.Helper()
	opHost := mustHost(t, app.op.Issuer())
	start := time.Now()
	click(t, b, "logout")
	if app.cfg.noPostLogout && !app.cfg.noIDToken {
		waitPage(t, b, onHost(opHost))
		took := time.Since(start)
		assertSessions(t, app, 0, "provider session ended")
		return took
	}
	if app.cfg.nodeOP {
		waitPage(t, b, onHost(opHost))
		clickCSS(t, b, `button[name="logout"][value="yes"]`)
	}
	waitPage(t, b, at(app.url+app.cfg.page))
	took := time.Since(start)
	assert.Equal(t, plainSignedOut, textOf(b, "status"))
	_, ok := b.Cookie(app.url+"/", plainSession)
	assert.False(t, ok, "the app's session cookie is deleted")
	if v, ok := b.Cookie(app.url+app.cfg.page, "logout_state"); ok {
		assert.Empty(t, v, "no state cookie with a state is left")
	}
	if app.cfg.noIDToken {
		assertSessions(t, app, 1, "a local-only logout leaves the provider's session alone")
	} else {
		assertSessions(t, app, 0, "provider session ended")
	}
	return took
}

// assertSessions checks the provider's count of live sessions, when it
// tells.
func assertSessions(t *testing.T, app *plainApp, want int, msg string) {
	t.Helper()
	if n := app.op.ActiveSessions(); n >= 0 {
		assert.Equal(t, want, n, msg)
	}
}

// mustHost returns the host and port of rawURL.
func mustHost(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	return u.Host
}

// TestFirefoxLoginLogoutBack is TestBrowserLoginLogoutBack in Firefox: the
// demo app and the embedded provider, sign-in on the provider's form,
// logout with the app's button through the provider and back, a copy of
// the session cookie taken before logout replayed after it, and Back.
func TestFirefoxLoginLogoutBack(t *testing.T) {
	path := findFirefox(t)
	env := startBrowserDemo(t)
	b := startFirefox(t, path)

	b.Open(env.appURL + "/")
	require.Equal(t, demoapp.StatusSignedOut, textOf(b, "status"))
	click(t, b, "login")
	waitPage(t, b, onHost(mustHost(t, env.op.Issuer())))
	fill(t, b, "username", env.op.Username())
	fill(t, b, "password", env.op.Password())
	click(t, b, "submit")
	waitPage(t, b, at(env.appURL+"/"))
	require.Equal(t, demoapp.StatusSignedIn+env.op.Name(), textOf(b, "status"))
	stolen, ok := b.Cookie(env.appURL+"/", demoapp.SessionName)
	require.True(t, ok, "signed in: app session cookie set")
	require.Contains(t, replaySessionCookie(t, env.appURL, stolen), demoapp.StatusSignedIn, "a copy of the cookie signs in before logout")
	require.Equal(t, 1, env.op.ActiveSessions())

	click(t, b, "logout")
	waitPage(t, b, at(env.appURL+"/?signed_out=1"))
	assert.Equal(t, demoapp.StatusSignedOut, textOf(b, "status"))
	_, ok = b.Cookie(env.appURL+"/", demoapp.SessionName)
	assert.False(t, ok, "app session cookie deleted")
	_, ok = b.Cookie(env.appURL+demoapp.LogoutCallbackPath, "logout_state")
	assert.False(t, ok, "state cookie deleted")
	_, ok = b.Cookie(env.op.Issuer()+"/", "op_session")
	assert.False(t, ok, "provider session cookie deleted")
	assert.Zero(t, env.op.ActiveSessions(), "provider session ended")
	assert.Zero(t, env.op.ActiveTokens(), "tokens revoked")
	assert.Contains(t, replaySessionCookie(t, env.appURL, stolen), demoapp.StatusSignedOut, "a copy of the cookie taken before logout is signed out")

	back := goBack(t, b, 1, env.appURL+"/")
	assert.False(t, back.Restored, "Firefox keeps no no-store page in its back/forward cache")
	assert.Equal(t, demoapp.StatusSignedOut, back.Status)
	assert.NotContains(t, bodyHTML(b), env.op.Name(), "no signed-in content after Back")
	assert.NotContains(t, bodyHTML(b), `id="logout"`)
}

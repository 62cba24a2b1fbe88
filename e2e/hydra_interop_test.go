package e2e

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/demoapp"
)

// hydraScopes are the scopes the demo app asks Hydra for: offline_access
// too, so that there is a refresh token to revoke at logout.
var hydraScopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}

// hydraDemo is Hydra, a registered client, and the demo app with
// back-channel logout on, signed in with it.
type hydraDemo struct {
	op    *hydra
	e     *interop
	calls *backChannelCalls
}

// startHydraDemo starts Hydra (cfg) and the demo app with back-channel
// logout, registered as a client with the app's back-channel URI.
func startHydraDemo(t *testing.T, cfg hydraConfig) *hydraDemo {
	t.Helper()
	op := startHydra(t, cfg)
	ln, appURL := appListener(t)
	const clientID = "logout-e2e-hydra"
	secret := rand.Text()
	op.register(hydraClient{
		ID: clientID, Secret: secret,
		RedirectURIs:           []string{appURL.String() + demoapp.CallbackPath},
		PostLogoutRedirectURIs: []string{appURL.String() + demoapp.LogoutCallbackPath},
		BackChannelURI:         appURL.String() + demoapp.BackChannelLogoutPath,
	})
	logs := &logRecorder{}
	calls := serveBackChannelDemo(t, ln, appURL, op.Issuer, clientID, secret, logs, func(c *demoapp.Config) {
		c.Scopes = hydraScopes
	})
	return &hydraDemo{op: op, e: demoInterop(t, appURL, op.Issuer, clientID, "alice", op.Password, logs), calls: calls}
}

// TestInteropHydra runs RP-Initiated Logout against Ory Hydra v2.3.0: the
// same flows as with the other providers (sign-in on the login form,
// logout with state through the discovered end_session_endpoint, the
// return, revocation of the tokens without a warning, a replayed or
// tampered callback), then Hydra's own back-channel logout token ending a
// second session of the same sid, an expired id_token_hint, and logout
// without an id_token.
func TestInteropHydra(t *testing.T) {
	d := startHydraDemo(t, hydraConfig{})
	e := d.e
	e.afterLogout = func(t *testing.T, hint *oidc.IDToken) {
		// Hydra posts a logout_token to the back-channel URI of the
		// client whose session ended, the one that logged out included.
		got := d.calls.wait(t, 1, eventWait)
		require.NotEmpty(t, got, "Hydra's back-channel request")
		var hintClaims logoutClaims
		require.NoError(t, hint.Claims(&hintClaims))
		for _, c := range got {
			assert.Equal(t, http.StatusOK, c.status, "the app accepts Hydra's logout_token: %s", c.body)
			assert.Equal(t, hintClaims.SID, unverifiedClaims(t, c.token)["sid"], "for the session that logged out")
		}
	}

	t.Run("Logout", func(t *testing.T) { e.withT(t).runLogoutFlow() })
	t.Run("LogoutForm", func(t *testing.T) { e.withT(t).runLogoutForm(); d.calls.take() })
	t.Run("TamperedState", func(t *testing.T) { e.withT(t).runTamperedState(); d.calls.take() })
	t.Run("Discovery", func(t *testing.T) {
		assert.Equal(t, d.op.Issuer+"/oauth2/sessions/logout", e.withT(t).discoveredEndSession())
	})
	t.Run("BackChannelSecondSession", func(t *testing.T) { runHydraSecondSession(t, d) })
}

// runHydraSecondSession signs alice in twice, in two browsers that share
// Hydra's session (the second one's sign-in skips the login form), so
// that the app holds two sessions of one sid. Alice logs out in the first
// one, through the app and Hydra. Hydra's back-channel logout_token for
// that sid ends the second one: its next request, with its cookie
// unchanged, is signed out.
func runHydraSecondSession(t *testing.T, d *hydraDemo) {
	e := d.e.withT(t)
	appHome := e.app("/").String()
	d.calls.take()
	first := newAgent(t)
	home := e.signIn(first)
	second := newAgent(t)
	iss := e.mustIssuerURL()
	second.jar.SetCookies(iss, first.jar.Cookies(iss))
	p := second.open(e.app(e.loginPath).String())
	require.True(t, e.isApp(p.URL) && e.reachedRedirectWithCode(p), "the second sign-in skips the login form: one Hydra session")
	require.Contains(t, second.open(appHome).Body, demoapp.StatusSignedIn)
	cookie, ok := second.cookie(appHome, demoapp.SessionName)
	require.True(t, ok)

	p, es := e.logout(first, e.logoutLink(home.URL))
	hint := e.checkEndSession(es)
	e.checkCallback(p, es, appHome)

	got := d.calls.wait(t, 1, eventWait)
	require.NotEmpty(t, got, "Hydra's back-channel request")
	var hintClaims logoutClaims
	require.NoError(t, hint.Claims(&hintClaims))
	c := got[0]
	assert.Equal(t, http.StatusOK, c.status, "the app accepts Hydra's logout_token: %s", c.body)
	jws, err := jose.ParseSignedCompact(c.token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	require.NoError(t, err)
	claims := unverifiedClaims(t, c.token)
	t.Logf("Hydra's logout_token: typ %v, claims %v", jws.Signatures[0].Header.ExtraHeaders["typ"], claimNames(claims))
	assert.Equal(t, hintClaims.SID, claims["sid"], "the sid of the session that logged out")
	assert.Equal(t, e.issuer, claims["iss"])
	assert.Contains(t, claims["events"], "http://schemas.openid.net/event/backchannel-logout")
	assert.NotContains(t, claims, "nonce")

	same, ok := second.cookie(appHome, demoapp.SessionName)
	require.True(t, ok, "Hydra cannot touch the app's cookie")
	require.Equal(t, cookie.Value, same.Value, "the second session's cookie is unchanged")
	after := second.open(appHome)
	assert.Contains(t, after.Body, `<p id="status">`+demoapp.StatusSignedOut+`</p>`, "the second session is signed out by the back-channel logout")
	assertCookieCleared(t, after.Header, demoapp.SessionName)
}

// claimNames returns the names of a token's claims, for the log (never
// their values).
func claimNames(claims map[string]any) []string {
	names := make([]string, 0, len(claims))
	for k := range claims {
		names = append(names, k)
	}
	return names
}

// TestInteropHydraExpiredHint logs out with an id_token that expired
// while the user was signed in: the middleware sends it as the
// id_token_hint all the same, and Hydra accepts it, ends its session and
// sends the browser back to the callback with the state.
func TestInteropHydraExpiredHint(t *testing.T) {
	const ttl = 3 * time.Second
	d := startHydraDemo(t, hydraConfig{IDTokenTTL: ttl})
	e := d.e
	a := newAgent(t)
	home := e.signIn(a)
	time.Sleep(ttl + time.Second)

	p, es := e.logout(a, e.logoutLink(home.URL))
	raw := es.query.Get("id_token_hint")
	require.NotEmpty(t, raw, "the expired id_token is sent as the hint")
	_, err := e.verifyJWT(raw, false)
	require.ErrorContains(t, err, "expired", "the hint had expired")
	_, err = e.verifyJWT(raw, true)
	require.NoError(t, err, "otherwise a valid id_token of this client")
	assert.NotEmpty(t, es.state)
	e.checkCallback(p, es, e.app("/").String())
	e.checkSignedOut(a)
	assert.Equal(t, 1, d.op.acceptedLogouts(), "Hydra asked the UI to accept the logout")
}

// hydraPlainOP is Hydra as the plain app's provider.
type hydraPlainOP struct {
	op               *hydra
	clientID, secret string
}

func (o *hydraPlainOP) Issuer() string       { return o.op.Issuer }
func (o *hydraPlainOP) ClientID() string     { return o.clientID }
func (o *hydraPlainOP) ClientSecret() string { return o.secret }
func (o *hydraPlainOP) Name() string         { return "alice" }
func (o *hydraPlainOP) Username() string     { return "alice" }
func (o *hydraPlainOP) Password() string     { return o.op.Password }
func (o *hydraPlainOP) ActiveSessions() int  { return -1 }

// TestBrowserHydraLogoutWithoutIDToken: a session without id_token, and
// Config.ProviderLogoutWithoutIDToken. The middleware sends the browser to
// Hydra's end_session_endpoint with client_id alone, no id_token_hint,
// post_logout_redirect_uri or state. Hydra accepts it: it finds its session
// by its own cookie, asks the UI to accept the logout, and ends on its own
// post-logout page. A new sign-in shows the login form again, and Back
// does not show the signed-in page.
func TestBrowserHydraLogoutWithoutIDToken(t *testing.T) {
	for _, engine := range browserEngines() {
		t.Run(engine.name, func(t *testing.T) {
			app := startPlainApp(t, plainAppConfig{page: "/homepage", hydraOP: true, noIDToken: true, clientIDLogout: true})
			h := app.op.(*hydraPlainOP).op
			b := engine.start(t)
			signInPlain(t, b, app)
			start := time.Now()
			click(t, b, "logout")
			landing := waitPage(t, b, func(u string) bool {
				return strings.HasPrefix(u, h.Issuer+"/oauth2/fallbacks/logout/callback")
			})
			t.Logf("%s: logout click to Hydra's post-logout page: %v", b.Name(), time.Since(start))
			assert.Equal(t, 1, h.acceptedLogouts(), "Hydra asked the UI to accept the logout")
			_, ok := b.Cookie(app.url+"/", plainSession)
			assert.False(t, ok, "the app's session cookie is deleted")
			lu, err := url.Parse(landing)
			require.NoError(t, err)
			assert.Empty(t, lu.Query().Get("state"))

			hits := app.accountHits.Load()
			back := goBack(t, b, 1, app.url+"/account")
			assert.False(t, back.Restored)
			assert.Equal(t, hits+1, app.accountHits.Load(), "Back asked the app for the page again")
			assert.Equal(t, plainSignedOut, back.Status)

			b.Open(app.url + "/login")
			waitPage(t, b, onHost(mustHost(t, h.Issuer)))
			var form bool
			b.Eval(`document.getElementById("password") !== null`, &form)
			assert.True(t, form, "Hydra's session ended: a new sign-in shows the login form")
		})
	}
}

// TestBrowserHydraFrontChannel logs out of the demo app, registered at
// Hydra with a front-channel logout URI, in Chromium and Firefox. Hydra
// answers its logout with a page of one iframe per client of the session,
// which loads the app's front-channel logout URI with iss and sid, and
// then redirects by script to the post-logout redirect URI (a meta
// refresh after 7 s is its fallback). The app receives the front-channel
// request, and the browser lands on the app signed out.
func TestBrowserHydraFrontChannel(t *testing.T) {
	for _, engine := range browserEngines() {
		t.Run(engine.name, func(t *testing.T) {
			op := startHydra(t, hydraConfig{})
			ln, appURL := appListener(t)
			const clientID = "logout-e2e-hydra-fc"
			secret := rand.Text()
			op.register(hydraClient{
				ID: clientID, Secret: secret,
				RedirectURIs:           []string{appURL.String() + demoapp.CallbackPath},
				PostLogoutRedirectURIs: []string{appURL.String() + demoapp.LogoutCallbackPath},
				FrontChURI:             appURL.String() + demoapp.FrontChannelLogoutPath,
			})
			cfg := demoConfig(appURL, op.Issuer, clientID, secret, &logRecorder{})
			cfg.FrontChannel, cfg.Scopes = true, hydraScopes
			fc := &frontChannelRequests{}
			serveOn(t, ln, fc.observe(newDemoApp(t, cfg)))

			b := engine.start(t)
			b.Open(appURL.String() + "/")
			click(t, b, "login")
			waitPage(t, b, onHost(mustHost(t, op.Issuer)))
			fill(t, b, "username", "alice")
			fill(t, b, "password", op.Password)
			click(t, b, "submit")
			waitPage(t, b, at(appURL.String()+"/"))
			require.Equal(t, demoapp.StatusSignedIn+"alice", textOf(b, "status"))

			start := time.Now()
			click(t, b, "logout")
			waitPage(t, b, at(appURL.String()+"/?signed_out=1"))
			took := time.Since(start)
			t.Logf("%s: logout click to landing, through Hydra's front-channel page: %v", b.Name(), took)
			assert.Less(t, took, 7*time.Second, "Hydra's script redirected, not its 7 s meta refresh")
			assert.Equal(t, demoapp.StatusSignedOut, textOf(b, "status"))
			got := fc.all()
			require.Len(t, got, 1, "the app's front-channel logout URI was loaded once, in Hydra's iframe")
			assert.Equal(t, op.Issuer, got[0].Get("iss"))
			assert.NotEmpty(t, got[0].Get("sid"))
		})
	}
}

// frontChannelRequests records the queries of the requests to the app's
// front-channel logout path.
type frontChannelRequests struct {
	mu      sync.Mutex
	queries []url.Values
}

func (f *frontChannelRequests) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == demoapp.FrontChannelLogoutPath {
			f.mu.Lock()
			f.queries = append(f.queries, r.URL.Query())
			f.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

func (f *frontChannelRequests) all() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.queries...)
}

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/securecookie"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/demoapp"
	"github.com/oidc-logout/logout/examples/provider"
)

// TestBrowserTwoProviders runs the demo app with two real providers at
// once behind one logout middleware and one back-channel handler: the
// embedded provider (provider 1, /login) and panva's oidc-provider
// (provider 2, /login?provider=2, with a back-channel logout URI). User A
// signs in with provider 1 in one Chromium, user B with provider 2 in
// another. A back-channel logout from provider 2 ends B's session only; a
// logout token claiming provider 1 and naming B's sid ends nothing; each
// logout through the app goes to its own provider's end-session endpoint
// and ends that provider's session only.
func TestBrowserTwoProviders(t *testing.T) {
	chromium := findChromium(t)
	d := startTwoProviderDemo(t)
	ctxA := startChromium(t, chromium)
	ctxB := startChromium(t, chromium)
	reqA, reqB := chromeRecordRequests(t, ctxA), chromeRecordRequests(t, ctxB)
	home := d.appURL.String() + "/"

	chromeSignIn(t, ctxA, &browserDemo{op: d.op1, appURL: d.appURL.String()})
	d.signInWithProvider2(t, ctxB, "bob")
	require.Equal(t, 1, d.op1.ActiveSessions(), "A's session at provider 1")
	require.True(t, chromeHasCookie(t, ctxB, d.op2.Issuer+"/", "_session"), "B's session at provider 2")
	cookieB, ok := chromeCookie(t, ctxB, home, demoapp.SessionName)
	require.True(t, ok)
	issB, sidB, _ := d.sessionIssuerSID(t, cookieB)
	require.Equal(t, d.op2.Issuer, issB)
	cookieA, ok := chromeCookie(t, ctxA, home, demoapp.SessionName)
	require.True(t, ok)
	issA, _, idTokenA := d.sessionIssuerSID(t, cookieA)
	require.Equal(t, d.op1.Issuer(), issA)

	// A logout token claiming provider 1, under the kid of provider 1's
	// key, that names B's sid ends nothing.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	forged := signLogoutToken(t, key, tokenKeyID(t, idTokenA), map[string]any{
		"iss": d.op1.Issuer(), "aud": d.op1.ClientID(), "sid": sidB, "jti": rand.Text(),
		"iat": time.Now().Unix(), "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	})
	status, body := postToBackChannel(t, d.appURL, forged)
	assert.Equal(t, http.StatusBadRequest, status, body)
	assert.Contains(t, body, "signature does not verify with the provider's keys")
	d.calls.take()
	d.logs.take() // the refusal is logged
	chromeDo(t, ctxB, chromedp.Navigate(home))
	require.True(t, strings.HasPrefix(chromeText(t, ctxB, "status"), demoapp.StatusSignedIn), "B is still signed in")

	// B's session ends at provider 2 (as from another app): provider 2's
	// back-channel logout ends B's app session, and A's stays.
	d.logoutAtProvider2(t, ctxB)
	got := d.calls.wait(t, 1, eventWait)
	require.Len(t, got, 1, "provider 2's back-channel requests")
	assert.Equal(t, http.StatusOK, got[0].status, got[0].body)
	claims := unverifiedClaims(t, got[0].token)
	assert.Equal(t, d.op2.Issuer, claims["iss"])
	assert.Equal(t, sidB, claims["sid"])
	chromeDo(t, ctxB, chromedp.Navigate(home))
	assert.Equal(t, demoapp.StatusSignedOut, chromeText(t, ctxB, "status"), "B signed out by provider 2's back-channel logout")
	chromeDo(t, ctxA, chromedp.Navigate(home))
	assert.Equal(t, demoapp.StatusSignedIn+d.op1.Name(), chromeText(t, ctxA, "status"), "A is still signed in")
	assert.Equal(t, 1, d.op1.ActiveSessions(), "A's provider session is untouched")

	// B signs in again; A logs out through the app: provider 1's
	// end-session endpoint, provider 1's session only.
	d.signInWithProvider2(t, ctxB, "bob")
	chromeDo(t, ctxA, chromeClickAndLoad(chromedp.ID("logout")))
	assert.Equal(t, demoapp.StatusSignedOut, chromeText(t, ctxA, "status"))
	assert.Equal(t, d.appURL.Host, chromeHost(t, chromeLocation(t, ctxA))+":"+d.appURL.Port())
	assert.Zero(t, d.op1.ActiveSessions(), "provider 1's session ended")
	end1 := d.endSessionEndpoint(t, d.op1.Issuer())
	end2 := d.endSessionEndpoint(t, d.op2.Issuer)
	assert.True(t, requested(reqA, end1), "A's logout went to provider 1's end-session endpoint %s", end1)
	assert.False(t, requested(reqA, end2), "A's logout did not go to provider 2")
	chromeDo(t, ctxB, chromedp.Navigate(home))
	require.True(t, strings.HasPrefix(chromeText(t, ctxB, "status"), demoapp.StatusSignedIn), "B is still signed in")
	assert.True(t, chromeHasCookie(t, ctxB, d.op2.Issuer+"/", "_session"), "B's session at provider 2 stays")

	// B logs out through the app: provider 2's end-session endpoint.
	chromeDo(t, ctxB, chromeClickAndLoad(chromedp.ID("logout")))
	d.confirmProvider2Logout(t, ctxB)
	assert.Equal(t, demoapp.StatusSignedOut, chromeText(t, ctxB, "status"))
	assert.True(t, requested(reqB, end2), "B's logout went to provider 2's end-session endpoint %s", end2)
	assert.False(t, requested(reqB, end1), "B's logout did not go to provider 1")
	assert.False(t, chromeHasCookie(t, ctxB, d.op2.Issuer+"/", "_session"), "B's session at provider 2 ended")
	assert.Empty(t, d.logs.take(), "warnings or errors")
}

// twoProviderDemo is the demo app with two providers.
type twoProviderDemo struct {
	op1    *provider.Provider
	op2    *nodeOP
	appURL *url.URL
	app    *demoapp.App
	calls  *backChannelCalls
	logs   *logRecorder
	codec  securecookie.Codec
}

// startTwoProviderDemo starts the embedded provider, oidc-provider and
// the demo app with both, with back-channel logout on.
func startTwoProviderDemo(t *testing.T) *twoProviderDemo {
	t.Helper()
	ln, appURL := appListener(t)
	app := appURL.String()
	d := &twoProviderDemo{appURL: appURL, calls: &backChannelCalls{}, logs: &logRecorder{}}
	d.op1 = startProvider(t, provider.Config{
		RedirectURIs:           []string{app + demoapp.CallbackPath},
		PostLogoutRedirectURIs: []string{app + demoapp.LogoutCallbackPath},
	})
	secret2 := rand.Text()
	d.op2 = startNodeOP(t, nodeOPConfig{
		ClientID: "logout-e2e-second", ClientSecret: secret2,
		RedirectURI:           app + demoapp.CallbackPath,
		PostLogoutRedirectURI: app + demoapp.LogoutCallbackPath,
		BackchannelLogoutURI:  app + demoapp.BackChannelLogoutPath,
	})
	cfg := demoConfig(appURL, d.op1.Issuer(), d.op1.ClientID(), d.op1.ClientSecret(), d.logs)
	cfg.BackChannel = true
	cfg.HashKey, cfg.BlockKey = randomKey(), randomKey()
	cfg.MoreProviders = []demoapp.ProviderConfig{{Issuer: d.op2.Issuer, ClientID: "logout-e2e-second", ClientSecret: secret2}}
	d.codec = securecookie.New(cfg.HashKey, cfg.BlockKey)
	d.app = newDemoApp(t, cfg)
	serveOn(t, ln, d.calls.observe(d.app))
	return d
}

// signInWithProvider2 signs in at /login?provider=2 on oidc-provider's
// login and consent forms.
func (d *twoProviderDemo) signInWithProvider2(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	chromeDo(t, ctx, chromedp.Navigate(d.appURL.String()+"/login?provider=2"))
	require.True(t, d.atProvider2(t, ctx), "the login form is provider 2's: %s", chromeLocation(t, ctx))
	chromeDo(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="login"]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "any-password"),
		chromeClickCSSAndLoad(`button[type="submit"]`),
	)
	for i := 0; i < 3 && d.atProvider2(t, ctx); i++ { // the consent form
		chromeDo(t, ctx, chromeClickCSSAndLoad(`button[type="submit"]`))
	}
	require.Equal(t, d.appURL.String()+"/", chromeLocation(t, ctx))
	require.Equal(t, demoapp.StatusSignedIn+user, chromeText(t, ctx, "status"))
}

// logoutAtProvider2 ends the browser's session at provider 2 directly,
// without the app: its end-session endpoint and its confirmation form.
func (d *twoProviderDemo) logoutAtProvider2(t *testing.T, ctx context.Context) {
	t.Helper()
	chromeDo(t, ctx, chromedp.Navigate(d.endSessionEndpoint(t, d.op2.Issuer)))
	d.confirmProvider2Logout(t, ctx)
}

// confirmProvider2Logout clicks "yes" on oidc-provider's logout page.
func (d *twoProviderDemo) confirmProvider2Logout(t *testing.T, ctx context.Context) {
	t.Helper()
	require.True(t, d.atProvider2(t, ctx), "provider 2 asks to confirm: %s", chromeLocation(t, ctx))
	chromeDo(t, ctx, chromeClickCSSAndLoad(`button[name="logout"][value="yes"]`))
}

// atProvider2 reports whether the browser shows a page of provider 2.
func (d *twoProviderDemo) atProvider2(t *testing.T, ctx context.Context) bool {
	t.Helper()
	loc, err := url.Parse(chromeLocation(t, ctx))
	require.NoError(t, err)
	iss, err := url.Parse(d.op2.Issuer)
	require.NoError(t, err)
	return loc.Host == iss.Host
}

// endSessionEndpoint returns the middleware's end-session endpoint for
// issuer.
func (d *twoProviderDemo) endSessionEndpoint(t *testing.T, issuer string) string {
	t.Helper()
	p, err := d.app.Logout().Discover(t.Context(), issuer)
	require.NoError(t, err)
	return p.EndSessionEndpoint
}

// sessionIssuerSID decodes the app's session cookie and returns the iss
// and sid of the id_token it holds, and the id_token.
func (d *twoProviderDemo) sessionIssuerSID(t *testing.T, cookie string) (iss, sid, raw string) {
	t.Helper()
	values := map[any]any{}
	require.NoError(t, d.codec.Decode(demoapp.SessionName, cookie, &values))
	raw, _ = values["id_token"].(string)
	require.NotEmpty(t, raw)
	claims := unverifiedClaims(t, raw)
	iss, _ = claims["iss"].(string)
	sid, _ = claims["sid"].(string)
	require.NotEmpty(t, sid, "the id_token has a sid")
	return iss, sid, raw
}

// requested reports whether the browser requested endpoint (any query).
func requested(log *chromeRequestLog, endpoint string) bool {
	for _, u := range log.all() {
		v := *u
		v.RawQuery = ""
		if v.String() == endpoint {
			return true
		}
	}
	return false
}

// chromeClickCSSAndLoad clicks the element sel selects and waits until the
// navigation it starts, redirects included, has loaded.
func chromeClickCSSAndLoad(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		return chromedp.Void{}, err
	}
}

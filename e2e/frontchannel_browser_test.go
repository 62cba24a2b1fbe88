package e2e

import (
	"context"
	"crypto/rand"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/securecookie"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/demoapp"
	"github.com/oidc-logout/logout/examples/provider"
)

// TestBrowserFrontChannelLogout drives headless Chromium through OpenID
// Connect Front-Channel Logout 1.0 with the demo app
// (demoapp.Config.FrontChannel) and the embedded provider. The provider
// does not implement front-channel logout, so a page on a third origin
// plays its logout page: it loads the app's frontchannel_logout_uri in an
// iframe with the issuer and the sid of the browser's provider session.
// That page is on localhost and the app on 127.0.0.1, so the iframe
// request is cross-site and the browser sends it without the app's
// SameSite=Lax session cookie; the app must end the session all the same,
// on the session's next request. A second session of the same user, in
// another user agent, has another sid and stays signed in.
func TestBrowserFrontChannelLogout(t *testing.T) {
	chromium := findChromium(t)
	d := startFrontChannelDemo(t)
	ctx := startChromium(t, chromium)
	home := d.appURL + "/"

	chromeSignIn(t, ctx, &d.browserDemo)
	cookie, ok := chromeCookie(t, ctx, home, demoapp.SessionName)
	require.True(t, ok, "the browser holds the app's session cookie")
	sid := d.sessionSID(t, cookie)
	other := newAgent(t)
	require.Contains(t, d.e.signIn(other).Body, demoapp.StatusSignedIn)
	otherCookie, ok := other.cookie(home, demoapp.SessionName)
	require.True(t, ok)
	require.NotEqual(t, sid, d.sessionSID(t, otherCookie.Value), "two user agents, two provider sessions")

	// A made-up sid ends nothing.
	call := d.loadLogoutPage(t, ctx, "made-up-sid")
	assert.Equal(t, http.StatusOK, call.status, "an unknown sid is answered 200")
	chromeDo(t, ctx, chromedp.Navigate(home))
	assert.Equal(t, demoapp.StatusSignedIn+d.op.Name(), chromeText(t, ctx, "status"), "a made-up sid ends nothing")

	// The browser's own sid, from the cross-site iframe, without cookies.
	call = d.loadLogoutPage(t, ctx, sid)
	assert.Equal(t, http.StatusOK, call.status)
	assert.Contains(t, call.cacheControl, "no-store")
	assert.Equal(t, "iframe", call.fetchDest)
	assert.Equal(t, "cross-site", call.fetchSite)
	assert.False(t, call.sessionCookie, "the cross-site iframe request carries no session cookie")
	assert.True(t, chromeHasCookie(t, ctx, home, demoapp.SessionName), "the browser still holds the session cookie")

	// The session's next request is signed out.
	chromeDo(t, ctx, chromedp.Navigate(home))
	assert.Equal(t, home, chromeLocation(t, ctx))
	assert.Equal(t, demoapp.StatusSignedOut, chromeText(t, ctx, "status"))
	assert.False(t, chromeHasCookie(t, ctx, home, demoapp.SessionName), "the app expired its session cookie")
	assert.Contains(t, other.open(home).Body, demoapp.StatusSignedIn, "the other provider session is untouched")
	assert.Equal(t, 2, d.op.ActiveSessions(), "the provider's sessions are the provider's business")
	assert.Empty(t, d.logs.take(), "warnings or errors from the app or the middleware")
	chromeScreenshot(t, ctx, "frontchannel-signed-out.png")
}

// frontChannelDemo is the embedded provider, the demo app with
// front-channel logout on, and a page on a third origin that plays the
// provider's logout page.
type frontChannelDemo struct {
	browserDemo
	e     *interop
	logs  *logRecorder
	calls chan frontChannelCall
	// codec decodes the app's session cookie.
	codec securecookie.Codec
	// logoutPage is the URL of the page that embeds the app's
	// front-channel logout URI; its sid query parameter names the session.
	logoutPage string
}

// frontChannelCall is one request to the app's front-channel logout path
// and the app's answer.
type frontChannelCall struct {
	status               int
	cacheControl         string
	fetchSite, fetchDest string
	sessionCookie        bool // the request carried the app's session cookie
}

// startFrontChannelDemo starts the provider on localhost, the demo app on
// 127.0.0.1 and the logout page on localhost, each on a free port, stopped
// when the test ends.
func startFrontChannelDemo(t *testing.T) *frontChannelDemo {
	t.Helper()
	ln, appURL := appListener(t)
	op := startProvider(t, provider.Config{
		RedirectURIs:           []string{appURL.String() + demoapp.CallbackPath},
		PostLogoutRedirectURIs: []string{appURL.String() + demoapp.LogoutCallbackPath},
	})

	d := &frontChannelDemo{
		browserDemo: browserDemo{op: op, appURL: appURL.String()},
		logs:        &logRecorder{},
		calls:       make(chan frontChannelCall, 8),
	}
	cfg := demoConfig(appURL, op.Issuer(), op.ClientID(), op.ClientSecret(), d.logs)
	cfg.FrontChannel = true
	cfg.HashKey, cfg.BlockKey = randomKey(), randomKey()
	d.codec = securecookie.New(cfg.HashKey, cfg.BlockKey)
	serveOn(t, ln, d.observe(newDemoApp(t, cfg)))
	d.e = demoInterop(t, appURL, op.Issuer(), op.ClientID(), op.Username(), op.Password(), d.logs)
	d.logoutPage = serveLogoutPage(t, appURL.String()+demoapp.FrontChannelLogoutPath, op.Issuer())
	return d
}

// observe wraps the app: it records the request and the answer of every
// request to demoapp.FrontChannelLogoutPath.
func (d *frontChannelDemo) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != demoapp.FrontChannelLogoutPath {
			next.ServeHTTP(w, r)
			return
		}
		rec := &answerRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		_, err := r.Cookie(demoapp.SessionName)
		call := frontChannelCall{
			status: rec.status, cacheControl: w.Header().Get("Cache-Control"),
			fetchSite: r.Header.Get("Sec-Fetch-Site"), fetchDest: r.Header.Get("Sec-Fetch-Dest"),
			sessionCookie: err == nil,
		}
		select {
		case d.calls <- call:
		default: // the test reads one call per page; more would be a failure it sees
		}
	})
}

// loadLogoutPage opens the logout page for sid in the browser and returns
// the app's answer to the iframe's request.
func (d *frontChannelDemo) loadLogoutPage(t *testing.T, ctx context.Context, sid string) frontChannelCall {
	t.Helper()
	chromeDo(t, ctx, chromedp.Navigate(d.logoutPage+"?"+url.Values{"sid": {sid}}.Encode()))
	select {
	case call := <-d.calls:
		return call
	case <-time.After(eventWait):
		t.Fatal("the logout page's iframe did not reach the app's front-channel logout path")
		return frontChannelCall{}
	}
}

// sessionSID decodes the app's session cookie and returns the sid claim of
// the id_token it holds, after checking the token with the provider's keys.
func (d *frontChannelDemo) sessionSID(t *testing.T, cookie string) string {
	t.Helper()
	values := map[any]any{}
	require.NoError(t, d.codec.Decode(demoapp.SessionName, cookie, &values), "decoding the app's session cookie")
	raw, _ := values["id_token"].(string)
	require.NotEmpty(t, raw, "the session holds the id_token")
	var claims struct {
		SID string `json:"sid"`
	}
	require.NoError(t, d.e.verifyIDToken(raw).Claims(&claims))
	require.NotEmpty(t, claims.SID, "the provider's id_token has a sid claim")
	return claims.SID
}

// logoutPageHTML is what a provider's logout page does for front-channel
// logout: it loads each client's frontchannel_logout_uri in an iframe.
var logoutPageHTML = template.Must(template.New("logout").Parse(`<!doctype html>
<html><head><title>Signed out</title></head>
<body><p id="status">You are signed out of the provider.</p>
<iframe id="rp" title="front-channel logout" src="{{.}}" style="display:none"></iframe>
</body></html>
`))

// serveLogoutPage serves the logout page for the app's front-channel
// logout URI and the provider's issuer, and returns its URL. It listens on
// 127.0.0.1 and is addressed as localhost: another site than the app.
func serveLogoutPage(t *testing.T, frontChannelURI, issuer string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{"iss": {issuer}, "sid": {r.URL.Query().Get("sid")}}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = logoutPageHTML.Execute(w, template.URL(frontChannelURI+"?"+q.Encode()))
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	return "http://localhost:" + port + "/"
}

// chromeSignIn signs in to the demo app through the provider's login form
// and checks the signed-in home page.
func chromeSignIn(t *testing.T, ctx context.Context, env *browserDemo) {
	t.Helper()
	chromeDo(t, ctx, chromedp.Navigate(env.appURL+"/"))
	require.Equal(t, demoapp.StatusSignedOut, chromeText(t, ctx, "status"))
	chromeDo(t, ctx, chromeClickAndLoad(chromedp.ID("login")))
	require.Equal(t, "localhost", chromeHost(t, chromeLocation(t, ctx)), "the login form is the provider's")
	chromeDo(t, ctx,
		chromedp.SendKeys(chromedp.ID("username"), env.op.Username()),
		chromedp.SendKeys(chromedp.ID("password"), env.op.Password()),
		chromeClickAndLoad(chromedp.ID("submit")),
	)
	require.Equal(t, env.appURL+"/", chromeLocation(t, ctx))
	require.Equal(t, demoapp.StatusSignedIn+env.op.Name(), chromeText(t, ctx, "status"))
}

// randomKey returns 32 random bytes, a session cookie key.
func randomKey() []byte {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails
	return key
}

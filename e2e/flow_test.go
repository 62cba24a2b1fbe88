package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// interop is an app protected by the logout middleware, signed in with a
// real OpenID Provider, and the facts the flow checks against.
type interop struct {
	t *testing.T

	issuer, clientID   string
	username, password string

	appURL        *url.URL // http://127.0.0.1:PORT
	loginPath     string   // the app's path that starts a sign-in
	redirectPath  string   // the app's login callback (redirect_uri)
	logoutPath    string   // the middleware's logout path
	callbackPath  string   // the middleware's callback path (post_logout_redirect_uri)
	sessionCookie string   // the app's gorilla/sessions cookie
	signedOutText string   // shown by the app's home page when signed out

	// opSessions, when set, returns the number of live sessions at the
	// provider, to check that logout ended the provider's session.
	opSessions func() int
	// appLogs holds the app's and the middleware's warnings and errors.
	appLogs *logRecorder
	// afterLogout, when set, runs further checks once the logout flow has
	// returned to the app; hint is the verified id_token_hint it sent.
	afterLogout func(t *testing.T, hint *oidc.IDToken)
}

// Defaults of the middleware that the flow checks.
const (
	stateCookie     = "logout_state"
	defaultReturnTo = "/"
)

// app returns the absolute URL of a path on the app.
func (e *interop) app(path string) *url.URL {
	return e.appURL.ResolveReference(&url.URL{Path: path})
}

// isApp reports whether u is on the app's origin.
func (e *interop) isApp(u *url.URL) bool { return origin(u) == origin(e.appURL) }

// isOP reports whether u is on the provider's origin.
func (e *interop) isOP(u *url.URL) bool {
	iss, err := url.Parse(e.issuer)
	return err == nil && origin(u) == origin(iss)
}

// startSignIn opens the app's login path and returns the provider's login
// page where it lands.
func (e *interop) startSignIn(a *agent) (page, htmlForm) {
	e.t.Helper()
	p := a.open(e.app(e.loginPath).String())
	f, ok := e.loginForm(p)
	require.True(e.t, ok, "expected the provider's login form, got %d at %s:\n%s", p.Status, where(p.URL), p.Body)
	return p, f
}

// loginForm returns the provider's login form on p, if p shows one.
func (e *interop) loginForm(p page) (htmlForm, bool) {
	if p.Status != http.StatusOK || !e.isOP(p.URL) {
		return htmlForm{}, false
	}
	forms, err := parseForms(p.Body, p.URL)
	require.NoError(e.t, err)
	for _, f := range forms {
		if f.hasInputType("password") {
			return f, true
		}
	}
	return htmlForm{}, false
}

// signIn signs in through the provider's real login form (and consent
// form, if the provider shows one), and returns the app page it ends on.
func (e *interop) signIn(a *agent) page {
	e.t.Helper()
	p, f := e.startSignIn(a)
	fill := map[string]string{}
	for name, typ := range f.Types {
		switch typ {
		case "password":
			fill[name] = e.password
		case "text", "email":
			fill[name] = e.username
		}
	}
	form, err := f.submission(fill, "")
	require.NoError(e.t, err)
	p = a.navigate(nav{From: p.URL, Method: f.Method, Target: f.Action.String(), Form: form})
	p = e.consentIfAsked(a, p)
	require.True(e.t, e.isApp(p.URL), "sign-in should end on the app, ended at %s", where(p.URL))
	require.Equal(e.t, http.StatusOK, p.Status, "app page after sign-in: %s", p.Body)
	require.True(e.t, e.reachedRedirectWithCode(p), "sign-in should pass the app's redirect_uri with a code")
	_, ok := a.cookie(e.appURL.String(), e.sessionCookie)
	require.True(e.t, ok, "the app should have set its session cookie %q", e.sessionCookie)
	return p
}

// consentIfAsked submits a consent form the provider shows, as the user
// clicking its only button would.
func (e *interop) consentIfAsked(a *agent, p page) page {
	e.t.Helper()
	if !e.isOP(p.URL) || p.Status != http.StatusOK {
		return p
	}
	forms, err := parseForms(p.Body, p.URL)
	require.NoError(e.t, err)
	for _, f := range forms {
		if f.Fields.Get("prompt") == "consent" {
			form, err := f.submission(nil, "")
			require.NoError(e.t, err)
			return a.navigate(nav{From: p.URL, Method: f.Method, Target: f.Action.String(), Form: form})
		}
	}
	return p
}

// reachedRedirectWithCode reports whether the navigation passed the app's
// redirect_uri with an authorization code.
func (e *interop) reachedRedirectWithCode(p page) bool {
	for _, h := range p.Hops {
		if e.isApp(h.URL) && h.URL.Path == e.redirectPath && h.URL.Query().Get("code") != "" {
			return true
		}
	}
	return false
}

// endSession is what the logout sent to the provider.
type endSession struct {
	endpoint string // scheme://host/path of the request
	query    url.Values
	state    string
}

// logoutLink is the navigation of a click on a plain link to the logout path.
func (e *interop) logoutLink(from *url.URL) nav {
	return nav{From: from, Method: http.MethodGet, Target: e.app(e.logoutPath).String()}
}

// logoutForm is the navigation of a click on the logout button of an app
// page: the submission of its form that posts to the logout path.
func (e *interop) logoutForm(p page) nav {
	e.t.Helper()
	forms, err := parseForms(p.Body, p.URL)
	require.NoError(e.t, err)
	for _, f := range forms {
		if e.isApp(f.Action) && f.Action.Path == e.logoutPath && f.Method == http.MethodPost {
			form, err := f.submission(nil, "")
			require.NoError(e.t, err)
			return nav{From: p.URL, Method: f.Method, Target: f.Action.String(), Form: form}
		}
	}
	e.t.Fatalf("no logout form on %s", where(p.URL))
	return nav{}
}

// logout starts the logout navigation n and checks the middleware's
// response; it returns the page where the navigation stopped (at the
// redirect to the callback when n.StopAt says so) and the end-session
// request.
func (e *interop) logout(a *agent, n nav) (page, endSession) {
	e.t.Helper()
	p := a.navigate(n)
	require.NotEmpty(e.t, p.Hops)
	first := p.Hops[0]
	require.Equal(e.t, "same-origin", first.SiteHdr)
	require.Equal(e.t, http.StatusFound, first.Status, "logout response")
	require.NotNil(e.t, first.Location)
	assert.Equal(e.t, "no-store", first.Header.Get("Cache-Control"))
	assert.Equal(e.t, "no-referrer", first.Header.Get("Referrer-Policy"))
	assertCookieCleared(e.t, first.Header, e.sessionCookie)
	es := endSession{
		endpoint: origin(first.Location) + first.Location.Path,
		query:    first.Location.Query(),
		state:    first.Location.Query().Get("state"),
	}
	p = e.confirmLogoutIfAsked(a, p, n.StopAt)
	return p, es
}

// confirmLogoutIfAsked submits a provider's logout confirmation form as a
// user clicking "yes" would.
func (e *interop) confirmLogoutIfAsked(a *agent, p page, stop func(*url.URL) bool) page {
	e.t.Helper()
	if !e.isOP(p.URL) || p.Status != http.StatusOK {
		return p
	}
	forms, err := parseForms(p.Body, p.URL)
	require.NoError(e.t, err)
	for _, f := range forms {
		for _, s := range f.Submitters {
			if s.Name == "logout" {
				form, err := f.submission(nil, "logout")
				require.NoError(e.t, err)
				next := a.navigate(nav{From: p.URL, Method: f.Method, Target: f.Action.String(), Form: form, StopAt: stop})
				next.Hops = append(p.Hops, next.Hops...)
				return next
			}
		}
	}
	return p
}

// isCallback reports whether u is the middleware's callback.
func (e *interop) isCallback(u *url.URL) bool {
	return e.isApp(u) && u.Path == e.callbackPath
}

// callbackHop returns the hop of p that reached the callback.
func (e *interop) callbackHop(p page) (hop, bool) {
	for _, h := range p.Hops {
		if e.isCallback(h.URL) {
			return h, true
		}
	}
	return hop{}, false
}

// checkEndSession checks the request the middleware sent the browser to:
// the discovered endpoint, an id_token_hint the provider issued to this
// client, the registered post_logout_redirect_uri, and a fresh state. It
// returns the verified id_token_hint.
func (e *interop) checkEndSession(es endSession) *oidc.IDToken {
	e.t.Helper()
	discovered := e.discoveredEndSession()
	assert.Equal(e.t, discovered, es.endpoint, "the logout must go to the discovered end_session_endpoint")
	assert.Equal(e.t, e.app(e.callbackPath).String(), es.query.Get("post_logout_redirect_uri"))
	assert.Len(e.t, es.state, 43, "state is 32 random bytes, base64url")
	hint := es.query.Get("id_token_hint")
	require.NotEmpty(e.t, hint, "id_token_hint")
	return e.verifyIDToken(hint)
}

// discoveredEndSession fetches the provider's discovery document itself.
func (e *interop) discoveredEndSession() string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(e.issuer, "/")+"/.well-known/openid-configuration", nil)
	require.NoError(e.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
	var doc struct {
		Issuer             string `json:"issuer"`
		EndSessionEndpoint string `json:"end_session_endpoint"`
	}
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&doc))
	require.Equal(e.t, e.issuer, doc.Issuer)
	require.NotEmpty(e.t, doc.EndSessionEndpoint)
	return doc.EndSessionEndpoint
}

// verifyIDToken checks that raw is an id_token signed by the provider for
// this client. Expiry is checked too: it was issued moments ago.
func (e *interop) verifyIDToken(raw string) *oidc.IDToken {
	e.t.Helper()
	tok, err := e.verifyJWT(raw, false)
	require.NoError(e.t, err, "id_token_hint must be a valid id_token of this client")
	assert.Equal(e.t, e.issuer, tok.Issuer)
	assert.NotEmpty(e.t, tok.Subject)
	return tok
}

// verifyJWT checks the signature, issuer and audience of a JWT the
// provider issued to this client, and its expiry unless skipExpiry.
func (e *interop) verifyJWT(raw string, skipExpiry bool) (*oidc.IDToken, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		return nil, fmt.Errorf("go-oidc discovery of %s: %w", e.issuer, err)
	}
	cfg := &oidc.Config{ClientID: e.clientID, SkipExpiryCheck: skipExpiry}
	tok, err := p.Verifier(cfg).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verifying JWT: %w", err)
	}
	return tok, nil
}

// assertCookieCleared checks that h deletes the cookie named name.
func assertCookieCleared(t *testing.T, h http.Header, name string) {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			assert.True(t, c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())),
				"cookie %q should be deleted, got %s", name, c.String())
			return
		}
	}
	t.Errorf("no Set-Cookie for %q in %v", name, h.Values("Set-Cookie"))
}

// findCookie returns the Set-Cookie of h named name.
func findCookie(h http.Header, name string) (*http.Cookie, bool) {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// runLogoutFlow signs in, logs out with the app's logout link through the
// middleware and the provider, and checks every step of RP-Initiated
// Logout.
func (e *interop) runLogoutFlow() {
	t := e.t
	a := newAgent(t)
	e.appLogs.take()
	home := e.signIn(a)
	e.checkSingleSignOn(a)

	p, es := e.logout(a, e.logoutLink(home.URL))
	hint := e.checkEndSession(es)
	e.checkStateCookieIssued(p.Hops[0].Header, es.state)
	cb := e.checkCallback(p, es, e.app(defaultReturnTo).String())
	e.checkSignedOut(a)
	if e.afterLogout != nil {
		e.afterLogout(t, hint)
	}
	// Nothing failed on the way, token revocation at the provider included.
	assert.Empty(t, e.appLogs.take(), "warnings or errors logged by the app or the middleware")

	// Replaying the callback after it succeeded cannot be honoured (the
	// state cookie is gone): the user lands on the default return target,
	// never on the return target, and never on a 404.
	replay := a.navigate(nav{From: e.mustIssuerURL(), Method: http.MethodGet, Target: cb.URL.String()})
	assert.Equal(t, http.StatusOK, replay.Status, "replayed callback")
	assert.Equal(t, "/", replay.URL.Path, "replayed callback")
	assert.Len(t, e.appLogs.take(), 1, "the replay is logged")
}

// runLogoutForm signs in and logs out with the logout button of the app's
// home page, a same-origin POST that names a return target: the target
// survives the round trip through the provider.
func (e *interop) runLogoutForm() {
	t := e.t
	a := newAgent(t)
	home := e.signIn(a)
	n := e.logoutForm(home)
	returnTo := n.Form.Get("return_to")
	require.NotEmpty(t, returnTo, "the app's logout form should name a return target")

	p, es := e.logout(a, n)
	assert.Equal(t, http.MethodPost, p.Hops[0].Method)
	e.checkEndSession(es)
	want, err := e.appURL.Parse(returnTo)
	require.NoError(t, err)
	e.checkCallback(p, es, want.String())
	assert.Equal(t, http.StatusOK, p.Status)
	assert.Contains(t, p.Body, e.signedOutText, "the page the user lands on")
	e.checkSignedOut(a)
}

// checkSingleSignOn checks, as a control, that while the provider's
// session lives a new sign-in needs no login form: this is what logout
// must change.
func (e *interop) checkSingleSignOn(a *agent) {
	t := e.t
	t.Helper()
	again := a.open(e.app(e.loginPath).String())
	require.True(t, e.isApp(again.URL) && e.reachedRedirectWithCode(again),
		"single sign-on at the provider should skip the login form before logout; ended at %s", where(again.URL))
	if e.opSessions != nil {
		require.Positive(t, e.opSessions(), "live provider sessions before logout")
	}
}

// checkCallback checks that the provider accepted the logout and sent the
// browser back to the callback with the same state, and that the callback
// verified it and redirected to returnTo. It returns the callback's hop.
func (e *interop) checkCallback(p page, es endSession, returnTo string) hop {
	t := e.t
	t.Helper()
	for _, h := range p.Hops {
		assert.Less(t, h.Status, 400, "%s %s answered %d", h.Method, where(h.URL), h.Status)
	}
	cb, ok := e.callbackHop(p)
	require.True(t, ok, "the provider should send the browser back to the callback; the logout went:\n%s\nand ended with:\n%s",
		p.trace(), p.Body)
	assert.Equal(t, es.state, cb.URL.Query().Get("state"), "the provider must return the same state")
	assert.Equal(t, "cross-site", cb.SiteHdr, "the callback is a cross-site navigation from the provider")
	require.Equal(t, http.StatusFound, cb.Status, "callback")
	require.NotNil(t, cb.Location)
	assert.Equal(t, returnTo, cb.Location.String(), "callback redirects to the return target")
	assertCookieCleared(t, cb.Header, stateCookie)
	assert.True(t, e.isApp(p.URL), "logout should end on the app, ended at %s", where(p.URL))
	return cb
}

// checkSignedOut checks that the app's session and the state cookie are
// gone, and that the provider's session is gone too: a new sign-in shows
// the login form again.
func (e *interop) checkSignedOut(a *agent) {
	t := e.t
	t.Helper()
	_, ok := a.cookie(e.appURL.String(), e.sessionCookie)
	assert.False(t, ok, "the app's session cookie should be gone")
	_, ok = a.cookie(e.app(e.callbackPath).String(), stateCookie)
	assert.False(t, ok, "the state cookie should be gone")
	if e.opSessions != nil {
		assert.Zero(t, e.opSessions(), "live provider sessions after logout")
	}
	after := a.open(e.app(e.loginPath).String())
	_, ok = e.loginForm(after)
	assert.True(t, ok, "after logout a new sign-in must show the provider's login form; ended at %s (%d)",
		where(after.URL), after.Status)
	assert.False(t, e.reachedRedirectWithCode(after), "no code may be issued without a new login")
}

// checkStateCookieIssued checks the state cookie the logout response sets.
func (e *interop) checkStateCookieIssued(h http.Header, state string) {
	e.t.Helper()
	c, ok := findCookie(h, stateCookie)
	require.True(e.t, ok, "logout response should set the state cookie")
	assert.True(e.t, strings.HasPrefix(c.Value, state+"."), "state cookie carries the state")
	assert.Equal(e.t, "/", c.Path)
	assert.True(e.t, c.HttpOnly)
	assert.Equal(e.t, http.SameSiteLaxMode, c.SameSite)
	assert.False(e.t, c.Secure, "http post_logout_redirect_uri: the cookie cannot be Secure")
}

// runTamperedState signs in and logs out, but changes the state the
// provider sends back: a wrong state lands on the default return target
// ("/"), never on the return target, and leaves the state cookie alone, so
// the genuine state is still accepted afterwards: the tampering was the
// only difference. An empty state is no provider return for the app's
// page, but the demo has no page at the callback path: the user lands on
// "/" too, and the state cookie is deleted.
func (e *interop) runTamperedState() {
	t := e.t
	a := newAgent(t)
	e.appLogs.take()
	home := e.signIn(a)
	n := e.logoutLink(home.URL)
	n.StopAt = e.isCallback
	p, es := e.logout(a, n)
	last := p.Hops[len(p.Hops)-1]
	require.NotNil(t, last.Location)
	require.True(t, e.isCallback(last.Location), "the provider should redirect to the callback, stopped at %s", where(p.URL))
	require.Equal(t, es.state, last.Location.Query().Get("state"))

	withState := func(state string) string {
		u := *last.Location
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
		return u.String()
	}
	for _, bad := range []string{tamper(es.state), es.state + "x"} {
		got := a.navigate(nav{From: last.URL, Method: http.MethodGet, Target: withState(bad)})
		assert.Equal(t, http.StatusOK, got.Status, "callback with state %q: the landing page", bad)
		assert.Equal(t, "/", got.URL.Path, "callback with state %q", bad)
		for _, h := range got.Hops {
			_, set := findCookie(h.Header, stateCookie)
			assert.False(t, set, "callback with state %q: the state cookie is left alone", bad)
		}
	}
	assert.Len(t, e.appLogs.take(), 2, "each wrong state is logged")
	good := a.navigate(nav{From: last.URL, Method: http.MethodGet, Target: last.Location.String()})
	require.NotEmpty(t, good.Hops)
	assert.Equal(t, http.StatusFound, good.Hops[0].Status, "callback with the genuine state")

	// Again, and the provider comes back with an empty state.
	home = e.signIn(a)
	n = e.logoutLink(home.URL)
	n.StopAt = e.isCallback
	p, _ = e.logout(a, n)
	last = p.Hops[len(p.Hops)-1]
	require.NotNil(t, last.Location)
	got := a.navigate(nav{From: last.URL, Method: http.MethodGet, Target: withState("")})
	assert.Equal(t, http.StatusOK, got.Status, "callback with an empty state: the landing page, not a 404")
	assert.Equal(t, "/", got.URL.Path)
	deleted := false
	for _, h := range got.Hops {
		if c, set := findCookie(h.Header, stateCookie); set {
			deleted = c.MaxAge < 0
		}
	}
	assert.True(t, deleted, "the state cookie is deleted")
}

// tamper changes the first character of a base64url state.
func tamper(s string) string {
	if s == "" {
		return "x"
	}
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

func (e *interop) mustIssuerURL() *url.URL {
	u, err := url.Parse(e.issuer)
	require.NoError(e.t, err)
	return u
}

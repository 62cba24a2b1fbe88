package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/examples/provider"
)

// The browser tests in this file run an app written without the demo in
// mind: its pages carry no script and no header of the middleware's, and
// its signed-in page is sent with Cache-Control: no-store, as any app's
// should be. Its home page, or another page of its own, is registered at
// the provider as the post-logout redirect URI.

// TestBrowserBackAfterLogoutAppPages signs in at the embedded provider,
// opens the app's signed-in page, logs out through the provider, lands on
// the registered app page, and presses Back: the signed-in page is fetched
// again from the server (not restored from the back/forward cache) and
// shows the user signed out. It holds with Clear-Site-Data off too: what
// evicts the page is a cookie that the logout response sets and the page
// can see, here the state cookie (Chromium does not count the deletion of
// the session cookie). The last case has no post-logout redirect URI, so
// no callback and no state cookie (the user stays on the provider's page):
// the logout's short-lived "_end" cookie evicts the page instead. The
// other kinds of logout are in TestBrowsersBackAfterLogout.
func TestBrowserBackAfterLogoutAppPages(t *testing.T) {
	chromium := findChromium(t)
	for _, tt := range []struct {
		name string
		cfg  plainAppConfig
		// restored: Back restores the signed-in page from the
		// back/forward cache.
		restored bool
	}{
		{"home page", plainAppConfig{page: "/"}, false},
		{"another page", plainAppConfig{page: "/homepage"}, false},
		{"without Clear-Site-Data", plainAppConfig{page: "/homepage", clearSiteData: []string{}}, false},
		// Without a post-logout redirect URI there is no callback and no
		// state cookie; the user stays on the provider's page, and Back
		// fetches the page again: the logout set its "_end" cookie.
		{"no post-logout redirect URI", plainAppConfig{page: "/homepage", noPostLogout: true}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := startPlainApp(t, tt.cfg)
			ctx := startChromium(t, chromium)
			plainSignIn(t, ctx, app)

			took := plainLogout(t, ctx, app)
			t.Logf("logout click to landing page: %v", took)

			typ, status := plainBack(t, ctx, app)
			if !tt.restored {
				assert.Equal(t, cdppage.NavigationTypeNavigation, typ, "Back fetches the page again")
				assert.Equal(t, plainSignedOut, status)
				assert.NotContains(t, plainBody(t, ctx), app.op.Name(), "no signed-in content after Back")
				return
			}
			assert.Equal(t, cdppage.NavigationTypeBackForwardCacheRestore, typ,
				"without a cookie set that it can see, Chromium restores the signed-in page")
			assert.Equal(t, plainSignedIn+app.op.Name(), status)
		})
	}
}

// The statuses the plain app's pages show.
const (
	plainSignedIn  = "Signed in as "
	plainSignedOut = "Signed out."
)

// plainAppConfig configures the plain app.
type plainAppConfig struct {
	// page is the path of the app's page registered as the post-logout
	// redirect URI, and the default landing after logout.
	page string
	// clearSiteData is Config.ClearSiteData.
	clearSiteData []string
	// noPostLogout leaves PostLogoutRedirectURI empty: the user stays on
	// the provider's page after logout, and there is no state cookie.
	noPostLogout bool
	// noIDToken keeps no id_token in the session: the logout is local-only
	// and lands on the page, without the provider.
	noIDToken bool
	// cacheable sends the signed-in page without Cache-Control: no-store.
	cacheable bool
	// noStoreSignedIn is Config.NoStoreSignedIn.
	noStoreSignedIn bool
	// nodeOP signs in with panva's oidc-provider, which asks the user to
	// confirm the logout on its own page, instead of the embedded provider.
	nodeOP bool
	// hydraOP signs in with Ory Hydra instead of the embedded provider.
	hydraOP bool
	// clientIDLogout is Config.ProviderLogoutWithoutIDToken.
	clientIDLogout bool
}

// plainOP is the provider the plain app signs in with: the embedded
// provider, or a nodePlainOP.
type plainOP interface {
	Issuer() string
	ClientID() string
	ClientSecret() string
	// Name is the signed-in user's name, as the app shows it.
	Name() string
	Username() string
	Password() string
	// ActiveSessions is the number of the provider's live sessions, or
	// -1 when the provider does not tell.
	ActiveSessions() int
}

// nodePlainOP is panva's oidc-provider, as a plainOP. Its development
// login form takes any login, which becomes the subject, and the id_token
// has no name: the app shows the subject.
type nodePlainOP struct {
	issuer, clientID, secret string
}

func (o *nodePlainOP) Issuer() string       { return o.issuer }
func (o *nodePlainOP) ClientID() string     { return o.clientID }
func (o *nodePlainOP) ClientSecret() string { return o.secret }
func (o *nodePlainOP) Name() string         { return "alice" }
func (o *nodePlainOP) Username() string     { return "alice" }
func (o *nodePlainOP) Password() string     { return "any-password" }
func (o *nodePlainOP) ActiveSessions() int  { return -1 }

// plainApp is the app, the provider it signs in with, and its address.
type plainApp struct {
	op  plainOP
	url string
	cfg plainAppConfig
	// accountHits counts the requests for the signed-in page that reached
	// the app.
	accountHits *atomic.Int32
}

// startPlainApp starts the embedded provider on localhost and the plain
// app on 127.0.0.1, stopped at the end of the test (after a browser
// started later, whose cleanup runs first).
func startPlainApp(t *testing.T, cfg plainAppConfig) *plainApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	appURL := "http://" + ln.Addr().String()
	var op plainOP
	if cfg.nodeOP {
		n := &nodePlainOP{clientID: "plain-app", secret: rand.Text()}
		n.issuer = startNodeOP(t, nodeOPConfig{
			ClientID: n.clientID, ClientSecret: n.secret,
			RedirectURI: appURL + "/callback", PostLogoutRedirectURI: appURL + cfg.page,
		}).Issuer
		op = n
	} else if cfg.hydraOP {
		h := &hydraPlainOP{op: startHydra(t, hydraConfig{}), clientID: "plain-app", secret: rand.Text()}
		h.op.register(hydraClient{
			ID: h.clientID, Secret: h.secret,
			RedirectURIs: []string{appURL + "/callback"}, PostLogoutRedirectURIs: []string{appURL + cfg.page},
		})
		op = h
	} else {
		op = startProvider(t, provider.Config{
			RedirectURIs:           []string{appURL + "/callback"},
			PostLogoutRedirectURIs: []string{appURL + cfg.page},
		})
	}
	hits := &atomic.Int32{}
	h := newPlainHandler(t, op, appURL, cfg, hits)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { assert.NoError(t, srv.Close()) })
	return &plainApp{op: op, url: appURL, cfg: cfg, accountHits: hits}
}

// plainHandler is the app: pages "/" and "/homepage" (signed in or out),
// "/account" (the signed-in page), "/login" and "/callback" (the
// authorization code flow), behind the logout middleware's Wrap.
type plainHandler struct {
	store    *sessions.CookieStore
	op       plainOP
	appURL   string
	tokenURL string
	authURL  string
	verifier *oidc.IDTokenVerifier
	cfg      plainAppConfig
	hits     *atomic.Int32
}

const plainSession = "plain"

func newPlainHandler(t *testing.T, op plainOP, appURL string, cfg plainAppConfig, hits *atomic.Int32) http.Handler {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	store := sessions.NewCookieStore(key)
	store.Options.HttpOnly, store.Options.SameSite = true, http.SameSiteLaxMode
	p, err := oidc.NewProvider(t.Context(), op.Issuer())
	require.NoError(t, err)
	a := &plainHandler{
		store: store, op: op, appURL: appURL,
		tokenURL: p.Endpoint().TokenURL, authURL: p.Endpoint().AuthURL,
		verifier: p.Verifier(&oidc.Config{ClientID: op.ClientID()}),
		cfg:      cfg, hits: hits,
	}
	prov := logout.Provider{Issuer: op.Issuer(), ClientID: op.ClientID(), PostLogoutRedirectURI: appURL + cfg.page}
	if cfg.noPostLogout {
		prov.PostLogoutRedirectURI = ""
	}
	lc := logout.Config{
		Store:           store,
		SessionName:     plainSession,
		Providers:       []logout.Provider{prov},
		DefaultReturnTo: cfg.page,
		ClearSiteData:   cfg.clearSiteData,
		NoStoreSignedIn: cfg.noStoreSignedIn,
		// Hydra ends its session on client_id alone.
		ProviderLogoutWithoutIDToken: cfg.clientIDLogout,
	}
	m, err := logout.New(lc)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /homepage", a.home)
	mux.HandleFunc("GET /account", a.account)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	return m.Wrap(mux)
}

// name returns the signed-in user's name, or "".
func (a *plainHandler) name(r *http.Request) string {
	s, _ := a.store.Get(r, plainSession)
	name, _ := s.Values["name"].(string)
	return name
}

// status is the page's status line.
func (a *plainHandler) status(r *http.Request) string {
	if name := a.name(r); name != "" {
		return plainSignedIn + name
	}
	return plainSignedOut
}

// home is a page that anyone may see.
func (a *plainHandler) home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writePlainPage(w, r.URL.Path, a.status(r), `<a id="login" href="/login">Sign in</a> <a id="account" href="/account">Account</a>`)
}

// account is the signed-in page, with the user's name and a logout button.
func (a *plainHandler) account(w http.ResponseWriter, r *http.Request) {
	a.hits.Add(1)
	if !a.cfg.cacheable {
		w.Header().Set("Cache-Control", "no-store")
	}
	writePlainPage(w, "Account", a.status(r), `<form method="post" action="/logout"><button id="logout">Log out</button></form>`)
}

func writePlainPage(w http.ResponseWriter, title, status, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = fmt.Fprintf(w, `<!doctype html><html><head><title>%s</title></head><body><p id="status">%s</p>%s</body></html>`,
		html.EscapeString(title), html.EscapeString(status), body)
}

// login starts the authorization code flow.
func (a *plainHandler) login(w http.ResponseWriter, r *http.Request) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	state := base64.RawURLEncoding.EncodeToString(b)
	s, _ := a.store.Get(r, plainSession)
	s.Values["login_state"] = state
	if err := s.Save(r, w); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	q := url.Values{
		"response_type": {"code"}, "client_id": {a.op.ClientID()}, "redirect_uri": {a.appURL + "/callback"},
		"scope": {"openid profile"}, "state": {state},
	}
	http.Redirect(w, r, a.authURL+"?"+q.Encode(), http.StatusFound)
}

// callback redeems the code, verifies the id_token and signs the user in.
func (a *plainHandler) callback(w http.ResponseWriter, r *http.Request) {
	s, _ := a.store.Get(r, plainSession)
	if want, _ := s.Values["login_state"].(string); want == "" || want != r.URL.Query().Get("state") {
		http.Error(w, "login state does not match", http.StatusBadRequest)
		return
	}
	raw, name, err := a.redeem(r.Context(), r.URL.Query().Get("code"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	delete(s.Values, "login_state")
	s.Values["name"] = name
	if !a.cfg.noIDToken {
		s.Values["id_token"] = raw
	}
	if err := s.Save(r, w); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/account", http.StatusFound)
}

// redeem exchanges code at the token endpoint and returns the verified
// raw id_token and the user's name.
func (a *plainHandler) redeem(ctx context.Context, code string) (string, string, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {a.appURL + "/callback"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(a.op.ClientID()), url.QueryEscape(a.op.ClientSecret()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("token request: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("token response %d: %v", resp.StatusCode, err)
	}
	idt, err := a.verifier.Verify(ctx, tok.IDToken)
	if err != nil {
		return "", "", fmt.Errorf("id_token: %w", err)
	}
	var claims struct {
		Name string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil {
		return "", "", fmt.Errorf("id_token claims: %w", err)
	}
	if claims.Name == "" {
		claims.Name = idt.Subject
	}
	return tok.IDToken, claims.Name, nil
}

// plainSignIn signs in on the provider's form and lands on the app's
// signed-in page.
func plainSignIn(t *testing.T, ctx context.Context, app *plainApp) {
	t.Helper()
	chromeDo(t, ctx, chromedp.Navigate(app.url+app.cfg.page))
	require.Equal(t, plainSignedOut, chromeText(t, ctx, "status"))
	chromeDo(t, ctx, chromeClickAndLoad(chromedp.ID("login")))
	require.Equal(t, "localhost", chromeHost(t, chromeLocation(t, ctx)), "the login form is the provider's")
	chromeDo(t, ctx,
		chromedp.SendKeys(chromedp.ID("username"), app.op.Username()),
		chromedp.SendKeys(chromedp.ID("password"), app.op.Password()),
		chromeClickAndLoad(chromedp.ID("submit")),
	)
	require.Equal(t, app.url+"/account", chromeLocation(t, ctx))
	require.Equal(t, plainSignedIn+app.op.Name(), chromeText(t, ctx, "status"))
}

// plainLogout clicks the logout button of the signed-in page and checks
// that the browser, after the provider, lands on the registered page,
// signed out and without state in the address (or stays on the
// provider's page, without a post-logout redirect URI). It returns the
// time from the click to the landing page's load.
func plainLogout(t *testing.T, ctx context.Context, app *plainApp) time.Duration {
	t.Helper()
	start := time.Now()
	chromeDo(t, ctx, chromeClickAndLoad(chromedp.ID("logout")))
	took := time.Since(start)
	assert.Zero(t, app.op.ActiveSessions(), "provider session ended")
	if app.cfg.noPostLogout {
		assert.Equal(t, "localhost", chromeHost(t, chromeLocation(t, ctx)), "the provider's own page")
		return took
	}
	assert.Equal(t, app.url+app.cfg.page, chromeLocation(t, ctx), "the registered page, without state")
	assert.Equal(t, plainSignedOut, chromeText(t, ctx, "status"))
	assert.False(t, chromeHasCookie(t, ctx, app.url+app.cfg.page, "logout_state"), "state cookie deleted")
	return took
}

// plainBack presses Back once, from the landing page to the signed-in
// page, and returns how the main frame got there (a new navigation, or a
// restore from the back/forward cache) and the status the page shows.
func plainBack(t *testing.T, ctx context.Context, app *plainApp) (cdppage.NavigationType, string) {
	t.Helper()
	hist, err := chromedp.Call(ctx, cdppage.GetNavigationHistory, cdp.Empty{})
	require.NoError(t, err)
	require.Positive(t, hist.CurrentIndex)
	prev := hist.Entries[hist.CurrentIndex-1]
	require.Equal(t, app.url+"/account", prev.URL, "the entry before the landing page is the signed-in page")
	navs := chromeMainFrameNavigations(t, ctx)
	_, err = chromedp.Call(ctx, cdppage.NavigateToHistoryEntry, cdppage.NavigateToHistoryEntryParams{EntryID: prev.ID})
	require.NoError(t, err)
	var typ cdppage.NavigationType
	select {
	case typ = <-navs:
	case <-time.After(eventWait):
		t.Fatal("no navigation after Back")
	}
	chromeWaitLoaded(t, ctx)
	require.Equal(t, app.url+"/account", chromeLocation(t, ctx))
	// Evaluated, not read with chromedp.Text: a page restored from the
	// back/forward cache sends no new document for chromedp to wait on.
	status, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
	require.NoError(t, err)
	return typ, strings.TrimSpace(status)
}

// plainBody returns the HTML of the page's body.
func plainBody(t *testing.T, ctx context.Context) string {
	t.Helper()
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.outerHTML`))
	require.NoError(t, err)
	return body
}

package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/demoapp"
	"github.com/oidc-logout/logout/examples/provider"
)

// browserTimeout bounds the whole browser test.
const browserTimeout = 3 * time.Minute

// eventWait is how long a test waits for something a browser or a server
// does on its own schedule: an event, a request, a page load. Only a
// failing test waits that long, so it has the margin a starved CPU needs.
const eventWait = 30 * time.Second

// TestBrowserLoginLogoutBack drives headless Chromium through the demo app
// and the embedded provider: sign in on the provider's form, log out with
// the app's button, follow the provider's end-session endpoint back to the
// app, and check that the app shows no signed-in content, not even after
// Back. The provider is on localhost and the app on 127.0.0.1, so the
// provider's redirects are cross-site navigations, as in production.
func TestBrowserLoginLogoutBack(t *testing.T) {
	chromium := findChromium(t)
	env := startBrowserDemo(t)
	ctx := startChromium(t, chromium)
	requests := chromeRecordRequests(t, ctx)

	// Log in on the provider's own form.
	chromeSignIn(t, ctx, env)
	stolen, ok := chromeCookie(t, ctx, env.appURL+"/", demoapp.SessionName)
	require.True(t, ok, "signed in: app session cookie set")
	require.Contains(t, replaySessionCookie(t, env.appURL, stolen), demoapp.StatusSignedIn, "a copy of the cookie signs in before logout")
	assert.Equal(t, 1, env.op.ActiveSessions())

	// Log out with the app's button, through the provider and back.
	chromeDo(t, ctx, chromeClickAndLoad(chromedp.ID("logout")))
	assert.Equal(t, env.appURL+"/?signed_out=1", chromeLocation(t, ctx))
	assert.Equal(t, demoapp.StatusSignedOut, chromeText(t, ctx, "status"))
	assert.False(t, chromeHasCookie(t, ctx, env.appURL+"/", demoapp.SessionName), "app session cookie deleted")
	assert.False(t, chromeHasCookie(t, ctx, env.appURL+demoapp.LogoutCallbackPath, "logout_state"), "state cookie deleted")
	assert.False(t, chromeHasCookie(t, ctx, env.op.Issuer()+"/", "op_session"), "provider session cookie deleted")
	assert.Zero(t, env.op.ActiveSessions(), "provider session ended")
	assert.Zero(t, env.op.ActiveTokens(), "tokens revoked")
	chromeAssertEndSession(t, requests, env)
	assert.Contains(t, replaySessionCookie(t, env.appURL, stolen), demoapp.StatusSignedOut, "a copy of the cookie taken before logout is signed out")

	// Back must not show the signed-in page. It was sent with no-store, so
	// the HTTP cache does not keep it; Chromium may still restore it from
	// its back/forward cache, and then the page's script must reload it.
	restored := chromeBack(t, ctx, requests, env.appURL+"/")
	t.Logf("Back: page restored from the back/forward cache, then reloaded: %v", restored)
	assert.Equal(t, env.appURL+"/", chromeLocation(t, ctx))
	assert.Equal(t, demoapp.StatusSignedOut, chromeText(t, ctx, "status"))
	body, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
	require.NoError(t, err)
	assert.NotContains(t, body, env.op.Name(), "no signed-in content after Back")
	assert.NotContains(t, body, `id="logout"`)
	chromeScreenshot(t, ctx, "browser-signed-out.png")
}

// replaySessionCookie requests the app's home page outside the browser,
// with value as the session cookie, as someone who copied the cookie
// would, and returns the page.
func replaySessionCookie(t *testing.T, appURL, value string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, appURL+"/", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: demoapp.SessionName, Value: value})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(body)
}

// browserDemo is the embedded provider and the demo app, served in process.
type browserDemo struct {
	op     *provider.Provider
	appURL string
}

// startBrowserDemo starts the provider on localhost and the demo app on
// 127.0.0.1, both on free ports, stopped at the end of the test.
func startBrowserDemo(t *testing.T) *browserDemo {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	appURL := "http://" + ln.Addr().String()
	op := startProvider(t, provider.Config{
		RedirectURIs:           []string{appURL + demoapp.CallbackPath},
		PostLogoutRedirectURIs: []string{appURL + demoapp.LogoutCallbackPath},
	})
	app, err := demoapp.New(t.Context(), demoapp.Config{
		Issuer: op.Issuer(), ClientID: op.ClientID(), ClientSecret: op.ClientSecret(), BaseURL: appURL,
		Scopes: []string{"openid", "profile", "email", "offline_access"},
	})
	require.NoError(t, err)
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { assert.NoError(t, srv.Close()) })
	return &browserDemo{op: op, appURL: appURL}
}

// startProvider starts the embedded provider and stops it when the test
// ends. It is not tied to t.Context(): that context ends before the
// cleanups run, and the provider must outlive a browser started after it,
// whose cleanup (registered later, so run earlier) stops it first.
func startProvider(t *testing.T, cfg provider.Config) *provider.Provider {
	t.Helper()
	op, err := provider.Start(context.WithoutCancel(t.Context()), cfg)
	require.NoError(t, err, "starting the provider")
	t.Cleanup(func() { assert.NoError(t, op.Close()) })
	return op
}

// findChromium returns the path of Chromium or Chrome. Without one the test
// is skipped, except in CI (CI=true), where it fails.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is required in CI (CI=true) but was not found in PATH; install the chromium package")
	}
	t.Skip("Chromium not found in PATH (chromium, chromium-browser, google-chrome); install it to run the browser test")
	return ""
}

// startChromium starts a headless Chromium with a fresh profile and returns
// the context of its first tab. The browser stops at the end of the test.
func startChromium(t *testing.T, path string) context.Context {
	t.Helper()
	profile := filepath.Join(t.TempDir(), "profile")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1024, 768),
	)
	// Not t.Context(): it is canceled before cleanups run, and the failure
	// screenshot needs the browser.
	ctx, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		if t.Failed() {
			chromeScreenshot(t, tabCtx, "browser-failure.png")
		}
		cancelTab()
		cancelAlloc()
		cancelTimeout()
		chromeRemoveProfile(t, profile)
	})
	require.NoError(t, chromedp.Do(tabCtx), "starting Chromium")
	_, err := chromedp.Call(tabCtx, network.Enable, network.EnableParams{})
	require.NoError(t, err)
	return tabCtx
}

// chromeRemoveProfile deletes the browser profile. Chromium's helper processes can
// write to it for a moment after the browser exits, so it tries again.
func chromeRemoveProfile(t *testing.T, dir string) {
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("could not remove the browser profile: %v", err)
}

// chromeRequestLog records the URLs of the requests the browser sends.
type chromeRequestLog struct {
	mu   sync.Mutex
	urls []*url.URL
}

func (l *chromeRequestLog) add(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.urls = append(l.urls, u)
}

func (l *chromeRequestLog) all() []*url.URL {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*url.URL(nil), l.urls...)
}

// chromeRecordRequests records every request of the tab, redirects included,
// until the test ends.
func chromeRecordRequests(t *testing.T, ctx context.Context) *chromeRequestLog {
	t.Helper()
	log := &chromeRequestLog{}
	events := chromedp.Events(ctx, network.RequestWillBeSent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range events {
			if err != nil {
				return
			}
			log.add(ev.Request.URL)
		}
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	return log
}

// chromeAssertEndSession checks that the browser visited the
// provider's end-session endpoint with id_token_hint,
// post_logout_redirect_uri and state, and came back to the app's callback
// with the same state.
func chromeAssertEndSession(t *testing.T, log *chromeRequestLog, env *browserDemo) {
	t.Helper()
	var end, back *url.URL
	// The request log is filled from another goroutine: give it a moment.
	for deadline := time.Now().Add(eventWait); (end == nil || back == nil) && time.Now().Before(deadline); {
		for _, u := range log.all() {
			switch {
			case strings.HasPrefix(u.String(), env.op.Issuer()+"/end_session?"):
				end = u
			case strings.HasPrefix(u.String(), env.appURL+demoapp.LogoutCallbackPath+"?"):
				back = u
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NotNil(t, end, "the browser went to the provider's end_session endpoint")
	require.NotNil(t, back, "the provider sent the browser back to the logout callback")
	q := end.Query()
	assert.NotEmpty(t, q.Get("id_token_hint"))
	assert.Equal(t, env.appURL+demoapp.LogoutCallbackPath, q.Get("post_logout_redirect_uri"))
	assert.NotEmpty(t, q.Get("state"))
	assert.Equal(t, q.Get("state"), back.Query().Get("state"))
}

// chromeBack goes back one history entry and waits until the page shows a
// status fetched from the server: a GET of want after the navigation. It
// reports whether the page was first restored from the back/forward cache,
// and fails when such a restored page is not reloaded.
// chromedp.NavigateBack waits for a load event, which a restored page does
// not fire, so this navigates by itself.
func chromeBack(t *testing.T, ctx context.Context, log *chromeRequestLog, want string) bool {
	t.Helper()
	hist, err := chromedp.Call(ctx, cdppage.GetNavigationHistory, cdp.Empty{})
	require.NoError(t, err)
	require.Positive(t, hist.CurrentIndex)
	before := len(log.all())
	navs := chromeMainFrameNavigations(t, ctx)
	_, err = chromedp.Call(ctx, cdppage.NavigateToHistoryEntry,
		cdppage.NavigateToHistoryEntryParams{EntryID: hist.Entries[hist.CurrentIndex-1].ID})
	require.NoError(t, err)
	restored := false
	for fetchedAgain := false; !fetchedAgain; {
		select {
		case typ := <-navs:
			restored = restored || typ == cdppage.NavigationTypeBackForwardCacheRestore
			fetchedAgain = typ == cdppage.NavigationTypeNavigation
		case <-time.After(eventWait):
			status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
			t.Fatalf("after Back the page was not fetched again (restored from the back/forward cache: %v); it shows %q",
				restored, status)
		}
	}
	chromeWaitLoaded(t, ctx)
	// The request log is filled from another goroutine: give it a moment.
	assert.Eventually(t, func() bool {
		for _, u := range log.all()[before:] {
			if u.String() == want {
				return true
			}
		}
		return false
	}, eventWait, 20*time.Millisecond, "the page was fetched from the server after Back")
	return restored
}

// chromeMainFrameNavigations returns the types of the main frame's
// navigations from now until the end of the test.
func chromeMainFrameNavigations(t *testing.T, ctx context.Context) <-chan cdppage.NavigationType {
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	events := chromedp.Events(ctx, cdppage.FrameNavigated)
	ch := make(chan cdppage.NavigationType)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			if ev.Frame.ParentID != "" {
				continue
			}
			select {
			case ch <- ev.Type:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// chromeWaitLoaded waits until the page has loaded and has a status. It
// retries evaluation errors: a reload destroys the JavaScript context that
// an evaluation may have started in.
func chromeWaitLoaded(t *testing.T, ctx context.Context) {
	t.Helper()
	const expr = `document.readyState === "complete" && document.getElementById("status") !== null`
	var err error
	for deadline := time.Now().Add(eventWait); time.Now().Before(deadline); {
		var ok bool
		if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](expr)); err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the page did not load after Back: %v", err)
}

// chromeClickAndLoad clicks an element and waits until the navigation it starts,
// redirects included, has loaded.
func chromeClickAndLoad(sel chromedp.ID) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.RunResponse(ctx, chromedp.Click(sel))
		return chromedp.Void{}, err
	}
}

func chromeDo(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

func chromeText(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	require.NoError(t, err)
	return strings.TrimSpace(s)
}

func chromeLocation(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	return loc
}

func chromeHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Hostname()
}

// chromeCookie returns the value of the cookie named name that the
// browser would send to rawURL (HttpOnly cookies included), and whether
// there is one.
func chromeCookie(t *testing.T, ctx context.Context, rawURL, name string) (string, bool) {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	require.NoError(t, err)
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

// chromeHasCookie reports whether the browser would send cookie name to rawURL.
func chromeHasCookie(t *testing.T, ctx context.Context, rawURL, name string) bool {
	t.Helper()
	_, ok := chromeCookie(t, ctx, rawURL, name)
	return ok
}

// chromeScreenshot saves a full-page PNG screenshot in the test's artifact
// directory (kept with go test -artifacts) and logs its path.
func chromeScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}

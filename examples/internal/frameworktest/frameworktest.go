// Package frameworktest runs the same end-to-end scenarios against each
// framework example, through a browser-like client, in both ways the
// example mounts the logout middleware.
package frameworktest

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/internal/frameworkdemo"
)

// Example is one framework example under test.
type Example struct {
	// Serve serves the example app configured by s on ln until the test
	// ends.
	Serve func(t *testing.T, ln net.Listener, s frameworkdemo.Settings)
	// Wrapped and Mounted name the two ways the example mounts the
	// middleware, without and with -mount; they name the subtests.
	Wrapped, Mounted string
}

// ServeHTTP returns a Serve for an example whose app, made by newApp, is a
// net/http handler.
func ServeHTTP[H http.Handler](newApp func(frameworkdemo.Settings) (H, error)) func(*testing.T, net.Listener, frameworkdemo.Settings) {
	return func(t *testing.T, ln net.Listener, s frameworkdemo.Settings) {
		t.Helper()
		h, err := newApp(s)
		require.NoError(t, err)
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		t.Cleanup(func() {
			assert.NoError(t, srv.Close())
			assert.ErrorIs(t, <-done, http.ErrServerClosed)
		})
	}
}

// LogoutRoundTrip signs in, logs out, goes through the provider and the
// callback, and checks that the user is signed out and that the callback
// checks the state.
func LogoutRoundTrip(t *testing.T, e Example) {
	e.run(t, func(t *testing.T, b *browser) {
		resp, _ := b.do(http.MethodGet, "/login", nil)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		require.NotNil(t, b.sessionCookie(), "signed in")
		_, page := b.do(http.MethodGet, "/", nil)
		require.Contains(t, page, "Signed in.")

		resp, _ = b.do(http.MethodPost, "/logout", http.Header{"Sec-Fetch-Site": {"same-origin"}})
		require.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Nil(t, b.sessionCookie(), "session cookie cleared")
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, frameworkdemo.StandInEndSessionPath, loc.Path)
		assert.Equal(t, "placeholder-id-token", loc.Query().Get("id_token_hint"))
		assert.Equal(t, b.base+"/logout/callback", loc.Query().Get("post_logout_redirect_uri"))

		resp, _ = b.do(http.MethodGet, loc.String(), nil) // the provider
		require.Equal(t, http.StatusFound, resp.StatusCode)
		resp, _ = b.do(http.MethodGet, resp.Header.Get("Location"), nil) // the callback
		assert.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Equal(t, "/", resp.Header.Get("Location"))
		_, page = b.do(http.MethodGet, "/", nil)
		assert.Contains(t, page, "Signed out.")

		// Without the state cookie, the return cannot be honoured: it
		// lands on the default return target, never on a saved one.
		resp, _ = b.do(http.MethodGet, "/logout/callback?state=forged", nil)
		assert.Equal(t, http.StatusFound, resp.StatusCode, "state is checked")
		assert.Equal(t, "/", resp.Header.Get("Location"))
	})
}

// PassThroughAndRefusals checks that other routes reach the app, that
// unknown paths get a 404, and that a cross-site logout and a logout with
// another method than GET or POST are refused and leave the user signed
// in.
func PassThroughAndRefusals(t *testing.T, e Example) {
	e.run(t, func(t *testing.T, b *browser) {
		resp, page := b.do(http.MethodGet, "/", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, page, "Signed out.", "other routes reach the app")
		resp, _ = b.do(http.MethodGet, "/missing", nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)

		b.do(http.MethodGet, "/login", nil)
		resp, _ = b.do(http.MethodPost, "/logout", http.Header{"Origin": {"https://evil.example"}})
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "cross-site logout refused")
		resp, _ = b.do(http.MethodDelete, "/logout", nil)
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		assert.Equal(t, "GET, POST", resp.Header.Get("Allow"))
		assert.NotNil(t, b.sessionCookie(), "still signed in")
	})
}

// run runs scenario in a subtest for each way of mounting the middleware,
// against an app of its own.
func (e Example) run(t *testing.T, scenario func(*testing.T, *browser)) {
	for _, mount := range []bool{false, true} {
		t.Run(map[bool]string{false: e.Wrapped, true: e.Mounted}[mount], func(t *testing.T) {
			scenario(t, e.start(t, mount))
		})
	}
}

// start serves the example app on a local port.
func (e Example) start(t *testing.T, mount bool) *browser {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	e.Serve(t, ln, frameworkdemo.Settings{
		BaseURL:            base,
		Addr:               ln.Addr().String(),
		EndSessionEndpoint: base + frameworkdemo.StandInEndSessionPath,
		ClientID:           "example",
		Mount:              mount,
	})
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, base: base, client: client}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so that every step can be checked.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

// do sends a request and returns the response with its body read.
func (b *browser) do(method, target string, header http.Header) (*http.Response, string) {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.base + target
	}
	r, err := http.NewRequest(method, target, nil)
	require.NoError(b.t, err)
	for k, v := range header {
		r.Header[k] = v
	}
	resp, err := b.client.Do(r)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp, string(body)
}

func (b *browser) sessionCookie() *http.Cookie {
	u, _ := url.Parse(b.base)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == frameworkdemo.SessionName {
			return c
		}
	}
	return nil
}

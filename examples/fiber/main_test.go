package main

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so that every step can be checked.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

// start serves the example app on a local port, with fiber's own server.
func start(t *testing.T, mount bool) *browser {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	app, err := newApp(settings{baseURL: base, endSessionEndpoint: base + standInEndSessionPath, clientID: "example", mount: mount})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Listener(ln) }()
	t.Cleanup(func() {
		assert.NoError(t, app.Shutdown())
		assert.NoError(t, <-done)
	})
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, base: base, client: client}
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
		if c.Name == sessionName {
			return c
		}
	}
	return nil
}

func TestLogoutRoundTrip(t *testing.T) {
	for _, mount := range []bool{false, true} {
		t.Run(map[bool]string{false: "app.Use", true: "app.All"}[mount], func(t *testing.T) {
			b := start(t, mount)
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
			assert.Equal(t, standInEndSessionPath, loc.Path)
			assert.Equal(t, "placeholder-id-token", loc.Query().Get("id_token_hint"))
			assert.Equal(t, b.base+"/logout/callback", loc.Query().Get("post_logout_redirect_uri"))

			resp, _ = b.do(http.MethodGet, loc.String(), nil) // the provider
			require.Equal(t, http.StatusFound, resp.StatusCode)
			resp, _ = b.do(http.MethodGet, resp.Header.Get("Location"), nil) // the callback
			assert.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, "/", resp.Header.Get("Location"))
			_, page = b.do(http.MethodGet, "/", nil)
			assert.Contains(t, page, "Signed out.")

			resp, _ = b.do(http.MethodGet, "/logout/callback?state=forged", nil)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "state is checked")
		})
	}
}

func TestPassThroughAndRefusals(t *testing.T) {
	for _, mount := range []bool{false, true} {
		b := start(t, mount)
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
	}
}

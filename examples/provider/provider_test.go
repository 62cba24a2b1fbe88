package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/provider"
)

const (
	redirectURI   = "http://127.0.0.1:1/callback"
	postLogoutURI = "http://127.0.0.1:1/logout/callback"
)

func start(t *testing.T) *provider.Provider {
	t.Helper()
	p, err := provider.Start(t.Context(), provider.Config{
		RedirectURIs:           []string{redirectURI},
		PostLogoutRedirectURIs: []string{postLogoutURI},
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	return p
}

// client follows redirects on the provider only, and stops at the first
// redirect that leaves it (towards the client app).
func client(t *testing.T, p *provider.Provider) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	issuer, err := url.Parse(p.Issuer())
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host != issuer.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

func get(t *testing.T, c *http.Client, target string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	require.NoError(t, err)
	return send(t, c, req)
}

func postForm(t *testing.T, c *http.Client, target string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(t, c, req)
}

func send(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// authorize returns an authorization request URL for the default client.
func authorize(p *provider.Provider, extra url.Values) string {
	q := url.Values{
		"client_id": {p.ClientID()}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {"st"}, "nonce": {"n"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return p.Issuer() + "/authorize?" + q.Encode()
}

var authRequestIDRe = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)

// login signs in through the login form and returns the redirect to the
// client, which carries the code.
func login(t *testing.T, p *provider.Provider, c *http.Client, password string) (*http.Response, string) {
	t.Helper()
	resp, body := get(t, c, authorize(p, nil))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	m := authRequestIDRe.FindStringSubmatch(body)
	require.NotNil(t, m, body)
	form := url.Values{"authRequestID": {m[1]}, "username": {p.Username()}, "password": {password}}
	return postForm(t, c, p.Issuer()+"/login", form)
}

func TestDiscoveryDocument(t *testing.T) {
	p := start(t)
	issuer, err := url.Parse(p.Issuer())
	require.NoError(t, err)
	assert.Equal(t, "localhost", issuer.Hostname())
	assert.Equal(t, "http", issuer.Scheme)

	resp, body := get(t, http.DefaultClient, p.Issuer()+"/.well-known/openid-configuration")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	assert.Equal(t, p.Issuer(), doc["issuer"])
	assert.Equal(t, p.Issuer()+"/end_session", doc["end_session_endpoint"])
	assert.Equal(t, p.Issuer()+"/revoke", doc["revocation_endpoint"])
	assert.Contains(t, doc["code_challenge_methods_supported"], "S256")
}

func TestLoginRedirectsWithACode(t *testing.T) {
	p := start(t)
	c := client(t, p)
	resp, _ := login(t, p, c, p.Password())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, redirectURI, loc.Scheme+"://"+loc.Host+loc.Path)
	assert.NotEmpty(t, loc.Query().Get("code"))
	assert.Equal(t, "st", loc.Query().Get("state"))
	assert.Equal(t, 1, p.ActiveSessions())
}

func TestWrongPasswordShowsTheFormAgain(t *testing.T) {
	p := start(t)
	resp, body := login(t, p, client(t, p), "not-the-password")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, body, "Wrong username or password")
	assert.Contains(t, body, `id="password"`)
	assert.Zero(t, p.ActiveSessions())
}

func TestPromptNoneNeedsALiveSession(t *testing.T) {
	p := start(t)
	c := client(t, p)
	none := url.Values{"prompt": {"none"}}

	resp, _ := get(t, c, authorize(p, none))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Location"), "error=login_required", "no session yet")

	login(t, p, c, p.Password())
	resp, _ = get(t, c, authorize(p, none))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Location"), "code=", "silent login with the session")

	resp, body := get(t, c, p.Issuer()+"/end_session?client_id="+p.ClientID())
	require.Equal(t, http.StatusOK, resp.StatusCode, "default signed-out page: %s", body)
	assert.Contains(t, body, "You are signed out")
	assert.Zero(t, p.ActiveSessions())

	resp, _ = get(t, c, authorize(p, none))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Location"), "error=login_required", "the session is ended")
}

func TestPromptLoginShowsTheFormDespiteASession(t *testing.T) {
	p := start(t)
	c := client(t, p)
	login(t, p, c, p.Password())
	resp, body := get(t, c, authorize(p, url.Values{"prompt": {"login"}}))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `id="password"`)
}

func TestEndSessionRefusesAnUnregisteredPostLogoutRedirectURI(t *testing.T) {
	p := start(t)
	c := client(t, p)
	login(t, p, c, p.Password())
	q := url.Values{
		"client_id": {p.ClientID()}, "post_logout_redirect_uri": {"https://evil.example/"}, "state": {"s"},
	}
	resp, body := get(t, c, p.Issuer()+"/end_session?"+q.Encode())
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	assert.Empty(t, resp.Header.Get("Location"))
	assert.Equal(t, 1, p.ActiveSessions(), "a refused request ends nothing")
}

func TestEndSessionReturnsStateToARegisteredURI(t *testing.T) {
	p := start(t)
	c := client(t, p)
	login(t, p, c, p.Password())
	q := url.Values{"client_id": {p.ClientID()}, "post_logout_redirect_uri": {postLogoutURI}, "state": {"xyz"}}
	resp, _ := get(t, c, p.Issuer()+"/end_session?"+q.Encode())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, postLogoutURI+"?state=xyz", resp.Header.Get("Location"))
	assert.Zero(t, p.ActiveSessions())
	assert.Contains(t, resp.Header.Get("Set-Cookie"), "op_session=;", "the provider's cookie is expired")
}

func TestUnknownLoginRequest(t *testing.T) {
	p := start(t)
	resp, _ := get(t, client(t, p), p.Issuer()+"/login?authRequestID=nope")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestRegisterClient(t *testing.T) {
	p := start(t)
	require.Error(t, p.RegisterClient(provider.Client{}))
	require.NoError(t, p.RegisterClient(provider.Client{ID: "spa", RedirectURIs: []string{redirectURI}}))
	resp, body := get(t, client(t, p), strings.Replace(authorize(p, nil), "client_id="+p.ClientID(), "client_id=spa", 1))
	assert.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, "<strong>spa</strong>")
}

func TestStopsWhenTheContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	p, err := provider.Start(ctx, provider.Config{})
	require.NoError(t, err)
	cancel()
	assert.Eventually(t, func() bool {
		c := &http.Client{Timeout: time.Second}
		resp, err := c.Get(p.Issuer() + "/.well-known/openid-configuration")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err != nil
	}, 30*time.Second, 20*time.Millisecond)
	assert.NoError(t, p.Close(), "Close after the context is done")
}

// TestCloseDoesNotWaitForIdleClients checks that Close neither fails nor
// waits for clients that hold connections open: one that connected and
// sent nothing (as browsers do ahead of time) and one stuck halfway
// through a request. Both connections are closed.
func TestCloseDoesNotWaitForIdleClients(t *testing.T) {
	p, err := provider.Start(context.Background(), provider.Config{})
	require.NoError(t, err)
	addr := strings.TrimPrefix(p.Issuer(), "http://")
	silent, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer func() { _ = silent.Close() }()
	halfway, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer func() { _ = halfway.Close() }()
	_, err = io.WriteString(halfway, "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\n")
	require.NoError(t, err)

	require.NoError(t, p.Close())
	for name, c := range map[string]net.Conn{"silent": silent, "halfway": halfway} {
		// Generous: the connection is already closed, so Read returns at once.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
		_, err := c.Read(make([]byte, 1))
		// A close with unread bytes in the server's buffer (the halfway
		// request) may reach the client as a reset rather than an EOF;
		// both say the server closed it, where a time-out would not.
		assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET),
			"%s connection closed by the server: %v", name, err)
	}
}

func TestStartRejectsABadAddress(t *testing.T) {
	_, err := provider.Start(t.Context(), provider.Config{Addr: "no-port"})
	assert.ErrorContains(t, err, "Config.Addr")
}

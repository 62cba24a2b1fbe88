package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/demoapp"
)

// TestInteropOIDCProviderBackChannel proves OpenID Connect Back-Channel
// Logout 1.0 end to end with panva's oidc-provider: the demo app runs with
// demoapp.Config.BackChannel and is registered with
// backchannel_logout_uri = APP/backchannel-logout. A user signs in, then
// ends the session at the provider directly (as if from another app:
// the provider's end_session_endpoint, no id_token_hint, no
// post_logout_redirect_uri, the confirmation form), never passing through
// the app's logout. The provider POSTs a logout_token to the app, which
// must accept it (200), and the app's next request with the unchanged
// session cookie must be signed out. A replay of that token and forged
// tokens are refused.
func TestInteropOIDCProviderBackChannel(t *testing.T) {
	ln, appURL := appListener(t)
	const clientID = "logout-e2e-bc"
	secret := rand.Text()
	op := startNodeOP(t, nodeOPConfig{
		ClientID:              clientID,
		ClientSecret:          secret,
		RedirectURI:           appURL.String() + demoapp.CallbackPath,
		PostLogoutRedirectURI: appURL.String() + demoapp.LogoutCallbackPath,
		BackchannelLogoutURI:  appURL.String() + demoapp.BackChannelLogoutPath,
	})
	logs := &logRecorder{}
	calls := serveBackChannelDemo(t, ln, appURL, op.Issuer, clientID, secret, logs)
	e := demoInterop(t, appURL, op.Issuer, clientID, "alice", "any-password", logs)
	appHome := e.app("/").String()

	// Two users, two browsers, two provider sessions.
	alice := newAgent(t)
	require.Contains(t, e.signIn(alice).Body, demoapp.StatusSignedIn)
	bobIn := *e
	bobIn.username = "bob"
	bob := newAgent(t)
	require.Contains(t, bobIn.signIn(bob).Body, demoapp.StatusSignedIn)
	cookie, ok := alice.cookie(appHome, demoapp.SessionName)
	require.True(t, ok)
	home := alice.open(appHome)
	require.Contains(t, home.Body, demoapp.StatusSignedIn+`<strong id="name">alice</strong>`, "signed in before the provider logout")
	require.Empty(t, logs.take(), "warnings or errors while signing in")
	require.Empty(t, calls.take(), "no back-channel request before the provider logout")

	// Alice logs out at the provider, not at the app.
	endSessionURL := e.discoveredEndSession()
	p := alice.open(endSessionURL)
	require.Equal(t, http.StatusOK, p.Status, "the provider asks to confirm the logout")
	p = e.confirmLogoutIfAsked(alice, p, nil)
	require.True(t, e.isOP(p.URL), "the logout ends at the provider, ended at %s", where(p.URL))
	require.Equal(t, http.StatusOK, p.Status)
	for _, h := range p.Hops {
		require.False(t, e.isApp(h.URL), "the browser never visits the app: %s", where(h.URL))
	}

	// The provider sent the app one logout_token, and the app accepted it.
	got := calls.wait(t, 1, eventWait)
	require.Len(t, got, 1, "back-channel requests from the provider")
	assert.Equal(t, http.StatusOK, got[0].status, "the app's answer to the provider's logout_token: %s", got[0].body)
	assert.Contains(t, got[0].cacheControl, "no-store")
	sent := got[0].token
	claims := unverifiedClaims(t, sent)
	assert.Equal(t, op.Issuer, claims["iss"])
	assert.Equal(t, "alice", claims["sub"])
	assert.NotEmpty(t, claims["sid"])

	// The app's next request, with the very same cookie, is signed out.
	same, ok := alice.cookie(appHome, demoapp.SessionName)
	require.True(t, ok, "the provider cannot touch the app's cookie")
	require.True(t, cookie.Value == same.Value, "the session cookie is unchanged")
	after := alice.open(appHome)
	require.Equal(t, http.StatusOK, after.Status)
	assert.Contains(t, after.Body, `<p id="status">`+demoapp.StatusSignedOut+`</p>`, "signed out by the back-channel logout")
	assertCookieCleared(t, after.Header, demoapp.SessionName)
	_, ok = alice.cookie(appHome, demoapp.SessionName)
	assert.False(t, ok, "the browser dropped the session cookie")
	_, ok = e.loginForm(alice.open(e.app(e.loginPath).String()))
	assert.True(t, ok, "the provider's session ended too: a new sign-in shows the login form")
	assert.Empty(t, logs.take(), "warnings or errors while accepting the provider's logout")

	t.Run("Replay", func(t *testing.T) {
		status, body := postToBackChannel(t, appURL, sent)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, body, `"error":"invalid_request"`)
		assert.Contains(t, body, "jti was already used")
	})

	t.Run("Forged", func(t *testing.T) {
		// Tokens that would end every session of bob if they were accepted.
		forBob := map[string]any{}
		for k, v := range claims {
			forBob[k] = v
		}
		delete(forBob, "sid")
		forBob["sub"] = "bob"
		forBob["jti"] = rand.Text()
		forBob["iat"] = time.Now().Unix()

		other, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		parts := strings.Split(sent, ".")
		require.Len(t, parts, 3)
		payload, err := json.Marshal(forBob)
		require.NoError(t, err)
		tokens := map[string]string{
			"signed by another key with the provider's kid": signLogoutToken(t, other, tokenKeyID(t, sent), forBob),
			"the provider's signature on a changed payload": parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2],
		}
		for name, forged := range tokens {
			status, body := postToBackChannel(t, appURL, forged)
			assert.Equal(t, http.StatusBadRequest, status, name)
			assert.Contains(t, body, `"error":"invalid_request"`, name)
		}
		assert.Contains(t, bob.open(appHome).Body, demoapp.StatusSignedIn, "bob is still signed in")
	})
}

// backChannelCall is one request to the app's back-channel endpoint and
// the answer the app gave.
type backChannelCall struct {
	token        string // the logout_token posted
	status       int
	cacheControl string
	body         string
}

// backChannelCalls records the requests to the app's back-channel endpoint.
type backChannelCalls struct {
	mu    sync.Mutex
	calls []backChannelCall
}

// observe wraps the app: it records the logout_token and the answer of
// every POST to demoapp.BackChannelLogoutPath.
func (c *backChannelCalls) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != demoapp.BackChannelLogoutPath {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "reading the body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		rec := &answerRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.calls = append(c.calls, backChannelCall{
			token: form.Get("logout_token"), status: rec.status,
			cacheControl: w.Header().Get("Cache-Control"), body: rec.body.String(),
		})
	})
}

// take returns the calls so far and forgets them.
func (c *backChannelCalls) take() []backChannelCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.calls
	c.calls = nil
	return got
}

// wait returns the calls once there are at least n, or after timeout.
// oidc-provider makes its back-channel requests before it answers the
// logout confirmation, so they are normally there already.
func (c *backChannelCalls) wait(t *testing.T, n int, timeout time.Duration) []backChannelCall {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got []backChannelCall
	for {
		got = append(got, c.take()...)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answerRecorder keeps the status and body an http.Handler writes.
type answerRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *answerRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *answerRecorder) Write(p []byte) (int, error) {
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

// serveBackChannelDemo starts the demo app with back-channel logout on,
// behind backChannelCalls.observe, and stops it when the test ends;
// mutate adjusts the demo's Config first.
func serveBackChannelDemo(t *testing.T, ln net.Listener, appURL *url.URL, issuer, clientID, secret string, logs *logRecorder, mutate ...func(*demoapp.Config)) *backChannelCalls {
	t.Helper()
	cfg := demoConfig(appURL, issuer, clientID, secret, logs)
	cfg.BackChannel = true
	for _, f := range mutate {
		f(&cfg)
	}
	calls := &backChannelCalls{}
	serveOn(t, ln, calls.observe(newDemoApp(t, cfg)))
	return calls
}

// postToBackChannel posts a logout_token to the app as a provider would,
// and returns the answer.
func postToBackChannel(t *testing.T, appURL *url.URL, token string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, appURL.String()+demoapp.BackChannelLogoutPath,
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// unverifiedClaims returns the payload of a JWT without checking it; the
// app checked the signature already.
func unverifiedClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA})
	require.NoError(t, err, "logout_token")
	claims := map[string]any{}
	require.NoError(t, json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims))
	return claims
}

// tokenKeyID returns the kid of a JWT's header.
func tokenKeyID(t *testing.T, raw string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA})
	require.NoError(t, err)
	require.Len(t, jws.Signatures, 1)
	return jws.Signatures[0].Header.KeyID
}

// signLogoutToken signs claims as a logout_token with key, under kid.
func signLogoutToken(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	raw, err := jws.CompactSerialize()
	require.NoError(t, err)
	return raw
}

package e2e

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/demoapp"
)

// TestInteropOIDCProvider runs RP-Initiated Logout against panva's
// oidc-provider (e2e/oidc-provider/server.js), run with node: the provider
// on http://localhost:PORT, the demo app on http://127.0.0.1:PORT. The
// provider asks the user to confirm the logout; the flow submits that form
// as a browser would. The client is registered with a back-channel logout
// URI served by the test, which checks the logout_token the provider sends.
func TestInteropOIDCProvider(t *testing.T) {
	ln, appURL := appListener(t)
	backchannel := newLogoutTokenRecorder(t)
	const clientID = "logout-e2e"
	secret := rand.Text()
	op := startNodeOP(t, nodeOPConfig{
		ClientID:              clientID,
		ClientSecret:          secret,
		RedirectURI:           appURL.String() + demoapp.CallbackPath,
		PostLogoutRedirectURI: appURL.String() + demoapp.LogoutCallbackPath,
		BackchannelLogoutURI:  backchannel.url,
	})

	logs := &logRecorder{}
	app := serveDemoApp(t, ln, appURL, op.Issuer, clientID, secret, logs)
	// The development login form of oidc-provider accepts any login.
	e := demoInterop(t, appURL, op.Issuer, clientID, "alice", "any-password", logs)
	e.afterLogout = func(t *testing.T, hint *oidc.IDToken) {
		backchannel.check(t, e.withT(t), hint)
	}

	t.Run("Logout", func(t *testing.T) { e.withT(t).runLogoutFlow() })
	t.Run("LogoutForm", func(t *testing.T) { e.withT(t).runLogoutForm() })
	t.Run("TamperedState", func(t *testing.T) { e.withT(t).runTamperedState() })
	t.Run("Discovery", func(t *testing.T) { assertDiscovered(t, e, app) })
}

// logoutTokenRecorder is the client's backchannel_logout_uri: it records
// the logout_token of every back-channel logout request.
type logoutTokenRecorder struct {
	url    string
	mu     sync.Mutex
	tokens []string
}

func newLogoutTokenRecorder(t *testing.T) *logoutTokenRecorder {
	t.Helper()
	rec := &logoutTokenRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("logout_token") == "" {
			http.Error(w, "want a POST with logout_token", http.StatusBadRequest)
			return
		}
		rec.mu.Lock()
		rec.tokens = append(rec.tokens, r.PostForm.Get("logout_token"))
		rec.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	rec.url = srv.URL + "/backchannel-logout"
	return rec
}

// take returns the tokens recorded so far and forgets them.
func (r *logoutTokenRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.tokens
	r.tokens = nil
	return got
}

// check asserts that the provider sent one logout_token (OpenID Connect
// Back-Channel Logout 1.0, section 2.4) for the session the id_token_hint
// names: signed by the provider for this client, with the back-channel
// logout event, the session's sid and subject, and no nonce. The provider
// sends it before it redirects the browser, so it has arrived by now.
func (r *logoutTokenRecorder) check(t *testing.T, e *interop, hint *oidc.IDToken) {
	t.Helper()
	var hintClaims logoutClaims
	require.NoError(t, hint.Claims(&hintClaims))
	require.NotEmpty(t, hintClaims.SID, "the id_token should carry sid")
	var matched []logoutClaims
	for _, raw := range r.take() {
		tok, err := e.verifyJWT(raw, true)
		require.NoError(t, err, "logout_token")
		var c logoutClaims
		require.NoError(t, tok.Claims(&c))
		if c.SID == hintClaims.SID {
			matched = append(matched, c)
		}
	}
	require.Len(t, matched, 1, "logout_tokens for the session that logged out")
	c := matched[0]
	assert.Contains(t, c.Events, "http://schemas.openid.net/event/backchannel-logout")
	assert.Empty(t, c.Nonce, "a logout_token must not carry a nonce")
	assert.Equal(t, hint.Subject, c.Sub)
}

// logoutClaims are the claims of a logout_token (and the sid of an id_token).
type logoutClaims struct {
	Sub    string         `json:"sub"`
	SID    string         `json:"sid"`
	Nonce  string         `json:"nonce"`
	Events map[string]any `json:"events"`
}

package logout_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// revokingMiddleware returns a Middleware that revokes tokens at the fake
// endpoint f, authenticated with secret (none when empty), with policy;
// mutate adjusts its Config.
func revokingMiddleware(t *testing.T, f *fakeRevocationEndpoint, secret string, policy logout.Revocation, logs *bytes.Buffer, mutate ...func(*logout.Config)) *logout.Middleware {
	t.Helper()
	cfg := logout.Config{
		Store:       revocationStore,
		SessionName: testSession,
		Revocation:  policy,
		Providers: []logout.Provider{{ClientID: testClient, ClientSecret: secret, EndSessionEndpoint: testIssuer + "/session/end",
			RevocationEndpoint: startRevocationEndpoint(t, f)}},
	}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	for _, f := range mutate {
		f(&cfg)
	}
	m, err := logout.New(cfg)
	require.NoError(t, err)
	return m
}

// revocationStore is the session store of revokingMiddleware.
var revocationStore = newCookieStore()

func TestLogoutRevokesRefreshThenAccessToken(t *testing.T) {
	f := &fakeRevocationEndpoint{}
	m := revokingMiddleware(t, f, "s", logout.RevokeTokens, nil)
	cookie := saveSession(t, revocationStore, map[any]any{"id_token": "idt", "access_token": "at-1", "refresh_token": "rt-1"})
	resp := get(m, "/logout", cookie)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.True(t, logout.ExpiredForTest(logout.ResponseCookieForTest(resp, testSession)))
	reqs := f.received()
	require.Len(t, reqs, 2)
	assert.Equal(t, "rt-1", reqs[0].Form.Get("token"))
	assert.Equal(t, "refresh_token", reqs[0].Form.Get("token_type_hint"))
	assert.Equal(t, "at-1", reqs[1].Form.Get("token"))
	assert.Equal(t, "access_token", reqs[1].Form.Get("token_type_hint"))
	assert.True(t, reqs[0].HasBasic)
}

func TestLogoutRevocationCustomKeysAndNoTokens(t *testing.T) {
	f := &fakeRevocationEndpoint{}
	m := revokingMiddleware(t, f, "", logout.RevokeTokens, nil, func(c *logout.Config) {
		c.SessionTokens = func(s *sessions.Session) logout.Tokens {
			id, _ := s.Values["id_token"].(string)
			at, _ := s.Values["at"].(string)
			rt, _ := s.Values["rt"].(string)
			return logout.Tokens{IDToken: id, AccessToken: at, RefreshToken: rt}
		}
	})
	resp := get(m, "/logout", saveSession(t, revocationStore, map[any]any{"id_token": "idt", "at": "A"}))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Len(t, f.received(), 1)
	assert.Equal(t, "A", f.received()[0].Form.Get("token"))
	assert.Equal(t, testClient, f.received()[0].Form.Get("client_id"), "auth none sends client_id")

	resp = get(m, "/logout", saveSession(t, revocationStore, map[any]any{"id_token": "idt"}))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Len(t, f.received(), 1, "no token, no request")
}

func TestLogoutRevocationFailurePolicies(t *testing.T) {
	const at, rt = "access-token-value", "refresh-token-value"
	for _, failClosed := range []bool{false, true} {
		t.Run(map[bool]string{false: "default logs out", true: "fail closed"}[failClosed], func(t *testing.T) {
			f := &fakeRevocationEndpoint{status: http.StatusUnauthorized, body: `{"error":"invalid_client"}`}
			var logs bytes.Buffer
			m := revokingMiddleware(t, f, "client-secret-value", map[bool]logout.Revocation{false: logout.RevokeTokens, true: logout.RevokeTokensOrFail}[failClosed], &logs)
			cookie := saveSession(t, revocationStore, map[any]any{"id_token": "idt", "access_token": at, "refresh_token": rt})
			resp := get(m, "/logout", cookie)
			assert.Len(t, f.received(), 2, "both tokens are tried")
			assert.Equal(t, 2, strings.Count(logs.String(), `msg="logout: token revocation failed"`), "each failure is logged")
			if failClosed {
				assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
				assert.Nil(t, logout.ResponseCookieForTest(resp, testSession), "the session is kept for a retry")
			} else {
				assert.Equal(t, http.StatusFound, resp.StatusCode)
				assert.True(t, logout.ExpiredForTest(logout.ResponseCookieForTest(resp, testSession)))
			}
			assert.Contains(t, logs.String(), "token revocation failed")
			for _, secret := range []string{at, rt, "client-secret-value"} {
				assert.NotContains(t, logs.String(), secret)
			}
		})
	}
}

func TestLogoutRevocationDiscovered(t *testing.T) {
	f := &fakeRevocationEndpoint{}
	endpoint := startRevocationEndpoint(t, f)
	issuer := startDiscovery(t, map[string]string{"revocation_endpoint": endpoint, "end_session_endpoint": "https://op.example/end"})
	store := newCookieStore()
	m, err := logout.New(logout.Config{
		Store:       store,
		SessionName: testSession,
		Revocation:  logout.RevokeTokens,
		Providers:   []logout.Provider{{Issuer: issuer, ClientID: testClient}},
	})
	require.NoError(t, err)
	resp := get(m, "/logout", saveSession(t, store, map[any]any{"id_token": "idt", "access_token": "at"}))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Location"), "https://op.example/end?")
	assert.Len(t, f.received(), 1)
}

func TestRevocationConfigValidation(t *testing.T) {
	_, err := logout.New(logout.Config{
		Store:       newCookieStore(),
		SessionName: testSession,
		Revocation:  logout.RevokeTokens,
		Providers:   []logout.Provider{{EndSessionEndpoint: testIssuer + "/end"}},
	})
	require.ErrorIs(t, err, logout.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "Config.Providers[0].ClientID is required for token revocation")

	_, err = logout.New(logout.Config{
		Store:       newCookieStore(),
		SessionName: testSession,
		Revocation:  logout.RevokeTokens,
		Providers:   []logout.Provider{{EndSessionEndpoint: testIssuer + "/end", ClientID: "c", RevocationEndpoint: "https://op/r"}},
	})
	assert.NoError(t, err, "a client and an endpoint are all revocation needs")
}

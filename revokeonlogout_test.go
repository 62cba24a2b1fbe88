package logout_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// revokingMiddleware returns a Middleware that revokes tokens at the fake
// endpoint f, authenticated with secret (none when empty), with rc's other
// fields.
func revokingMiddleware(t *testing.T, f *fakeRevocationEndpoint, secret string, rc logout.RevocationConfig, logs *bytes.Buffer) *logout.Middleware {
	t.Helper()
	rv, err := logout.NewRevoker(logout.RevokerConfig{Endpoint: startRevocationEndpoint(t, f), ClientID: testClient, ClientSecret: secret})
	require.NoError(t, err)
	rc.Revoker = rv
	cfg := logout.Config{
		Store:       revocationStore,
		SessionName: testSession,
		Revocation:  &rc,
		Providers:   []logout.Provider{{ClientID: testClient, EndSessionEndpoint: testIssuer + "/session/end"}},
	}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	m, err := logout.New(cfg)
	require.NoError(t, err)
	return m
}

// revocationStore is the session store of revokingMiddleware.
var revocationStore = newCookieStore()

func TestLogoutRevokesRefreshThenAccessToken(t *testing.T) {
	f := &fakeRevocationEndpoint{}
	m := revokingMiddleware(t, f, "s", logout.RevocationConfig{}, nil)
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
	m := revokingMiddleware(t, f, "", logout.RevocationConfig{AccessTokenKey: "at", RefreshTokenKey: "rt"}, nil)
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
			var mu sync.Mutex
			var hooked []error
			var logs bytes.Buffer
			m := revokingMiddleware(t, f, "client-secret-value", logout.RevocationConfig{
				FailClosed: failClosed,
				OnError:    func(_ *http.Request, err error) { mu.Lock(); hooked = append(hooked, err); mu.Unlock() },
			}, &logs)
			cookie := saveSession(t, revocationStore, map[any]any{"id_token": "idt", "access_token": at, "refresh_token": rt})
			resp := get(m, "/logout", cookie)
			require.Len(t, hooked, 2, "each failure reaches the hook")
			for _, err := range hooked {
				assert.ErrorIs(t, err, logout.ErrRevocation)
			}
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
	rv, err := logout.NewRevoker(logout.RevokerConfig{Issuer: issuer, ClientID: testClient})
	require.NoError(t, err)
	m, err := logout.New(logout.Config{
		Store:       store,
		SessionName: testSession,
		Revocation:  &logout.RevocationConfig{Revoker: rv},
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
		Revocation:  &logout.RevocationConfig{},
		Providers:   []logout.Provider{{EndSessionEndpoint: testIssuer + "/end"}},
	})
	require.ErrorIs(t, err, logout.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "Config.Revocation.Revoker")

	rv, err := logout.NewRevoker(logout.RevokerConfig{Endpoint: "https://op/r", ClientID: "c"})
	require.NoError(t, err)
	_, err = logout.New(logout.Config{
		Store:       newCookieStore(),
		SessionName: testSession,
		Revocation:  &logout.RevocationConfig{Revoker: rv},
		Providers:   []logout.Provider{{EndSessionEndpoint: testIssuer + "/end"}},
	})
	assert.NoError(t, err, "a Revoker needs nothing else")
}

package logout_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// TestSessionCheckLeavesAnUndecodableSessionAlone: a request whose
// session cookie cannot be decoded is passed on as it is: the check gives
// it no session id and saves nothing.
func TestSessionCheckLeavesAnUndecodableSessionAlone(t *testing.T) {
	w := newWorld(t, nil)
	w.login(t)
	resp := w.serve(t, stRequest(http.MethodGet, "/", &http.Cookie{Name: testSession, Value: "tampered"}))
	assert.Equal(t, "app", bodyOf(t, resp))
	assert.Zero(t, w.store.saves.Load())
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Zero(t, w.ledger.seen.Load(), "no look-up for a session that is not there")
}

// TestCallbackRefusesAStateCookieWithACorruptTarget: the right state in a
// cookie whose return target cannot be decoded is no honoured return: the
// user lands on DefaultReturnTo and the cookie is kept, as for a wrong
// state.
func TestCallbackRefusesAStateCookieWithACorruptTarget(t *testing.T) {
	w := newWorld(t, nil)
	state, _ := startLogout(t, w, "/account")
	bad := &http.Cookie{Name: stateCookie, Value: state + ".!!"}
	resp := serveStrict(t, w.m, stRequest(http.MethodGet, "/logout/callback?state="+state, bad))
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assert.Empty(t, resp.Header.Values("Set-Cookie"), "the cookie is kept")
}

// TestRevokeSendsNothingForAnEmptyToken: an empty token is an error, and
// no request reaches the provider.
func TestRevokeSendsNothingForAnEmptyToken(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	rv, err := logout.NewRevoker(logout.Provider{RevocationEndpoint: srv.URL + "/revoke", ClientID: "c"}, nil)
	require.NoError(t, err)
	err = rv.Revoke(t.Context(), "", logout.TokenTypeAccessToken)
	assert.ErrorIs(t, err, logout.ErrRevocation)
	assert.ErrorContains(t, err, "empty token")
	assert.Zero(t, calls.Load())
}

// TestRevocationErrorText: the error says the status, and the provider's
// OAuth error code when it gave one.
func TestRevocationErrorText(t *testing.T) {
	assert.Equal(t, "logout: token revocation failed: status 503", (&logout.RevocationError{Status: 503}).Error())
	assert.Equal(t, `logout: token revocation failed: status 400, error "invalid_client"`,
		(&logout.RevocationError{Status: 400, Code: "invalid_client"}).Error())
}

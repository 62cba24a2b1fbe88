package demoapp

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// frontChannelGet serves the provider's iframe request for iss and sid,
// without cookies, as a browser that blocks third-party cookies sends it.
func frontChannelGet(a *App, iss, sid string) *httptest.ResponseRecorder {
	q := url.Values{"iss": {iss}, "sid": {sid}}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, FrontChannelLogoutPath+"?"+q.Encode(), nil))
	return rec
}

func TestFrontChannelLogoutSignsTheSessionOut(t *testing.T) {
	op := newKeyedOP(t)
	a := newTestApp(t, op.srv.URL, false, true)
	iss := op.srv.URL
	alice := sessionCookie(t, a, iss, "alice", "sid-alice")
	bob := sessionCookie(t, a, iss, "bob", "sid-bob")
	// The session check registers each sid on the session's first request.
	require.Contains(t, get(a, alice).Body.String(), StatusSignedIn+`<strong id="name">alice</strong>`)
	require.Contains(t, get(a, bob).Body.String(), StatusSignedIn)

	rec := frontChannelGet(a, iss, "made-up-sid")
	assert.Equal(t, http.StatusOK, rec.Code, "an unknown sid is answered 200")
	assert.Contains(t, get(a, alice).Body.String(), StatusSignedIn, "an unknown sid ends nothing")

	rec = frontChannelGet(a, iss, "sid-alice")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Header().Get("Cache-Control"), "no-store")
	assertSignedOut(t, get(a, alice))
	assert.Contains(t, get(a, bob).Body.String(), StatusSignedIn, "another provider session is untouched")

	assert.Equal(t, http.StatusBadRequest, frontChannelGet(a, "https://other.example", "sid-bob").Code, "another issuer")
	assert.Contains(t, get(a, bob).Body.String(), StatusSignedIn)
}

func TestFrontChannelIgnoresASessionItHasNotSeen(t *testing.T) {
	op := newKeyedOP(t)
	a := newTestApp(t, op.srv.URL, false, true)
	carol := sessionCookie(t, a, op.srv.URL, "carol", "sid-carol")
	require.Equal(t, http.StatusOK, frontChannelGet(a, op.srv.URL, "sid-carol").Code)
	assert.Contains(t, get(a, carol).Body.String(), StatusSignedIn,
		"only sids registered by an earlier request are ended")
}

func TestFrontChannelAcceptsTheDiscoveredIssuer(t *testing.T) {
	op := newKeyedOP(t)
	a := newTestApp(t, op.srv.URL+"/", false, true) // the provider spells it without the slash
	alice := sessionCookie(t, a, op.srv.URL, "alice", "sid-alice")
	require.Contains(t, get(a, alice).Body.String(), StatusSignedIn)
	require.Equal(t, http.StatusOK, frontChannelGet(a, op.srv.URL, "sid-alice").Code)
	assertSignedOut(t, get(a, alice))
}

func TestFrontChannelAndBackChannelShareTheStore(t *testing.T) {
	op := newKeyedOP(t)
	a := newTestApp(t, op.srv.URL, true, true)
	iss := op.srv.URL
	alice := sessionCookie(t, a, iss, "alice", "sid-alice")
	bob := sessionCookie(t, a, iss, "bob", "sid-bob")
	require.Contains(t, get(a, alice).Body.String(), StatusSignedIn)
	require.Contains(t, get(a, bob).Body.String(), StatusSignedIn)

	require.Equal(t, http.StatusOK, postLogoutToken(a, logoutToken(t, op.key, iss, "demo", "sid-alice", "alice")).Code)
	assertSignedOut(t, get(a, alice))
	assert.Contains(t, get(a, bob).Body.String(), StatusSignedIn)
	require.Equal(t, http.StatusOK, frontChannelGet(a, iss, "sid-bob").Code)
	assertSignedOut(t, get(a, bob))
}

func TestFrontChannelIsOffByDefault(t *testing.T) {
	op := newKeyedOP(t)
	a := newTestApp(t, op.srv.URL, true, false)
	alice := sessionCookie(t, a, op.srv.URL, "alice", "sid-alice")
	require.Contains(t, get(a, alice).Body.String(), StatusSignedIn)
	assert.Equal(t, http.StatusNotFound, frontChannelGet(a, op.srv.URL, "sid-alice").Code)
	assert.Contains(t, get(a, alice).Body.String(), StatusSignedIn)
}

package demoapp

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/backchannel"
)

// keyedOP is a provider reduced to what back-channel logout needs: a
// discovery document and the JWKS of its signing key. It signs logout
// tokens for the test.
type keyedOP struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

const testKeyID = "op-key-1"

func newKeyedOP(t *testing.T) *keyedOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	op := &keyedOP{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		iss := op.srv.URL
		writeJSON(w, map[string]any{
			"issuer":                                iss,
			"authorization_endpoint":                iss + "/authorize",
			"token_endpoint":                        iss + "/token",
			"jwks_uri":                              iss + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"backchannel_logout_supported":          true,
			"backchannel_logout_session_supported":  true,
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: testKeyID, Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// logoutToken returns a logout_token for sid and sub signed by key.
func logoutToken(t *testing.T, key *rsa.PrivateKey, iss, aud, sid, sub string) string {
	t.Helper()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: testKeyID}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	require.NoError(t, err)
	now := time.Now()
	payload, err := json.Marshal(map[string]any{
		"iss": iss, "aud": aud, "sid": sid, "sub": sub,
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": rand.Text(),
		"events": map[string]any{backchannel.EventBackChannelLogout: map[string]any{}},
	})
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	raw, err := jws.CompactSerialize()
	require.NoError(t, err)
	return raw
}

// sessionCookie returns the app's session cookie of a signed-in user
// whose id_token carries iss, sub and sid, as the login callback stores
// it. The session check reads the id_token's claims without its
// signature, so an unsigned one is enough here.
func sessionCookie(t *testing.T, a *App, iss, sub, sid string) *http.Cookie {
	t.Helper()
	claims, err := json.Marshal(map[string]any{"iss": iss, "sub": sub, "sid": sid, "iat": time.Now().Unix()})
	require.NoError(t, err)
	idToken := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(claims) + ".sig"
	sess := a.freshSession(SessionName)
	sess.Values[keyIDToken], sess.Values[keySubject], sess.Values[keyName] = idToken, sub, sub
	rec := httptest.NewRecorder()
	require.NoError(t, sess.Save(httptest.NewRequest(http.MethodGet, "/", nil), rec))
	for _, c := range rec.Result().Cookies() {
		if c.Name == SessionName {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// newTestApp returns the app on issuer with back-channel and front-channel
// logout on or off.
func newTestApp(t *testing.T, issuer string, backChannel, frontChannel bool) *App {
	t.Helper()
	a, err := New(t.Context(), Config{
		Issuer: issuer, ClientID: "demo", BaseURL: "http://127.0.0.1:8080",
		BackChannel: backChannel, FrontChannel: frontChannel,
	})
	require.NoError(t, err)
	return a
}

// assertSignedOut checks that rec is the signed-out home page and expires
// the session cookie.
func assertSignedOut(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	assert.Contains(t, rec.Body.String(), `<p id="status">`+StatusSignedOut+`</p>`)
	var expired bool
	for _, c := range rec.Result().Cookies() {
		expired = expired || (c.Name == SessionName && c.MaxAge < 0)
	}
	assert.True(t, expired, "the session cookie is expired: %v", rec.Header().Values("Set-Cookie"))
}

// get serves GET / with cookie and returns the response.
func get(a *App, cookie *http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookie)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	return rec
}

// postLogoutToken serves the provider's back-channel request.
func postLogoutToken(a *App, raw string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, BackChannelLogoutPath,
		strings.NewReader(url.Values{"logout_token": {raw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	return rec
}

func TestBackChannelLogoutSignsTheSessionOut(t *testing.T) {
	op := newKeyedOP(t)
	a := newTestApp(t, op.srv.URL, true, false)
	iss := op.srv.URL
	alice := sessionCookie(t, a, iss, "alice", "sid-alice")
	bob := sessionCookie(t, a, iss, "bob", "sid-bob")
	require.Contains(t, get(a, alice).Body.String(), StatusSignedIn+`<strong id="name">alice</strong>`)

	token := logoutToken(t, op.key, iss, "demo", "sid-alice", "alice")
	rec := postLogoutToken(a, token)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Header().Get("Cache-Control"), "no-store")

	assertSignedOut(t, get(a, alice)) // the same cookie
	assert.Contains(t, get(a, bob).Body.String(), StatusSignedIn, "another provider session is untouched")

	assert.Equal(t, http.StatusBadRequest, postLogoutToken(a, token).Code, "a replayed token")
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	forged := postLogoutToken(a, logoutToken(t, other, iss, "demo", "sid-bob", "bob"))
	assert.Equal(t, http.StatusBadRequest, forged.Code, "a token signed by another key")
	assert.Contains(t, get(a, bob).Body.String(), StatusSignedIn, "a forged token ends nothing")
}

func TestBackChannelIsOffByDefault(t *testing.T) {
	op := newKeyedOP(t)
	a := newTestApp(t, op.srv.URL, false, false)
	alice := sessionCookie(t, a, op.srv.URL, "alice", "sid-alice")
	rec := postLogoutToken(a, logoutToken(t, op.key, op.srv.URL, "demo", "sid-alice", "alice"))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Contains(t, get(a, alice).Body.String(), StatusSignedIn)
}

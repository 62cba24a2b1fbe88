package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/demoapp"
)

// TestInteropOIDCProviderBackChannelHS256 proves back-channel logout for
// a client whose id_tokens, and so logout_tokens, are HS256, signed with
// the client secret: GenAuth apps can be set up so, and GenAuth's own Go
// SDK verifies such id_tokens with the app secret. panva's oidc-provider
// registers the client with id_token_signed_response_alg HS256 and a
// backchannel_logout_uri; the demo app runs with
// IDTokenSignedResponseAlg "HS256", so it verifies the id_token at sign-in
// with the client secret, and its back-channel handler accepts HS256
// logout_tokens with the client secret as the only key (and nothing else:
// not RS256, although the provider publishes an RS256 key). alice signs
// in, ends her session at the provider directly, the provider POSTs an
// HS256 logout_token, the app answers 200 and alice's next request is
// signed out. A replay, and tokens forged with another secret, with the
// provider's kid under RS256, or with alg none, are refused with 400; bob
// stays signed in.
func TestInteropOIDCProviderBackChannelHS256(t *testing.T) {
	ln, appURL := appListener(t)
	const clientID = "logout-e2e-hs256"
	// HS256 needs a key of 32 bytes or more (RFC 7518, section 3.2).
	secret := rand.Text() + rand.Text()
	op := startNodeOP(t, nodeOPConfig{
		ClientID:                 clientID,
		ClientSecret:             secret,
		RedirectURI:              appURL.String() + demoapp.CallbackPath,
		PostLogoutRedirectURI:    appURL.String() + demoapp.LogoutCallbackPath,
		BackchannelLogoutURI:     appURL.String() + demoapp.BackChannelLogoutPath,
		IDTokenSignedResponseAlg: "HS256",
	})
	logs := &logRecorder{}
	calls := serveBackChannelDemo(t, ln, appURL, op.Issuer, clientID, secret, logs,
		func(cfg *demoapp.Config) { cfg.IDTokenSignedResponseAlg = "HS256" })
	e := demoInterop(t, appURL, op.Issuer, clientID, "alice", "any-password", logs)
	appHome := e.app("/").String()

	alice := newAgent(t)
	require.Contains(t, e.signIn(alice).Body, demoapp.StatusSignedIn+`<strong id="name">alice</strong>`,
		"the app verified alice's HS256 id_token with the client secret")
	bobIn := *e
	bobIn.username = "bob"
	bob := newAgent(t)
	require.Contains(t, bobIn.signIn(bob).Body, demoapp.StatusSignedIn)
	require.Empty(t, logs.take(), "warnings or errors while signing in")

	// alice logs out at the provider, not at the app.
	p := alice.open(e.discoveredEndSession())
	require.Equal(t, http.StatusOK, p.Status, "the provider asks to confirm the logout")
	p = e.confirmLogoutIfAsked(alice, p, nil)
	require.True(t, e.isOP(p.URL), "the logout ends at the provider, ended at %s", where(p.URL))

	got := calls.wait(t, 1, eventWait)
	require.Len(t, got, 1, "back-channel requests from the provider")
	sent := got[0].token
	hdr, claims := jwtParts(t, sent)
	require.Equal(t, "HS256", hdr["alg"], "the provider signs the logout_token as the client's id_tokens")
	assert.Equal(t, http.StatusOK, got[0].status, "the app's answer to the HS256 logout_token: %s", got[0].body)
	assert.Contains(t, got[0].cacheControl, "no-store")
	assert.Equal(t, "alice", claims["sub"])
	assert.NotEmpty(t, claims["sid"])

	after := alice.open(appHome)
	assert.Contains(t, after.Body, `<p id="status">`+demoapp.StatusSignedOut+`</p>`, "signed out by the back-channel logout")
	assertCookieCleared(t, after.Header, demoapp.SessionName)
	assert.Empty(t, logs.take(), "warnings or errors while accepting the provider's logout")

	t.Run("Replay", func(t *testing.T) {
		status, body := postToBackChannel(t, appURL, sent)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, body, "jti was already used")
	})

	t.Run("Forged", func(t *testing.T) {
		forBob := map[string]any{}
		for k, v := range claims {
			forBob[k] = v
		}
		delete(forBob, "sid")
		forBob["sub"], forBob["jti"], forBob["iat"] = "bob", rand.Text(), time.Now().Unix()
		payload, err := json.Marshal(forBob)
		require.NoError(t, err)
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		parts := strings.Split(sent, ".")
		require.Len(t, parts, 3)
		enc := base64.RawURLEncoding.EncodeToString
		tokens := map[string]string{
			"HS256 with another secret":        signHS256(t, rand.Text()+rand.Text(), forBob),
			"HS256 with the client id as key":  signHS256(t, clientID+strings.Repeat("!", 32), forBob),
			"RS256 under the provider's kid":   signLogoutToken(t, other, providerKeyID(t, op.Issuer), forBob),
			"alg none":                         enc([]byte(`{"alg":"none"}`)) + "." + enc(payload) + ".",
			"the provider's MAC, changed body": parts[0] + "." + enc(payload) + "." + parts[2],
		}
		for name, forged := range tokens {
			status, body := postToBackChannel(t, appURL, forged)
			assert.Equal(t, http.StatusBadRequest, status, name)
			assert.Contains(t, body, `"error":"invalid_request"`, name)
		}
		assert.Contains(t, bob.open(appHome).Body, demoapp.StatusSignedIn, "bob is still signed in")
	})
}

// jwtParts returns the header and the claims of a JWT, unverified.
func jwtParts(t *testing.T, raw string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3, "a signed JWT")
	var hdr, claims map[string]any
	for i, dst := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, dst))
	}
	return hdr, claims
}

// signHS256 signs claims with HS256 and secret.
func signHS256(t *testing.T, secret string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(secret)}, nil)
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	raw, err := jws.CompactSerialize()
	require.NoError(t, err)
	return raw
}

// providerKeyID returns the kid of the provider's published signing key.
func providerKeyID(t *testing.T, issuer string) string {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(issuer, "/") + "/jwks")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var set jose.JSONWebKeySet
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	require.NotEmpty(t, set.Keys, "the provider publishes a key")
	return set.Keys[0].KeyID
}

package backchannel_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
)

const testClientID = "app-client"

// testProvider serves a discovery document and a JWKS that tests can
// change, and signs tokens with its keys.
type testProvider struct {
	t      testing.TB
	issuer string

	mu        sync.Mutex
	published []jose.JSONWebKey // public keys in the JWKS
	rawJWKS   string            // when set, served as the JWKS instead of published
	jwksHits  atomic.Int64
	jwksDown  atomic.Bool // when set, the JWKS endpoint answers 503
	discoHits atomic.Int64
}

// signingKey is a private key with its kid and algorithm.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func newRSAKey(t testing.TB, kid string) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return signingKey{kid: kid, alg: jose.RS256, priv: k}
}

func newECKey(t testing.TB, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return signingKey{kid: kid, alg: jose.ES256, priv: k}
}

func startProvider(t testing.TB, keys ...signingKey) *testProvider {
	t.Helper()
	p := &testProvider{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		p.discoHits.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.issuer, "jwks_uri": p.issuer + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		p.jwksHits.Add(1)
		if p.jwksDown.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		p.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), p.published...)}
		raw := p.rawJWKS
		p.mu.Unlock()
		if raw != "" {
			_, _ = w.Write([]byte(raw))
			return
		}
		_ = json.NewEncoder(w).Encode(set)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.issuer = srv.URL
	p.publish(keys...)
	return p
}

// publish replaces the JWKS with the public halves of keys.
func (p *testProvider) publish(keys ...signingKey) {
	var pub []jose.JSONWebKey
	for _, k := range keys {
		pub = append(pub, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	p.mu.Lock()
	p.published, p.rawJWKS = pub, ""
	p.mu.Unlock()
}

// publicJWK returns the public half of k as a JWK with the given alg
// and use ("" leaves them out).
func publicJWK(k signingKey, alg, use string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: alg, Use: use}
}

// publishJWKs replaces the JWKS with keys as given, private or
// symmetric ones included: what a careless provider might publish.
func (p *testProvider) publishJWKs(keys ...jose.JSONWebKey) {
	p.mu.Lock()
	p.published, p.rawJWKS = keys, ""
	p.mu.Unlock()
}

// publishRaw serves jwks, as written, as the JWKS.
func (p *testProvider) publishRaw(jwks string) {
	p.mu.Lock()
	p.rawJWKS = jwks
	p.mu.Unlock()
}

// claims returns the claims of a valid logout token for sid and sub.
func (p *testProvider) claims(sid, sub string) map[string]any {
	return p.claimsAt(time.Now(), sid, sub)
}

// claimsAt returns the claims of a logout token for sid and sub, issued
// at now and valid for 2 minutes.
func (p *testProvider) claimsAt(now time.Time, sid, sub string) map[string]any {
	c := map[string]any{
		"iss":    p.issuer,
		"aud":    []string{testClientID, "other"},
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    randomID(p.t),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	if sid != "" {
		c["sid"] = sid
	}
	if sub != "" {
		c["sub"] = sub
	}
	return c
}

func randomID(t testing.TB) string {
	b := make([]byte, 12)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sign returns claims signed with k, typed logout+jwt.
func sign(t testing.TB, k signingKey, claims map[string]any) string {
	t.Helper()
	return signTyped(t, k, claims, "logout+jwt")
}

func signTyped(t testing.TB, k signingKey, claims map[string]any, typ jose.ContentType) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(typ)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, opts)
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := s.Sign(payload)
	require.NoError(t, err)
	out, err := jws.CompactSerialize()
	require.NoError(t, err)
	return out
}

// testSecret is a client secret long enough for HS256 (32 bytes).
const testSecret = "client-secret-0123456789abcdefghij"

// algs is shorthand for a list of algorithms.
func algs(a ...jose.SignatureAlgorithm) []jose.SignatureAlgorithm { return a }

// signHMAC returns claims signed with alg and secret as the HMAC key,
// with a header of alg only, as providers sign with a client secret.
func signHMAC(t testing.TB, alg jose.SignatureAlgorithm, secret string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	return signPayload(t, jose.SigningKey{Algorithm: alg, Key: []byte(secret)}, nil, payload)
}

// signRaw signs payload, as given, with k, under a header of alg and kid
// only: for payloads json.Marshal would not write.
func signRaw(t testing.TB, k signingKey, payload string) string {
	t.Helper()
	return signPayload(t, jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, nil, []byte(payload))
}

func signPayload(t testing.TB, key jose.SigningKey, opts *jose.SignerOptions, payload []byte) string {
	t.Helper()
	s, err := jose.NewSigner(key, opts)
	require.NoError(t, err)
	jws, err := s.Sign(payload)
	require.NoError(t, err)
	out, err := jws.CompactSerialize()
	require.NoError(t, err)
	return out
}

// mustJSON returns the JSON of v.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// unsignedToken returns an "alg":"none" token.
func unsignedToken(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	hdr, _ := json.Marshal(map[string]string{"alg": "none", "kid": kid})
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(hdr) + "." + enc(payload) + "."
}

// hmacWithPublicKey signs claims with HS256, using the PEM of k's public
// key as the secret: the classic key-confusion attack.
func hmacWithPublicKey(t testing.TB, k signingKey, claims map[string]any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	require.NoError(t, err)
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: secret, KeyID: k.kid}}, nil)
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := s.Sign(payload)
	require.NoError(t, err)
	out, err := jws.CompactSerialize()
	require.NoError(t, err)
	return out
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

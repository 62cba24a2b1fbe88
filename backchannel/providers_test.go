package backchannel_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/backchannel"
)

// twoProviders starts provider A (RS256, client "client-a") and provider
// B (ES256, client "client-b"), and a handler that lists both.
func twoProviders(t *testing.T, lookup func(context.Context, string) (logout.Provider, bool)) (a, b *testProvider, ka, kb signingKey, h *backchannel.Handler, store *logout.MemoryLedger) {
	t.Helper()
	ka, kb = newRSAKey(t, "a1"), newECKey(t, "b1")
	a, b = startProvider(t, ka), startProvider(t, kb)
	store = newStore()
	m := newMiddleware(t, store, lookup,
		logout.Provider{Issuer: a.issuer, ClientID: "client-a"},
		logout.Provider{Issuer: b.issuer, ClientID: "client-b", SigningAlgorithms: []string{"ES256"}},
	)
	var err error
	h, err = backchannel.New(m, backchannel.Config{Ledger: store})
	require.NoError(t, err)
	return a, b, ka, kb, h, store
}

// noDiscovery returns p with every endpoint set, under its issuer, so
// that nothing is discovered.
func noDiscovery(p logout.Provider) logout.Provider {
	p.EndSessionEndpoint, p.RevocationEndpoint, p.JWKSURI = p.Issuer+"/session/end", p.Issuer+"/revoke", p.Issuer+"/jwks"
	return p
}

// forClient returns p's valid claims for sid, addressed to client.
func forClient(p *testProvider, client, sid string) map[string]any {
	c := p.claims(sid, "")
	c["aud"] = client
	return c
}

func TestProvidersEachTokenIsVerifiedWithItsProvidersKeysAndAudience(t *testing.T) {
	a, b, ka, kb, h, store := twoProviders(t, nil)
	tests := []struct {
		name    string
		token   func() string
		status  int
		wantErr string
		ended   string // the ledger key recorded, when status is 200
	}{
		{"A's token", func() string { return sign(t, ka, forClient(a, "client-a", "sa")) }, http.StatusOK, "", logout.SIDKey(a.issuer, "sa")},
		{"B's token", func() string { return sign(t, kb, forClient(b, "client-b", "sb")) }, http.StatusOK, "", logout.SIDKey(b.issuer, "sb")},
		{"signed by A's key, claiming B's issuer", func() string { return sign(t, ka, forClient(b, "client-b", "sb")) },
			http.StatusBadRequest, "is not the issuer's", ""},
		{"signed by A's key with B's algorithm name, claiming B's issuer", func() string {
			k := ka
			k.kid = "b1"
			return sign(t, k, forClient(b, "client-b", "sb"))
		}, http.StatusBadRequest, "is not the issuer's", ""},
		{"A's token for B's client", func() string { return sign(t, ka, forClient(a, "client-b", "sa")) },
			http.StatusBadRequest, "aud does not contain the client_id", ""},
		{"B's token for A's client", func() string { return sign(t, kb, forClient(b, "client-a", "sb")) },
			http.StatusBadRequest, "aud does not contain the client_id", ""},
		{"signed by B, iss naming A, then ISS naming B", func() string {
			return signRaw(t, kb, `{"iss":"`+a.issuer+`","ISS":"`+b.issuer+`","aud":"client-b","iat":`+fmt.Sprint(time.Now().Unix())+
				`,"jti":"j2","sid":"sa","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`)
		}, http.StatusBadRequest, "algorithm ES256 is not the issuer's", ""},
		{"signed by B, duplicate iss: B's, then A's", func() string {
			return signRaw(t, kb, `{"iss":"`+b.issuer+`","iss":"`+a.issuer+`","aud":"client-b","iat":`+fmt.Sprint(time.Now().Unix())+
				`,"jti":"j1","sid":"sa","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`)
		}, http.StatusBadRequest, "", ""},
		{"unknown issuer", func() string {
			c := forClient(a, "client-a", "sa")
			c["iss"] = "https://evil.example.com"
			return sign(t, ka, c)
		}, http.StatusBadRequest, "is not a configured provider's issuer", ""},
		{"issuer with a trailing slash", func() string {
			c := forClient(a, "client-a", "sa-slash")
			c["iss"] = a.issuer + "/"
			return sign(t, ka, c)
		}, http.StatusOK, "", logout.SIDKey(a.issuer, "sa-slash")},
		{"issuer with two trailing slashes", func() string {
			c := forClient(a, "client-a", "sa")
			c["iss"] = a.issuer + "//"
			return sign(t, ka, c)
		}, http.StatusBadRequest, "is not a configured provider's issuer", ""},
		{"no iss", func() string {
			c := forClient(a, "client-a", "sa")
			delete(c, "iss")
			return sign(t, ka, c)
		}, http.StatusBadRequest, "is not a configured provider's issuer", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := store.Len()
			w := post(h, tt.token())
			require.Equal(t, tt.status, w.Code, w.Body.String())
			if tt.wantErr != "" {
				assert.Contains(t, decodeError(t, w).Description, tt.wantErr)
			}
			if tt.ended != "" {
				assert.True(t, revoked(t, store, tt.ended, time.Time{}))
				assert.Equal(t, before+2, store.Len(), "the session and the jti")
				return
			}
			assert.Equal(t, before, store.Len(), "a refused token records nothing")
		})
	}
	// Nothing of B's was ended by a refused token naming B.
	assert.False(t, revoked(t, store, logout.SIDKey(a.issuer, "sb"), time.Time{}))
}

// TestProviderRefusals checks the tokens refused because of the
// provider their iss names: each gets its status and error (ErrKeys, and
// a 502 the provider retries, when LookupProvider's answer is unusable),
// LookupProvider is asked only about an issuer worth looking up, and
// nothing is recorded.
func TestProviderRefusals(t *testing.T) {
	ka := newRSAKey(t, "a1")
	a := startProvider(t, ka)
	long := "https://t.example.com/" + strings.Repeat("x", 2048-len("https://t.example.com/"))
	tests := []struct {
		name     string
		lookup   func(iss string) (logout.Provider, bool) // nil: no LookupProvider
		token    func() string
		sentinel error
		status   int
		desc     string
		lookups  int // how many times LookupProvider is asked
	}{
		{"unknown issuer, no lookup", nil, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "https://other.example.com")) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, `iss "https://other.example.com" is not a configured provider's issuer`, 0},
		{"unknown issuer, looked up", func(string) (logout.Provider, bool) { return logout.Provider{}, false },
			func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "https://other.example.com")) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, "is not a configured provider's issuer", 1},
		{"no iss", func(string) (logout.Provider, bool) { return logout.Provider{}, false },
			func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "")) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, `iss "" is not a configured provider's issuer`, 0},
		{"iss of 2049 bytes", func(string) (logout.Provider, bool) { return logout.Provider{}, false },
			func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), long+"x")) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, "is not a configured provider's issuer", 0},
		{"iss of 2048 bytes", func(string) (logout.Provider, bool) { return logout.Provider{}, false },
			func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), long)) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, "is not a configured provider's issuer", 1},
		{"unknown issuer of 256 bytes, quoted whole", nil, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), long[:256])) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, `iss "` + long[:256] + `" is not a configured provider's issuer`, 0},
		{"unknown issuer of 257 bytes, quoted cut", nil, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), long[:257])) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, `iss "` + long[:256] + `..." is not a configured provider's issuer`, 0},
		{"iss is not a string", nil, func() string { return signRaw(t, ka, `{"iss":7,"sid":"s"}`) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, "iss is not a string", 0},
		{"payload is not JSON", nil, func() string { return signRaw(t, ka, `iss`) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, "claims: not a JSON object", 0},
		{"lookup returns another issuer", func(string) (logout.Provider, bool) {
			return logout.Provider{Issuer: a.issuer, ClientID: "client-a"}, true
		}, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "https://t.example.com")) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, `iss "https://t.example.com" is not a configured provider's issuer`, 1},
		{"lookup returns a provider without client_id", func(iss string) (logout.Provider, bool) {
			return noDiscovery(logout.Provider{Issuer: iss}), true
		}, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "https://t.example.com")) },
			backchannel.ErrKeys, http.StatusBadGateway, "the provider's keys could not be fetched", 1},
		{"lookup returns an HS256 provider without secret", func(iss string) (logout.Provider, bool) {
			return noDiscovery(logout.Provider{Issuer: iss, ClientID: "c", SigningAlgorithms: []string{"HS256"}}), true
		}, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "https://t.example.com")) },
			backchannel.ErrKeys, http.StatusBadGateway, "the provider's keys could not be fetched", 1},
		{"lookup returns an HS256 provider with a short secret", func(iss string) (logout.Provider, bool) {
			return noDiscovery(logout.Provider{Issuer: iss, ClientID: "c", SigningAlgorithms: []string{"HS256"}, ClientSecret: strings.Repeat("s", 31)}), true
		}, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "https://t.example.com")) },
			backchannel.ErrKeys, http.StatusBadGateway, "the provider's keys could not be fetched", 1},
		{"HS256 token for a looked-up RS256 provider", func(iss string) (logout.Provider, bool) {
			return noDiscovery(logout.Provider{Issuer: iss, ClientID: "client-a"}), true
		}, func() string {
			return signHMAC(t, jose.HS256, testSecret, withIss(forClient(a, "client-a", "s"), "https://t.example.com"))
		},
			backchannel.ErrInvalidToken, http.StatusBadRequest, "algorithm HS256 is not the issuer's", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ledger := newRecordingLedger()
			var lookups int
			var lookup func(context.Context, string) (logout.Provider, bool)
			if tc.lookup != nil {
				lookup = func(_ context.Context, iss string) (logout.Provider, bool) {
					lookups++
					return tc.lookup(iss)
				}
			}
			m := newMiddleware(t, ledger, lookup, logout.Provider{Issuer: a.issuer, ClientID: "client-a"})
			h, err := backchannel.New(m, backchannel.Config{Ledger: ledger})
			require.NoError(t, err)
			token := tc.token()
			_, err = h.Verify(t.Context(), token)
			require.ErrorIs(t, err, tc.sentinel)
			lookups = 0
			code := "invalid_request"
			if tc.status == http.StatusBadGateway {
				code = "temporarily_unavailable"
			}
			claims := unverifiedClaims(token)
			refusedWithNothingRecorded(t, post(h, token), tc.status, code, tc.desc, ledger,
				append(keysOf(claims.Iss, claims), keysOf(a.issuer, claims)...)...)
			assert.Equal(t, tc.lookups, lookups)
			assert.Zero(t, a.jwksHits.Load(), "no provider's keys were fetched")
		})
	}
}

// withIss returns c with iss set to iss.
func withIss(c map[string]any, iss string) map[string]any {
	c["iss"] = iss
	return c
}

func TestProvidersSignedWithTheOtherProvidersKeyUnderItsOwnKid(t *testing.T) {
	// A token claiming B, signed by an ES256 key that A publishes under
	// B's kid: B's JWKS does not hold that key, so it fails.
	a, b, _, _, h, _ := twoProviders(t, nil)
	evil := newECKey(t, "b1")
	a.publish(evil)
	w := post(h, sign(t, evil, forClient(b, "client-b", "sb")))
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, decodeError(t, w).Description, "signature does not verify")
}

func TestProvidersHMACSecretIsPerProvider(t *testing.T) {
	a, b := startProvider(t), startProvider(t)
	const secretA, secretB = "secret-of-a-0123456789abcdef-0123", "secret-of-b-0123456789abcdef-0123"
	m := newMiddleware(t, nil, nil,
		logout.Provider{Issuer: a.issuer, ClientID: "client-a", SigningAlgorithms: []string{"HS256"}, ClientSecret: secretA},
		logout.Provider{Issuer: b.issuer, ClientID: "client-b", SigningAlgorithms: []string{"HS256"}, ClientSecret: secretB},
	)
	h, err := backchannel.New(m, backchannel.Config{Ledger: newStore()})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, post(h, signHMAC(t, jose.HS256, secretA, forClient(a, "client-a", "s"))).Code)
	assert.Equal(t, http.StatusOK, post(h, signHMAC(t, jose.HS256, secretB, forClient(b, "client-b", "s"))).Code)
	w := post(h, signHMAC(t, jose.HS256, secretA, forClient(b, "client-b", "s")))
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, decodeError(t, w).Description, "signature does not verify with the client secret")
}

func TestProvidersLookup(t *testing.T) {
	var calls atomic.Int32
	var tenant *testProvider
	var tenantAlgs atomic.Value // []string
	tenantAlgs.Store([]string{"RS256"})
	kt := newRSAKey(t, "t1")
	tenant = startProvider(t, kt)
	a, _, ka, _, h, store := twoProviders(t, func(_ context.Context, iss string) (logout.Provider, bool) {
		calls.Add(1)
		if iss != tenant.issuer {
			return logout.Provider{}, false
		}
		return logout.Provider{Issuer: tenant.issuer, ClientID: "client-t", SigningAlgorithms: tenantAlgs.Load().([]string)}, true
	})
	for i := range 3 {
		sid := fmt.Sprintf("st%d", i)
		require.Equal(t, http.StatusOK, post(h, sign(t, kt, forClient(tenant, "client-t", sid))).Code)
		assert.True(t, revoked(t, store, logout.SIDKey(tenant.issuer, sid), time.Time{}))
	}
	assert.Equal(t, int64(1), tenant.jwksHits.Load(), "a looked-up provider's keys are cached")
	assert.Equal(t, int32(3), calls.Load())

	require.Equal(t, http.StatusOK, post(h, sign(t, ka, forClient(a, "client-a", "sa"))).Code)
	assert.Equal(t, int32(3), calls.Load(), "a listed provider is not looked up")

	w := post(h, sign(t, ka, forClient(tenant, "client-t", "st9")))
	require.Equal(t, http.StatusBadRequest, w.Code, "A's key claiming the tenant's issuer")

	// The tenant moves to ES256: its cached provider is replaced, and
	// RS256 tokens are refused from then on.
	tenantAlgs.Store([]string{"ES256"})
	w = post(h, sign(t, kt, forClient(tenant, "client-t", "st10")))
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, decodeError(t, w).Description, "is not the issuer's")
}

func TestProvidersLookupReturnsAnotherIssuer(t *testing.T) {
	a, b, ka, _, _, _ := twoProviders(t, nil)
	ledger := newRecordingLedger()
	m := newMiddleware(t, ledger, func(context.Context, string) (logout.Provider, bool) {
		return logout.Provider{Issuer: b.issuer, ClientID: "client-a"}, true
	})
	h, err := backchannel.New(m, backchannel.Config{Ledger: ledger})
	require.NoError(t, err)
	token := sign(t, ka, forClient(a, "client-a", "sa"))
	claims := unverifiedClaims(token)
	refusedWithNothingRecorded(t, post(h, token), http.StatusBadRequest, "invalid_request",
		"is not a configured provider's issuer", ledger, keysOf(a.issuer, claims)...)
}

func TestNewValidation(t *testing.T) {
	m := newMiddleware(t, nil, nil, logout.Provider{Issuer: "https://a.example.com", ClientID: "c"})
	tests := []struct {
		name    string
		m       *logout.Middleware
		cfg     backchannel.Config
		wantErr string
	}{
		{"no middleware", nil, backchannel.Config{Ledger: newStore()}, "a logout.Middleware is required"},
		{"no ledger", m, backchannel.Config{}, "Config.Ledger is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := backchannel.New(tt.m, tt.cfg)
			require.ErrorIs(t, err, backchannel.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Nil(t, h)
		})
	}
}

func TestProvidersSameAlgorithmOtherProvidersKey(t *testing.T) {
	ka, kb := newRSAKey(t, "k1"), newRSAKey(t, "k1") // the same kid at both
	a, b := startProvider(t, ka), startProvider(t, kb)
	store := newStore()
	m := newMiddleware(t, store, nil,
		logout.Provider{Issuer: a.issuer, ClientID: "client-a"},
		logout.Provider{Issuer: b.issuer, ClientID: "client-b"},
	)
	h, err := backchannel.New(m, backchannel.Config{Ledger: store})
	require.NoError(t, err)
	for _, k := range []signingKey{ka, {kid: "", alg: ka.alg, priv: ka.priv}} {
		w := post(h, sign(t, k, forClient(b, "client-b", "sb")))
		require.Equal(t, http.StatusBadRequest, w.Code, "A's key (kid %q) claiming B's issuer", k.kid)
		assert.Contains(t, decodeError(t, w).Description, "signature does not verify with the provider's keys")
	}
	assert.False(t, revoked(t, store, logout.SIDKey(b.issuer, "sb"), time.Time{}))
	require.Equal(t, http.StatusOK, post(h, sign(t, kb, forClient(b, "client-b", "sb"))).Code)
	assert.True(t, revoked(t, store, logout.SIDKey(b.issuer, "sb"), time.Time{}))
	assert.Equal(t, int64(0), a.jwksHits.Load(), "only B's keys were fetched")
}

// BenchmarkBackChannelLogoutProviders is BenchmarkBackChannelLogout with
// the provider picked among two by the token's iss.
func BenchmarkBackChannelLogoutProviders(b *testing.B) {
	k, other := newRSAKey(b, "k"), newRSAKey(b, "o")
	p, q := startProvider(b, k), startProvider(b, other)
	m := newMiddleware(b, nil, nil,
		logout.Provider{Issuer: q.issuer, ClientID: "other"},
		logout.Provider{Issuer: p.issuer, ClientID: testClientID},
	)
	h, err := backchannel.New(m, backchannel.Config{Ledger: newStore()})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		token := sign(b, k, p.claims("sid", ""))
		b.StartTimer()
		if w := post(h, token); w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// TestIssuerTrailingSlash checks the middleware's rule for issuers: a
// token whose iss differs from the provider's Issuer only by one trailing
// slash is accepted, and its logout is recorded under the Ledger keys the
// session check and front-channel logout use for the configured issuer.
func TestIssuerTrailingSlash(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	tests := []struct {
		name               string
		configured, tokens string
	}{
		{"token with a slash, issuer without", p.issuer, p.issuer + "/"},
		{"token without a slash, issuer with", p.issuer + "/", p.issuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore()
			m := newMiddleware(t, store, nil, logout.Provider{Issuer: tc.configured, ClientID: testClientID})
			h, err := backchannel.New(m, backchannel.Config{Ledger: store})
			require.NoError(t, err)
			for _, c := range []map[string]any{p.claims("sid-1", ""), p.claims("", "alice")} {
				c["iss"] = tc.tokens
				w := post(h, sign(t, k, c))
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			}
			assert.True(t, revoked(t, store, logout.SIDKey(tc.configured, "sid-1"), time.Time{}), "the session check's sid key")
			assert.True(t, revoked(t, store, logout.SubjectKey(tc.configured, "alice"), time.Now().Add(-time.Minute)), "the session check's sub key")
			assert.Equal(t, logout.SIDKey(tc.configured, "sid-1"), logout.SIDKey(tc.tokens, "sid-1"))
			assert.Equal(t, 4, store.Len(), "two logouts and their jti")
		})
	}
}

// TestVerifierCacheIsBounded checks that tokens naming many looked-up
// providers keep at most ProviderCacheSize verifiers, each provider's
// tokens still verified with its own settings.
func TestVerifierCacheIsBounded(t *testing.T) {
	p := startProvider(t)
	store := newStore()
	m := newMiddleware(t, store, func(_ context.Context, iss string) (logout.Provider, bool) {
		return noDiscovery(logout.Provider{Issuer: iss, ClientID: "c", SigningAlgorithms: []string{"HS256"}, ClientSecret: testSecret}), true
	})
	h, err := backchannel.New(m, backchannel.Config{Ledger: store})
	require.NoError(t, err)
	n := backchannel.ProviderCacheSize + 10
	for i := range n {
		iss := fmt.Sprintf("https://tenant-%d.example.com", i)
		w := post(h, signHMAC(t, jose.HS256, testSecret, withIss(forClient(p, "c", "s"), iss)))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.LessOrEqual(t, backchannel.CachedVerifiers(h), backchannel.ProviderCacheSize)
	}
	assert.Equal(t, backchannel.ProviderCacheSize, backchannel.CachedVerifiers(h))
	assert.Equal(t, 2*n, store.Len(), "every logout and its jti")
}

// TestSingleProviderTokenWithoutIss checks that a token without iss is
// refused before anything is fetched, even when the middleware has a
// single provider (to which Discover("") would answer).
func TestSingleProviderTokenWithoutIss(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	ledger := newRecordingLedger()
	h := newHandler(t, p, ledger, nil)
	c := p.claims("sid-1", "")
	delete(c, "iss")
	token := sign(t, k, c)
	refusedWithNothingRecorded(t, post(h, token), http.StatusBadRequest, "invalid_request",
		`iss "" is not a configured provider's issuer`, ledger, keysOf(p.issuer, unverifiedClaims(token))...)
	assert.Zero(t, p.jwksHits.Load(), "no keys were fetched")
	assert.Zero(t, p.discoHits.Load(), "nothing was discovered")
}

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
func twoProviders(t *testing.T, lookup func(context.Context, string) (backchannel.Provider, bool)) (a, b *testProvider, ka, kb signingKey, h *backchannel.Handler, store *logout.MemoryLedger) {
	t.Helper()
	ka, kb = newRSAKey(t, "a1"), newECKey(t, "b1")
	a, b = startProvider(t, ka), startProvider(t, kb)
	store = newStore()
	var err error
	h, err = backchannel.New(backchannel.Config{
		Ledger: store,
		Providers: []backchannel.Provider{
			{Issuer: a.issuer, ClientID: "client-a"},
			{Issuer: b.issuer, ClientID: "client-b", Algorithms: algs(jose.ES256)},
		},
		LookupProvider: lookup,
	})
	require.NoError(t, err)
	return a, b, ka, kb, h, store
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
		}, http.StatusBadRequest, "is not the configured issuer", ""},
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
			c := forClient(a, "client-a", "sa")
			c["iss"] = a.issuer + "/"
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
		lookup   func(iss string) (backchannel.Provider, bool) // nil: no LookupProvider
		token    func() string
		sentinel error
		status   int
		desc     string
		lookups  int // how many times LookupProvider is asked
	}{
		{"unknown issuer, no lookup", nil, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "https://other.example.com")) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, `iss "https://other.example.com" is not a configured provider's issuer`, 0},
		{"unknown issuer, looked up", func(string) (backchannel.Provider, bool) { return backchannel.Provider{}, false },
			func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "https://other.example.com")) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, "is not a configured provider's issuer", 1},
		{"no iss", func(string) (backchannel.Provider, bool) { return backchannel.Provider{}, false },
			func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "")) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, `iss "" is not a configured provider's issuer`, 0},
		{"iss of 2049 bytes", func(string) (backchannel.Provider, bool) { return backchannel.Provider{}, false },
			func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), long+"x")) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, "is not a configured provider's issuer", 0},
		{"iss of 2048 bytes", func(string) (backchannel.Provider, bool) { return backchannel.Provider{}, false },
			func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), long)) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, "is not a configured provider's issuer", 1},
		{"unknown issuer of 256 bytes, quoted whole", nil, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), long[:256])) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, `iss "` + long[:256] + `" is not a configured provider's issuer`, 0},
		{"unknown issuer of 257 bytes, quoted cut", nil, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), long[:257])) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, `iss "` + long[:256] + `..." is not a configured provider's issuer`, 0},
		{"iss is not a string", nil, func() string { return signRaw(t, ka, `{"iss":7,"sid":"s"}`) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, "claims: not a JSON object with a string iss", 0},
		{"payload is not JSON", nil, func() string { return signRaw(t, ka, `iss`) },
			backchannel.ErrInvalidToken, http.StatusBadRequest, "claims: not a JSON object with a string iss", 0},
		{"lookup returns another issuer", func(string) (backchannel.Provider, bool) {
			return backchannel.Provider{Issuer: a.issuer, ClientID: "client-a"}, true
		}, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "https://t.example.com")) },
			backchannel.ErrKeys, http.StatusBadGateway, "the provider's keys could not be fetched", 1},
		{"lookup returns a provider without client_id", func(iss string) (backchannel.Provider, bool) {
			return backchannel.Provider{Issuer: iss}, true
		}, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "https://t.example.com")) },
			backchannel.ErrKeys, http.StatusBadGateway, "the provider's keys could not be fetched", 1},
		{"lookup returns an HS256 provider without secret", func(iss string) (backchannel.Provider, bool) {
			return backchannel.Provider{Issuer: iss, ClientID: "c", Algorithms: algs(jose.HS256)}, true
		}, func() string { return sign(t, ka, withIss(forClient(a, "client-a", "s"), "https://t.example.com")) },
			backchannel.ErrKeys, http.StatusBadGateway, "the provider's keys could not be fetched", 1},
		{"HS256 token for a looked-up RS256 provider", func(iss string) (backchannel.Provider, bool) {
			return backchannel.Provider{Issuer: iss, ClientID: "client-a"}, true
		}, func() string {
			return signHMAC(t, jose.HS256, testSecret, withIss(forClient(a, "client-a", "s"), "https://t.example.com"))
		},
			backchannel.ErrInvalidToken, http.StatusBadRequest, "algorithm HS256 is not the issuer's", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ledger := newRecordingLedger()
			var lookups int
			cfg := backchannel.Config{Ledger: ledger, Providers: []backchannel.Provider{{Issuer: a.issuer, ClientID: "client-a"}}}
			if tc.lookup != nil {
				cfg.LookupProvider = func(_ context.Context, iss string) (backchannel.Provider, bool) {
					lookups++
					return tc.lookup(iss)
				}
			}
			h, err := backchannel.New(cfg)
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
	h, err := backchannel.New(backchannel.Config{
		Ledger: newStore(),
		Providers: []backchannel.Provider{
			{Issuer: a.issuer, ClientID: "client-a", Algorithms: algs(jose.HS256), ClientSecret: secretA},
			{Issuer: b.issuer, ClientID: "client-b", Algorithms: algs(jose.HS256), ClientSecret: secretB},
		},
	})
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
	var tenantAlgs atomic.Value // []jose.SignatureAlgorithm
	tenantAlgs.Store(algs(jose.RS256))
	kt := newRSAKey(t, "t1")
	tenant = startProvider(t, kt)
	a, _, ka, _, h, store := twoProviders(t, func(_ context.Context, iss string) (backchannel.Provider, bool) {
		calls.Add(1)
		if iss != tenant.issuer {
			return backchannel.Provider{}, false
		}
		return backchannel.Provider{Issuer: tenant.issuer, ClientID: "client-t", Algorithms: tenantAlgs.Load().([]jose.SignatureAlgorithm)}, true
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
	tenantAlgs.Store(algs(jose.ES256))
	w = post(h, sign(t, kt, forClient(tenant, "client-t", "st10")))
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, decodeError(t, w).Description, "is not the issuer's")
}

func TestProvidersLookupReturnsAnotherIssuer(t *testing.T) {
	a, b, ka, _, _, _ := twoProviders(t, nil)
	h, err := backchannel.New(backchannel.Config{
		Ledger: newStore(),
		LookupProvider: func(context.Context, string) (backchannel.Provider, bool) {
			return backchannel.Provider{Issuer: b.issuer, ClientID: "client-a"}, true
		},
	})
	require.NoError(t, err)
	w := post(h, sign(t, ka, forClient(a, "client-a", "sa")))
	assert.Equal(t, http.StatusBadGateway, w.Code)
}

func TestProvidersConfigValidation(t *testing.T) {
	p := backchannel.Provider{Issuer: "https://a.example.com", ClientID: "c"}
	tests := []struct {
		name    string
		cfg     backchannel.Config
		wantErr string
	}{
		{"Issuer with Providers", backchannel.Config{Issuer: "https://a.example.com", Providers: []backchannel.Provider{p}}, "must be empty"},
		{"ClientID with LookupProvider", backchannel.Config{ClientID: "c", LookupProvider: func(context.Context, string) (backchannel.Provider, bool) {
			return p, true
		}}, "must be empty"},
		{"provider without client_id", backchannel.Config{Providers: []backchannel.Provider{{Issuer: p.Issuer}}}, "Config.Providers[0]"},
		{"relative issuer", backchannel.Config{Providers: []backchannel.Provider{{Issuer: "/x", ClientID: "c"}}}, "not an absolute URL"},
		{"issuer twice", backchannel.Config{Providers: []backchannel.Provider{p, p}}, "listed twice"},
		{"HS256 without secret", backchannel.Config{Providers: []backchannel.Provider{{Issuer: p.Issuer, ClientID: "c", Algorithms: algs(jose.HS256)}}}, "needs Config.ClientSecret"},
		{"none", backchannel.Config{Providers: []backchannel.Provider{{Issuer: p.Issuer, ClientID: "c", Algorithms: algs("none")}}}, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Ledger = newStore()
			_, err := backchannel.New(tt.cfg)
			require.ErrorIs(t, err, backchannel.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestProvidersSameAlgorithmOtherProvidersKey(t *testing.T) {
	ka, kb := newRSAKey(t, "k1"), newRSAKey(t, "k1") // the same kid at both
	a, b := startProvider(t, ka), startProvider(t, kb)
	store := newStore()
	h, err := backchannel.New(backchannel.Config{
		Ledger: store,
		Providers: []backchannel.Provider{
			{Issuer: a.issuer, ClientID: "client-a"},
			{Issuer: b.issuer, ClientID: "client-b"},
		},
	})
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
	h, err := backchannel.New(backchannel.Config{
		Ledger: newStore(),
		Providers: []backchannel.Provider{
			{Issuer: q.issuer, ClientID: "other"},
			{Issuer: p.issuer, ClientID: testClientID},
		},
	})
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

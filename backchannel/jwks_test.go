package backchannel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/backchannel"
)

// serveIssuer starts an issuer whose discovery document is doc, with
// "{issuer}" replaced by the issuer's URL, and returns that URL.
func serveIssuer(t *testing.T, status int, doc map[string]string) string {
	t.Helper()
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		out := map[string]string{}
		for k, v := range doc {
			if v == "{issuer}" {
				v = issuer
			}
			out[k] = v
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL
	return issuer
}

// TestKeyFetchFailures checks that a token whose provider's keys cannot
// be fetched is refused with ErrKeys and a 502, so that the provider
// retries it, and records nothing.
func TestKeyFetchFailures(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name    string
		issuer  func(t *testing.T) string
		jwksURI func(t *testing.T) string
		cause   string // in Verify's error
	}{
		{"issuer unreachable", func(*testing.T) string { return closed.URL }, nil, "/.well-known/openid-configuration\": dial"},
		{"discovery answers 404", func(t *testing.T) string {
			return serveIssuer(t, http.StatusNotFound, map[string]string{"issuer": "{issuer}", "jwks_uri": p.issuer + "/jwks"})
		}, nil, "/.well-known/openid-configuration: status 404"},
		{"discovery names another issuer", func(t *testing.T) string {
			return serveIssuer(t, http.StatusOK, map[string]string{"issuer": p.issuer, "jwks_uri": p.issuer + "/jwks"})
		}, nil, "does not match configured issuer"},
		{"discovery has no jwks_uri", func(t *testing.T) string {
			return serveIssuer(t, http.StatusOK, map[string]string{"issuer": "{issuer}"})
		}, nil, "the provider has no jwks_uri"},
		{"discovery has a jwks_uri that is not HTTP", func(t *testing.T) string {
			return serveIssuer(t, http.StatusOK, map[string]string{"issuer": "{issuer}", "jwks_uri": "file:///etc/jwks.json"})
		}, nil, `jwks_uri "file:///etc/jwks.json": want an absolute http or https URL`},
		{"discovery has a relative jwks_uri", func(t *testing.T) string {
			return serveIssuer(t, http.StatusOK, map[string]string{"issuer": "{issuer}", "jwks_uri": "/jwks"})
		}, nil, `jwks_uri "/jwks": want an absolute http or https URL`},
		{"JWKS unreachable", func(t *testing.T) string {
			return serveIssuer(t, http.StatusOK, map[string]string{"issuer": "{issuer}", "jwks_uri": closed.URL + "/jwks"})
		}, nil, "/jwks\": dial"},
		{"configured JWKS URI answers 404", func(*testing.T) string { return p.issuer }, func(*testing.T) string { return p.issuer + "/nothing" }, "/nothing: status 404"},
		{"configured JWKS URI answers HTML", func(*testing.T) string { return p.issuer }, func(t *testing.T) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte("<html>maintenance</html>"))
			}))
			t.Cleanup(srv.Close)
			return srv.URL
		}, "decoding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			issuer := tc.issuer(t)
			ledger := newRecordingLedger()
			cfg := testConfig{Config: backchannel.Config{Ledger: ledger}, Issuer: issuer, ClientID: testClientID}
			if tc.jwksURI != nil {
				cfg.JWKSURI = tc.jwksURI(t)
			}
			h, err := build(t, cfg)
			require.NoError(t, err)
			c := p.claims("sid-1", "alice")
			c["iss"] = issuer
			token := sign(t, k, c)

			_, err = h.Verify(t.Context(), token)
			require.ErrorIs(t, err, backchannel.ErrKeys)
			assert.Contains(t, err.Error(), tc.cause)
			assert.NotErrorIs(t, err, backchannel.ErrInvalidToken)
			refusedWithNothingRecorded(t, post(h, token), http.StatusBadGateway, "temporarily_unavailable",
				"the provider's keys could not be fetched", ledger, keysOf(issuer, unverifiedClaims(token))...)
		})
	}
}

// TestKeysDownThenUp checks that while a provider's JWKS cannot be
// fetched, tokens get a 502 and record nothing, and that once it can, the
// provider's retry is accepted at once.
func TestKeysDownThenUp(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	p.jwksDown.Store(true)
	ledger := newRecordingLedger()
	h := newHandler(t, p, ledger, nil)
	token := sign(t, k, p.claims("sid-1", ""))
	for range 2 {
		refusedWithNothingRecorded(t, post(h, token), http.StatusBadGateway, "temporarily_unavailable",
			"the provider's keys could not be fetched", ledger, keysOf(p.issuer, unverifiedClaims(token))...)
	}
	p.jwksDown.Store(false)
	require.Equal(t, http.StatusOK, post(h, token).Code)
	assert.Equal(t, acceptedWrites(unverifiedClaims(token), defaultEndedTTL, defaultJTITTL), ledger.Writes())
	assert.EqualValues(t, 3, p.jwksHits.Load(), "without keys, each token fetches them")
}

// TestKeyCacheTTL checks that the JWKS is fetched again once it is an
// hour old, and not before; that discovery is done once; and that keys
// whose refresh fails stay in use.
func TestKeyCacheTTL(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ledger := newRecordingLedger()
	h := newHandler(t, p, ledger, func(c *testConfig) { c.Now = clock.Now })
	accept := func(sid string) {
		t.Helper()
		w := post(h, sign(t, k, p.claimsAt(clock.Now(), sid, "")))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	}

	accept("s1")
	assert.EqualValues(t, 1, p.jwksHits.Load())
	clock.Advance(time.Hour - time.Nanosecond)
	accept("s2")
	assert.EqualValues(t, 1, p.jwksHits.Load(), "a set younger than an hour is used as it is")
	clock.Advance(time.Nanosecond)
	accept("s3")
	assert.EqualValues(t, 2, p.jwksHits.Load(), "an hour-old set is fetched again")
	assert.EqualValues(t, 1, p.discoHits.Load(), "jwks_uri is discovered once")

	p.jwksDown.Store(true)
	clock.Advance(time.Hour)
	accept("s4")
	assert.EqualValues(t, 3, p.jwksHits.Load(), "a refresh was tried")
	assert.Len(t, ledger.Writes(), 8, "every token was recorded, the last with the keys of the failed refresh")
}

// TestUnknownKidRefreshBound checks that a token naming an unknown kid
// makes the JWKS be fetched again only once the last fetch is
// MinKeyRefresh old (10 seconds by default), and that a token refused
// meanwhile records nothing.
func TestUnknownKidRefreshBound(t *testing.T) {
	for _, tc := range []struct {
		name       string
		minRefresh time.Duration
		want       time.Duration
	}{
		{"default", 0, 10 * time.Second},
		{"configured", time.Minute, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldKey, newKey := newRSAKey(t, "old"), newRSAKey(t, "new")
			p := startProvider(t, oldKey)
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			ledger := newRecordingLedger()
			h := newHandler(t, p, ledger, func(c *testConfig) {
				c.Now, c.MinKeyRefresh = clock.Now, tc.minRefresh
			})
			require.Equal(t, http.StatusOK, post(h, sign(t, oldKey, p.claimsAt(clock.Now(), "s1", ""))).Code)
			recorded := ledger.Writes()
			p.publish(oldKey, newKey)

			clock.Advance(tc.want - time.Nanosecond)
			token := sign(t, newKey, p.claimsAt(clock.Now(), "s2", ""))
			assertRefused(t, post(h, token), http.StatusBadRequest, "invalid_request", `no provider key with kid "new"`)
			assert.Equal(t, recorded, ledger.Writes(), "the refused token recorded nothing")
			assert.EqualValues(t, 1, p.jwksHits.Load(), "no fetch before MinKeyRefresh")

			clock.Advance(time.Nanosecond)
			w := post(h, token)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.EqualValues(t, 2, p.jwksHits.Load())
			assert.Equal(t, append(recorded, acceptedWrites(unverifiedClaims(token), defaultEndedTTL, defaultJTITTL)...), ledger.Writes())
		})
	}
}

// TestUnknownKidRefreshFails checks that a token naming an unknown kid,
// whose refresh of the JWKS fails, gets a 502 and records nothing.
func TestUnknownKidRefreshFails(t *testing.T) {
	oldKey, newKey := newRSAKey(t, "old"), newRSAKey(t, "new")
	p := startProvider(t, oldKey)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ledger := newRecordingLedger()
	h := newHandler(t, p, ledger, func(c *testConfig) { c.Now = clock.Now })
	require.NoError(t, verifyOnly(h, sign(t, oldKey, p.claimsAt(clock.Now(), "s1", ""))))
	p.jwksDown.Store(true)
	clock.Advance(time.Minute)
	token := sign(t, newKey, p.claimsAt(clock.Now(), "s2", ""))
	refusedWithNothingRecorded(t, post(h, token), http.StatusBadGateway, "temporarily_unavailable",
		"the provider's keys could not be fetched", ledger, keysOf(p.issuer, unverifiedClaims(token))...)
	assert.EqualValues(t, 2, p.jwksHits.Load())
}

// verifyOnly verifies token with h, recording nothing.
func verifyOnly(h *backchannel.Handler, token string) error {
	_, err := h.Verify(context.Background(), token)
	return err
}

// countingTransport counts the requests it forwards.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestHTTPClient checks that Config.HTTPClient fetches the JWKS, with or
// without a Timeout of its own (the middleware's client fetches the
// discovery document).
func TestHTTPClient(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	for _, timeout := range []time.Duration{0, 30 * time.Second} {
		t.Run(timeout.String(), func(t *testing.T) {
			rt := &countingTransport{}
			ledger := newRecordingLedger()
			jwksBefore := p.jwksHits.Load()
			h := newHandler(t, p, ledger, func(c *testConfig) {
				c.HTTPClient = &http.Client{Transport: rt, Timeout: timeout}
			})
			token := sign(t, k, p.claims("sid-1", ""))
			w := post(h, token)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.EqualValues(t, 1, rt.n.Load(), "the JWKS")
			assert.EqualValues(t, 1, p.jwksHits.Load()-jwksBefore, "the JWKS was fetched")
			assert.Equal(t, acceptedWrites(unverifiedClaims(token), defaultEndedTTL, defaultJTITTL), ledger.Writes())
		})
	}
}

// TestJWKSKeysThatCannotBeRead checks that a JWKS key of a type, curve or
// form this module cannot read is ignored, not the whole set (RFC 7517,
// section 5): the provider's signing keys next to it still verify its
// logout tokens.
func TestJWKSKeysThatCannotBeRead(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	signing, err := json.Marshal(publicJWK(k, "RS256", "sig"))
	require.NoError(t, err)
	unreadable := []string{
		`{"kty":"OKP","crv":"X25519","use":"enc","kid":"x25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`,
		`{"kty":"XYZ","kid":"future"}`,
		`{"kid":"no-kty"}`,
		`{"kty":"RSA","kid":"no-modulus","e":"AQAB"}`,
		`"not an object"`,
	}
	for _, u := range unreadable {
		t.Run(u, func(t *testing.T) {
			p.publishRaw(`{"keys":[` + u + `,` + string(signing) + `]}`)
			ledger := newRecordingLedger()
			h := newHandler(t, p, ledger, nil)
			token := sign(t, k, p.claims("sid-1", ""))
			w := post(h, token)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, acceptedWrites(unverifiedClaims(token), defaultEndedTTL, defaultJTITTL), ledger.Writes())
		})
	}
	t.Run("no keys member", func(t *testing.T) {
		p.publishRaw(`{"keys":"none"}`)
		ledger := newRecordingLedger()
		h := newHandler(t, p, ledger, nil)
		token := sign(t, k, p.claims("sid-1", ""))
		refusedWithNothingRecorded(t, post(h, token), http.StatusBadGateway, "temporarily_unavailable",
			"the provider's keys could not be fetched", ledger, keysOf(p.issuer, unverifiedClaims(token))...)
	})
}

// TestStaleKeysRefreshIsBounded checks that while the JWKS cannot be
// fetched, a set past its hour stays in use and is fetched again at most
// once every MinKeyRefresh, however many tokens come: the provider is not
// hammered, and requests do not each wait for a failing fetch.
func TestStaleKeysRefreshIsBounded(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ledger := newRecordingLedger()
	h := newHandler(t, p, ledger, func(c *testConfig) { c.Now = clock.Now })
	accept := func(sid string) {
		t.Helper()
		w := post(h, sign(t, k, p.claimsAt(clock.Now(), sid, "")))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	}
	accept("s0")
	require.EqualValues(t, 1, p.jwksHits.Load())

	p.jwksDown.Store(true)
	clock.Advance(time.Hour)
	for i := range 3 {
		accept(fmt.Sprint("s1-", i))
	}
	assert.EqualValues(t, 2, p.jwksHits.Load(), "one failed refresh")
	clock.Advance(10*time.Second - time.Nanosecond)
	accept("s2")
	assert.EqualValues(t, 2, p.jwksHits.Load(), "no refresh before MinKeyRefresh")
	clock.Advance(time.Nanosecond)
	accept("s3")
	assert.EqualValues(t, 3, p.jwksHits.Load(), "another refresh after MinKeyRefresh")

	p.jwksDown.Store(false)
	clock.Advance(10 * time.Second)
	accept("s4")
	accept("s5")
	assert.EqualValues(t, 4, p.jwksHits.Load(), "a successful refresh, then the new set is used")
	assert.Len(t, ledger.Writes(), 2*8)
}

// TestDiscoveryDownKeysKnown checks that a provider whose discovery
// document cannot be fetched still has its tokens accepted when nothing
// needs discovering: its JWKSURI is configured, or it signs with its
// client secret. Without either, the token is answered 502.
func TestDiscoveryDownKeysKnown(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name   string
		mutate func(*testConfig)
		token  func(claims map[string]any) string
		status int
	}{
		{"JWKSURI configured", func(c *testConfig) { c.JWKSURI = p.issuer + "/jwks" },
			func(c map[string]any) string { return sign(t, k, c) }, http.StatusOK},
		{"HS256 with the client secret", func(c *testConfig) { c.Algorithms, c.ClientSecret = algs(jose.HS256), testSecret },
			func(c map[string]any) string { return signHMAC(t, jose.HS256, testSecret, c) }, http.StatusOK},
		{"RS256 without JWKSURI", nil,
			func(c map[string]any) string { return sign(t, k, c) }, http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ledger := newRecordingLedger()
			h := newHandler(t, p, ledger, func(c *testConfig) {
				c.Issuer = closed.URL
				if tc.mutate != nil {
					tc.mutate(c)
				}
			})
			c := p.claims("sid-1", "")
			c["iss"] = closed.URL
			token := tc.token(c)
			w := post(h, token)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			if tc.status == http.StatusOK {
				assert.Equal(t, acceptedWrites(unverifiedClaims(token), defaultEndedTTL, defaultJTITTL), ledger.Writes())
				return
			}
			refusedWithNothingRecorded(t, w, http.StatusBadGateway, "temporarily_unavailable",
				"the provider's keys could not be fetched", ledger, keysOf(closed.URL, unverifiedClaims(token))...)
		})
	}
}

package backchannel_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/backchannel"
)

// TestAlgorithmPinning checks that only the client's algorithms are
// accepted: RS256 by default, whatever else the provider's JWKS offers.
func TestAlgorithmPinning(t *testing.T) {
	rsaKey, ecKey := newRSAKey(t, "rsa"), newECKey(t, "ec")
	pss := signingKey{kid: "rsa", alg: jose.PS256, priv: rsaKey.priv}
	rs384 := signingKey{kid: "rsa", alg: jose.RS384, priv: rsaKey.priv}
	p := startProvider(t, rsaKey, ecKey)
	// The RSA key is published without "alg", so that only the handler's
	// algorithms decide whether PS256 and RS384 are accepted.
	p.publishJWKs(
		jose.JSONWebKey{Key: rsaKey.priv.Public(), KeyID: "rsa", Use: "sig"},
		jose.JSONWebKey{Key: ecKey.priv.Public(), KeyID: "ec", Algorithm: "ES256", Use: "sig"},
	)
	tests := []struct {
		name   string
		algs   []jose.SignatureAlgorithm
		signer signingKey
		wantOK bool
	}{
		{"default: RS256", nil, rsaKey, true},
		{"default: ES256 by a published key", nil, ecKey, false},
		{"default: PS256 by the RSA key", nil, pss, false},
		{"default: RS384 by the RSA key", nil, rs384, false},
		{"ES256 client: ES256", algs(jose.ES256), ecKey, true},
		{"ES256 client: RS256 by a published key", algs(jose.ES256), rsaKey, false},
		{"RS256 and PS256 client: PS256", algs(jose.RS256, jose.PS256), pss, true},
		{"RS256 and PS256 client: RS384", algs(jose.RS256, jose.PS256), rs384, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore()
			h := newHandler(t, p, store, func(c *testConfig) { c.Algorithms = tc.algs })
			w := post(h, signRaw(t, tc.signer, mustJSON(t, p.claims("sid", "alice"))))
			if tc.wantOK {
				assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
				return
			}
			require.Equal(t, http.StatusBadRequest, w.Code)
			assert.Contains(t, decodeError(t, w).Description, "algorithm")
			assert.Zero(t, store.Len())
		})
	}
}

// TestClientSecretHMAC checks HS256 logout tokens (GenAuth apps whose
// id_tokens are HS256): accepted when signed with the client secret, and
// the client secret is the only HMAC key ever used.
func TestClientSecretHMAC(t *testing.T) {
	rsaKey := newRSAKey(t, "rsa")
	p := startProvider(t, rsaKey)
	hs256 := func(c *testConfig) {
		c.Algorithms, c.ClientSecret = algs(jose.HS256), testSecret
	}
	t.Run("signed with the client secret", func(t *testing.T) {
		store := newStore()
		h := newHandler(t, p, store, hs256)
		w := post(h, signHMAC(t, jose.HS256, testSecret, p.claims("sid-1", "alice")))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, 2, store.Len(), "the logout and the jti")
		assert.Zero(t, p.jwksHits.Load(), "an HMAC token never looks at the JWKS")
	})

	otherSecret := "another-secret-0123456789abcdefghij"
	oct := jose.JSONWebKey{Key: []byte(otherSecret), KeyID: "oct-1", Algorithm: "HS256", Use: "sig"}
	tests := []struct {
		name, want string
		token      func() string
	}{
		{"another secret", "client secret", func() string {
			return signHMAC(t, jose.HS256, otherSecret, p.claims("sid-1", "alice"))
		}},
		{"an oct key the provider publishes, named by kid", "client secret", func() string {
			return signPayload(t, jose.SigningKey{Algorithm: jose.HS256, Key: oct}, nil, []byte(mustJSON(t, p.claims("sid-1", "alice"))))
		}},
		{"the provider's public key as the secret", "client secret", func() string {
			return hmacWithPublicKey(t, rsaKey, p.claims("sid-1", "alice"))
		}},
		{"HS384 with the client secret, not listed", "algorithm", func() string {
			return signHMAC(t, jose.HS384, testSecret+testSecret, p.claims("sid-1", "alice"))
		}},
		{"RS256 by the provider's published key", "algorithm", func() string {
			return sign(t, rsaKey, p.claims("sid-1", "alice"))
		}},
		{"alg none", "algorithm", func() string { return unsignedToken(t, "", p.claims("sid-1", "alice")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.publishJWKs(jose.JSONWebKey{Key: rsaKey.priv.Public(), KeyID: "rsa", Use: "sig"}, oct)
			store := newStore()
			h := newHandler(t, p, store, hs256)
			w := post(h, tc.token())
			require.Equal(t, http.StatusBadRequest, w.Code)
			assert.Contains(t, decodeError(t, w).Description, tc.want)
			assert.Zero(t, store.Len())
		})
	}

	t.Run("RS256 and HS256 client", func(t *testing.T) {
		p.publish(rsaKey)
		h := newHandler(t, p, newStore(), func(c *testConfig) {
			c.Algorithms, c.ClientSecret = algs(jose.RS256, jose.HS256), testSecret
		})
		assert.Equal(t, http.StatusOK, post(h, sign(t, rsaKey, p.claims("a", ""))).Code)
		assert.Equal(t, http.StatusOK, post(h, signHMAC(t, jose.HS256, testSecret, p.claims("b", ""))).Code)
		w := post(h, hmacWithPublicKey(t, rsaKey, p.claims("c", "")))
		assert.Equal(t, http.StatusBadRequest, w.Code, "the public key is never an HMAC key")
	})

	t.Run("a client secret alone accepts no HMAC token", func(t *testing.T) {
		h := newHandler(t, p, newStore(), func(c *testConfig) { c.ClientSecret = testSecret })
		w := post(h, signHMAC(t, jose.HS256, testSecret, p.claims("d", "")))
		require.Equal(t, http.StatusBadRequest, w.Code)
		assert.Contains(t, decodeError(t, w).Description, "algorithm")
	})
}

// TestStrictClaims checks that claims are read as RFC 7519 defines them:
// names are case-sensitive, NumericDates are JSON numbers, a claim
// appears once, and the payload is one JSON object and nothing more.
func TestStrictClaims(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	valid := func(drop ...string) map[string]any {
		c := p.claims("sid-1", "alice")
		for _, name := range drop {
			delete(c, name)
		}
		return c
	}
	// with returns the JSON of c followed by more members, written as is.
	with := func(c map[string]any, members string) string {
		s := mustJSON(t, c)
		return s[:len(s)-1] + "," + members + "}"
	}
	iat := valid()["iat"].(int64)
	tests := []struct {
		name, payload, want string // want "" means accepted
	}{
		{"unknown claims are ignored", with(valid(), `"ignored_claim":"x","Nonce":"n","ISS":"https://evil.example"`), ""},
		{"NumericDates with fractions", with(valid("iat", "exp"), `"iat":`+jsonNum(iat)+`.5,"exp":`+jsonNum(iat+120)+`.25`), ""},
		{"issuer only as ISS", with(valid("iss"), `"ISS":`+mustJSON(t, p.issuer)), "iss"},
		{"issuer only as Iss", with(valid("iss"), `"Iss":`+mustJSON(t, p.issuer)), "iss"},
		{"ISS after a wrong iss", with(valid("iss"), `"iss":"https://evil.example","ISS":`+mustJSON(t, p.issuer)), "iss"},
		{"session only as Sid", with(valid("sid", "sub"), `"Sid":"sid-1"`), "sid nor sub"},
		{"subject only as SUB", with(valid("sid", "sub"), `"SUB":"alice"`), "sid nor sub"},
		{"audience only as Aud", with(valid("aud"), `"Aud":"`+testClientID+`"`), "aud"},
		{"jti only as JTI", with(valid("jti"), `"JTI":"j"`), "jti"},
		{"events only as Events", with(valid("events"), `"Events":{"`+backchannel.EventBackChannelLogout+`":{}}`), "events"},
		{"event name in other case", with(valid("events"), `"events":{"HTTP://schemas.openid.net/event/backchannel-logout":{}}`), "events"},
		{"iat as a numeric string", with(valid("iat"), `"iat":"`+jsonNum(iat)+`"`), "iat is not a number"},
		{"exp as a numeric string", with(valid("exp"), `"exp":"`+jsonNum(iat+120)+`"`), "exp is not a number"},
		{"iat null", with(valid("iat"), `"iat":null`), "iat is not a number"},
		{"exp null", with(valid("exp"), `"exp":null`), "exp is not a number"},
		{"iat as a boolean", with(valid("iat"), `"iat":true`), "iat is not a number"},
		{"sid as a number", with(valid("sid"), `"sid":1`), "sid is not a string"},
		{"sub null", with(valid("sub"), `"sub":null`), "sub is not a string"},
		{"iss as an array", with(valid("iss"), `"iss":[`+mustJSON(t, p.issuer)+`]`), "iss is not a string"},
		{"aud with a number", with(valid("aud"), `"aud":["`+testClientID+`",7]`), "aud is neither a string nor an array of strings"},
		{"aud as an object", with(valid("aud"), `"aud":{"`+testClientID+`":true}`), "aud is neither a string nor an array of strings"},
		{"no aud", mustJSON(t, valid("aud")), "aud is missing"},
		{"jti as a number", with(valid("jti"), `"jti":7`), "jti is not a string"},
		{"nonce null", with(valid(), `"nonce":null`), "nonce"},
		{"sid twice", with(valid("sid"), `"sid":"sid-1","sid":"sid-2"`), "twice"},
		{"iss twice, same value", with(valid(), `"iss":`+mustJSON(t, p.issuer)), "twice"},
		{"event twice", with(valid("events"), `"events":{"`+backchannel.EventBackChannelLogout+`":{},"`+backchannel.EventBackChannelLogout+`":{}}`), "twice"},
		{"another object after the payload", mustJSON(t, valid()) + `{"sid":"sid-2"}`, "follows"},
		{"garbage after the payload", mustJSON(t, valid()) + `x`, "claims"},
		{"white space after the payload", mustJSON(t, valid()) + " \n\t", ""},
		{"an array", `[` + mustJSON(t, valid()) + `]`, "not a JSON object"},
		{"truncated", mustJSON(t, valid())[:20], "claims: not a valid JSON object"},
		{"ends after a name it repeats", strings.TrimSuffix(mustJSON(t, valid()), "}") + `,"sid"`, "claims: not a valid JSON object"},
		{"closing brace missing", strings.TrimSuffix(mustJSON(t, valid()), "}"), "claims: not a valid JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore()
			w := post(newHandler(t, p, store, nil), signRaw(t, k, tc.payload))
			if tc.want == "" {
				assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
				return
			}
			require.Equal(t, http.StatusBadRequest, w.Code)
			assert.Contains(t, decodeError(t, w).Description, tc.want)
			assert.Zero(t, store.Len())
		})
	}
}

func jsonNum(n int64) string { return strconv.FormatInt(n, 10) }

// TestTimeWindow checks the edges of the times a logout token is accepted
// at, by the handler's clock: iat at most ClockSkew ahead and at most
// MaxAge plus ClockSkew behind, and exp, when present, more than
// ClockSkew behind. A token at an edge is recorded; one a second past it
// is refused and records nothing.
func TestTimeWindow(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	now := time.Unix(1_700_000_000, 0)
	windows := []struct {
		name              string
		maxAge, skew      time.Duration // as configured; 0 is the default
		wantAge, wantSkew time.Duration
	}{
		{"defaults", 0, 0, 5 * time.Minute, time.Minute},
		{"configured", 10 * time.Minute, 2 * time.Minute, 10 * time.Minute, 2 * time.Minute},
	}
	for _, win := range windows {
		age, skew := win.wantAge, win.wantSkew
		tests := []struct {
			name     string
			iat, exp time.Time // a zero exp is left out
			want     string    // "" means accepted
		}{
			{"iat now", now, time.Time{}, ""},
			{"iat ClockSkew ahead", now.Add(skew), time.Time{}, ""},
			{"iat past ClockSkew ahead", now.Add(skew + time.Second), time.Time{}, "iat is in the future"},
			{"iat MaxAge plus ClockSkew behind", now.Add(-age - skew), time.Time{}, ""},
			{"iat past MaxAge plus ClockSkew behind", now.Add(-age - skew - time.Second), time.Time{}, "iat is older than " + age.String()},
			{"exp less than ClockSkew behind", now, now.Add(-skew + time.Second), ""},
			{"exp ClockSkew behind", now, now.Add(-skew), "the token has expired"},
			{"exp ahead", now, now.Add(time.Minute), ""},
		}
		for _, tc := range tests {
			t.Run(win.name+"/"+tc.name, func(t *testing.T) {
				ledger := newRecordingLedger()
				h := newHandler(t, p, ledger, func(c *testConfig) {
					c.Now, c.MaxAge, c.ClockSkew = func() time.Time { return now }, win.maxAge, win.skew
				})
				c := p.claimsAt(tc.iat, "sid-1", "")
				delete(c, "exp")
				if !tc.exp.IsZero() {
					c["exp"] = tc.exp.Unix()
				}
				token := sign(t, k, c)
				w := post(h, token)
				if tc.want == "" {
					require.Equal(t, http.StatusOK, w.Code, w.Body.String())
					assert.Equal(t, acceptedWrites(unverifiedClaims(token), defaultEndedTTL, age+2*skew), ledger.Writes())
					return
				}
				refusedWithNothingRecorded(t, w, http.StatusBadRequest, "invalid_request", tc.want, ledger, keysOf(p.issuer, unverifiedClaims(token))...)
			})
		}
	}
}

// TestClientSecretLength checks that a client secret as long as the hash
// of an HMAC algorithm (RFC 7518, section 3.2) is accepted, and its tokens
// recorded, and that one a byte shorter is refused, with ErrKeys, at the
// provider's first token.
func TestClientSecretLength(t *testing.T) {
	p := startProvider(t)
	for _, tc := range []struct {
		alg    jose.SignatureAlgorithm
		minLen int
	}{{jose.HS256, 32}, {jose.HS384, 48}, {jose.HS512, 64}} {
		t.Run(string(tc.alg), func(t *testing.T) {
			secret := strings.Repeat("s", tc.minLen)
			ledger := newRecordingLedger()
			h := newHandler(t, p, ledger, func(c *testConfig) {
				c.Algorithms, c.ClientSecret = algs(tc.alg), secret
			})
			token := signHMAC(t, tc.alg, secret, p.claims("sid-1", ""))
			w := post(h, token)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, acceptedWrites(unverifiedClaims(token), defaultEndedTTL, defaultJTITTL), ledger.Writes())

			short := newHandler(t, p, newStore(), func(c *testConfig) {
				c.Algorithms, c.ClientSecret = algs(tc.alg), secret[1:]
			})
			_, err := short.Verify(t.Context(), signHMAC(t, tc.alg, secret, p.claims("sid-2", "")))
			require.ErrorIs(t, err, backchannel.ErrKeys)
			assert.Contains(t, err.Error(), fmt.Sprintf("the ClientSecret is shorter than the %d bytes %s needs", tc.minLen, tc.alg))
		})
	}
}

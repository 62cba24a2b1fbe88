package backchannel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/backchannel"
)

// testConfig is a Handler's Config with the settings of its single
// provider, which build gives the logout.Middleware, and its clock.
type testConfig struct {
	backchannel.Config
	Issuer, ClientID, JWKSURI, ClientSecret string
	Algorithms                              []jose.SignatureAlgorithm
	Now                                     func() time.Time
}

func newHandler(t testing.TB, p *testProvider, store logout.Ledger, mutate func(*testConfig)) *backchannel.Handler {
	t.Helper()
	cfg := testConfig{Config: backchannel.Config{Ledger: store}, Issuer: p.issuer, ClientID: testClientID}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := build(t, cfg)
	require.NoError(t, err)
	return h
}

// build returns the Handler of cfg, for a logout.Middleware whose single
// provider is cfg's.
func build(t testing.TB, cfg testConfig) (*backchannel.Handler, error) {
	t.Helper()
	var names []string
	for _, a := range cfg.Algorithms {
		names = append(names, string(a))
	}
	m := newMiddleware(t, cfg.Ledger, nil, logout.Provider{
		Issuer: cfg.Issuer, ClientID: cfg.ClientID, JWKSURI: cfg.JWKSURI,
		SigningAlgorithms: names, ClientSecret: cfg.ClientSecret,
	})
	h, err := backchannel.New(m, cfg.Config)
	if err == nil && cfg.Now != nil {
		backchannel.SetNow(h, cfg.Now)
	}
	return h, err
}

// newMiddleware returns a logout.Middleware with providers and lookup,
// whose session check uses ledger (when it is not nil).
func newMiddleware(t testing.TB, ledger logout.Ledger, lookup func(context.Context, string) (logout.Provider, bool), providers ...logout.Provider) *logout.Middleware {
	t.Helper()
	cfg := logout.Config{
		Store: sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef")), SessionName: "app",
		Providers: providers, LookupProvider: lookup,
	}
	if ledger != nil {
		cfg.SessionCheck = &logout.SessionCheckConfig{Ledger: ledger}
	}
	m, err := logout.New(cfg)
	require.NoError(t, err)
	return m
}

func newStore() *logout.MemoryLedger {
	return logout.NewMemoryLedger(logout.MemoryLedgerConfig{})
}

// post sends a back-channel logout request carrying token.
func post(h http.Handler, token string) *httptest.ResponseRecorder {
	form := url.Values{"logout_token": {token}}
	r := httptest.NewRequest(http.MethodPost, "/backchannel-logout", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func decodeError(t *testing.T, w *httptest.ResponseRecorder) errorBody {
	t.Helper()
	var b errorBody
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &b))
	return b
}

func revoked(t *testing.T, s logout.Ledger, key string, since time.Time) bool {
	t.Helper()
	ok, err := s.Seen(context.Background(), logout.LedgerQuery{Key: key, Since: since})
	require.NoError(t, err)
	return ok
}

// TestLogoutTokenValidation checks each check of a logout token. A token
// that passes them all is recorded: the session it ends, then its jti,
// both at its iat, and OnLogout gets what Verify returns. A token that
// fails one is refused with Verify's ErrInvalidToken error as the
// description, OnLogout is not called, and the ledger stays empty.
func TestLogoutTokenValidation(t *testing.T) {
	rsaKey, ecKey := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1")
	encKey, psKey, bareKey := newRSAKey(t, "enc-1"), newRSAKey(t, "ps-1"), newRSAKey(t, "bare-1")
	leakedKey := newRSAKey(t, "leaked-1")
	p := startProvider(t)
	p.publishJWKs(
		publicJWK(rsaKey, "RS256", "sig"), publicJWK(ecKey, "ES256", "sig"),
		publicJWK(encKey, "RS256", "enc"), // an encryption key
		publicJWK(psKey, "PS256", "sig"),  // a key for another algorithm
		publicJWK(bareKey, "", ""),        // neither alg nor use: any signature
		jose.JSONWebKey{Key: leakedKey.priv, KeyID: leakedKey.kid, Algorithm: "RS256", Use: "sig"}, // private
	)
	noKid := func(k signingKey) signingKey { k.kid = ""; return k }
	tests := []struct {
		name    string
		cfg     func(*testConfig)
		token   func() string
		wantOK  bool
		wantMsg string
	}{
		{"valid RSA", nil, func() string { return sign(t, rsaKey, p.claims("sid-1", "alice")) }, true, ""},
		{"valid, sub only", nil, func() string { return sign(t, rsaKey, p.claims("", "alice")) }, true, ""},
		{"ES256 by a published key, RS256 expected", nil, func() string { return sign(t, ecKey, p.claims("sid-1", "alice")) }, false, "algorithm"},
		{"valid, sid only, aud string, typ JWT, no exp", nil, func() string {
			c := p.claims("sid-2", "")
			c["aud"] = testClientID
			delete(c, "exp")
			return signTyped(t, rsaKey, c, "JWT")
		}, true, ""},
		{"no exp, exp required", func(c *testConfig) { c.RequireExp = true }, func() string {
			c := p.claims("sid-1", "alice")
			delete(c, "exp")
			return sign(t, rsaKey, c)
		}, false, "exp is missing"},
		{"expired", nil, func() string {
			c := p.claims("sid-1", "alice")
			c["exp"] = time.Now().Add(-2 * time.Minute).Unix()
			return sign(t, rsaKey, c)
		}, false, "expired"},
		{"wrong aud", nil, func() string {
			c := p.claims("sid-1", "alice")
			c["aud"] = []string{"someone-else"}
			return sign(t, rsaKey, c)
		}, false, "aud"},
		{"wrong iss", nil, func() string {
			c := p.claims("sid-1", "alice")
			c["iss"] = "https://evil.example"
			return sign(t, rsaKey, c)
		}, false, "iss"},
		{"missing events", nil, func() string {
			c := p.claims("sid-1", "alice")
			delete(c, "events")
			return sign(t, rsaKey, c)
		}, false, "events does not contain " + backchannel.EventBackChannelLogout},
		{"event is not an object", nil, func() string {
			c := p.claims("sid-1", "alice")
			c["events"] = map[string]any{backchannel.EventBackChannelLogout: "yes"}
			return sign(t, rsaKey, c)
		}, false, "JSON object"},
		{"other event only", nil, func() string {
			c := p.claims("sid-1", "alice")
			c["events"] = map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}
			return sign(t, rsaKey, c)
		}, false, "events"},
		{"with nonce", nil, func() string {
			c := p.claims("sid-1", "alice")
			c["nonce"] = "n-0S6_WzA2Mj"
			return sign(t, rsaKey, c)
		}, false, "nonce"},
		{"missing sid and sub", nil, func() string { return sign(t, rsaKey, p.claims("", "")) }, false, "sid nor sub"},
		{"missing jti", nil, func() string {
			c := p.claims("sid-1", "alice")
			delete(c, "jti")
			return sign(t, rsaKey, c)
		}, false, "jti"},
		{"iat in the future", nil, func() string {
			c := p.claims("sid-1", "alice")
			c["iat"] = time.Now().Add(10 * time.Minute).Unix()
			return sign(t, rsaKey, c)
		}, false, "future"},
		{"iat too old", nil, func() string {
			c := p.claims("sid-1", "alice")
			c["iat"] = time.Now().Add(-time.Hour).Unix()
			return sign(t, rsaKey, c)
		}, false, "older"},
		{"missing iat", nil, func() string {
			c := p.claims("sid-1", "alice")
			delete(c, "iat")
			return sign(t, rsaKey, c)
		}, false, "iat"},
		{"alg none", nil, func() string { return unsignedToken(t, "rsa-1", p.claims("sid-1", "alice")) }, false, "algorithm"},
		{"HS256 with the public key as secret", nil, func() string {
			return hmacWithPublicKey(t, rsaKey, p.claims("sid-1", "alice"))
		}, false, "algorithm"},
		{"typed application/logout+jwt, in capitals", nil, func() string {
			return signTyped(t, rsaKey, p.claims("sid-1", "alice"), "APPLICATION/LOGOUT+JWT")
		}, true, ""},
		{"typed as an access token", nil, func() string {
			return signTyped(t, rsaKey, p.claims("sid-1", "alice"), "at+jwt")
		}, false, "typ"},
		{"signed by a key not published", nil, func() string {
			return sign(t, newRSAKey(t, "rsa-1"), p.claims("sid-1", "alice"))
		}, false, "signature"},
		{"kid of one key, signature of the other", nil, func() string {
			return sign(t, signingKey{kid: "ec-1", alg: jose.RS256, priv: rsaKey.priv}, p.claims("sid-1", "alice"))
		}, false, "signature"},
		{"kid not in the JWKS", nil, func() string {
			return sign(t, newRSAKey(t, "rsa-9"), p.claims("sid-1", "alice"))
		}, false, `no provider key with kid "rsa-9"`},
		{"signed by a key published for encryption (use enc)", nil, func() string {
			return sign(t, encKey, p.claims("sid-1", "alice"))
		}, false, `no provider key with kid "enc-1"`},
		{"no kid, signed by the key published for encryption", nil, func() string {
			return sign(t, noKid(encKey), p.claims("sid-1", "alice"))
		}, false, "signature does not verify with the provider's keys"},
		{"signed by a key published with its private half", nil, func() string {
			return sign(t, leakedKey, p.claims("sid-1", "alice"))
		}, false, `no provider key with kid "leaked-1"`},
		{"RS256 by a key published for PS256", nil, func() string {
			return sign(t, psKey, p.claims("sid-1", "alice"))
		}, false, "signature does not verify with the provider's keys"},
		{"no kid, RS256 by the key published for PS256", nil, func() string {
			return sign(t, noKid(psKey), p.claims("sid-1", "alice"))
		}, false, "signature does not verify with the provider's keys"},
		{"PS256 by the key published for PS256", func(c *testConfig) { c.Algorithms = algs(jose.RS256, jose.PS256) }, func() string {
			return sign(t, signingKey{kid: psKey.kid, alg: jose.PS256, priv: psKey.priv}, p.claims("sid-1", "alice"))
		}, true, ""},
		{"by a key published without alg and use", nil, func() string { return sign(t, bareKey, p.claims("sid-1", "alice")) }, true, ""},
		{"no kid, by a published signing key", nil, func() string { return sign(t, noKid(rsaKey), p.claims("sid-1", "alice")) }, true, ""},
		{"payload not JSON", nil, func() string { return signRaw(t, rsaKey, "not JSON") }, false, "claims"},
		{"not a JWT", nil, func() string { return "abc" }, false, "not a signed JWT in compact serialization (encrypted logout tokens are not supported)"},
		{"encrypted (five parts)", nil, func() string { return "a.b.c.d.e" }, false, "not a signed JWT in compact serialization (encrypted logout tokens are not supported)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ledger := newRecordingLedger()
			var logouts []*backchannel.LogoutToken
			h := newHandler(t, p, ledger, func(c *testConfig) {
				c.OnLogout = func(_ context.Context, lt *backchannel.LogoutToken) { logouts = append(logouts, lt) }
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			raw := tc.token()
			claims := unverifiedClaims(raw)
			verified, verifyErr := h.Verify(t.Context(), raw)
			w := post(h, raw)
			if tc.wantOK {
				require.NoError(t, verifyErr)
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				assert.Contains(t, w.Header().Get("Cache-Control"), "no-store")
				assert.Equal(t, acceptedWrites(claims, defaultEndedTTL, defaultJTITTL), ledger.Writes())
				require.Len(t, logouts, 1)
				assert.Equal(t, verified, logouts[0])
				return
			}
			require.ErrorIs(t, verifyErr, backchannel.ErrInvalidToken)
			assert.Nil(t, verified)
			body := refusedWithNothingRecorded(t, w, http.StatusBadRequest, "invalid_request", tc.wantMsg, ledger, keysOf(p.issuer, claims)...)
			assert.Equal(t, verifyErr.Error(), body.Description, "the description is Verify's error")
			assert.Empty(t, logouts, "OnLogout is not called")
		})
	}
}

func TestLogoutRecordsSIDOrSubject(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	store := newStore()
	h := newHandler(t, p, store, nil)

	c := p.claims("sid-1", "alice")
	require.Equal(t, http.StatusOK, post(h, sign(t, k, c)).Code)
	assert.True(t, revoked(t, store, logout.SIDKey(p.issuer, "sid-1"), time.Time{}))
	assert.False(t, revoked(t, store, logout.SubjectKey(p.issuer, "alice"), time.Time{}),
		"a token with sid ends that session only, not every session of sub")

	c = p.claims("", "bob")
	iat := time.Unix(c["iat"].(int64), 0)
	require.Equal(t, http.StatusOK, post(h, sign(t, k, c)).Code)
	assert.True(t, revoked(t, store, logout.SubjectKey(p.issuer, "bob"), iat), "sessions begun before the logout end")
	assert.False(t, revoked(t, store, logout.SubjectKey(p.issuer, "bob"), iat.Add(time.Second)), "later logins do not")
}

// TestReplayedJTI checks that a jti is accepted once, with a plain
// ledger and with an OnceRecorder: a replay, even one naming another
// session, is refused with ErrReplay, records nothing, and does not call
// OnLogout.
func TestReplayedJTI(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	for _, once := range []bool{false, true} {
		t.Run(fmt.Sprintf("OnceRecorder %v", once), func(t *testing.T) {
			l := newRecordingOnceLedger()
			var ledger logout.Ledger = l.recordingLedger
			if once {
				ledger = l
			}
			var calls int
			h := newHandler(t, p, ledger, func(c *testConfig) {
				c.OnLogout = func(context.Context, *backchannel.LogoutToken) { calls++ }
			})
			first := p.claims("sid-1", "")
			token := sign(t, k, first)
			require.Equal(t, http.StatusOK, post(h, token).Code)
			recorded := l.Writes()
			require.Equal(t, acceptedWrites(unverifiedClaims(token), defaultEndedTTL, defaultJTITTL), recorded)

			other := p.claims("sid-2", "bob")
			other["jti"] = first["jti"]
			for _, replay := range []string{token, sign(t, k, other)} {
				w := post(h, replay)
				require.Equal(t, http.StatusBadRequest, w.Code)
				body := decodeError(t, w)
				assert.Equal(t, "invalid_request", body.Error)
				assert.Equal(t, backchannel.ErrReplay.Error(), body.Description)
			}
			assert.Equal(t, recorded, l.Writes(), "a replay records nothing")
			assert.False(t, revoked(t, l.mem, logout.SIDKey(p.issuer, "sid-2"), time.Time{}))
			assert.False(t, revoked(t, l.mem, logout.SubjectKey(p.issuer, "bob"), time.Time{}))
			assert.Equal(t, 1, calls)
		})
	}
}

// TestAcceptedLogoutRecords checks what an accepted logout token records,
// with a plain ledger and with an OnceRecorder: the session its sid names
// (or, without sid, every session of its sub) for EndedSessionTTL, then
// its jti for MaxAge plus twice ClockSkew, both at its iat.
func TestAcceptedLogoutRecords(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	configs := []struct {
		name             string
		cfg              func(*testConfig)
		endedTTL, jtiTTL time.Duration
	}{
		{"defaults", nil, defaultEndedTTL, defaultJTITTL},
		{"zero and negative durations are defaults", func(c *testConfig) {
			c.EndedSessionTTL, c.MaxAge, c.ClockSkew = -time.Hour, -time.Minute, -time.Second
		}, defaultEndedTTL, defaultJTITTL},
		{"configured", func(c *testConfig) {
			c.EndedSessionTTL, c.MaxAge, c.ClockSkew = 48*time.Hour, 2*time.Minute, 30*time.Second
		}, 48 * time.Hour, 3 * time.Minute},
	}
	tokens := []struct{ name, sid, sub string }{
		{"sid only", "sid-1", ""},
		{"sub only", "", "alice"},
		{"sid and sub", "sid-2", "bob"},
	}
	for _, cf := range configs {
		for _, once := range []bool{false, true} {
			for _, tk := range tokens {
				t.Run(fmt.Sprintf("%s/OnceRecorder %v/%s", cf.name, once, tk.name), func(t *testing.T) {
					l := newRecordingOnceLedger()
					var ledger logout.Ledger = l.recordingLedger
					if once {
						ledger = l
					}
					var got []*backchannel.LogoutToken
					h := newHandler(t, p, ledger, func(c *testConfig) {
						c.OnLogout = func(_ context.Context, lt *backchannel.LogoutToken) { got = append(got, lt) }
						if cf.cfg != nil {
							cf.cfg(c)
						}
					})
					claims := p.claims(tk.sid, tk.sub)
					token := sign(t, k, claims)
					w := post(h, token)
					require.Equal(t, http.StatusOK, w.Code, w.Body.String())
					assert.Empty(t, w.Body.String())
					assert.Contains(t, w.Header().Get("Cache-Control"), "no-store")
					assert.Equal(t, "no-cache", w.Header().Get("Pragma"))
					assert.Equal(t, acceptedWrites(unverifiedClaims(token), cf.endedTTL, cf.jtiTTL), l.Writes())
					if tk.sid != "" {
						assert.False(t, revoked(t, l.mem, logout.SubjectKey(p.issuer, tk.sub), time.Time{}),
							"a token with sid ends that session only")
					}
					require.Len(t, got, 1)
					iat := time.Unix(claims["iat"].(int64), 0)
					assert.Equal(t, &backchannel.LogoutToken{
						Issuer: p.issuer, Subject: tk.sub, SID: tk.sid, Audience: []string{testClientID, "other"},
						JTI: claims["jti"].(string), IssuedAt: iat, Expiry: time.Unix(claims["exp"].(int64), 0),
					}, got[0])
				})
			}
		}
	}
}

func TestUnknownKidRefreshesKeys(t *testing.T) {
	oldKey, newKey := newRSAKey(t, "2024"), newRSAKey(t, "2025")
	p := startProvider(t, oldKey)
	clock := &fakeClock{t: time.Now()}
	h := newHandler(t, p, newStore(), func(c *testConfig) { c.Now = clock.Now })

	require.Equal(t, http.StatusOK, post(h, sign(t, oldKey, p.claims("s1", ""))).Code)
	assert.EqualValues(t, 1, p.jwksHits.Load())

	// The provider rotates its key: an unknown kid refreshes the JWKS.
	p.publish(oldKey, newKey)
	clock.Advance(15 * time.Second)
	require.Equal(t, http.StatusOK, post(h, sign(t, newKey, p.claims("s2", ""))).Code)
	assert.EqualValues(t, 2, p.jwksHits.Load())

	// A kid that is still unknown after a refresh is refused, and more
	// such tokens do not make the handler refetch within 10 seconds.
	stranger := newRSAKey(t, "stranger")
	for range 5 {
		w := post(h, sign(t, stranger, p.claims("s3", "")))
		require.Equal(t, http.StatusBadRequest, w.Code)
		assert.Contains(t, decodeError(t, w).Description, "kid")
	}
	assert.EqualValues(t, 2, p.jwksHits.Load(), "refreshes are rate-limited")

	// Once that time has passed, a rotated-in key is picked up again.
	p.publish(newKey, stranger)
	clock.Advance(15 * time.Second)
	w := post(h, sign(t, stranger, p.claims("s3", "")))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.EqualValues(t, 3, p.jwksHits.Load())
}

// TestRequestRefusals checks the requests refused before their token is
// verified: each gets its status and error, and records nothing, though
// the token it carries is valid.
func TestRequestRefusals(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name, method, ctype string
		query, body         func(token string) string
		status              int
		desc                string
	}{
		{"GET with the token in the query", http.MethodGet, "", func(tok string) string { return "logout_token=" + tok }, nil,
			http.StatusMethodNotAllowed, "use POST"},
		{"PUT", http.MethodPut, form, nil, func(tok string) string { return "logout_token=" + tok },
			http.StatusMethodNotAllowed, "use POST"},
		{"JSON body", http.MethodPost, "application/json", nil, func(tok string) string { return `{"logout_token":"` + tok + `"}` },
			http.StatusBadRequest, "x-www-form-urlencoded"},
		{"no content type", http.MethodPost, "", nil, func(tok string) string { return "logout_token=" + tok },
			http.StatusBadRequest, "x-www-form-urlencoded"},
		{"multipart form", http.MethodPost, "multipart/form-data; boundary=b", nil, func(tok string) string {
			return "--b\r\nContent-Disposition: form-data; name=\"logout_token\"\r\n\r\n" + tok + "\r\n--b--\r\n"
		}, http.StatusBadRequest, "x-www-form-urlencoded"},
		{"body over the bound", http.MethodPost, form, nil, func(tok string) string { return paddedForm(tok, maxBody+1) },
			http.StatusBadRequest, "the body is larger than 65536 bytes"},
		{"not a valid form", http.MethodPost, form, nil, func(tok string) string { return "logout_token=" + tok + "&%zz=1" },
			http.StatusBadRequest, "the body is not a valid form"},
		{"no logout_token", http.MethodPost, form, nil, func(string) string { return "foo=bar" },
			http.StatusBadRequest, "exactly one logout_token is required"},
		{"empty logout_token", http.MethodPost, form, nil, func(string) string { return "logout_token=" },
			http.StatusBadRequest, "exactly one logout_token is required"},
		{"logout_token twice", http.MethodPost, form, nil, func(tok string) string { return "logout_token=" + tok + "&logout_token=" + tok },
			http.StatusBadRequest, "exactly one logout_token is required"},
		{"logout_token twice, the first empty", http.MethodPost, form, nil, func(tok string) string { return "logout_token=&logout_token=" + tok },
			http.StatusBadRequest, "exactly one logout_token is required"},
		{"logout_token in the query of a POST", http.MethodPost, form, func(tok string) string { return "logout_token=" + tok },
			func(string) string { return "foo=bar" }, http.StatusBadRequest, "exactly one logout_token is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ledger := newRecordingLedger()
			var logouts int
			h := newHandler(t, p, ledger, func(c *testConfig) {
				c.OnLogout = func(context.Context, *backchannel.LogoutToken) { logouts++ }
			})
			token := sign(t, k, p.claims("sid-1", "alice"))
			target := "/backchannel-logout"
			if tc.query != nil {
				target += "?" + tc.query(token)
			}
			var body io.Reader = http.NoBody
			if tc.body != nil {
				body = strings.NewReader(tc.body(token))
			}
			r := httptest.NewRequest(tc.method, target, body)
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			refusedWithNothingRecorded(t, w, tc.status, "invalid_request", tc.desc, ledger, keysOf(p.issuer, unverifiedClaims(token))...)
			if tc.status == http.StatusMethodNotAllowed {
				assert.Equal(t, http.MethodPost, w.Header().Get("Allow"))
			}
			assert.Zero(t, logouts, "OnLogout is not called")
			assert.Zero(t, p.jwksHits.Load(), "the token was not looked at")
		})
	}
}

// maxBody is the bound of a back-channel logout request's body.
const maxBody = 64 << 10

// paddedForm returns a form of logout_token and an ignored parameter, n
// bytes long.
func paddedForm(token string, n int) string {
	f := "logout_token=" + token + "&pad="
	return f + strings.Repeat("a", n-len(f))
}

// TestBodyBound checks that a body of maxBody bytes is read, and one of
// a byte more is refused before its token is looked at.
func TestBodyBound(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	for _, n := range []int{maxBody, maxBody + 1, 4 * maxBody} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			ledger := newRecordingLedger()
			h := newHandler(t, p, ledger, nil)
			token := sign(t, k, p.claims("sid-1", ""))
			body := paddedForm(token, n)
			require.Len(t, body, n)
			r := httptest.NewRequest(http.MethodPost, "/backchannel-logout", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if n <= maxBody {
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				assert.Equal(t, acceptedWrites(unverifiedClaims(token), defaultEndedTTL, defaultJTITTL), ledger.Writes())
				return
			}
			refusedWithNothingRecorded(t, w, http.StatusBadRequest, "invalid_request", "the body is larger than 65536 bytes",
				ledger, keysOf(p.issuer, unverifiedClaims(token))...)
		})
	}
}

// TestLedgerFailures checks each way the ledger can fail: the answer
// (503 for a passing condition, 500 for a fault), the log record of the
// ledger's error, and what is left recorded: nothing, or the ended
// session alone when only its jti could not be recorded. The jti is never
// recorded, so the provider's retry of the same token is accepted.
func TestLedgerFailures(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	errDown := errors.New("store down")
	errFull := fmt.Errorf("memory ledger: %w", logout.ErrLedgerFull)
	errTimeout := fmt.Errorf("redis: %w", context.DeadlineExceeded)
	errCanceled := fmt.Errorf("redis: %w", context.Canceled)
	failOn := func(prefix string, err error) func(string) error {
		return func(key string) error {
			if strings.HasPrefix(key, prefix) {
				return err
			}
			return nil
		}
	}
	const down, later = "the logout could not be recorded", "the logout could not be recorded; try again later"
	tests := []struct {
		name         string
		once         bool // the ledger is an OnceRecorder
		fail         func(l *recordingOnceLedger)
		status       int
		code, desc   string
		logged       string // in the log record of the ledger's error
		keepsSession bool   // the session's record was written before the failure
	}{
		{"Seen fails", false, func(l *recordingOnceLedger) { l.failSeen = errDown },
			http.StatusInternalServerError, "server_error", down, "checking jti: store down", false},
		{"Seen times out", false, func(l *recordingOnceLedger) { l.failSeen = errTimeout },
			http.StatusServiceUnavailable, "temporarily_unavailable", later, "checking jti: redis: context deadline exceeded", false},
		{"recording the session fails", false, func(l *recordingOnceLedger) { l.failRecord = failOn("sid:", errDown) },
			http.StatusInternalServerError, "server_error", down, "recording the logout: store down", false},
		{"recording the session: ledger full", false, func(l *recordingOnceLedger) { l.failRecord = failOn("sid:", errFull) },
			http.StatusServiceUnavailable, "temporarily_unavailable", later, "recording the logout: memory ledger: logout: ledger is full", false},
		{"recording the session: canceled", false, func(l *recordingOnceLedger) { l.failRecord = failOn("sid:", errCanceled) },
			http.StatusServiceUnavailable, "temporarily_unavailable", later, "recording the logout: redis: context canceled", false},
		{"recording the jti fails", false, func(l *recordingOnceLedger) { l.failRecord = failOn("jti:", errDown) },
			http.StatusInternalServerError, "server_error", down, "recording jti: store down", true},
		{"recording the jti times out", false, func(l *recordingOnceLedger) { l.failRecord = failOn("jti:", errTimeout) },
			http.StatusServiceUnavailable, "temporarily_unavailable", later, "recording jti: redis: context deadline exceeded", true},
		{"RecordOnce fails", true, func(l *recordingOnceLedger) { l.failOnce = errDown },
			http.StatusInternalServerError, "server_error", down, "recording the logout: store down", false},
		{"RecordOnce: ledger full", true, func(l *recordingOnceLedger) { l.failOnce = errFull },
			http.StatusServiceUnavailable, "temporarily_unavailable", later, "recording the logout: memory ledger: logout: ledger is full", false},
		{"RecordOnce times out", true, func(l *recordingOnceLedger) { l.failOnce = errTimeout },
			http.StatusServiceUnavailable, "temporarily_unavailable", later, "recording the logout: redis: context deadline exceeded", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newRecordingOnceLedger()
			var ledger logout.Ledger = l.recordingLedger
			if tc.once {
				ledger = l
			}
			var logs bytes.Buffer
			var calls int
			h := newHandler(t, p, ledger, func(c *testConfig) {
				c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
				c.OnLogout = func(context.Context, *backchannel.LogoutToken) { calls++ }
			})
			token := sign(t, k, p.claims("sid-1", ""))
			claims := unverifiedClaims(token)
			tc.fail(l)

			w := post(h, token)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			assert.Contains(t, w.Header().Get("Cache-Control"), "no-store")
			assert.Equal(t, errorBody{tc.code, tc.desc}, decodeError(t, w))
			assert.NotContains(t, w.Body.String(), "store down", "the ledger's error stays in the logs")
			records := logRecords(t, &logs)
			require.Len(t, records, 2)
			assert.Equal(t, map[string]any{"level": "ERROR", "msg": "backchannel: ledger failed", "error": "backchannel: " + tc.logged}, records[0])
			assert.Equal(t, "ERROR", records[1]["level"])
			assert.NotContains(t, logs.String(), token)
			assert.Zero(t, calls, "OnLogout is not called")
			var kept []ledgerWrite
			if tc.keepsSession {
				kept = acceptedWrites(claims, defaultEndedTTL, defaultJTITTL)[:1]
			}
			assert.Equal(t, kept, l.Writes())
			assert.False(t, revoked(t, l.mem, logout.JTIKey(p.issuer, claims.JTI), time.Time{}), "the jti is not recorded")

			l.mu.Lock()
			l.failRecord, l.failSeen, l.failOnce = nil, nil, nil
			l.mu.Unlock()
			require.Equal(t, http.StatusOK, post(h, token).Code, "the provider's retry is accepted")
			assert.Equal(t, append(kept, acceptedWrites(claims, defaultEndedTTL, defaultJTITTL)...), l.Writes())
			assert.Equal(t, 1, calls)
		})
	}
}

// TestLogRecords checks the one log record of each request: what an
// accepted token held (never the token), or why a request was refused, at
// the level its status calls for.
func TestLogRecords(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	down := startProvider(t, k)
	down.jwksDown.Store(true)
	tests := []struct {
		name     string
		provider *testProvider
		request  func(token string) *http.Request
		claims   func(p *testProvider) map[string]any
		want     map[string]any
	}{
		{"accepted, sid", p, nil, func(p *testProvider) map[string]any { return p.claims("sid-1", "") },
			map[string]any{"level": "INFO", "msg": "backchannel: logout recorded", "sid": true, "sub": false}},
		{"accepted, sub", p, nil, func(p *testProvider) map[string]any { return p.claims("", "alice") },
			map[string]any{"level": "INFO", "msg": "backchannel: logout recorded", "sid": false, "sub": true}},
		{"invalid token", p, nil, func(p *testProvider) map[string]any {
			c := p.claims("sid-1", "")
			c["nonce"] = "n"
			return c
		}, map[string]any{"level": "WARN", "msg": "backchannel: logout refused", "status": 400.0,
			"error": "backchannel: invalid logout token: a logout token must not contain nonce"}},
		{"GET", p, func(token string) *http.Request {
			return httptest.NewRequest(http.MethodGet, "/backchannel-logout?logout_token="+token, nil)
		}, func(p *testProvider) map[string]any { return p.claims("sid-1", "") },
			map[string]any{"level": "WARN", "msg": "backchannel: logout refused", "status": 405.0, "error": "use POST"}},
		{"keys unavailable", down, nil, func(p *testProvider) map[string]any { return p.claims("sid-1", "") },
			map[string]any{"level": "ERROR", "msg": "backchannel: logout refused", "status": 502.0,
				"error": "the provider's keys could not be fetched"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := newHandler(t, tc.provider, newStore(), func(c *testConfig) {
				c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			})
			token := sign(t, k, tc.claims(tc.provider))
			if tc.request == nil {
				post(h, token)
			} else {
				h.ServeHTTP(httptest.NewRecorder(), tc.request(token))
			}
			assert.Equal(t, []map[string]any{tc.want}, logRecords(t, &logs))
			assert.NotContains(t, logs.String(), token)
		})
	}
}

// logRecords returns the JSON log records written to buf, without their
// times.
func logRecords(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		delete(rec, "time")
		out = append(out, rec)
	}
	return out
}

// TestProviderSettingsValidated checks the provider settings the handler
// cannot use: logout.New refuses those it can tell (issuer, algorithm
// names), and a token of a provider whose client_id or client secret does
// not fit is refused with ErrKeys (502, so that the provider retries once
// the app's configuration is fixed), without fetching its keys.
func TestProviderSettingsValidated(t *testing.T) {
	p := startProvider(t, newRSAKey(t, "k"))
	tests := []struct {
		name     string
		mutate   func(*logout.Provider)
		newErr   string // refused by logout.New
		tokenErr string // refused at the first token
	}{
		{"no client_id", func(pr *logout.Provider) { pr.ClientID = "" }, "", "an issuer and a client_id are required"},
		{"relative issuer", func(pr *logout.Provider) { pr.Issuer = "op" }, "op", ""},
		{"HS256 without a client secret", func(pr *logout.Provider) { pr.SigningAlgorithms = []string{"HS256"} }, "", "HS256 needs the ClientSecret"},
		{"HS256 next to RS256 without a client secret", func(pr *logout.Provider) { pr.SigningAlgorithms = []string{"RS256", "HS256"} }, "", "ClientSecret"},
		{"HS256 with a short secret", func(pr *logout.Provider) {
			pr.SigningAlgorithms, pr.ClientSecret = []string{"HS256"}, strings.Repeat("s", 31)
		}, "", "32 bytes"},
		{"HS512 with a secret long enough for HS256 only", func(pr *logout.Provider) {
			pr.SigningAlgorithms, pr.ClientSecret = []string{"HS256", "HS512"}, testSecret
		}, "", "64 bytes"},
		{"none", func(pr *logout.Provider) { pr.SigningAlgorithms = []string{"none"} }, "none", ""},
		{"empty name", func(pr *logout.Provider) { pr.SigningAlgorithms = []string{""} }, `""`, ""},
		{"unknown", func(pr *logout.Provider) { pr.SigningAlgorithms = []string{"RS257"} }, "RS257", ""},
		{"lower case", func(pr *logout.Provider) { pr.SigningAlgorithms = []string{"rs256"} }, "rs256", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := logout.Provider{Issuer: p.issuer, ClientID: testClientID, EndSessionEndpoint: p.issuer + "/session/end"}
			tc.mutate(&pr)
			_, err := logout.New(logout.Config{
				Store: sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef")), SessionName: "app", Providers: []logout.Provider{pr},
			})
			if tc.newErr != "" {
				require.ErrorIs(t, err, logout.ErrInvalidConfig)
				assert.Contains(t, err.Error(), tc.newErr)
				return
			}
			require.NoError(t, err)
			ledger := newRecordingLedger()
			h, err := backchannel.New(newMiddleware(t, ledger, nil, pr), backchannel.Config{Ledger: ledger})
			require.NoError(t, err)
			token := sign(t, newRSAKey(t, "k"), p.claims("sid-1", ""))
			_, err = h.Verify(t.Context(), token)
			require.ErrorIs(t, err, backchannel.ErrKeys)
			assert.Contains(t, err.Error(), tc.tokenErr)
			refusedWithNothingRecorded(t, post(h, token), http.StatusBadGateway, "temporarily_unavailable",
				"the provider's keys could not be fetched", ledger, keysOf(p.issuer, unverifiedClaims(token))...)
			assert.Zero(t, p.jwksHits.Load(), "no keys were fetched")
		})
	}
}

// BenchmarkBackChannelLogout measures one accepted back-channel logout
// (RS256 verification, cached keys, memory store).
func BenchmarkBackChannelLogout(b *testing.B) {
	k := newRSAKey(b, "k")
	p := startProvider(b, k)
	h := newHandler(b, p, newStore(), nil)
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

// onceStore is a Ledger with RecordOnce that counts how it is called;
// fail makes RecordOnce fail without recording.
type onceStore struct {
	*logout.MemoryLedger
	mu                   sync.Mutex
	once, seen, records  int
	fail                 bool
	lastKey, lastOnce    string
	lastTTL, lastOnceTTL time.Duration
}

func (s *onceStore) Seen(ctx context.Context, q ...logout.LedgerQuery) (bool, error) {
	s.mu.Lock()
	s.seen++
	s.mu.Unlock()
	return s.MemoryLedger.Seen(ctx, q...)
}

func (s *onceStore) Record(ctx context.Context, key string, at time.Time, ttl time.Duration) error {
	s.mu.Lock()
	s.records++
	s.mu.Unlock()
	return s.MemoryLedger.Record(ctx, key, at, ttl)
}

func (s *onceStore) RecordOnce(ctx context.Context, once string, onceTTL time.Duration, key string, at time.Time, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.once++
	s.lastKey, s.lastOnce, s.lastTTL, s.lastOnceTTL = key, once, ttl, onceTTL
	if s.fail {
		return false, fmt.Errorf("redis: %w", context.DeadlineExceeded)
	}
	if ok, err := s.MemoryLedger.Seen(ctx, logout.LedgerQuery{Key: once}); ok || err != nil {
		return false, err
	}
	if err := s.MemoryLedger.Record(ctx, key, at, ttl); err != nil {
		return false, err
	}
	return true, s.MemoryLedger.Record(ctx, once, at, onceTTL)
}

func TestOnceRecorderIsUsedInOneStep(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	store := &onceStore{MemoryLedger: newStore(), fail: true}
	h := newHandler(t, p, store, nil)
	c := p.claims("sid-1", "")
	token := sign(t, k, c)

	// A failure is a 503 and records nothing: the provider may retry.
	assert.Equal(t, http.StatusServiceUnavailable, post(h, token).Code)
	store.fail = false
	require.Equal(t, http.StatusOK, post(h, token).Code, "the retry is accepted")
	assert.Equal(t, logout.SIDKey(p.issuer, "sid-1"), store.lastKey)
	assert.Equal(t, logout.JTIKey(p.issuer, c["jti"].(string)), store.lastOnce)
	assert.Equal(t, 30*24*time.Hour, store.lastTTL)
	assert.Equal(t, 7*time.Minute, store.lastOnceTTL, "MaxAge plus twice the clock skew")
	assert.True(t, revoked(t, store, logout.SIDKey(p.issuer, "sid-1"), time.Time{}))

	w := post(h, token)
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, decodeError(t, w).Description, "jti")
	assert.Equal(t, 3, store.once)
	assert.Zero(t, store.records, "no Record besides RecordOnce")
	assert.Equal(t, 1, store.seen, "no Seen besides the test's own")
}

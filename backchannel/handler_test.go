package backchannel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/backchannel"
)

func newHandler(t testing.TB, p *testProvider, store logout.Ledger, mutate func(*backchannel.Config)) *backchannel.Handler {
	t.Helper()
	cfg := backchannel.Config{Issuer: p.issuer, ClientID: testClientID, Ledger: store}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := backchannel.New(cfg)
	require.NoError(t, err)
	return h
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

func TestLogoutTokenValidation(t *testing.T) {
	rsaKey, ecKey := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1")
	p := startProvider(t, rsaKey, ecKey)
	tests := []struct {
		name    string
		token   func() string
		wantOK  bool
		wantMsg string
	}{
		{"valid RSA", func() string { return sign(t, rsaKey, p.claims("sid-1", "alice")) }, true, ""},
		{"valid, sub only", func() string { return sign(t, rsaKey, p.claims("", "alice")) }, true, ""},
		{"ES256 by a published key, RS256 expected", func() string { return sign(t, ecKey, p.claims("sid-1", "alice")) }, false, "algorithm"},
		{"valid, sid only, aud string, typ JWT, no exp", func() string {
			c := p.claims("sid-2", "")
			c["aud"] = testClientID
			delete(c, "exp")
			return signTyped(t, rsaKey, c, "JWT")
		}, true, ""},
		{"expired", func() string {
			c := p.claims("sid-1", "alice")
			c["exp"] = time.Now().Add(-2 * time.Minute).Unix()
			return sign(t, rsaKey, c)
		}, false, "expired"},
		{"wrong aud", func() string {
			c := p.claims("sid-1", "alice")
			c["aud"] = []string{"someone-else"}
			return sign(t, rsaKey, c)
		}, false, "aud"},
		{"wrong iss", func() string {
			c := p.claims("sid-1", "alice")
			c["iss"] = "https://evil.example"
			return sign(t, rsaKey, c)
		}, false, "iss"},
		{"missing events", func() string {
			c := p.claims("sid-1", "alice")
			delete(c, "events")
			return sign(t, rsaKey, c)
		}, false, "events"},
		{"event is not an object", func() string {
			c := p.claims("sid-1", "alice")
			c["events"] = map[string]any{backchannel.EventBackChannelLogout: "yes"}
			return sign(t, rsaKey, c)
		}, false, "JSON object"},
		{"other event only", func() string {
			c := p.claims("sid-1", "alice")
			c["events"] = map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}
			return sign(t, rsaKey, c)
		}, false, "events"},
		{"with nonce", func() string {
			c := p.claims("sid-1", "alice")
			c["nonce"] = "n-0S6_WzA2Mj"
			return sign(t, rsaKey, c)
		}, false, "nonce"},
		{"missing sid and sub", func() string { return sign(t, rsaKey, p.claims("", "")) }, false, "sid nor sub"},
		{"missing jti", func() string {
			c := p.claims("sid-1", "alice")
			delete(c, "jti")
			return sign(t, rsaKey, c)
		}, false, "jti"},
		{"iat in the future", func() string {
			c := p.claims("sid-1", "alice")
			c["iat"] = time.Now().Add(10 * time.Minute).Unix()
			return sign(t, rsaKey, c)
		}, false, "future"},
		{"iat too old", func() string {
			c := p.claims("sid-1", "alice")
			c["iat"] = time.Now().Add(-time.Hour).Unix()
			return sign(t, rsaKey, c)
		}, false, "older"},
		{"missing iat", func() string {
			c := p.claims("sid-1", "alice")
			delete(c, "iat")
			return sign(t, rsaKey, c)
		}, false, "iat"},
		{"alg none", func() string { return unsignedToken(t, "rsa-1", p.claims("sid-1", "alice")) }, false, "algorithm"},
		{"HS256 with the public key as secret", func() string {
			return hmacWithPublicKey(t, rsaKey, p.claims("sid-1", "alice"))
		}, false, "algorithm"},
		{"typed as an access token", func() string {
			return signTyped(t, rsaKey, p.claims("sid-1", "alice"), "at+jwt")
		}, false, "typ"},
		{"signed by a key not published", func() string {
			return sign(t, newRSAKey(t, "rsa-1"), p.claims("sid-1", "alice"))
		}, false, "signature"},
		{"kid of one key, signature of the other", func() string {
			return sign(t, signingKey{kid: "ec-1", alg: jose.RS256, priv: rsaKey.priv}, p.claims("sid-1", "alice"))
		}, false, "signature"},
		{"not a JWT", func() string { return "abc" }, false, "compact"},
		{"encrypted (five parts)", func() string { return "a.b.c.d.e" }, false, "compact"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore()
			h := newHandler(t, p, store, nil)
			w := post(h, tc.token())
			assert.Contains(t, w.Header().Get("Cache-Control"), "no-store")
			if tc.wantOK {
				assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
				assert.Equal(t, 1, store.Len()-1, "one logout and one jti recorded")
				return
			}
			require.Equal(t, http.StatusBadRequest, w.Code)
			body := decodeError(t, w)
			assert.Equal(t, "invalid_request", body.Error)
			assert.Contains(t, body.Description, tc.wantMsg)
			assert.Zero(t, store.Len(), "nothing recorded for an invalid token")
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

func TestReplayedJTI(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	var calls int
	h := newHandler(t, p, newStore(), func(c *backchannel.Config) {
		c.OnLogout = func(context.Context, *backchannel.LogoutToken) { calls++ }
	})
	token := sign(t, k, p.claims("sid-1", ""))
	require.Equal(t, http.StatusOK, post(h, token).Code)
	w := post(h, token)
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, decodeError(t, w).Description, "jti")
	assert.Equal(t, 1, calls)
}

func TestUnknownKidRefreshesKeys(t *testing.T) {
	oldKey, newKey := newRSAKey(t, "2024"), newRSAKey(t, "2025")
	p := startProvider(t, oldKey)
	clock := &fakeClock{t: time.Now()}
	h := newHandler(t, p, newStore(), func(c *backchannel.Config) { c.Now = clock.Now })

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

func TestBadRequests(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	h := newHandler(t, p, newStore(), nil)

	r := httptest.NewRequest(http.MethodGet, "/backchannel-logout?logout_token="+sign(t, k, p.claims("s", "")), nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, "POST", w.Header().Get("Allow"))

	tests := []struct {
		name, ctype, body, want string
	}{
		{"json body", "application/json", `{"logout_token":"x"}`, "x-www-form-urlencoded"},
		{"no token", "application/x-www-form-urlencoded", "foo=bar", "logout_token"},
		{"two tokens", "application/x-www-form-urlencoded", "logout_token=a&logout_token=b", "logout_token"},
		{"oversized body", "application/x-www-form-urlencoded", "logout_token=" + strings.Repeat("a", 70<<10), "larger"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/backchannel-logout", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, http.StatusBadRequest, w.Code)
			assert.Contains(t, decodeError(t, w).Description, tc.want)
		})
	}
}

// failingStore fails every call.
type failingStore struct{}

var errDown = errors.New("store down")

func (failingStore) Record(context.Context, string, time.Time, time.Duration) error { return errDown }
func (failingStore) Seen(context.Context, ...logout.LedgerQuery) (bool, error) {
	return false, errDown
}

// timeoutStore fails every call as a remote store past its deadline does.
type timeoutStore struct{}

func (timeoutStore) Record(context.Context, string, time.Time, time.Duration) error {
	return fmt.Errorf("redis: %w", context.DeadlineExceeded)
}

func (timeoutStore) Seen(context.Context, ...logout.LedgerQuery) (bool, error) {
	return false, fmt.Errorf("redis: %w", context.DeadlineExceeded)
}

func TestStoreFailureAndProviderDown(t *testing.T) {
	k := newRSAKey(t, "k")
	p := startProvider(t, k)
	w := post(newHandler(t, p, failingStore{}, nil), sign(t, k, p.claims("s", "")))
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Equal(t, "server_error", decodeError(t, w).Error)
	assert.NotContains(t, w.Body.String(), "store down", "internal errors stay in the logs")

	// A full store is a passing condition: 503, and the provider may
	// retry the same token, since its jti was not recorded.
	full := logout.NewMemoryLedger(logout.MemoryLedgerConfig{MaxEntries: 1, RefuseWhenFull: true})
	require.NoError(t, full.Record(t.Context(), "other", time.Now(), time.Hour))
	h := newHandler(t, p, full, nil)
	token := sign(t, k, p.claims("s", ""))
	w = post(h, token)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "temporarily_unavailable", decodeError(t, w).Error)
	assert.Contains(t, w.Header().Get("Cache-Control"), "no-store")
	roomy := logout.NewMemoryLedger(logout.MemoryLedgerConfig{})
	assert.Equal(t, http.StatusOK, post(newHandler(t, p, roomy, nil), token).Code, "the retry is accepted")

	slow := newHandler(t, p, timeoutStore{}, nil)
	assert.Equal(t, http.StatusServiceUnavailable, post(slow, sign(t, k, p.claims("s", ""))).Code, "a store that timed out")

	down := httptest.NewServer(http.NotFoundHandler())
	issuer := down.URL
	down.Close()
	h, err := backchannel.New(backchannel.Config{Issuer: issuer, ClientID: testClientID, Ledger: newStore()})
	require.NoError(t, err)
	w = post(h, sign(t, k, map[string]any{"iss": issuer}))
	assert.Equal(t, http.StatusBadGateway, w.Code)
}

func TestNewValidates(t *testing.T) {
	store := newStore()
	tests := []struct {
		name string
		cfg  backchannel.Config
		want string
	}{
		{"missing fields", backchannel.Config{Issuer: "https://op"}, "required"},
		{"relative issuer", backchannel.Config{Issuer: "op", ClientID: "c", Ledger: store}, "absolute"},
		{"HS256 without a client secret", backchannel.Config{Algorithms: algs(jose.HS256)}, "HS256 needs Config.ClientSecret"},
		{"HS256 next to RS256 without a client secret", backchannel.Config{Algorithms: algs(jose.RS256, jose.HS256)}, "ClientSecret"},
		{"HS256 with a short secret", backchannel.Config{Algorithms: algs(jose.HS256), ClientSecret: strings.Repeat("s", 31)}, "32 bytes"},
		{"HS512 with a secret long enough for HS256 only", backchannel.Config{Algorithms: algs(jose.HS256, jose.HS512), ClientSecret: testSecret}, "64 bytes"},
		{"none", backchannel.Config{Algorithms: algs("none")}, "none"},
		{"empty name", backchannel.Config{Algorithms: algs("")}, "not allowed"},
		{"unknown", backchannel.Config{Algorithms: algs("RS257")}, "RS257"},
		{"lower case", backchannel.Config{Algorithms: algs("rs256")}, "rs256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Issuer == "" {
				tc.cfg.Issuer, tc.cfg.ClientID, tc.cfg.Ledger = "https://op", "c", store
			}
			_, err := backchannel.New(tc.cfg)
			require.ErrorIs(t, err, backchannel.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
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

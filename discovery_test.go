package logout

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/internal/oidcdoc"
)

// fakeProvider serves a discovery document whose fields the test controls.
type fakeProvider struct {
	*httptest.Server
	hits   atomic.Int32
	status atomic.Int32
	doc    atomic.Value // func(issuer string) any
}

func newFakeProvider(t *testing.T) *fakeProvider {
	p := &fakeProvider{}
	p.status.Store(http.StatusOK)
	p.doc.Store(func(issuer string) any {
		return map[string]any{"issuer": issuer, "end_session_endpoint": issuer + "/session/end?tenant=acme"}
	})
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		p.hits.Add(1)
		w.WriteHeader(int(p.status.Load()))
		_ = json.NewEncoder(w).Encode(p.doc.Load().(func(string) any)(p.URL))
	}))
	t.Cleanup(p.Close)
	return p
}

func discoveryMiddleware(t *testing.T, issuer string, mutate func(*Config)) *Middleware {
	return newTestMiddleware(t, newTestStore(), func(c *Config) {
		c.Providers[0].EndSessionEndpoint, c.Providers[0].Issuer = "", issuer
		if mutate != nil {
			mutate(c)
		}
	})
}

func logoutWithToken(t *testing.T, m *Middleware) *http.Response {
	t.Helper()
	cookie := sessionCookie(t, m.store, map[any]any{"id_token": testIDToken})
	return serve(m, newRequest(http.MethodGet, "/logout", cookie))
}

func TestDiscoveryFindsAndCachesEndpoint(t *testing.T) {
	op := newFakeProvider(t)
	m := discoveryMiddleware(t, op.URL, nil)
	assert.Zero(t, op.hits.Load(), "New does no network I/O")

	for range 3 {
		resp := logoutWithToken(t, m)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		loc := location(t, resp)
		assert.Equal(t, op.URL+"/session/end", loc.Scheme+"://"+loc.Host+loc.Path)
		assert.Equal(t, "acme", loc.Query().Get("tenant"))
		assert.Equal(t, testIDToken, loc.Query().Get("id_token_hint"))
	}
	assert.Equal(t, int32(1), op.hits.Load(), "document cached")

	endpoint, err := discoveredEndpoint(m, context.Background())
	require.NoError(t, err)
	assert.Equal(t, op.URL+"/session/end?tenant=acme", endpoint)
}

func TestDiscoveryFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		doc    func(issuer string) any
		want   error
	}{
		{"no end_session_endpoint", 200, func(iss string) any { return map[string]any{"issuer": iss} }, ErrNoEndSessionEndpoint},
		{"issuer mismatch", 200, func(string) any {
			return map[string]any{"issuer": "https://evil.example", "end_session_endpoint": "https://evil.example/end"}
		}, ErrDiscovery},
		{"invalid endpoint", 200, func(iss string) any {
			return map[string]any{"issuer": iss, "end_session_endpoint": "javascript:alert(1)"}
		}, ErrDiscovery},
		{"server error", 500, func(iss string) any { return map[string]any{} }, ErrDiscovery},
		{"not JSON", 200, func(string) any { return "<html>" }, ErrDiscovery},
		{"too large", 200, func(iss string) any {
			return map[string]any{"issuer": iss, "pad": strings.Repeat("x", oidcdoc.MaxBytes)}
		}, ErrDiscovery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newFakeProvider(t)
			op.status.Store(int32(tt.status))
			op.doc.Store(tt.doc)
			var handled error
			m := discoveryMiddleware(t, op.URL, func(c *Config) {
				c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
					handled = err
					DefaultErrorHandler(w, r, err)
				}
			})
			_, err := discoveredEndpoint(m, context.Background())
			assert.ErrorIs(t, err, tt.want)

			resp := logoutWithToken(t, m)
			assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
			assert.True(t, ExpiredForTest(findCookie(resp, testSessionName)), "the local session is cleared anyway")
			assert.ErrorIs(t, handled, tt.want)
		})
	}
}

func TestDiscoveryTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	m := discoveryMiddleware(t, slow.URL, func(c *Config) { c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} })
	start := time.Now()
	_, err := discoveredEndpoint(m, context.Background())
	assert.ErrorIs(t, err, ErrDiscovery)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestDiscoveryRecoversAndKeepsLastGoodDocument(t *testing.T) {
	op := newFakeProvider(t)
	op.status.Store(http.StatusServiceUnavailable)
	m := discoveryMiddleware(t, op.URL, nil)
	now := time.Unix(1_700_000_000, 0)
	m.providers.only.discovery.now = func() time.Time { return now }
	ctx := context.Background()

	_, err := discoveredEndpoint(m, ctx)
	require.ErrorIs(t, err, ErrDiscovery)
	_, err = discoveredEndpoint(m, ctx)
	require.ErrorIs(t, err, ErrDiscovery)
	assert.Equal(t, int32(1), op.hits.Load(), "failures are not retried in a tight loop")

	op.status.Store(http.StatusOK)
	now = now.Add(discoveryRetryBackoff)
	got, err := discoveredEndpoint(m, ctx)
	require.NoError(t, err, "retried after the back-off")
	assert.Equal(t, op.URL+"/session/end?tenant=acme", got)

	op.status.Store(http.StatusInternalServerError)
	now = now.Add(discoveryCacheTTL)
	got, err = discoveredEndpoint(m, ctx)
	require.NoError(t, err, "a failed refresh keeps the last good document")
	assert.Equal(t, op.URL+"/session/end?tenant=acme", got)
	assert.Equal(t, int32(3), op.hits.Load())

	op.status.Store(http.StatusOK)
	op.doc.Store(func(iss string) any { return map[string]any{"issuer": iss, "end_session_endpoint": iss + "/v2/end"} })
	now = now.Add(discoveryRetryBackoff)
	got, err = discoveredEndpoint(m, ctx)
	require.NoError(t, err)
	assert.Equal(t, op.URL+"/v2/end", got, "refreshed once the provider is back")
}

func TestStaticEndpointNeedsNoDiscovery(t *testing.T) {
	op := newFakeProvider(t)
	op.doc.Store(func(iss string) any {
		return map[string]any{"issuer": iss, "end_session_endpoint": iss + "/end", "revocation_endpoint": iss + "/revoke", "jwks_uri": iss + "/jwks"}
	})
	m := newTestMiddleware(t, newTestStore(), func(c *Config) { c.Providers[0].Issuer = op.URL })
	resp := logoutWithToken(t, m)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), "https://op.example.com/oidc/session/end?"), resp.Header.Get("Location"))
	assert.Zero(t, op.hits.Load(), "a logout needs no discovery")

	p, err := m.Discover(context.Background(), "")
	require.NoError(t, err)
	assert.Equal(t, testEndpoint, p.EndSessionEndpoint, "the configured endpoint wins")
	assert.Equal(t, op.URL+"/revoke", p.RevocationEndpoint)
	assert.Equal(t, op.URL+"/jwks", p.JWKSURI)
	assert.Equal(t, int32(1), op.hits.Load())

	down := newTestMiddleware(t, newTestStore(), func(c *Config) { c.Providers[0].Issuer = "https://unreachable.invalid" })
	p, err = down.Discover(context.Background(), "")
	assert.ErrorIs(t, err, ErrDiscovery, "Discover reports a provider whose document cannot be fetched")
	assert.Equal(t, testEndpoint, p.EndSessionEndpoint, "with what is configured")
	assert.Equal(t, http.StatusFound, logoutWithToken(t, down).StatusCode)
}

func TestDiscoveryRefreshDoesNotBlockOtherCallers(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var slow atomic.Bool
	var hits atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if slow.Load() {
			entered <- struct{}{}
			<-release
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": srv.URL, "end_session_endpoint": srv.URL + "/end/" + string(rune('0'+n)),
		})
	}))
	t.Cleanup(srv.Close)
	m := discoveryMiddleware(t, srv.URL, nil)
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	m.providers.only.discovery.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ctx := context.Background()

	first, err := discoveredEndpoint(m, ctx)
	require.NoError(t, err)
	require.Equal(t, srv.URL+"/end/1", first)

	mu.Lock()
	now = now.Add(discoveryCacheTTL)
	mu.Unlock()
	slow.Store(true)
	refreshed := make(chan string, 1)
	go func() {
		got, _ := discoveredEndpoint(m, ctx)
		refreshed <- got
	}()
	<-entered // the refresh is at the provider

	start := time.Now()
	got, err := discoveredEndpoint(m, ctx)
	require.NoError(t, err)
	assert.Equal(t, first, got, "the last good document serves while the refresh runs")
	assert.Less(t, time.Since(start), time.Second)

	close(release)
	assert.Equal(t, srv.URL+"/end/2", <-refreshed)
	got, err = discoveredEndpoint(m, ctx)
	require.NoError(t, err)
	assert.Equal(t, srv.URL+"/end/2", got)
	assert.Equal(t, int32(2), hits.Load())
}

// TestLogoutWaitsForDiscoveryABoundedTime: a provider that hangs holds a
// logout for defaultDiscoveryWait at most, not for the HTTP client's
// timeout; the session is cleared all the same.
func TestLogoutWaitsForDiscoveryABoundedTime(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })
	assert.Equal(t, 3*time.Second, defaultDiscoveryWait)
	m := discoveryMiddleware(t, hung.URL, nil)
	require.Equal(t, defaultDiscoveryWait, m.discoveryWait)
	m.discoveryWait = 100 * time.Millisecond
	start := time.Now()
	resp := logoutWithToken(t, m)
	assert.Less(t, time.Since(start), 5*time.Second, "the client's timeout is 10 s")
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.True(t, ExpiredForTest(findCookie(resp, testSessionName)), "signed out here")
}

package logout

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookedUpDiscoveryCacheIsBounded(t *testing.T) {
	m, err := New(Config{
		Store: newTestStore(), SessionName: "app",
		LookupProvider: func(_ context.Context, iss string) (Provider, bool) { return Provider{Issuer: iss}, true },
	})
	require.NoError(t, err)
	ps := m.providers
	first, err := ps.find(context.Background(), "https://t0.example.com")
	require.NoError(t, err)
	for i := 1; i < DiscoveryCacheSize+10; i++ {
		p, err := ps.find(context.Background(), fmt.Sprintf("https://t%d.example.com", i))
		require.NoError(t, err)
		require.NotNil(t, p.discovery)
		// t0 stays the most recently used.
		again, err := ps.find(context.Background(), "https://t0.example.com/")
		require.NoError(t, err)
		require.Same(t, first.discovery, again.discovery, "a cached issuer keeps its discoverer")
	}
	assert.Equal(t, DiscoveryCacheSize, ps.cachedProviders())
	p, err := ps.find(context.Background(), "https://t1.example.com")
	require.NoError(t, err)
	assert.Equal(t, DiscoveryCacheSize, ps.cachedProviders(), "the least recently used was dropped to make room")
	assert.Equal(t, "https://t1.example.com", p.discovery.issuer)
}

// FuzzSessionProvider checks, for any id_token, that a logout picks a
// configured provider whose issuer is the token's iss (one trailing slash
// aside), or none: never a provider of another issuer, and never one the
// token alone makes up.
func FuzzSessionProvider(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, payload := range []string{
		`{"iss":"https://a.example.com"}`, `{"iss":"https://a.example.com/"}`, `{"iss":"https://b.example.com//"}`,
		`{"iss":"https://evil.example.com"}`, `{"ISS":"https://a.example.com"}`, `{"iss":1}`, `{}`,
	} {
		f.Add(enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".sig")
	}
	f.Add("not a token")
	m, err := New(Config{
		Store: newTestStore(), SessionName: "app",
		Providers: []Provider{
			{Issuer: "https://a.example.com", EndSessionEndpoint: "https://a.example.com/end"},
			{Issuer: "https://b.example.com/", EndSessionEndpoint: "https://b.example.com/end"},
		},
	})
	require.NoError(f, err)
	r := httptest.NewRequest(http.MethodGet, "/logout", nil)
	f.Fuzz(func(t *testing.T, idToken string) {
		p, err := m.sessionProvider(r, idToken)
		require.NoError(t, err)
		if p == nil {
			return
		}
		iss := idTokenClaims(idToken, false).Issuer
		require.Equal(t, issuerKey(p.Issuer), issuerKey(iss), "the provider is the token's issuer's")
		require.Contains(t, []string{"https://a.example.com/end", "https://b.example.com/end"}, p.EndSessionEndpoint)
	})
}

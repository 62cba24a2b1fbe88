package logout

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
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

// TestSameProviderComparesEveryField changes each field of a Provider in
// turn, so that a field added to Provider without being compared fails
// here: a looked-up provider whose answer changed in that field would
// otherwise keep its cached discovery and revoker.
func TestSameProviderComparesEveryField(t *testing.T) {
	base := Provider{
		Issuer: "https://op.example.com", ClientID: "c", ClientSecret: "s",
		EndSessionEndpoint: "https://op.example.com/end", RevocationEndpoint: "https://op.example.com/revoke",
		PostLogoutRedirectURI: "https://app.example.com/cb", JWKSURI: "https://op.example.com/jwks",
		SigningAlgorithms: []string{"RS256"},
	}
	assert.True(t, sameProvider(base, base))
	slashed := base
	slashed.Issuer += "/"
	assert.True(t, sameProvider(base, slashed), "one trailing slash of the issuer aside")

	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		changed := base
		changed.SigningAlgorithms = slices.Clone(base.SigningAlgorithms)
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Slice:
			f.Set(reflect.Append(f, reflect.ValueOf("ES256")))
		default:
			t.Fatalf("Provider.%s: a %s field; teach this test (and sameProvider) to compare it", typ.Field(i).Name, f.Kind())
		}
		assert.False(t, sameProvider(base, changed), "Provider.%s differs", typ.Field(i).Name)
		assert.False(t, sameProvider(changed, base), "Provider.%s differs", typ.Field(i).Name)
	}
}

// TestOAuthErrorCodeBounds pins the characters an error code may hold
// (RFC 6749, 5.2: %x20-21 / %x23-5B / %x5D-7E) at each end of the range.
func TestOAuthErrorCodeBounds(t *testing.T) {
	for _, tt := range []struct {
		code string
		want bool
	}{
		{"invalid_client", true},
		{"a b", true},      // 0x20, the first allowed
		{"a~", true},       // 0x7e, the last allowed
		{"a\u007f", false}, // DEL
		{"a\u001f", false},
		{`a"b`, false},
		{`a\b`, false},
	} {
		body := fmt.Appendf(nil, `{"error":%q}`, tt.code)
		if tt.want {
			assert.Equal(t, tt.code, oauthErrorCode(body), "%q", tt.code)
		} else {
			assert.Empty(t, oauthErrorCode(body), "%q", tt.code)
		}
	}
}

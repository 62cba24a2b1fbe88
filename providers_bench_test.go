package logout

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchIDToken returns an unsigned id_token of issuer iss: the size of a
// real one's payload is not what these benchmarks compare.
func benchIDToken(iss string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"iss":"`+iss+`","sub":"user-1","sid":"s1","iat":1700000000}`)) + "." + enc([]byte("signature"))
}

// benchmarkProviderLogout logs out a session of issuer iss through a
// middleware configured by mutate.
func benchmarkProviderLogout(b *testing.B, iss string, mutate func(*Config)) {
	store := newTestStore()
	m := newTestMiddleware(b, store, mutate)
	proto := httptest.NewRequest(http.MethodGet, testAppURL+"/logout", nil)
	proto.Header.Set("Sec-Fetch-Site", "same-origin")
	proto.AddCookie(sessionCookie(b, store, map[any]any{"id_token": benchIDToken(iss), "name": "Ada Lovelace"}))
	h := m.Wrap(okHandler)
	w := newBenchWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		r := new(http.Request)
		*r = *proto // the store caches the session in the request
		h.ServeHTTP(w, r)
		if w.status != http.StatusFound || w.h.Get("Location") == "/" {
			b.Fatalf("status %d to %q", w.status, w.h.Get("Location"))
		}
	}
}

// benchProviders returns n providers with static endpoints.
func benchProviders(n int) []Provider {
	ps := make([]Provider, n)
	for i := range ps {
		iss := fmt.Sprintf("https://tenant-%d.example.com", i)
		ps[i] = Provider{Issuer: iss, EndSessionEndpoint: iss + "/end", ClientID: "client-1"}
	}
	return ps
}

// BenchmarkLogoutOneProvider is a logout with the top-level fields, for
// comparison with BenchmarkLogoutProviders.
func BenchmarkLogoutOneProvider(b *testing.B) {
	benchmarkProviderLogout(b, "https://tenant-7.example.com", func(c *Config) {
		c.Providers[0].EndSessionEndpoint, c.Providers[0].Issuer = "https://tenant-7.example.com/end", "https://tenant-7.example.com"
	})
}

// BenchmarkLogoutProviders is a logout whose provider is picked among 100
// by the id_token's iss.
func BenchmarkLogoutProviders(b *testing.B) {
	benchmarkProviderLogout(b, "https://tenant-7.example.com", func(c *Config) {
		c.Providers = benchProviders(100)
	})
}

// BenchmarkLogoutLookupProvider is a logout whose provider is looked up.
func BenchmarkLogoutLookupProvider(b *testing.B) {
	ps := benchProviders(1)
	benchmarkProviderLogout(b, ps[0].Issuer, func(c *Config) {
		c.Providers = nil
		c.LookupProvider = func(context.Context, string) (Provider, bool) { return ps[0], true }
	})
}

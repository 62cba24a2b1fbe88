package logout_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gorilla/sessions"

	"github.com/oidc-logout/logout"
)

// An app whose users sign in with one of two providers: each logout goes
// to the provider that issued the session's id_token, with that
// provider's client_id. A session of any other issuer is logged out
// locally.
func ExampleConfig_providers() {
	store := sessions.NewCookieStore([]byte("a-32-byte-long-hash-key-for-demo"))
	m, err := logout.New(logout.Config{
		Store:       store,
		SessionName: "app",
		Providers: []logout.Provider{
			{Issuer: "https://acme.genauth.ai/oidc", ClientID: "acme-client"}, // end_session_endpoint discovered
			{Issuer: "https://idp.example.com", EndSessionEndpoint: "https://idp.example.com/logout", ClientID: "web"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, iss := range []string{"https://idp.example.com", "https://unknown.example.com"} {
		fmt.Println(logoutTarget(m, store, iss))
	}
	// Output:
	// https://idp.example.com/logout?client_id=web
	// /
}

// An app whose tenants, each with its own issuer, live in a database:
// LookupProvider finds the tenant of a session's issuer at logout. The
// discovery documents of looked-up issuers are cached, up to
// logout.DiscoveryCacheSize of them.
func ExampleConfig_lookupProvider() {
	tenants := map[string]logout.Provider{ // a database, say
		"https://tenant-a.example.com": {Issuer: "https://tenant-a.example.com", EndSessionEndpoint: "https://tenant-a.example.com/end", ClientID: "a"},
	}
	store := sessions.NewCookieStore([]byte("a-32-byte-long-hash-key-for-demo"))
	m, err := logout.New(logout.Config{
		Store:       store,
		SessionName: "app",
		LookupProvider: func(_ context.Context, issuer string) (logout.Provider, bool) {
			p, ok := tenants[issuer]
			return p, ok
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(logoutTarget(m, store, "https://tenant-a.example.com"))
	fmt.Println(logoutTarget(m, store, "https://tenant-b.example.com"))
	// Output:
	// https://tenant-a.example.com/end?client_id=a
	// /
}

// logoutTarget logs out a session whose id_token has issuer iss and
// returns where the browser is sent, without the id_token_hint, state
// and post_logout_redirect_uri.
func logoutTarget(m *logout.Middleware, store sessions.Store, iss string) string {
	enc := base64.RawURLEncoding.EncodeToString
	idToken := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"iss":"`+iss+`","sub":"u1"}`)) + ".sig"
	login := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
	s, _ := store.New(r, "app")
	s.Values["id_token"] = idToken
	if err := s.Save(r, login); err != nil {
		log.Fatal(err)
	}
	r = httptest.NewRequest(http.MethodGet, "https://app.example.com/logout", nil)
	r.Header.Set("Cookie", login.Header().Get("Set-Cookie"))
	w := httptest.NewRecorder()
	m.ServeHTTP(w, r)
	u, err := w.Result().Location()
	if err != nil {
		log.Fatal(err)
	}
	q := u.Query()
	for _, p := range []string{"id_token_hint", "state", "post_logout_redirect_uri"} {
		q.Del(p)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

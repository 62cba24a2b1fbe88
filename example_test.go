package logout_test

import (
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"

	"github.com/gorilla/sessions"
	"github.com/oidc-logout/logout"
)

// Mount the middleware on the standard library's mux: one route for the
// logout, one for the provider's return.
func Example() {
	store := sessions.NewCookieStore([]byte(os.Getenv("SESSION_HASH_KEY")), []byte(os.Getenv("SESSION_BLOCK_KEY")))
	m, err := logout.New(logout.Config{
		Store:       store,
		SessionName: "app",
		Providers: []logout.Provider{{
			Issuer:                "https://example.genauth.ai/oidc", // end_session_endpoint is discovered
			ClientID:              "my-client-id",
			PostLogoutRedirectURI: "https://app.example.com/logout/callback",
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/logout", m)          // GET or POST: clears the session, redirects to the provider
	mux.Handle("/logout/callback", m) // the provider's return: checks state, redirects to return_to
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "home") })
	log.Fatal(http.ListenAndServe(":8080", mux))
}

// Wrap an existing handler: requests for the logout and callback paths are
// served by the middleware, all others reach the app untouched.
func ExampleMiddleware_Wrap() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "app") })
	m, err := logout.New(logout.Config{
		Path:        "/auth/logout",
		Store:       sessions.NewCookieStore([]byte("a-32-byte-long-hash-key-for-demo")),
		SessionName: "app",
		SessionTokens: func(s *sessions.Session) logout.Tokens {
			idToken, _ := s.Values["oidc_id_token"].(string)
			return logout.Tokens{IDToken: idToken}
		},
		AllowedReturnOrigins: []string{"https://shop.example.com"},
		Providers:            []logout.Provider{{ClientID: "web", EndSessionEndpoint: "https://sso.example.com/realms/main/protocol/openid-connect/logout", PostLogoutRedirectURI: "https://app.example.com/auth/logged-out"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(":8080", m.Wrap(app)))
}

// BuildURL is the pure function underneath: it only builds the URL.
func ExampleBuildURL() {
	u, err := logout.BuildURL("https://example.genauth.ai/oidc/session/end", logout.Params{
		IDTokenHint:           "eyJhbGciOiJSUzI1NiJ9.e30.sig",
		PostLogoutRedirectURI: "https://app.example.com/logout/callback",
		State:                 "af0ifjsldkj",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u)
	q, _ := url.Parse(u)
	fmt.Println(q.Query().Get("post_logout_redirect_uri"))
	// Output:
	// https://example.genauth.ai/oidc/session/end?id_token_hint=eyJhbGciOiJSUzI1NiJ9.e30.sig&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Flogout%2Fcallback&state=af0ifjsldkj
	// https://app.example.com/logout/callback
}

// GenAuth (Authing) applications end sessions at {appHost}/oidc/session/end.
func ExampleGenAuthEndpoint() {
	fmt.Println(logout.GenAuthEndpoint("https://example.genauth.ai"))
	fmt.Println(logout.GenAuthEndpoint("example.authing.cn/"))
	// Output:
	// https://example.genauth.ai/oidc/session/end
	// https://example.authing.cn/oidc/session/end
}

// A GenAuth preset: the end-session endpoint from the app host, no discovery.
func ExampleNew_genAuth() {
	m, err := logout.New(logout.Config{
		Store:       sessions.NewCookieStore([]byte("a-32-byte-long-hash-key-for-demo")),
		SessionName: "app",
		Providers:   []logout.Provider{{EndSessionEndpoint: logout.GenAuthEndpoint("https://example.genauth.ai"), PostLogoutRedirectURI: "https://app.example.com/logout/callback"}},
	})
	fmt.Println(err == nil, m.NeedsRequest("/logout", nil), m.NeedsRequest("/logout/callback", nil))
	// Output: true true true
}

// Without an id_token (an expired or never-established session), the
// default is a local logout; ProviderLogoutWithoutIDToken goes to the
// provider anyway, identified by client_id.
func ExampleConfig_providerLogoutWithoutIDToken() {
	_, err := logout.New(logout.Config{
		Store:                        sessions.NewCookieStore([]byte("a-32-byte-long-hash-key-for-demo")),
		SessionName:                  "app",
		ProviderLogoutWithoutIDToken: true,
		Providers:                    []logout.Provider{{EndSessionEndpoint: "https://op.example.com/end"}}, // no ClientID
	})
	fmt.Println(err)
	// Output: logout: invalid config: Config.ProviderLogoutWithoutIDToken needs the provider's ClientID
}

// Sessions ended by the provider: the session check signs out sessions
// recorded in a ledger, which back-channel logout (module
// backchannel) and front-channel logout fill. The session check runs on the
// requests of a wrapped app, and Wrap serves the front-channel path.
func ExampleConfig_frontChannelPath() {
	ended := logout.NewMemoryLedger(logout.MemoryLedgerConfig{}) // or redisstore, shared by instances
	m, err := logout.New(logout.Config{
		Store:        sessions.NewCookieStore([]byte("a-32-byte-long-hash-key-for-demo")),
		SessionName:  "app",
		SessionCheck: &logout.SessionCheckConfig{Ledger: ended},
		// Register https://app.example.com/frontchannel-logout as the
		// client's frontchannel_logout_uri, with the session required.
		FrontChannelPath: "/frontchannel-logout",
		Providers:        []logout.Provider{{Issuer: "https://sso.example.com/realms/main"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	app := http.NewServeMux()
	handler := m.Wrap(app) // http.ListenAndServe(":8080", handler)
	_ = handler
	fmt.Println(m.NeedsRequest("/logout", nil), m.NeedsRequest("/frontchannel-logout", nil))
	// Output: true true
}

package redisstore_test

import (
	"log"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/redisstore"
)

// Sessions in Redis, and logouts shared by every instance of the app.
func Example() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true, // the session check's one-second bound applies to each look-up
	})
	store := redisstore.NewStore(client, []byte(os.Getenv("SESSION_HASH_KEY")))

	m, err := logout.New(logout.Config{
		Store:       store,
		SessionName: "app",
		Providers: []logout.Provider{{
			Issuer:                "https://example.genauth.ai/oidc",
			ClientID:              "client-id",
			PostLogoutRedirectURI: "https://app.example.com/logout/callback",
		}},
		SessionCheck: &logout.SessionCheckConfig{
			Ledger: redisstore.NewLedger(client, "myapp:revoked:"),
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) })
	log.Fatal(http.ListenAndServe(":8080", m.Wrap(mux)))
}

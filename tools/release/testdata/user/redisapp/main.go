// Command redisapp keeps sessions and ended sessions in Redis, shared by
// every instance of the app.
package main

import (
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/redisstore"

	"example.com/logoutuser/app"
)

func main() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	store := redisstore.NewStore(client, []byte("0123456789abcdef0123456789abcdef"))
	ended := redisstore.NewCachedLedger(client, redisstore.CachedLedgerConfig{})
	defer ended.Close()
	m, err := logout.New(logout.Config{
		Store:        store,
		SessionName:  "app",
		SessionCheck: &logout.SessionCheckConfig{Ledger: ended},
		Providers:    []logout.Provider{{ClientID: "client-1", EndSessionEndpoint: app.Endpoint, PostLogoutRedirectURI: "https://app.example.com/logout/callback"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", app.Login(store))
	mux.HandleFunc("GET /{$}", app.Home(store))
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: m.Wrap(mux), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

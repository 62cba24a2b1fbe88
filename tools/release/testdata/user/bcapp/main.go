// Command bcapp receives the provider's back-channel logout tokens and
// signs the ended sessions out.
package main

import (
	"log"
	"net/http"
	"time"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/backchannel"

	"example.com/logoutuser/app"
)

func main() {
	store, _, err := app.New()
	if err != nil {
		log.Fatal(err)
	}
	ended := logout.NewMemoryLedger(logout.MemoryLedgerConfig{})
	m, err := logout.New(logout.Config{
		Store:        store,
		SessionName:  "app",
		SessionCheck: &logout.SessionCheckConfig{Ledger: ended},
		Providers: []logout.Provider{{
			Issuer: "https://op.example.com", ClientID: "client-1", EndSessionEndpoint: app.Endpoint,
			JWKSURI: "https://op.example.com/jwks", PostLogoutRedirectURI: "https://app.example.com/logout/callback",
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	bc, err := backchannel.New(m, backchannel.Config{Ledger: ended})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /backchannel-logout", bc)
	mux.HandleFunc("GET /login", app.Login(store))
	mux.HandleFunc("GET /{$}", app.Home(store))
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: m.Wrap(mux), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

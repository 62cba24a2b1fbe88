package backchannel_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/gorilla/sessions"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/backchannel"
)

// One back-channel logout URI for the middleware's providers: a token is
// verified with the keys, algorithms and client_id of the provider its
// iss names. Tenants that live in a database are found by the
// middleware's LookupProvider.
func ExampleNew_providers() {
	ledger := logout.NewMemoryLedger(logout.MemoryLedgerConfig{})               // the middleware's session check and the handler share it
	tenantClients := map[string]string{"https://tenant-a.example.com": "app-a"} // a database, say
	m, err := logout.New(logout.Config{
		Store: sessions.NewCookieStore([]byte(os.Getenv("SESSION_KEY"))),
		Providers: []logout.Provider{
			// A GenAuth app that signs with its app secret.
			{Issuer: "https://acme.genauth.ai/oidc", ClientID: "acme-client",
				SigningAlgorithms: []string{"HS256"}, ClientSecret: os.Getenv("ACME_CLIENT_SECRET")},
			// An enterprise IdP: RS256, keys from its discovery document.
			{Issuer: "https://idp.example.com", ClientID: "web"},
		},
		LookupProvider: func(_ context.Context, issuer string) (logout.Provider, bool) {
			client, ok := tenantClients[issuer]
			return logout.Provider{Issuer: issuer, ClientID: client}, ok
		},
		SessionCheck: &logout.SessionCheckConfig{Ledger: ledger},
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := backchannel.New(m, backchannel.Config{Ledger: ledger})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("POST /backchannel-logout", h)
	log.Fatal(http.ListenAndServe(":8080", m.Wrap(http.DefaultServeMux)))
}

package backchannel_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/backchannel"
)

// One back-channel logout URI for several providers: a token is verified
// with the keys, algorithms and client_id of the provider its iss names.
// Tenants that live in a database are found by LookupProvider.
func ExampleConfig_providers() {
	ledger := logout.NewMemoryLedger(logout.MemoryLedgerConfig{})               // shared with the middleware's session check
	tenantClients := map[string]string{"https://tenant-a.example.com": "app-a"} // a database, say
	h, err := backchannel.New(backchannel.Config{
		Ledger: ledger,
		Providers: []backchannel.Provider{
			// A GenAuth app that signs with its app secret.
			{Issuer: "https://acme.genauth.ai/oidc", ClientID: "acme-client",
				Algorithms: []jose.SignatureAlgorithm{jose.HS256}, ClientSecret: os.Getenv("ACME_CLIENT_SECRET")},
			// An enterprise IdP: RS256, keys from its discovery document.
			{Issuer: "https://idp.example.com", ClientID: "web"},
		},
		LookupProvider: func(_ context.Context, issuer string) (backchannel.Provider, bool) {
			client, ok := tenantClients[issuer]
			return backchannel.Provider{Issuer: issuer, ClientID: client}, ok
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("POST /backchannel-logout", h)
	log.Fatal(http.ListenAndServe(":8080", nil))
}

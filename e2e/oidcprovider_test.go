package e2e

import (
	"crypto/rand"
	"testing"
)

// TestInteropOIDCProvider runs RP-Initiated Logout against panva's
// oidc-provider (e2e/oidc-provider/server.js), run with node: the provider
// on http://localhost:PORT, the demo app on http://127.0.0.1:PORT. The
// provider asks the user to confirm the logout; the flow submits that form
// as a browser would.
func TestInteropOIDCProvider(t *testing.T) {
	ln, appURL := appListener(t)
	const clientID = "logout-e2e"
	secret := rand.Text()
	op := startNodeOP(t, nodeOPConfig{
		ClientID:              clientID,
		ClientSecret:          secret,
		RedirectURI:           appURL.String() + "/callback",
		PostLogoutRedirectURI: appURL.String() + "/logout/callback",
	})

	app := serveDemoApp(t, ln, appURL, op.Issuer, clientID, secret)
	// The development login form of oidc-provider accepts any login.
	e := demoInterop(t, appURL, op.Issuer, clientID, "alice", "any-password")

	t.Run("Logout", func(t *testing.T) { e.withT(t).runLogoutFlow() })
	t.Run("TamperedState", func(t *testing.T) { e.withT(t).runTamperedState() })
	t.Run("Discovery", func(t *testing.T) { assertDiscovered(t, e, app) })
}

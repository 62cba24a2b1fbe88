package e2e

import (
	"testing"

	"github.com/oidc-logout/logout/examples/demoapp"
	"github.com/oidc-logout/logout/examples/provider"
)

// TestInteropZitadel runs RP-Initiated Logout against the embedded
// zitadel/oidc provider (examples/provider), in process: the provider on
// http://localhost:PORT, the demo app on http://127.0.0.1:PORT, so the two
// are different sites as in production.
func TestInteropZitadel(t *testing.T) {
	ln, appURL := appListener(t)
	p := startProvider(t, provider.Config{
		RedirectURIs:           []string{appURL.String() + demoapp.CallbackPath},
		PostLogoutRedirectURIs: []string{appURL.String() + demoapp.LogoutCallbackPath},
	})

	logs := &logRecorder{}
	app := serveDemoApp(t, ln, appURL, p.Issuer(), p.ClientID(), p.ClientSecret(), logs)
	e := demoInterop(t, appURL, p.Issuer(), p.ClientID(), p.Username(), p.Password(), logs)
	e.opSessions = p.ActiveSessions

	t.Run("Logout", func(t *testing.T) { e.withT(t).runLogoutFlow() })
	t.Run("LogoutForm", func(t *testing.T) { e.withT(t).runLogoutForm() })
	t.Run("TamperedState", func(t *testing.T) { e.withT(t).runTamperedState() })
	t.Run("Discovery", func(t *testing.T) { assertDiscovered(t, e, app) })
}

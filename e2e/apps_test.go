package e2e

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/demoapp"
)

// appListener reserves the app's address before the provider starts, since
// the provider must know the app's redirect URIs.
func appListener(t *testing.T) (net.Listener, *url.URL) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	u, err := url.Parse("http://" + ln.Addr().String())
	require.NoError(t, err)
	return ln, u
}

// serveDemoApp starts the demo app on ln, signed in with the provider at
// issuer, and stops it when the test ends. The app's and the middleware's
// warnings and errors go to logs.
func serveDemoApp(t *testing.T, ln net.Listener, appURL *url.URL, issuer, clientID, secret string, logs *logRecorder) *demoapp.App {
	t.Helper()
	app := newDemoApp(t, demoConfig(appURL, issuer, clientID, secret, logs))
	serveOn(t, ln, app)
	return app
}

// demoConfig is the demo app's configuration for the provider at issuer.
func demoConfig(appURL *url.URL, issuer, clientID, secret string, logs *logRecorder) demoapp.Config {
	return demoapp.Config{
		Issuer:       issuer,
		ClientID:     clientID,
		ClientSecret: secret,
		BaseURL:      appURL.String(),
		Logger:       slog.New(logs),
	}
}

// newDemoApp builds the demo app, which discovers its provider.
func newDemoApp(t *testing.T, cfg demoapp.Config) *demoapp.App {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	app, err := demoapp.New(ctx, cfg)
	require.NoError(t, err, "demoapp.New")
	return app
}

// serveOn serves h on ln until the test ends.
func serveOn(t *testing.T, ln net.Listener, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("demo app server: %v", err)
		}
	})
}

// demoInterop returns the flow's description of the demo app.
func demoInterop(t *testing.T, appURL *url.URL, issuer, clientID, username, password string, logs *logRecorder) *interop {
	return &interop{
		appLogs:       logs,
		t:             t,
		issuer:        issuer,
		clientID:      clientID,
		username:      username,
		password:      password,
		appURL:        appURL,
		loginPath:     "/login",
		redirectPath:  demoapp.CallbackPath,
		logoutPath:    "/logout",
		callbackPath:  demoapp.LogoutCallbackPath,
		sessionCookie: demoapp.SessionName,
		signedOutText: demoapp.StatusSignedOut,
	}
}

// withT returns a copy of e that reports to t, for a subtest.
func (e *interop) withT(t *testing.T) *interop {
	c := *e
	c.t = t
	return &c
}

// assertDiscovered checks that the app's middleware, configured with the
// issuer only, found the provider's end_session_endpoint by discovery.
func assertDiscovered(t *testing.T, e *interop, app *demoapp.App) {
	t.Helper()
	got, err := app.Logout().Discover(t.Context(), "")
	require.NoError(t, err)
	require.Equal(t, e.discoveredEndSession(), got.EndSessionEndpoint)
}

// Command demo runs the logout demo: an app on http://127.0.0.1:8080 that
// signs users in with OpenID Connect and signs them out with the logout
// middleware, against an embedded OpenID Provider on http://localhost:9998
// or against a real provider.
//
//	go -C examples run ./demo
//	go -C examples run ./demo -issuer https://idp.example.com -client-id ID -client-secret SECRET
//	GENAUTH_APP_HOST=https://example.genauth.ai OIDC_CLIENT_ID=ID OIDC_CLIENT_SECRET=SECRET go -C examples run ./demo
//
// With a real provider, register http://127.0.0.1:8080/callback as a login
// callback (redirect URI) and http://127.0.0.1:8080/logout/callback as a
// logout callback (post-logout redirect URI). With -front-channel, also
// register http://127.0.0.1:8080/frontchannel-logout as the client's
// front-channel logout URI (frontchannel_logout_uri, with
// frontchannel_logout_session_required).
//
// With -two-providers, a second embedded provider runs on
// -provider2-addr (default [::1]:9997: another host than localhost, so
// that the two providers' cookies stay apart in the browser), with the
// user "bob" (password "builder"); the home page offers both, and each
// logout goes to the provider the user signed in with.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/examples/demoapp"
	"github.com/oidc-logout/logout/examples/provider"
)

type options struct {
	addr, providerAddr             string
	issuer, clientID, clientSecret string
	scopes                         string
	embedded, frontChannel         bool
	twoProviders                   bool
	provider2Addr                  string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address of the demo app")
	flag.StringVar(&o.providerAddr, "provider-addr", "localhost:9998", "address of the embedded provider")
	flag.StringVar(&o.issuer, "issuer", os.Getenv("OIDC_ISSUER"), "issuer of a real provider (env OIDC_ISSUER); empty runs the embedded one")
	flag.StringVar(&o.clientID, "client-id", os.Getenv("OIDC_CLIENT_ID"), "client_id at the real provider (env OIDC_CLIENT_ID)")
	flag.StringVar(&o.clientSecret, "client-secret", os.Getenv("OIDC_CLIENT_SECRET"), "client_secret at the real provider (env OIDC_CLIENT_SECRET)")
	flag.StringVar(&o.scopes, "scopes", "openid profile email", "scopes requested at login, space-separated")
	flag.BoolVar(&o.frontChannel, "front-channel", false, "serve front-channel logout at "+demoapp.FrontChannelLogoutPath)
	flag.BoolVar(&o.twoProviders, "two-providers", false, "run a second embedded provider; users sign in with either")
	flag.StringVar(&o.provider2Addr, "provider2-addr", "[::1]:9997", "address of the second embedded provider (-two-providers)")
	flag.Parse()
	if o.issuer == "" {
		o.issuer = genAuthIssuer(os.Getenv("GENAUTH_APP_HOST"))
	}
	o.embedded = o.issuer == ""
	return o
}

// genAuthIssuer returns the issuer of a GenAuth (Authing) application,
// which serves OpenID Connect under {appHost}/oidc, or "" for no host.
func genAuthIssuer(appHost string) string {
	if strings.TrimSpace(appHost) == "" {
		return ""
	}
	return strings.TrimSuffix(logout.GenAuthEndpoint(appHost), "/session/end")
}

func run() error {
	o := parseFlags()
	if !o.embedded && o.clientID == "" {
		return errors.New("-client-id (or OIDC_CLIENT_ID) is required with a real provider")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	baseURL := "http://" + ln.Addr().String()
	cfg := demoapp.Config{
		Issuer: o.issuer, ClientID: o.clientID, ClientSecret: o.clientSecret,
		BaseURL: baseURL, Scopes: strings.Fields(o.scopes), Logger: logger,
		FrontChannel: o.frontChannel,
	}
	if o.embedded {
		p, err := startProvider(ctx, o.providerAddr, baseURL, &cfg)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer p.Close()
	}
	if o.twoProviders {
		p, err := startSecondProvider(ctx, o.provider2Addr, baseURL, &cfg)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer p.Close()
	}
	app, err := demoapp.New(ctx, cfg)
	if err != nil {
		_ = ln.Close()
		return err
	}
	issuers := []string{cfg.Issuer}
	for _, p := range cfg.MoreProviders {
		issuers = append(issuers, p.Issuer)
	}
	for _, iss := range issuers {
		if p, err := app.Logout().Discover(ctx, iss); err != nil {
			logger.Warn("the provider has no usable end_session_endpoint; logout will fail", "issuer", iss, "error", err)
		} else {
			fmt.Printf("Provider:  %s\nLogout at: %s\n", iss, p.EndSessionEndpoint)
		}
	}
	fmt.Printf("\nOpen %s/ in a browser. Press Ctrl-C to stop.\n", baseURL)
	return serve(ctx, ln, app)
}

// startProvider starts the embedded provider with the app's callbacks
// registered, and points cfg at it.
func startProvider(ctx context.Context, addr, baseURL string, cfg *demoapp.Config) (*provider.Provider, error) {
	p, err := provider.Start(ctx, provider.Config{
		Addr:                   addr,
		RedirectURIs:           []string{baseURL + demoapp.CallbackPath},
		PostLogoutRedirectURIs: []string{baseURL + demoapp.LogoutCallbackPath},
	})
	if err != nil {
		return nil, err
	}
	cfg.Issuer, cfg.ClientID, cfg.ClientSecret = p.Issuer(), p.ClientID(), p.ClientSecret()
	fmt.Printf("Embedded OpenID Provider: sign in as %q with password %q\n", p.Username(), p.Password())
	return p, nil
}

// startSecondProvider starts a second embedded provider, with the user
// bob, and adds it to cfg.MoreProviders.
func startSecondProvider(ctx context.Context, addr, baseURL string, cfg *demoapp.Config) (*provider.Provider, error) {
	p, err := provider.Start(ctx, provider.Config{
		Addr:                   addr,
		Username:               "bob",
		Password:               "builder",
		RedirectURIs:           []string{baseURL + demoapp.CallbackPath},
		PostLogoutRedirectURIs: []string{baseURL + demoapp.LogoutCallbackPath},
	})
	if err != nil {
		return nil, err
	}
	cfg.MoreProviders = append(cfg.MoreProviders, demoapp.ProviderConfig{Issuer: p.Issuer(), ClientID: p.ClientID(), ClientSecret: p.ClientSecret()})
	fmt.Printf("Second embedded OpenID Provider (%s): sign in as %q with password %q\n", p.Issuer(), p.Username(), p.Password())
	return p, nil
}

// serve runs the app until ctx is done, then shuts it down gracefully.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	fmt.Println("\nShutting down.")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

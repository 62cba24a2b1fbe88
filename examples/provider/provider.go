package provider

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Defaults used when Config leaves a field empty.
const (
	DefaultAddr     = "localhost:0"
	DefaultClientID = "demo-app"
	DefaultUsername = "alice"
	DefaultPassword = "wonderland"
)

// Config configures a Provider. Every field has a default.
type Config struct {
	// Addr is the listen address, host:port. Default "localhost:0" (a free
	// port). A host of "localhost" (or none) listens on 127.0.0.1 and makes
	// the issuer http://localhost:PORT.
	Addr string
	// ClientID is the client registered at start. Default "demo-app".
	ClientID string
	// ClientSecret is that client's secret (client_secret_basic or
	// client_secret_post). Default: random.
	ClientSecret string
	// RedirectURIs are the client's registered redirect_uris (login callbacks).
	RedirectURIs []string
	// PostLogoutRedirectURIs are the client's registered post_logout_redirect_uris.
	PostLogoutRedirectURIs []string
	// Username and Password are the test user's credentials. Default
	// "alice" and "wonderland".
	Username, Password string
	// Logger receives one record per request. Default: no logging.
	Logger *slog.Logger
}

// Client is an OAuth 2.0 client registered at the Provider.
type Client struct {
	// ID is the client_id. Required.
	ID string
	// Secret is the client_secret; empty makes a public client, which
	// authenticates with client_id alone and must use PKCE.
	Secret string
	// RedirectURIs are the registered redirect_uris.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the registered post_logout_redirect_uris.
	PostLogoutRedirectURIs []string
}

// Provider is a running embedded OpenID Provider. Its methods are safe for
// concurrent use.
type Provider struct {
	issuer       string
	user         user
	clientID     string
	clientSecret string
	store        *storage
	srv          *http.Server
	served       chan struct{}
	closeOnce    sync.Once
	closeErr     error
	stopWatch    func() bool
}

// Start starts a Provider on cfg.Addr and returns once it accepts
// connections. It stops when ctx is done or Close is called.
func Start(ctx context.Context, cfg Config) (*Provider, error) {
	cfg = withDefaults(cfg)
	secret, err := orRandom(cfg.ClientSecret)
	if err != nil {
		return nil, err
	}
	ln, issuer, err := listen(ctx, cfg.Addr)
	if err != nil {
		return nil, err
	}
	p, err := newProvider(cfg, issuer, secret)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	go func() {
		defer close(p.served)
		_ = p.srv.Serve(ln)
	}()
	p.stopWatch = context.AfterFunc(ctx, func() { _ = p.Close() })
	return p, nil
}

func withDefaults(cfg Config) Config {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&cfg.Addr, DefaultAddr)
	def(&cfg.ClientID, DefaultClientID)
	def(&cfg.Username, DefaultUsername)
	def(&cfg.Password, DefaultPassword)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// orRandom returns v, or a random token when v is empty.
func orRandom(v string) (string, error) {
	if v != "" {
		return v, nil
	}
	return randomToken()
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("provider: reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// listen opens the listener for addr and returns it with the issuer URL.
// The name localhost is served on 127.0.0.1 but kept in the issuer.
func listen(ctx context.Context, addr string) (net.Listener, string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", fmt.Errorf("provider: Config.Addr %q: %w", addr, err)
	}
	bindHost := host
	if host == "" || strings.EqualFold(host, "localhost") {
		host, bindHost = "localhost", "127.0.0.1"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(bindHost, port))
	if err != nil {
		return nil, "", fmt.Errorf("provider: listening on %s: %w", addr, err)
	}
	_, actualPort, _ := net.SplitHostPort(ln.Addr().String())
	return ln, "http://" + net.JoinHostPort(host, actualPort), nil
}

// newProvider builds the OpenID Provider and its HTTP server.
func newProvider(cfg Config, issuer, secret string) (*Provider, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("provider: generating signing key: %w", err)
	}
	u := newUser(cfg.Username, cfg.Password)
	store := newStorage(key, u)
	store.registerClient(Client{
		ID: cfg.ClientID, Secret: secret,
		RedirectURIs: cfg.RedirectURIs, PostLogoutRedirectURIs: cfg.PostLogoutRedirectURIs,
	})
	handler, err := newHandler(issuer, store, cfg.Logger)
	if err != nil {
		return nil, err
	}
	return &Provider{
		issuer:       issuer,
		user:         u,
		clientID:     cfg.ClientID,
		clientSecret: secret,
		store:        store,
		srv:          &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second},
		served:       make(chan struct{}),
	}, nil
}

// Issuer returns the issuer URL, http://localhost:PORT without a trailing slash.
func (p *Provider) Issuer() string { return p.issuer }

// ClientID returns the client_id of the client registered at start.
func (p *Provider) ClientID() string { return p.clientID }

// ClientSecret returns the client_secret of the client registered at start.
func (p *Provider) ClientSecret() string { return p.clientSecret }

// Username returns the test user's username.
func (p *Provider) Username() string { return p.user.username }

// Password returns the test user's password.
func (p *Provider) Password() string { return p.user.password }

// Subject returns the test user's subject (the sub claim).
func (p *Provider) Subject() string { return p.user.subject }

// Name returns the test user's display name (the name claim).
func (p *Provider) Name() string { return p.user.name }

// RegisterClient registers another client, or replaces the one with the
// same ID.
func (p *Provider) RegisterClient(c Client) error {
	if c.ID == "" {
		return errors.New("provider: Client.ID is required")
	}
	p.store.registerClient(c)
	return nil
}

// ActiveSessions returns how many browser sessions the provider holds:
// one per successful login, until it is ended at the end-session endpoint.
func (p *Provider) ActiveSessions() int { return p.store.sessionCount() }

// ActiveTokens returns how many access and refresh tokens are valid:
// neither expired, nor revoked, nor ended with their session.
func (p *Provider) ActiveTokens() int { return p.store.tokenCount() }

// closeGrace is how long Close lets requests in flight finish before it
// closes every connection.
const closeGrace = time.Second

// Close stops the provider and waits for its server to exit. Requests in
// flight get a short grace period; connections still open after it, such
// as the ones a browser opens ahead of time and keeps, are closed. It is
// safe to call more than once.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		if p.stopWatch != nil {
			p.stopWatch()
		}
		p.closeErr = shutdown(p.srv, closeGrace)
		<-p.served
	})
	return p.closeErr
}

// shutdown stops srv gracefully within grace, then forcibly. Running out
// of grace is not an error: only a listener that fails to close is.
func shutdown(srv *http.Server, grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Shutdown has closed the listeners; Close closes the connections
		// it was waiting for and reports the listeners as closed already.
		if err = srv.Close(); errors.Is(err, net.ErrClosed) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("provider: shutting down: %w", err)
	}
	return nil
}

// newHandler routes the OpenID Provider's endpoints, the login page and
// the signed-out page, behind the browser-session middleware.
func newHandler(issuer string, store *storage, logger *slog.Logger) (http.Handler, error) {
	cryptoKey, err := randomKey()
	if err != nil {
		return nil, err
	}
	config := &op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: pathLoggedOut,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
	}
	oidcProvider, err := op.NewProvider(config, store, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		return nil, fmt.Errorf("provider: creating OpenID Provider: %w", err)
	}
	ui := &loginUI{store: store, callback: op.AuthCallbackURL(oidcProvider)}
	interceptor := op.NewIssuerInterceptor(oidcProvider.IssuerFromRequest)
	mux := http.NewServeMux()
	mux.Handle(pathLogin, interceptor.Handler(ui))
	mux.HandleFunc(pathLoggedOut, serveLoggedOut)
	mux.Handle("/", oidcProvider)
	return withBrowserSession(withRequestLog(mux, logger)), nil
}

func randomKey() ([32]byte, error) {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("provider: reading random bytes: %w", err)
	}
	return k, nil
}

// withRequestLog logs one record per request: method, path, status.
func withRequestLog(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "provider: request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.status))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Package demoapp is a small web app that signs users in with OpenID
// Connect and signs them out with the logout middleware. It is the app of
// the demo (examples/demo) and of the browser and interop tests.
//
// Routes:
//
//	GET  /                 home page: signed in (name, sub, Log out button) or signed out
//	GET  /login            starts the authorization code flow with PKCE, state and nonce
//	GET  /callback         the login callback: verifies state, nonce and the id_token,
//	                       and stores the raw tokens in the session
//	GET, POST /logout      the logout middleware: clears the session, revokes the
//	                       tokens (RFC 7009) when the provider supports it, and
//	                       redirects to the provider's end_session_endpoint
//	GET  /logout/callback  the middleware's post-logout callback: checks state
//	POST /backchannel-logout
//	                       with Config.BackChannel only: the provider's
//	                       back-channel logout (OpenID Connect Back-Channel
//	                       Logout 1.0); the session it names is signed out
//	                       on its next request
//	GET  /frontchannel-logout
//	                       with Config.FrontChannel only: the provider's
//	                       front-channel logout (OpenID Connect Front-Channel
//	                       Logout 1.0), loaded in an iframe of the provider's
//	                       logout page with iss and sid; the sessions of that
//	                       sid are signed out on their next request
//
// The session is a gorilla/sessions CookieStore session named SessionName,
// encrypted and authenticated, holding the raw id_token under "id_token"
// and the access and refresh tokens.
//
// Every page sends Cache-Control: no-store, so that Back after logout does
// not show signed-in content from the HTTP cache. That is no longer enough
// on its own: Chrome keeps no-store pages in its back/forward cache, and a
// logout changes the cookies during the navigation that leaves the page,
// before the page is cached, so Chrome restores it, signed-in content
// included. Signed-in pages therefore load a small script
// (ReloadScriptPath) that reloads a page restored from that cache.
//
// The home page's element with id "status" reads "Signed in as NAME" or
// "Signed out" (see StatusSignedIn and StatusSignedOut).
package demoapp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/sessions"
	"golang.org/x/oauth2"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/backchannel"
)

// Names and paths of the app.
const (
	// SessionName is the name of the app's session cookie.
	SessionName = "demo_session"
	// LoginSessionName is the short-lived cookie that carries state, nonce
	// and the PKCE verifier from /login to /callback.
	LoginSessionName = "demo_login"
	// CallbackPath is the login callback, registered at the provider as a
	// redirect_uri.
	CallbackPath = "/callback"
	// LogoutCallbackPath is the post-logout callback, registered at the
	// provider as a post_logout_redirect_uri.
	LogoutCallbackPath = "/logout/callback"
	// ReloadScriptPath serves the script that reloads a signed-in page
	// restored from the back/forward cache.
	ReloadScriptPath = "/assets/reload-on-restore.js"
	// BackChannelLogoutPath receives the provider's back-channel logout
	// requests when Config.BackChannel is on; register
	// BaseURL+BackChannelLogoutPath at the provider as the client's
	// backchannel_logout_uri.
	BackChannelLogoutPath = "/backchannel-logout"
	// FrontChannelLogoutPath receives the provider's front-channel logout
	// requests when Config.FrontChannel is on; register
	// BaseURL+FrontChannelLogoutPath at the provider as the client's
	// frontchannel_logout_uri, with frontchannel_logout_session_required.
	FrontChannelLogoutPath = "/frontchannel-logout"
	// StatusSignedIn starts the status line of a signed-in home page.
	StatusSignedIn = "Signed in as "
	// StatusSignedOut is the status line of a signed-out home page.
	StatusSignedOut = "Signed out"
)

// Session keys.
const (
	keyIDToken      = "id_token"
	keyAccessToken  = "access_token"
	keyRefreshToken = "refresh_token"
	keySubject      = "sub"
	keyName         = "name"
	keyEmail        = "email"
)

// Config configures the app. Issuer, ClientID and BaseURL are required.
type Config struct {
	// Issuer is the OpenID Provider's issuer URL.
	Issuer string
	// ClientID and ClientSecret are the app's client credentials. An empty
	// secret makes the app a public client (PKCE only).
	ClientID, ClientSecret string
	// BaseURL is the app's own origin as the browser sees it, such as
	// http://127.0.0.1:8080. The login callback is BaseURL+CallbackPath
	// and the post-logout callback BaseURL+LogoutCallbackPath.
	BaseURL string
	// Scopes requested at login. Default: openid, profile, email.
	Scopes []string
	// HashKey and BlockKey protect the session cookies (32 bytes each).
	// Default: random, so sessions do not survive a restart.
	HashKey, BlockKey []byte
	// HTTPClient is used to talk to the provider. Default: 10-second timeout.
	HTTPClient *http.Client
	// Logger receives the app's and the middleware's records. Default: none.
	Logger *slog.Logger
	// BackChannel turns on back-channel logout: the app serves
	// POST BackChannelLogoutPath, which validates the provider's
	// logout_token and records the ended session in the middleware's
	// in-memory session-check store, and the session check signs that
	// session out on its next request.
	BackChannel bool
	// FrontChannel turns on front-channel logout: the app serves
	// GET FrontChannelLogoutPath?iss=ISSUER&sid=SID, which the provider's
	// logout page loads in an iframe, and the middleware's session check
	// signs the sessions of that sid out on their next request. The
	// request needs no cookies, so browsers that block third-party cookies
	// do not stop it.
	FrontChannel bool
	// IDTokenSignedResponseAlg is the client's registered
	// id_token_signed_response_alg, which signs its id_tokens and its
	// logout_tokens. Default "": id_tokens are verified with the
	// provider's JWKS under any algorithm its discovery document names,
	// and logout_tokens must be RS256 (the backchannel module's default).
	// "HS256" (GenAuth apps can sign with the app secret) verifies both with
	// ClientSecret and with nothing else; any other value is the one
	// algorithm accepted for both, with the provider's JWKS.
	IDTokenSignedResponseAlg string
	// MoreProviders are further providers (or tenants) users may sign in
	// with, at /login?provider=N (N = 2, 3, ...; /login is the first, of
	// the fields above). Each must register BaseURL+CallbackPath as a
	// redirect URI and BaseURL+LogoutCallbackPath as a post-logout
	// redirect URI (and BaseURL+BackChannelLogoutPath as its back-channel
	// logout URI, with BackChannel). A logout goes to the provider that
	// signed the session in, through the middleware's Config.Providers,
	// and a back-channel logout token is verified with its provider's
	// keys and client_id.
	MoreProviders []ProviderConfig
}

// ProviderConfig is one of Config.MoreProviders. Issuer and ClientID are
// required; the fields mean what Config's fields of the same names mean.
type ProviderConfig struct {
	Issuer                   string
	ClientID, ClientSecret   string
	IDTokenSignedResponseAlg string
}

// App is the demo web app; it is an http.Handler.
type App struct {
	baseURL string
	// idps are the providers, the first of Config's fields, then
	// Config.MoreProviders.
	idps    []*idp
	scopes  []string
	store   *sessions.CookieStore
	client  *http.Client
	logger  *slog.Logger
	logout  *logout.Middleware
	handler http.Handler
}

// New discovers the provider (this needs it to be running) and returns
// the app.
func New(ctx context.Context, cfg Config) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &App{
		scopes:  cfg.Scopes,
		baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		client:  cfg.HTTPClient,
		logger:  cfg.Logger,
		store:   newStore(cfg),
	}
	for _, pc := range append([]ProviderConfig{cfg.first()}, cfg.MoreProviders...) {
		p, err := a.discover(ctx, pc)
		if err != nil {
			return nil, err
		}
		a.idps = append(a.idps, p)
	}
	// The session check's store: it keeps the tombstones that refuse a
	// copy of the session cookie taken before logout, and the sessions
	// ended by back- and front-channel logout. It lives in this process
	// only; several instances would share a Redis store instead.
	revs := logout.NewMemoryLedger(logout.MemoryLedgerConfig{})
	lcfg := logout.Config{
		Store:       a.store,
		SessionName: SessionName,
		// The cookie store is stateless: the session check's tombstones
		// refuse a copy of the cookie taken before logout.
		SessionCheck:     &logout.SessionCheckConfig{Ledger: revs},
		FrontChannelPath: frontChannelPath(cfg.FrontChannel),
		Logger:           cfg.Logger,
		HTTPClient:       cfg.HTTPClient,
	}
	a.setProviders(&lcfg)
	a.logout, err = logout.New(lcfg)
	if err != nil {
		return nil, fmt.Errorf("demoapp: %w", err)
	}
	mux := http.NewServeMux()
	if cfg.BackChannel {
		bc, err := a.backChannel(cfg, revs)
		if err != nil {
			return nil, err
		}
		mux.Handle("POST "+BackChannelLogoutPath, bc)
	}
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET "+ReloadScriptPath, serveReloadScript)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET "+CallbackPath, a.callback)
	a.handler = a.logout.Wrap(mux)
	return a, nil
}

// frontChannelPath returns the middleware's front-channel logout path, or
// "" when it is off.
func frontChannelPath(on bool) string {
	if !on {
		return ""
	}
	return FrontChannelLogoutPath
}

// setProviders lists the app's providers in the middleware's
// Config.Providers, and turns token revocation on when a provider has a
// revocation endpoint.
func (a *App) setProviders(cfg *logout.Config) {
	for _, p := range a.idps {
		cfg.Providers = append(cfg.Providers, logout.Provider{
			// The provider's spelling: front-channel requests carry it in iss.
			Issuer:                p.issuer,
			ClientID:              p.clientID,
			ClientSecret:          p.secret,
			PostLogoutRedirectURI: a.baseURL + LogoutCallbackPath,
			// end_session_endpoint and revocation_endpoint: discovered
			JWKSURI:           p.jwksURI,
			SigningAlgorithms: signingAlgorithms(p.alg),
		})
		if p.revokes {
			// refresh and access token revoked at logout (RFC 7009)
			cfg.Revocation = logout.RevokeTokens
		}
	}
}

// signingAlgorithms returns the algorithms of a provider's back-channel
// logout tokens, signed as the client's id_tokens are: alg, or the
// default (RS256) when it is "".
func signingAlgorithms(alg string) []string {
	if alg == "" {
		return nil
	}
	return []string{alg}
}

// backChannel returns the back-channel logout handler of the middleware's
// providers, which records the sessions it ends in revs, the session
// check's store.
func (a *App) backChannel(cfg Config, revs logout.Ledger) (*backchannel.Handler, error) {
	bc, err := backchannel.New(a.logout, backchannel.Config{Ledger: revs, HTTPClient: cfg.HTTPClient, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("demoapp: %w", err)
	}
	return bc, nil
}

// first returns the provider of Config's own fields.
func (cfg Config) first() ProviderConfig {
	return ProviderConfig{Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, IDTokenSignedResponseAlg: cfg.IDTokenSignedResponseAlg}
}

func (cfg Config) validate() error {
	switch {
	case cfg.Issuer == "":
		return errors.New("demoapp: Config.Issuer is required")
	case cfg.ClientID == "":
		return errors.New("demoapp: Config.ClientID is required")
	}
	for i, p := range cfg.MoreProviders {
		if p.Issuer == "" || p.ClientID == "" {
			return fmt.Errorf("demoapp: Config.MoreProviders[%d]: Issuer and ClientID are required", i)
		}
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return fmt.Errorf("demoapp: Config.BaseURL %q must be an origin such as http://127.0.0.1:8080", cfg.BaseURL)
	}
	return nil
}

func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	for _, key := range []*[]byte{&cfg.HashKey, &cfg.BlockKey} {
		if len(*key) == 0 {
			*key = make([]byte, 32)
			if _, err := rand.Read(*key); err != nil {
				return cfg, fmt.Errorf("demoapp: generating session keys: %w", err)
			}
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// newStore returns the cookie store of both sessions: encrypted (the
// session holds tokens), HttpOnly, SameSite=Lax (the login callback is a
// cross-site top-level navigation), Secure on https.
func newStore(cfg Config) *sessions.CookieStore {
	store := sessions.NewCookieStore(cfg.HashKey, cfg.BlockKey)
	store.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int((8 * time.Hour).Seconds()),
		HttpOnly: true,
		Secure:   strings.HasPrefix(cfg.BaseURL, "https://"),
		SameSite: http.SameSiteLaxMode,
	}
	return store
}

// idp is one provider of the app: its OAuth 2.0 client and id_token
// verifier, and what the middleware and the back-channel handler need.
type idp struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	// revokes reports whether the provider has a revocation_endpoint,
	// where the middleware revokes the tokens at logout.
	revokes bool
	// issuer and jwksURI are the provider's, as its discovery document
	// spells them.
	issuer, jwksURI  string
	clientID, secret string
	alg              string // IDTokenSignedResponseAlg
}

// discover reads a provider's metadata and sets up its OAuth 2.0 client
// and id_token verifier.
func (a *App) discover(ctx context.Context, cfg ProviderConfig) (*idp, error) {
	ctx = oidc.ClientContext(ctx, a.client)
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	var mismatch *oidc.IssuerMismatchError
	if errors.As(err, &mismatch) && strings.TrimRight(mismatch.Discovered, "/") == strings.TrimRight(cfg.Issuer, "/") {
		// Only a trailing slash differs ("https://tenant.auth0.com/"):
		// use the provider's spelling, which its id_tokens carry in iss.
		p, err = oidc.NewProvider(ctx, mismatch.Discovered)
	}
	if err != nil {
		return nil, fmt.Errorf("demoapp: discovering %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		Issuer             string `json:"issuer"`
		JWKSURI            string `json:"jwks_uri"`
		RevocationEndpoint string `json:"revocation_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("demoapp: reading provider metadata: %w", err)
	}
	d := &idp{
		issuer: meta.Issuer, jwksURI: meta.JWKSURI, revokes: meta.RevocationEndpoint != "",
		clientID: cfg.ClientID, secret: cfg.ClientSecret, alg: cfg.IDTokenSignedResponseAlg,
	}
	switch alg := cfg.IDTokenSignedResponseAlg; {
	case alg == "":
		d.verifier = p.Verifier(&oidc.Config{ClientID: cfg.ClientID})
	case isHMAC(alg):
		if cfg.ClientSecret == "" {
			return nil, fmt.Errorf("demoapp: Config.IDTokenSignedResponseAlg %s needs Config.ClientSecret", alg)
		}
		keys := clientSecretKeys{alg: jose.SignatureAlgorithm(alg), secret: []byte(cfg.ClientSecret)}
		d.verifier = oidc.NewVerifier(meta.Issuer, keys, &oidc.Config{ClientID: cfg.ClientID, SupportedSigningAlgs: []string{alg}})
	default:
		d.verifier = p.Verifier(&oidc.Config{ClientID: cfg.ClientID, SupportedSigningAlgs: []string{alg}})
	}
	d.oauth = oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     p.Endpoint(),
		RedirectURL:  a.baseURL + CallbackPath,
		Scopes:       a.scopes,
	}
	return d, nil
}

// isHMAC reports whether alg is an HMAC algorithm, whose key is the
// client secret.
func isHMAC(alg string) bool {
	return alg == string(jose.HS256) || alg == string(jose.HS384) || alg == string(jose.HS512)
}

// clientSecretKeys verifies id_tokens signed with an HMAC algorithm and
// the client secret (OpenID Connect Core 1.0, section 10.1), as GenAuth's
// own SDKs verify HS256 id_tokens. It is go-oidc's KeySet for such a
// client; the verifier has already checked that the token's algorithm is
// alg, and the key is the secret whatever the token's header says.
type clientSecretKeys struct {
	alg    jose.SignatureAlgorithm
	secret []byte
}

// VerifySignature returns the payload of jwt if its signature verifies
// with the client secret.
func (k clientSecretKeys) VerifySignature(_ context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, []jose.SignatureAlgorithm{k.alg})
	if err != nil {
		return nil, fmt.Errorf("demoapp: parsing the id_token: %w", err)
	}
	payload, err := jws.Verify(k.secret)
	if err != nil {
		return nil, fmt.Errorf("demoapp: the id_token's signature does not verify with the client secret: %w", err)
	}
	return payload, nil
}

// ServeHTTP serves the app.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.handler.ServeHTTP(w, r)
}

// Logout returns the app's logout middleware, for example to call its
// Discover at start-up.
func (a *App) Logout() *logout.Middleware { return a.logout }

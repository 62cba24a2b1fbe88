package logout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/sessions"
)

// Config configures a Middleware. Store, SessionName and Providers (or
// LookupProvider) are required; everything else has a safe default. New
// validates it once.
type Config struct {
	// Path is the logout path to intercept. Default "/logout".
	Path string
	// Store is the gorilla/sessions store of the app's session. Required.
	Store sessions.Store
	// SessionName is the name of the app's session. Required.
	SessionName string
	// SessionTokens returns the raw tokens the app keeps in a session.
	// Default [DefaultSessionTokens]: the string values "id_token",
	// "access_token" and "refresh_token".
	SessionTokens func(s *sessions.Session) Tokens

	// Providers lists the OpenID providers the app signs users in with:
	// usually one. With one (and no LookupProvider), every logout goes to
	// it. With several (or several tenants of one, each with its own
	// issuer), a logout goes to the provider whose Issuer is the iss of
	// the session's id_token; a session without id_token, or whose issuer
	// is neither listed nor found by LookupProvider, is logged out locally
	// (and logged), never sent to an endpoint derived from its token.
	// Front-channel logout accepts the iss of any provider.
	Providers []Provider
	// LookupProvider, when set, finds a provider that Providers does not
	// list, by issuer, for apps whose tenants live in a database: it is
	// called at logout (and front-channel logout) with the iss of the
	// session's id_token, and reports whether it is a provider of the app.
	// The Provider it returns must have that Issuer. Looked-up providers
	// and their discovery documents are cached, up to DiscoveryCacheSize
	// of them; a changed answer replaces the cached provider. A
	// front-channel request, which anyone can send, makes it look up any
	// issuer: keep it cheap (an indexed query, or a cache of its own).
	LookupProvider func(ctx context.Context, issuer string) (Provider, bool)

	// CallbackPath is the path the middleware serves as the post-logout
	// callback: it checks state and redirects to the return target.
	// Default: the path of the first provider's PostLogoutRedirectURI ("/"
	// when it has none), which every provider's PostLogoutRedirectURI must
	// then have. Set it when a proxy rewrites paths (the URIs may then
	// have any path), or when only LookupProvider's providers have a
	// PostLogoutRedirectURI.
	//
	// The callback may be a page of the app, such as "/" or "/homepage":
	// through Wrap (and the framework adapters' middleware), a request to
	// it is the provider's return only when it is a GET with a state
	// parameter (and, when the callback is DefaultReturnTo's page, the
	// state cookie); every other request to it goes to the app untouched.
	// A return that cannot be honoured (a wrong state, or an expired
	// cookie) lands on DefaultReturnTo. Mounted on a mux
	// (mux.Handle(path, m)), the middleware answers every request to the
	// path, so an app page there needs Wrap: mux.Handle("/", m.Wrap(home)).
	CallbackPath string
	// FrontChannelPath, when set, is the path of the app's
	// frontchannel_logout_uri (OpenID Connect Front-Channel Logout 1.0),
	// such as "/frontchannel-logout": the provider's logout page loads it
	// in an iframe with iss and sid, and the sessions of that sid are
	// signed out on their next request. It needs SessionCheck, and
	// providers with an Issuer;
	// register the URL at the provider with
	// frontchannel_logout_session_required. Wrap serves it; with a mux,
	// mount the Middleware on it as on the logout path.
	FrontChannelPath string

	// DefaultReturnTo is where the user lands when no valid return target
	// was given. Default "/".
	DefaultReturnTo string
	// AllowedReturnOrigins lists the absolute origins ("https://shop.example.com")
	// that return targets may point to, in addition to paths on the app's
	// own origin. Everything else falls back to DefaultReturnTo.
	AllowedReturnOrigins []string

	// ProviderLogoutWithoutIDToken sends a session that holds no id_token
	// (never signed in, expired, or an undecodable cookie) to the provider
	// too, identified by client_id alone, so that a provider session that
	// outlived the app's session is ended as well. It needs a single
	// provider, with a ClientID. The
	// request carries no post_logout_redirect_uri and no state, which
	// providers refuse or ignore without id_token_hint: the user stays on
	// the provider's page after its logout. By
	// default such a logout is local only: the session is cleared and the
	// user lands on the return target at once, since without
	// id_token_hint most providers cannot honour post_logout_redirect_uri.
	ProviderLogoutWithoutIDToken bool
	// EndSessionParams, when set, returns parameters to add to the
	// end-session URL, such as logout_hint or ui_locales; it is called
	// with the session before it is cleared. Parameters the middleware
	// sets itself (id_token_hint, post_logout_redirect_uri, state and
	// client_id) are ignored.
	EndSessionParams func(r *http.Request, s *sessions.Session) url.Values

	// ClearSiteData lists the Clear-Site-Data types sent when a logout
	// ends, so that the browser drops what it kept of the signed-in pages.
	// nil means "cache": the HTTP cache. (It does not evict a signed-in
	// page from Chromium's back/forward cache, which keeps pages sent with
	// Cache-Control: no-store too: a cookie the logout sets does, see
	// docs/browser.md.) An empty non-nil slice
	// ([]string{}) sends no header. Other types: "storage" (localStorage,
	// IndexedDB, service workers: for apps that keep tokens there),
	// "cookies" (every cookie of the site, not only the session's),
	// "executionContexts", and "*" (all of them). The header goes on the
	// logout response and on the callback's redirect; "cookies" only on the
	// last response of a logout (the callback's, or a local-only logout's),
	// since the response that sends the browser to the provider sets the
	// state cookie. Browsers honour it on secure origins only: https, and
	// http on localhost and 127.0.0.1.
	ClearSiteData []string

	// CrossOriginProtection refuses cross-origin requests to the logout
	// path, whatever their method, so that another site cannot log users
	// out: see [http.CrossOriginProtection] for its rules (Sec-Fetch-Site,
	// then Origin; requests with neither, from non-browser clients,
	// pass). A refused top-level GET navigation (a link on another site)
	// gets a confirmation page with a same-origin logout button
	// (ErrCrossSiteNavigation); anything else gets 403 (ErrCrossSite).
	// Default: http.NewCrossOriginProtection(). Trust a logout form on
	// another origin with its AddTrustedOrigin; turn the check off with
	// AddInsecureBypassPattern on the logout path.
	CrossOriginProtection *http.CrossOriginProtection

	// NoStoreSignedIn, through Wrap, sends Cache-Control: no-store on the
	// app's responses to requests that carry the session cookie, unless
	// the app set Cache-Control itself or a Content-Type other than
	// text/html. A signed-in page sent without no-store is restored by
	// Back after logout, from the back/forward cache of Chromium and
	// Firefox alike; with no-store, Firefox keeps it out of that cache and
	// Chromium evicts it at logout. See docs/browser.md.
	NoStoreSignedIn bool

	// ErrorHandler writes the response when a request fails. The error
	// wraps one of the package's sentinel errors. Default
	// [DefaultErrorHandler].
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives one record per logout and per failure. Tokens,
	// states and secrets are never logged. Default: no logging.
	Logger *slog.Logger
	// BeforeLogout, when set, is called with the session before it is
	// cleared, for example to write an audit record. An error stops the
	// logout (the session is left as it was) and goes to ErrorHandler
	// wrapped in ErrHook; return nil to log out regardless.
	BeforeLogout func(r *http.Request, s *sessions.Session) error
	// AfterLogout, when set, is called after the session is cleared, just
	// before the redirect.
	AfterLogout func(r *http.Request, e Event)

	// HTTPClient sends the discovery and revocation requests. Default: a
	// client with a 10-second timeout for discovery, 5 seconds for
	// revocation.
	HTTPClient *http.Client

	// Revocation says whether a logout revokes the session's refresh and
	// access tokens at its provider (RFC 7009), and what a failure does.
	// Default NoRevocation.
	Revocation Revocation
	// SessionCheck, when set, checks every request's session against a
	// [Ledger], so that sessions ended by back-channel or front-channel
	// logout, or replayed after a logout, are signed out. See
	// [SessionCheckConfig].
	SessionCheck *SessionCheckConfig
}

// Event describes a completed logout; it is passed to Config.AfterLogout.
type Event struct {
	// HadIDToken reports whether the session held an id_token.
	HadIDToken bool
	// ProviderLogout reports whether the browser is sent to the provider's
	// end-session endpoint (false for a local-only logout).
	ProviderLogout bool
	// ReturnTo is where the user lands at the end: after the provider's
	// callback, or at once for a local-only logout.
	ReturnTo string
	// Issuer is the Issuer of the provider the browser is sent to. It is
	// empty for a local-only logout, and for a provider configured by
	// EndSessionEndpoint alone.
	Issuer string
}

// New validates cfg and returns a Middleware. Every error wraps
// ErrInvalidConfig and names the offending field. New does no network I/O.
func New(cfg Config) (*Middleware, error) {
	m := &Middleware{
		store:              cfg.Store,
		sessionName:        cfg.SessionName,
		tokens:             cfg.SessionTokens,
		logoutWithClientID: cfg.ProviderLogoutWithoutIDToken,
		endSessionParams:   cfg.EndSessionParams,
		defaultReturnTo:    orDefault(cfg.DefaultReturnTo, "/"),
		crossOrigin:        cfg.CrossOriginProtection,
		noStoreSignedIn:    cfg.NoStoreSignedIn,
		onError:            cfg.ErrorHandler,
		discoveryWait:      defaultDiscoveryWait,
		logger:             cfg.Logger,
		before:             cfg.BeforeLogout,
		after:              cfg.AfterLogout,
	}
	if m.tokens == nil {
		m.tokens = DefaultSessionTokens
	}
	if m.crossOrigin == nil {
		m.crossOrigin = http.NewCrossOriginProtection()
	}
	if m.onError == nil {
		m.onError = DefaultErrorHandler
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	// Each step reads cfg and sets fields of m; setPaths, setStateCookie
	// and setSessionCheck read m.providers, which setProviders sets.
	for _, step := range []func(*Config) error{
		m.setSession, m.setRevocation, m.setProviders, m.setPaths, m.setStateCookie, m.setReturnTo,
		m.setClearSiteData, m.setSessionCheck,
	} {
		if err := step(&cfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	m.stateCookieName = m.stateCookie.name
	if u, err := url.Parse(m.defaultReturnTo); err == nil && u.Host == "" {
		m.callbackIsLanding = m.hasCallback && orDefault(u.Path, "/") == m.callbackPath
	}
	return m, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (m *Middleware) setSession(cfg *Config) error {
	if cfg.Store == nil {
		return errors.New("Config.Store is required")
	}
	if cfg.SessionName == "" {
		return errors.New("Config.SessionName is required")
	}
	return nil
}

// setPaths sets the three paths the middleware serves: the logout path,
// the callback (the path of the providers' post-logout redirect URIs, or
// CallbackPath) and the front-channel logout path. They must differ.
func (m *Middleware) setPaths(cfg *Config) error {
	m.path = orDefault(cfg.Path, "/logout")
	if !strings.HasPrefix(m.path, "/") {
		return fmt.Errorf("Config.Path %q must start with /", m.path)
	}
	if cb := m.providers.callbackPath; cb != "" {
		m.callbackPath, m.hasCallback = cb, true // checked by setProviders
	}
	if fc := cfg.FrontChannelPath; fc != "" {
		if cfg.SessionCheck == nil || (m.providers.only != nil && m.providers.only.Issuer == "") {
			return errors.New("Config.FrontChannelPath needs Config.SessionCheck, and providers with an Issuer")
		}
		if !strings.HasPrefix(fc, "/") || fc == m.path || (m.hasCallback && fc == m.callbackPath) {
			return fmt.Errorf("Config.FrontChannelPath %q must start with / and differ from the logout and callback paths", fc)
		}
		m.frontChannelPath, m.hasFrontChannel = fc, true
	}
	return nil
}

// setStateCookie sets the state cookie, when there is a callback. It is
// Secure unless a provider's post-logout redirect URI is http.
func (m *Middleware) setStateCookie(cfg *Config) error {
	if !m.hasCallback {
		return nil
	}
	m.stateCookie = newStateCookie(m.providers.allHTTPS())
	return nil
}

func (m *Middleware) setReturnTo(cfg *Config) error {
	policy, err := newReturnToPolicy(cfg.AllowedReturnOrigins)
	if err != nil {
		return fmt.Errorf("Config.AllowedReturnOrigins: %w", err)
	}
	m.returnTo = policy
	if !policy.allowed(m.defaultReturnTo) {
		return fmt.Errorf("Config.DefaultReturnTo %q must be a same-origin path or on an allowed origin", m.defaultReturnTo)
	}
	return nil
}

func (m *Middleware) setClearSiteData(cfg *Config) error {
	csd, err := newClearSiteData(cfg.ClearSiteData)
	m.clearSiteData = csd
	return err
}

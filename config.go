package logout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/sessions"
)

// Config configures a Middleware. Store and SessionName are required, and
// so is one of EndSessionEndpoint and Issuer, or, for an app with several
// providers, Providers or LookupProvider. Everything else has a safe
// default. New validates it once.
type Config struct {
	// Path is the logout path to intercept. Default "/logout".
	Path string
	// Store is the gorilla/sessions store of the app's session. Required.
	Store sessions.Store
	// SessionName is the name of the app's session. Required.
	SessionName string
	// IDTokenKey is the session value that holds the raw id_token, as a
	// string. Default "id_token".
	IDTokenKey string

	// EndSessionEndpoint is the provider's end_session_endpoint, an
	// absolute http(s) URL (for GenAuth, see [GenAuthEndpoint]). When
	// empty it is discovered from Issuer.
	EndSessionEndpoint string
	// Issuer is the provider's issuer URL. When EndSessionEndpoint is
	// empty, the endpoint is discovered from the provider's
	// .well-known/openid-configuration at the first logout, which waits
	// for it 3 seconds at most (the user is then signed out here, and
	// told the provider is unavailable); call
	// [Middleware.EndSessionEndpoint] at start-up to fetch it before the
	// first logout and find a misconfigured provider early. The session check and front-channel logout use it
	// too.
	Issuer string
	// ClientID is sent as client_id when set.
	ClientID string
	// PostLogoutRedirectURI is where the provider sends the browser back
	// after logout; it must be absolute and registered at the provider.
	// When set, a fresh state is sent with it and checked at CallbackPath.
	// When empty, the provider shows its own page after logout. It may be
	// a dedicated path ("/logout/callback") or any page of the app,
	// "/" included: see CallbackPath.
	PostLogoutRedirectURI string
	// CallbackPath is the path the middleware serves as the post-logout
	// callback: it checks state and redirects to the return target.
	// Default: the path of PostLogoutRedirectURI ("/" when it has none).
	// Set it explicitly when a proxy rewrites paths.
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
	// signed out on their next request. It needs SessionCheck and Issuer;
	// register the URL at the provider with
	// frontchannel_logout_session_required. Wrap serves it; with a mux,
	// mount the Middleware on it as on the logout path.
	FrontChannelPath string

	// ReturnToParam is the query (or POST form) parameter of the logout
	// request that names where the user should land. Default "return_to".
	ReturnToParam string
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
	// outlived the app's session is ended as well. It needs ClientID. The
	// request carries no post_logout_redirect_uri and no state, which
	// providers refuse or ignore without id_token_hint: the user stays on
	// the provider's page after its logout. By
	// default such a logout is local only: the session is cleared and the
	// user lands on the return target at once, since without
	// id_token_hint most providers cannot honour post_logout_redirect_uri.
	ProviderLogoutWithoutIDToken bool
	// LogoutHint, when set, returns the logout_hint to send; it is called
	// with the session before it is cleared.
	LogoutHint func(r *http.Request, s *sessions.Session) string
	// ExtraParams are added to the end-session URL, for example
	// ui_locales. They may not repeat a parameter the middleware sets
	// itself.
	ExtraParams url.Values

	// StateCookie configures the short-lived cookie that carries state to
	// the callback.
	StateCookie StateCookieConfig

	// ClearSiteData lists the Clear-Site-Data types sent when a logout
	// ends, so that the browser drops what it kept of the signed-in pages.
	// nil means "cache": the HTTP cache. (It does not evict a signed-in
	// page from Chromium's back/forward cache, which keeps pages sent with
	// Cache-Control: no-store too: a cookie the logout sets does, see
	// StateCookieConfig.Path and docs/browser.md.) An empty non-nil slice
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

	// NoStoreSignedIn, through Wrap, sends Cache-Control: no-store on the
	// app's responses to requests that carry the session cookie, unless
	// the app set Cache-Control itself or a Content-Type other than
	// text/html. A signed-in page sent without no-store is restored by
	// Back after logout, from the back/forward cache of Chromium and
	// Firefox alike; with no-store, Firefox keeps it out of that cache and
	// Chromium evicts it at logout. See docs/browser.md.
	NoStoreSignedIn bool

	// AllowCrossSite turns off the cross-site check of the logout path. By
	// default a request whose Sec-Fetch-Site is neither "same-origin" nor
	// "none", or whose Origin is not the request's host, is refused with
	// 403, so that another site cannot log users out. Requests without
	// either header (non-browser clients) pass.
	AllowCrossSite bool
	// TrustedOrigins lists origins ("https://portal.example.com") whose
	// cross-site requests to the logout path are accepted. Browsers send
	// Origin on POST, not on top-level GET navigations, so this helps for
	// logout forms on other sites.
	TrustedOrigins []string

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

	// HTTPClient sends the discovery requests. Default: a client with a
	// 10-second timeout. (A [Revoker] has its own.)
	HTTPClient *http.Client

	// Revocation, when set, revokes the session's refresh and access
	// tokens at the provider during logout (RFC 7009). See
	// [RevocationConfig].
	Revocation *RevocationConfig
	// SessionCheck, when set, checks every request's session against a
	// [Ledger], so that sessions ended by back-channel or front-channel
	// logout, or replayed after a logout, are signed out. See
	// [SessionCheckConfig].
	SessionCheck *SessionCheckConfig

	// Providers lists the providers of an app that has several (or
	// several tenants of one, each with its own issuer). A logout goes to
	// the provider whose Issuer is the iss of the session's id_token, with
	// that provider's client_id, post-logout redirect URI and Revoker; a
	// session without id_token, or whose issuer is neither listed nor
	// found by LookupProvider, is logged out locally (and logged), never
	// sent to an endpoint derived from its token. With Providers or
	// LookupProvider, Issuer and EndSessionEndpoint stay empty, ClientID
	// and PostLogoutRedirectURI are the providers' defaults, the callback
	// path is that of PostLogoutRedirectURI or CallbackPath (shared by
	// every provider), Revocation.Revoker is nil (each Provider has its
	// own), front-channel logout accepts the iss of any provider, and
	// ProviderLogoutWithoutIDToken is not allowed.
	Providers []Provider
	// LookupProvider, when set, finds a provider that Providers does not
	// list, by issuer, for apps whose tenants live in a database: it is
	// called at logout (and front-channel logout) with the iss of the
	// session's id_token, and reports whether it is a provider of the app.
	// The Provider it returns must have that Issuer. The discovery
	// documents of looked-up providers are cached, up to
	// DiscoveryCacheSize of them; its answers are not, and a front-channel
	// request, which anyone can send, makes it look up any issuer: keep it
	// cheap (an indexed query, or a cache of its own).
	LookupProvider func(ctx context.Context, issuer string) (Provider, bool)
}

// StateCookieConfig configures the state cookie. It is always HttpOnly and
// SameSite=Lax: Lax, not Strict, because the provider sends the browser back
// with a cross-site top-level navigation that must carry it. It is Secure
// when PostLogoutRedirectURI is https, and not for http (local
// development), since it must reach that URL.
type StateCookieConfig struct {
	// Name of the cookie. Default "logout_state".
	Name string
	// Path of the cookie. Default "/": the cookie must reach the callback,
	// wherever it is, and the app's signed-in pages must see it set.
	// Chromium keeps pages sent with Cache-Control: no-store in its
	// back/forward cache, and evicts them when a response of the logout
	// sets a cookie they can see (deleting one does not count): the state
	// cookie, or, for a logout without state, an empty one named Name
	// with "_end" added that lives one second, on this path. With a
	// narrower path, Back after logout may show a signed-in page again.
	// The cookie lives at most MaxAge and holds only the random state and
	// the return target.
	Path string
	// Domain of the cookie. Default: none (host-only).
	Domain string
	// MaxAge is how long a logout may take at the provider. Default 10 minutes.
	MaxAge time.Duration
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
	// Issuer is the issuer of the provider the browser is sent to: its
	// Config.Providers (or looked-up) entry's, or Config.Issuer. It is
	// empty for a local-only logout, and with a single provider
	// configured by EndSessionEndpoint alone.
	Issuer string
}

// New validates cfg and returns a Middleware. Every error wraps
// ErrInvalidConfig and names the offending field. New does no network I/O.
func New(cfg Config) (*Middleware, error) {
	m := &Middleware{
		store:              cfg.Store,
		sessionName:        cfg.SessionName,
		idTokenKey:         orDefault(cfg.IDTokenKey, "id_token"),
		logoutWithClientID: cfg.ProviderLogoutWithoutIDToken,
		logoutHint:         cfg.LogoutHint,
		returnToParam:      orDefault(cfg.ReturnToParam, "return_to"),
		defaultReturnTo:    orDefault(cfg.DefaultReturnTo, "/"),
		allowCrossSite:     cfg.AllowCrossSite,
		noStoreSignedIn:    cfg.NoStoreSignedIn,
		onError:            cfg.ErrorHandler,
		discoveryWait:      defaultDiscoveryWait,
		logger:             cfg.Logger,
		before:             cfg.BeforeLogout,
		after:              cfg.AfterLogout,
	}
	if m.onError == nil {
		m.onError = DefaultErrorHandler
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	// Each step reads cfg and sets fields of m that no other step reads,
	// so their order does not matter.
	for _, step := range []func(*Config) error{
		m.setSession, m.setPaths, m.setProvider, m.setStateCookie, m.setReturnTo, m.setOrigins,
		m.setClearSiteData, m.setRevocation, m.setSessionCheck, m.setProviders,
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
// the callback (the path of PostLogoutRedirectURI, or CallbackPath) and
// the front-channel logout path. They must differ.
func (m *Middleware) setPaths(cfg *Config) error {
	m.path = orDefault(cfg.Path, "/logout")
	if !strings.HasPrefix(m.path, "/") {
		return fmt.Errorf("Config.Path %q must start with /", m.path)
	}
	switch u, err := postLogoutURL(cfg); {
	case err != nil:
		return err
	case u == nil && cfg.CallbackPath != "" && !severalProviders(cfg):
		return errors.New("Config.CallbackPath needs Config.PostLogoutRedirectURI")
	case cfg.CallbackPath != "":
		m.callbackPath, m.hasCallback = cfg.CallbackPath, true
		if !strings.HasPrefix(m.callbackPath, "/") || m.callbackPath == m.path {
			return fmt.Errorf("Config.CallbackPath %q must start with / and differ from the logout path %q", m.callbackPath, m.path)
		}
	case u != nil:
		m.callbackPath, m.hasCallback = orDefault(u.Path, "/"), true
		if m.callbackPath == m.path {
			return fmt.Errorf("the path of Config.PostLogoutRedirectURI %q is the logout path %q: the provider must send the user back elsewhere", cfg.PostLogoutRedirectURI, m.path)
		}
	}
	if fc := cfg.FrontChannelPath; fc != "" {
		if cfg.SessionCheck == nil || (cfg.Issuer == "" && !severalProviders(cfg)) {
			return errors.New("Config.FrontChannelPath needs Config.SessionCheck and Config.Issuer (or Config.Providers)")
		}
		if !strings.HasPrefix(fc, "/") || fc == m.path || (m.hasCallback && fc == m.callbackPath) {
			return fmt.Errorf("Config.FrontChannelPath %q must start with / and differ from the logout and callback paths", fc)
		}
		m.frontChannelPath, m.hasFrontChannel = fc, true
	}
	return nil
}

// postLogoutURL parses cfg.PostLogoutRedirectURI; it returns nil when
// there is none.
func postLogoutURL(cfg *Config) (*url.URL, error) {
	if cfg.PostLogoutRedirectURI == "" {
		return nil, nil
	}
	return parsePostLogoutURI("Config.PostLogoutRedirectURI", cfg.PostLogoutRedirectURI)
}

// parsePostLogoutURI parses a post-logout redirect URI, which must be an
// absolute URL with a host and without fragment; field names it in the
// error.
func parsePostLogoutURI(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s %q must be an absolute URL without fragment", field, raw)
	}
	return u, nil
}

// severalProviders reports whether cfg configures its providers with
// Providers or LookupProvider instead of the top-level fields.
func severalProviders(cfg *Config) bool {
	return len(cfg.Providers) > 0 || cfg.LookupProvider != nil
}

// setProvider sets the single provider of the top-level fields, unless
// cfg has several (see setProviders).
func (m *Middleware) setProvider(cfg *Config) error {
	if severalProviders(cfg) {
		return m.setExtraParams(cfg.ExtraParams)
	}
	if cfg.EndSessionEndpoint == "" && cfg.Issuer == "" {
		return errors.New("Config.EndSessionEndpoint or Config.Issuer is required")
	}
	if cfg.EndSessionEndpoint != "" {
		if _, err := parseEndpoint(endSessionEndpointName, cfg.EndSessionEndpoint); err != nil {
			return fmt.Errorf("Config.EndSessionEndpoint: %w", unprefixed(err))
		}
	}
	if cfg.Issuer != "" {
		if err := checkIssuer(cfg.Issuer); err != nil {
			return fmt.Errorf("Config.Issuer: %w", err)
		}
		m.discovery = newDiscoverer(cfg.Issuer, cfg.HTTPClient)
	}
	if cfg.ProviderLogoutWithoutIDToken && cfg.ClientID == "" {
		return errors.New("Config.ProviderLogoutWithoutIDToken needs Config.ClientID")
	}
	m.singleProvider = &provider{
		issuer: cfg.Issuer, endpoint: cfg.EndSessionEndpoint, discovery: m.discovery,
		clientID: cfg.ClientID, postLogout: cfg.PostLogoutRedirectURI,
	}
	return m.setExtraParams(cfg.ExtraParams)
}

// setExtraParams keeps the extra parameters of the end-session URL. Those
// the middleware sets itself are refused; ui_locales, which Params names,
// goes to its field.
func (m *Middleware) setExtraParams(params url.Values) error {
	m.extraParams = url.Values{}
	for k, v := range params {
		switch k {
		case paramIDTokenHint, paramPostLogoutRedirectURI, paramState, paramClientID, paramLogoutHint:
			return fmt.Errorf("Config.ExtraParams[%q]: the middleware sets it", k)
		case paramUILocales:
			m.uiLocales = strings.Join(v, " ")
		default:
			m.extraParams[k] = append([]string(nil), v...)
		}
	}
	return nil
}

// setStateCookie sets the state cookie. It is Secure when
// PostLogoutRedirectURI is https; with several providers and no default
// PostLogoutRedirectURI, always.
func (m *Middleware) setStateCookie(cfg *Config) error {
	u, _ := postLogoutURL(cfg) // setPaths reports an invalid one
	var err error
	switch {
	case u != nil:
		m.stateCookie, err = newStateCookie(cfg.StateCookie, u.Scheme == "https")
	case cfg.CallbackPath != "" && severalProviders(cfg):
		m.stateCookie, err = newStateCookie(cfg.StateCookie, true)
	}
	return err
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

func (m *Middleware) setOrigins(cfg *Config) error {
	m.trusted = make(map[string]struct{}, len(cfg.TrustedOrigins))
	for _, o := range cfg.TrustedOrigins {
		norm, err := normalizeOrigin(o)
		if err != nil {
			return fmt.Errorf("Config.TrustedOrigins: %w", err)
		}
		m.trusted[norm] = struct{}{}
	}
	return nil
}

func (m *Middleware) setClearSiteData(cfg *Config) error {
	csd, err := newClearSiteData(cfg.ClearSiteData)
	m.clearSiteData = csd
	return err
}

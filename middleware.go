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

// MissingIDTokenPolicy says what a logout does when the session holds no
// id_token (the user was never signed in, the session expired, or its
// cookie could not be decoded).
type MissingIDTokenPolicy int

const (
	// LocalLogoutOnly clears the session and redirects straight to the
	// return target, without a round trip to the provider. It is the default:
	// without id_token_hint most providers cannot honour
	// post_logout_redirect_uri, and some show an error page.
	LocalLogoutOnly MissingIDTokenPolicy = iota
	// ProviderLogoutWithClientID clears the session and still sends the
	// browser to the provider, identified by client_id alone, so that a
	// provider session that outlived the app's session is ended too. It
	// requires Config.ClientID.
	ProviderLogoutWithClientID
)

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
}

// Config configures a Middleware. Store and SessionName are required, and
// so is one of EndSessionEndpoint and Issuer. Everything else has a safe
// default.
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
	// absolute http(s) URL (for GenAuth, see GenAuthEndpoint). When empty it
	// is discovered from Issuer.
	EndSessionEndpoint string
	// Issuer is the provider's issuer URL. When EndSessionEndpoint is empty,
	// the endpoint is read from {Issuer}/.well-known/openid-configuration at
	// the first logout (New does no network I/O), cached for an hour and
	// refreshed after that; a failed refresh keeps the last good document.
	// A provider whose document has no end_session_endpoint makes that
	// logout fail with ErrNoEndSessionEndpoint (502 by default) after the
	// local session is cleared. Call Middleware.EndSessionEndpoint at
	// start-up to find out early.
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
	// parameter and carries the state cookie; every other request to it
	// goes to the app untouched. Mounted on a mux (mux.Handle(path, m)),
	// the middleware answers every request to the path, so an app page
	// there needs Wrap: mux.Handle("/", m.Wrap(home)).
	CallbackPath string
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

	// OnMissingIDToken is the policy for sessions without an id_token.
	// Default LocalLogoutOnly.
	OnMissingIDToken MissingIDTokenPolicy

	// LogoutHint, when set, returns the logout_hint to send; it is called
	// with the session before it is cleared.
	LogoutHint func(r *http.Request, s *sessions.Session) string
	// UILocales is sent as ui_locales when set.
	UILocales string
	// ExtraParams are added to the end-session URL. They may not repeat a
	// parameter the middleware sets itself.
	ExtraParams url.Values

	// StateCookie configures the short-lived cookie that carries state to
	// the callback.
	StateCookie StateCookieConfig

	// ClearSiteData lists the Clear-Site-Data types sent when a logout
	// ends, so that the browser drops what it kept of the signed-in pages.
	// nil means "cache": the HTTP cache and, in Chromium, the back/forward
	// cache, which otherwise restores a signed-in page on Back even when it
	// was sent with Cache-Control: no-store. An empty non-nil slice
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
	// wraps one of the package's sentinel errors. Default DefaultErrorHandler.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives one record per logout and per failure. Tokens,
	// states and secrets are never logged. Default: no logging.
	Logger *slog.Logger
	// BeforeLogout, when set, is called with the session before it is
	// cleared, for example to revoke tokens or write an audit record. An
	// error stops the logout (the session is left as it was) and goes to
	// ErrorHandler wrapped in ErrHook; return nil to log out regardless.
	BeforeLogout func(r *http.Request, s *sessions.Session) error
	// AfterLogout, when set, is called after the session is cleared, just
	// before the redirect.
	AfterLogout func(r *http.Request, e Event)

	// HTTPClient is used for discovery. Default: a client with a
	// 10-second timeout.
	HTTPClient *http.Client
	// HTTPTimeout bounds each discovery request. Default 10 seconds.
	HTTPTimeout time.Duration

	// Revocation, when set, revokes the session's refresh and access
	// tokens at the provider during logout (RFC 7009). See RevocationConfig.
	Revocation *RevocationConfig
	// SessionCheck, when set, checks every request's session against a
	// ledger, so that sessions ended by back-channel logout (or
	// replayed after a logout) are signed out. See SessionCheckConfig.
	SessionCheck *SessionCheckConfig
	// FrontChannel, when set, serves OpenID Connect Front-Channel Logout
	// 1.0 requests; it needs SessionCheck and Issuer. See
	// FrontChannelConfig.
	FrontChannel *FrontChannelConfig
}

// StateCookieConfig configures the state cookie. It is always HttpOnly and
// SameSite=Lax: Lax, not Strict, because the provider sends the browser back
// with a cross-site top-level navigation that must carry it.
type StateCookieConfig struct {
	// Name of the cookie. Default "logout_state".
	Name string
	// Path of the cookie. Default "/": the cookie must reach the callback,
	// wherever it is, and its deletion at the callback must be visible to
	// the app's signed-in pages. Chromium keeps pages sent with
	// Cache-Control: no-store in its back/forward cache, and evicts them
	// when a cookie they can see changes at the end of the logout (the
	// state cookie is deleted by the callback's response, after the
	// provider's round trip); with a narrower path, Back after logout may
	// show a signed-in page again. The cookie lives at most MaxAge and
	// holds only the random state and the return target.
	Path string
	// Domain of the cookie. Default: none (host-only).
	Domain string
	// MaxAge is how long a logout may take at the provider. Default 10 minutes.
	MaxAge time.Duration
	// Secure is derived from PostLogoutRedirectURI: set for https, unset for
	// http (local development), since the cookie must reach that URL.
}

// Middleware is an OpenID Connect RP-Initiated Logout handler for apps
// whose session lives in a gorilla/sessions store. Create one with New; it
// is safe for concurrent use.
type Middleware struct {
	path, callbackPath string
	hasCallback        bool
	frontChannelPath   string
	hasFrontChannel    bool

	store       sessions.Store
	sessionName string
	idTokenKey  string

	endpoint    string // static end-session endpoint, or "" to discover
	discovery   *discoverer
	clientID    string
	postLogout  string
	missing     MissingIDTokenPolicy
	logoutHint  func(*http.Request, *sessions.Session) string
	uiLocales   string
	extraParams url.Values

	returnToParam   string
	defaultReturnTo string
	returnTo        returnToPolicy

	stateCookie   stateCookie
	clearSiteData clearSiteData

	allowCrossSite bool
	trusted        map[string]struct{}

	onError func(http.ResponseWriter, *http.Request, error)
	logger  *slog.Logger
	before  func(*http.Request, *sessions.Session) error
	after   func(*http.Request, Event)

	revocation *tokenRevocation // nil: no token revocation
	check      *sessionCheck    // nil: no session check
}

// New validates cfg and returns a Middleware. Every error wraps
// ErrInvalidConfig and names the offending field. New does no network I/O.
func New(cfg Config) (*Middleware, error) {
	m := &Middleware{
		path:            orDefault(cfg.Path, "/logout"),
		store:           cfg.Store,
		sessionName:     cfg.SessionName,
		idTokenKey:      orDefault(cfg.IDTokenKey, "id_token"),
		endpoint:        cfg.EndSessionEndpoint,
		clientID:        cfg.ClientID,
		postLogout:      cfg.PostLogoutRedirectURI,
		missing:         cfg.OnMissingIDToken,
		logoutHint:      cfg.LogoutHint,
		uiLocales:       cfg.UILocales,
		extraParams:     cfg.ExtraParams,
		returnToParam:   orDefault(cfg.ReturnToParam, "return_to"),
		defaultReturnTo: orDefault(cfg.DefaultReturnTo, "/"),
		allowCrossSite:  cfg.AllowCrossSite,
		onError:         cfg.ErrorHandler,
		logger:          cfg.Logger,
		before:          cfg.BeforeLogout,
		after:           cfg.AfterLogout,
	}
	if m.onError == nil {
		m.onError = DefaultErrorHandler
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	for _, step := range []func(*Config) error{
		m.validateSession, m.validateProvider, m.validateCallback, m.validateReturnTo, m.validateOrigins,
		m.validateRevocation, m.validateSessionCheck, m.validateFrontChannel, m.validateClearSiteData,
	} {
		if err := step(&cfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	return m, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (m *Middleware) validateSession(*Config) error {
	if m.store == nil {
		return errors.New("Config.Store is required")
	}
	if m.sessionName == "" {
		return errors.New("Config.SessionName is required")
	}
	if !strings.HasPrefix(m.path, "/") {
		return fmt.Errorf("Config.Path %q must start with /", m.path)
	}
	return nil
}

func (m *Middleware) validateProvider(cfg *Config) error {
	if cfg.EndSessionEndpoint == "" && cfg.Issuer == "" {
		return errors.New("Config.EndSessionEndpoint or Config.Issuer is required")
	}
	if cfg.EndSessionEndpoint != "" {
		if _, err := parseEndpoint(cfg.EndSessionEndpoint); err != nil {
			return fmt.Errorf("Config.EndSessionEndpoint: %w", err)
		}
	}
	if cfg.Issuer != "" {
		// Discovery serves the end-session endpoint when it is not
		// configured, and the other endpoints (revocation) in any case.
		u, err := url.Parse(cfg.Issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("Config.Issuer %q must be an absolute http(s) URL without query or fragment", cfg.Issuer)
		}
		timeout := cfg.HTTPTimeout
		if timeout <= 0 {
			timeout = defaultHTTPTimeout
		}
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: timeout}
		}
		m.discovery = newDiscoverer(cfg.Issuer, client, timeout)
	}
	if m.missing != LocalLogoutOnly && m.missing != ProviderLogoutWithClientID {
		return fmt.Errorf("Config.OnMissingIDToken: unknown policy %d", m.missing)
	}
	if m.missing == ProviderLogoutWithClientID && m.clientID == "" {
		return errors.New("Config.OnMissingIDToken ProviderLogoutWithClientID requires Config.ClientID")
	}
	// A dry run of BuildURL catches bad ExtraParams once, here.
	p := Params{IDTokenHint: "x", ClientID: m.clientID, UILocales: m.uiLocales, Extra: m.extraParams}
	if _, err := BuildURL("https://provider.invalid/end", p); err != nil {
		return fmt.Errorf("Config.ExtraParams: %w", err)
	}
	return nil
}

func (m *Middleware) validateCallback(cfg *Config) error {
	if m.postLogout == "" {
		if cfg.CallbackPath != "" {
			return errors.New("Config.CallbackPath needs Config.PostLogoutRedirectURI")
		}
		return nil
	}
	u, err := url.Parse(m.postLogout)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("Config.PostLogoutRedirectURI %q must be an absolute URL without fragment", m.postLogout)
	}
	m.callbackPath = cfg.CallbackPath
	if m.callbackPath == "" {
		m.callbackPath = orDefault(u.Path, "/")
	}
	if !strings.HasPrefix(m.callbackPath, "/") || m.callbackPath == m.path {
		return fmt.Errorf("Config.CallbackPath %q must start with / and differ from Config.Path", m.callbackPath)
	}
	m.hasCallback = true
	sc, err := newStateCookie(cfg.StateCookie, u.Scheme == "https")
	if err != nil {
		return err
	}
	m.stateCookie = sc
	return nil
}

func (m *Middleware) validateReturnTo(cfg *Config) error {
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

func (m *Middleware) validateClearSiteData(cfg *Config) error {
	csd, err := newClearSiteData(cfg.ClearSiteData)
	m.clearSiteData = csd
	return err
}

func (m *Middleware) validateOrigins(cfg *Config) error {
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

// Wrap returns a handler that serves the logout path (and the callback and
// front-channel logout paths, when configured) and passes every other
// request to next untouched. A request to the callback path goes to next
// too unless it is the provider's return (a GET with a state parameter
// and the state cookie), so that the callback may be a page of the app
// ("/", "/homepage"). It panics if next is nil.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	if next == nil {
		panic("logout: Wrap called with a nil handler")
	}
	h := &wrapped{m: m, path: m.path, callbackPath: m.path, frontChannelPath: m.path, check: m.check != nil, next: next}
	if m.hasCallback {
		h.callbackPath = m.callbackPath
	}
	if m.hasFrontChannel {
		h.frontChannelPath = m.frontChannelPath
	}
	// Calling an http.HandlerFunc directly, rather than through its
	// ServeHTTP method, saves the pass-through path one call.
	if f, ok := next.(http.HandlerFunc); ok && f != nil {
		h.nextFunc = f
	}
	return h
}

// wrapped is the handler Wrap returns. The pass-through path reads only
// this struct: three string comparisons, two flags, and a call of next.
type wrapped struct {
	path string
	// callbackPath and frontChannelPath are those paths, or path when
	// there are none.
	callbackPath, frontChannelPath string
	check                          bool
	nextFunc                       http.HandlerFunc // next, when it is a non-nil HandlerFunc
	next                           http.Handler
	m                              *Middleware
}

// ServeHTTP serves the logout and front-channel logout paths and the
// provider's return to the callback path, and passes every other request
// to next, after the session check when it is on.
func (h *wrapped) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case h.path:
		h.m.serveLogout(w, r)
		return
	case h.frontChannelPath:
		h.m.serveFrontChannel(w, r)
		return
	case h.callbackPath:
		if h.m.isProviderReturn(r) {
			h.m.serveCallback(w, r)
			return
		}
	}
	if h.check {
		r = h.m.checkSession(w, r)
	}
	if h.nextFunc != nil {
		h.nextFunc(w, r)
	} else {
		h.next.ServeHTTP(w, r)
	}
}

// ServeHTTP serves the callback when the request's path is the callback
// path, a front-channel logout when it is that path, and a logout
// otherwise, whatever the path. It lets the middleware be mounted on a
// mux: mux.Handle("/logout", m) and, when PostLogoutRedirectURI is set,
// mux.Handle("/logout/callback", m) (and the front-channel path likewise).
// Mounted so, it answers every request to the callback path, a plain visit
// with 400: a callback that is also a page of the app needs Wrap.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case m.hasCallback && p == m.callbackPath:
		m.serveCallback(w, r)
	case m.hasFrontChannel && p == m.frontChannelPath:
		m.serveFrontChannel(w, r)
	default:
		m.serveLogout(w, r)
	}
}

// Handles reports whether path is one the middleware may serve itself
// (the logout, callback or front-channel logout path) instead of passing
// it on. A request to the callback path may still be the app's: see
// Intercepts.
func (m *Middleware) Handles(path string) bool {
	return path == m.path || (m.hasCallback && path == m.callbackPath) ||
		(m.hasFrontChannel && path == m.frontChannelPath)
}

// Intercepts reports whether the handler Wrap returns would serve r
// itself rather than pass it on: a request to the logout or front-channel
// logout path, or the provider's return to the callback path (a GET with
// a state parameter that carries the state cookie). Framework adapters
// use it to decide whether to hand a request over to ServeHTTP. It does
// not allocate for requests to other paths, nor for requests to the
// callback path without a state parameter.
func (m *Middleware) Intercepts(r *http.Request) bool {
	switch p := r.URL.Path; {
	case p == m.path, m.hasFrontChannel && p == m.frontChannelPath:
		return true
	case m.hasCallback && p == m.callbackPath:
		return m.isProviderReturn(r)
	}
	return false
}

// isProviderReturn reports whether a request to the callback path is the
// provider's return from a logout started in this browser: a GET with a
// non-empty state parameter and the state cookie. Anything else is a
// visit to the page, which belongs to the app.
func (m *Middleware) isProviderReturn(r *http.Request) bool {
	if r.Method != http.MethodGet || !hasQueryParam(r.URL.RawQuery, paramState) {
		return false
	}
	c, err := r.Cookie(m.stateCookie.name)
	return err == nil && c.Value != ""
}

// hasQueryParam reports whether the raw query has a parameter named name
// with a non-empty value, without decoding it (nor allocating). It errs on
// the side of yes for an encoded name; the callback decodes the query.
func hasQueryParam(rawQuery, name string) bool {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		if v != "" && (k == name || strings.Contains(k, "%")) {
			return true
		}
	}
	return false
}

// EndSessionEndpoint returns the provider's end-session endpoint: the
// configured one, or the discovered one. Call it at start-up to find a
// misconfigured provider before the first user logs out.
func (m *Middleware) EndSessionEndpoint(ctx context.Context) (string, error) {
	if m.endpoint != "" {
		return m.endpoint, nil
	}
	return m.discovery.endSessionEndpoint(ctx)
}

// fail logs err and hands it to the error handler.
func (m *Middleware) fail(w http.ResponseWriter, r *http.Request, err error) {
	level := slog.LevelWarn
	if StatusCode(err) >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	m.logger.LogAttrs(r.Context(), level, "logout: request failed",
		slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	m.onError(w, r, err)
}

// setNoStore marks a response as uncacheable and keeps its URL out of the
// Referer of the next request: the redirect carries the id_token.
func setNoStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Referrer-Policy", "no-referrer")
}

// redirect answers 302 Found to target.
func redirect(w http.ResponseWriter, target string) {
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
}

package logout

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/sessions"
)

// Middleware is an OpenID Connect RP-Initiated Logout handler for apps
// whose session lives in a gorilla/sessions store. Create one with New; it
// is safe for concurrent use.
type Middleware struct {
	routes // the paths it serves, and whose a request is

	store       sessions.Store
	sessionName string
	tokens      func(*sessions.Session) Tokens

	providers          *providerSet // Config.Providers and LookupProvider
	logoutWithClientID bool         // Config.ProviderLogoutWithoutIDToken
	endSessionParams   func(*http.Request, *sessions.Session) url.Values
	noStoreSignedIn    bool // Config.NoStoreSignedIn

	defaultReturnTo string
	returnTo        returnToPolicy

	stateCookie   stateCookie
	clearSiteData clearSiteData

	crossOrigin *http.CrossOriginProtection

	onError func(http.ResponseWriter, *http.Request, error)
	logger  *slog.Logger
	before  func(*http.Request, *sessions.Session) error
	after   func(*http.Request, Event)

	// discoveryWait bounds how long a logout waits for the provider's
	// discovery document: defaultDiscoveryWait.
	discoveryWait time.Duration

	revocation Revocation
	check      *sessionCheck // nil: no session check

	// checkReachable is set when the session check can run: by Wrap, or
	// by an adapter's first call of Dispatch.
	checkReachable atomic.Bool
	warnedMounted  atomic.Bool  // the warning that it cannot was logged
	lastNoIDToken  atomic.Int64 // Unix seconds of the last warning about a missing id_token
}

// routes holds the paths the middleware serves. Its route method is the
// one place that decides whose a request is, for Wrap, the mounted
// handler and the framework adapters alike.
type routes struct {
	path, callbackPath, frontChannelPath string
	hasCallback, hasFrontChannel         bool
	stateCookieName                      string
	// callbackIsLanding: the callback is also the path of DefaultReturnTo,
	// where a request that cannot be the provider's return would land.
	callbackIsLanding bool
}

// route is what the middleware does with a request.
type route uint8

const (
	routeApp          route = iota // not the middleware's: the app serves it
	routeLogout                    // the logout path
	routeCallback                  // the provider's return to the callback path
	routeFrontChannel              // the front-channel logout path
)

// route decides whose r is. A GET to the callback path with a state
// parameter is the provider's return, so that one that cannot be honoured
// (its cookie expired, say) still lands on a real page; when the callback
// is also the landing page (the path of DefaultReturnTo), it takes the
// state cookie too, since the app's page is where it would land. Any
// other request there is a visit to a page of the app. It does not
// allocate for requests to other paths, nor for requests to the callback
// path without a state parameter.
func (rt *routes) route(r *http.Request) route {
	switch p := r.URL.Path; {
	case p == rt.path:
		return routeLogout
	case rt.hasFrontChannel && p == rt.frontChannelPath:
		return routeFrontChannel
	case rt.hasCallback && p == rt.callbackPath && rt.isProviderReturn(r):
		return routeCallback
	}
	return routeApp
}

// ownsPath reports whether p is one of the middleware's paths: the
// logout path, or the callback or front-channel path when configured.
// A request there may still be the app's (see route).
func (rt *routes) ownsPath(p string) bool {
	return p == rt.path || (rt.hasCallback && p == rt.callbackPath) ||
		(rt.hasFrontChannel && p == rt.frontChannelPath)
}

// isProviderReturn reports whether a request to the callback path is the
// provider's return from a logout: see route.
func (rt *routes) isProviderReturn(r *http.Request) bool {
	if r.Method != http.MethodGet || !hasQueryParam(r.URL.RawQuery, paramState) {
		return false
	}
	return !rt.callbackIsLanding || hasCookie(r.Header, rt.stateCookieName)
}

// hasCookie reports whether the Cookie headers of h hold a cookie called
// name with a non-empty value, without parsing them (nor allocating).
func hasCookie(h http.Header, name string) bool {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			if k == name && strings.Trim(v, `"`) != "" {
				return true
			}
		}
	}
	return false
}

// serve serves a request that route gave to the middleware.
func (m *Middleware) serve(rt route, w http.ResponseWriter, r *http.Request) {
	switch rt {
	case routeLogout:
		m.serveLogout(w, r)
	case routeFrontChannel:
		m.serveFrontChannel(w, r)
	case routeCallback:
		m.serveCallback(w, r)
	}
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
	m.checkReachable.Store(true)
	h := &wrapped{routes: m.routes, m: m, check: m.check != nil, noStore: m.noStoreSignedIn}
	h.busy = h.check || h.noStore
	// Calling an http.HandlerFunc directly, rather than through its
	// ServeHTTP method, saves the pass-through path one call.
	if f, ok := next.(http.HandlerFunc); ok && f != nil {
		h.next = f
	} else {
		h.next = next.ServeHTTP
	}
	return h
}

// wrapped is the handler Wrap returns. The pass-through path reads only
// this struct: a copy of the routes, two flags, and next.
type wrapped struct {
	routes
	check   bool             // the session check is on
	busy    bool             // check or noStore: every request takes the long way
	noStore bool             // Config.NoStoreSignedIn
	next    http.HandlerFunc // the app's handler, or its ServeHTTP method
	m       *Middleware
}

// ServeHTTP serves the middleware's own requests, and passes every other
// request to next, after the session check when it is on.
func (h *wrapped) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The pass-through path: a page of the app, and nothing to do for it.
	// A path of the middleware, or a setting that acts on the app's
	// requests, takes the long way.
	if !h.busy && !h.ownsPath(r.URL.Path) {
		h.next(w, r)
		return
	}
	if to := h.route(r); to != routeApp || h.check {
		if r = h.m.dispatch(to, h.check, w, r); r == nil {
			return
		}
	}
	if h.noStore && hasCookie(r.Header, h.m.sessionName) {
		w = &noStoreWriter{ResponseWriter: w}
	}
	if h.pendingReturn(r) {
		w = &landingOnNotFound{ResponseWriter: w, m: h.m, r: r}
	}
	h.next(w, r)
}

// pendingReturn reports whether a request that route gave to the app may
// still be the provider's return without its state parameter: a GET to
// the callback path with the state cookie, on a callback that is not the
// landing page.
func (rt *routes) pendingReturn(r *http.Request) bool {
	return rt.hasCallback && r.URL.Path == rt.callbackPath && r.Method == http.MethodGet &&
		!rt.callbackIsLanding && hasCookie(r.Header, rt.stateCookieName)
}

// landingOnNotFound passes the app's response through, unless it is a
// 404: then the callback path is not a page of the app, the request was
// the provider's return without its state, and the user lands on
// DefaultReturnTo instead, with the state cookie deleted.
type landingOnNotFound struct {
	http.ResponseWriter
	m                   *Middleware
	r                   *http.Request
	written, redirected bool
}

func (w *landingOnNotFound) WriteHeader(code int) {
	if w.written {
		return
	}
	w.written = true
	if code != http.StatusNotFound {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.redirected = true
	clear(w.Header()) // the app's 404 page
	w.m.landWithoutState(w.ResponseWriter, w.r)
}

func (w *landingOnNotFound) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	if w.redirected {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the app's writer.
func (w *landingOnNotFound) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// landWithoutState sends the provider's return without its state to
// DefaultReturnTo, with the state cookie deleted.
func (m *Middleware) landWithoutState(w http.ResponseWriter, r *http.Request) {
	setNoStore(w.Header())
	http.SetCookie(w, m.stateCookie.expire())
	m.logger.LogAttrs(r.Context(), slog.LevelWarn, "logout: provider return without state; sent to the default return target",
		slog.String("path", r.URL.Path))
	redirect(w, m.defaultReturnTo)
}

// ServeNotFound is for adapters (see Dispatch): they call it when the app
// found no page for r, before anything of the 404 is written. When r may
// be the provider's return to the callback path without its state (a GET
// with the state cookie, on a callback that is not DefaultReturnTo),
// ServeNotFound sends the user to DefaultReturnTo, with the state cookie
// deleted, as Wrap does, and returns true. Otherwise it writes nothing and
// returns false, and the adapter answers 404.
func (m *Middleware) ServeNotFound(w http.ResponseWriter, r *http.Request) bool {
	if !m.pendingReturn(r) {
		return false
	}
	m.landWithoutState(w, r)
	return true
}

// ServeHTTP serves the middleware's own paths, for a middleware mounted
// on a mux: mux.Handle("/logout", m) and, when PostLogoutRedirectURI is
// set, mux.Handle("/logout/callback", m) (and the front-channel path
// likewise). Mounted so, it answers every request to the callback path,
// a plain visit with a redirect to DefaultReturnTo: a callback that is
// also a page of the app needs Wrap. A request to any other path gets
// 404: mounted on "/", the middleware never takes a page of the app for a
// logout.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.check != nil && !m.checkReachable.Load() {
		m.warnUncheckedMount(r)
	}
	switch {
	case m.dispatch(m.route(r), false, w, r) == nil:
	case m.hasCallback && r.URL.Path == m.callbackPath:
		m.serveCallback(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Dispatch does on one request what the handler Wrap returns does before
// it calls the app, for adapters of frameworks whose middleware is not an
// http.Handler (the gin, echo and fiber adapters use it). A request to
// the logout or front-channel logout path, or the provider's return to
// the callback path (see Wrap), is served, and Dispatch returns nil: the
// adapter stops there. For any other request it runs the session check
// of Config.SessionCheck and returns the request the app should see: r,
// or a copy without the session cookie when the session has ended (its
// expiry is then set on w). When the app then finds no page for the
// request, the adapter calls ServeNotFound, so that a provider's return
// without its state never ends on a 404. Config.NoStoreSignedIn needs
// Wrap.
func (m *Middleware) Dispatch(w http.ResponseWriter, r *http.Request) *http.Request {
	if m.check != nil && !m.checkReachable.Load() {
		m.checkReachable.Store(true)
	}
	return m.dispatch(m.route(r), m.check != nil, w, r)
}

// dispatch acts on route's decision, for Wrap, Dispatch and the mounted
// ServeHTTP (which passes check false): it serves a request routed to
// the middleware and returns nil, and returns the request the app should
// see for any other, after the session check when check is true. The
// callers skip it on the pass-through path without a session check, which
// then costs one call of route and does not allocate.
func (m *Middleware) dispatch(to route, check bool, w http.ResponseWriter, r *http.Request) *http.Request {
	if to != routeApp {
		m.serve(to, w, r)
		return nil
	}
	if check {
		return m.checkSession(w, r)
	}
	return r
}

// NeedsRequest reports whether Dispatch must see a request to path, for
// adapters of servers that are not net/http (fiber), which build an
// *http.Request only when it must: a request to one of the middleware's
// paths, or, when Config.SessionCheck is on, one that carries the session
// cookie. hasCookie reports whether the request has a cookie called name
// with a non-empty value; it is called only with the session check on.
func (m *Middleware) NeedsRequest(path string, hasCookie func(name string) bool) bool {
	if m.ownsPath(path) {
		return true
	}
	return m.check != nil && hasCookie != nil && hasCookie(m.sessionName)
}

// warnUncheckedMount logs, once, that the session check is configured but
// no request can reach it: the middleware is mounted on a mux, not
// wrapped around the app, so ended sessions and replayed cookies stay
// signed in.
func (m *Middleware) warnUncheckedMount(r *http.Request) {
	if m.warnedMounted.Swap(true) {
		return
	}
	m.logger.LogAttrs(r.Context(), slog.LevelWarn,
		"logout: Config.SessionCheck is set but never runs: the middleware is mounted, not wrapped around the app; "+
			"use Wrap (or an adapter), or ended sessions and replayed cookies stay signed in")
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

// fail logs err, at the level its sentinel gives, and hands it to the
// error handler.
func (m *Middleware) fail(w http.ResponseWriter, r *http.Request, err error) {
	m.logger.LogAttrs(r.Context(), responseFor(err).level, "logout: request failed",
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

package logout

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/sessions"
)

// serveLogout clears the session and redirects to the provider's
// end-session endpoint, or straight to the return target for a local-only
// logout (a session without id_token, by default).
func (m *Middleware) serveLogout(w http.ResponseWriter, r *http.Request) {
	setNoStore(w.Header())
	if !m.allowMethod(w, r, "logout", http.MethodGet, http.MethodPost) {
		return
	}
	if err := m.checkCrossSite(r); err != nil {
		m.fail(w, r, err)
		return
	}
	if isPrefetch(r) {
		m.fail(w, r, ErrPrefetch)
		return
	}
	returnTo := m.returnTarget(w, r)
	sess, tokens := m.loadSession(r)
	idToken := tokens.IDToken
	if idToken == "" {
		m.warnNoIDToken(r, sess)
	}
	prov, err := m.sessionProvider(r, idToken)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	var extra url.Values
	if m.endSessionParams != nil {
		extra = m.endSessionParams(r, sess)
	}
	// With the session still intact: the app's hook, token revocation and
	// the tombstone of a stateless session. Each may stop the logout,
	// leaving the session as it was.
	if err := m.runBeforeLogout(r, sess); err != nil {
		m.fail(w, r, err)
		return
	}
	if err := m.revokeTokens(r, tokens, prov); err != nil {
		m.fail(w, r, err)
		return
	}
	if err := m.recordTombstones(r, sess, idToken); err != nil {
		m.fail(w, r, err)
		return
	}
	if err := m.clearSession(w, r, sess); err != nil {
		m.fail(w, r, err)
		return
	}
	providerLogout := prov != nil && (idToken != "" || m.logoutWithClientID)
	target, state := returnTo, ""
	if providerLogout {
		ctx, cancel := context.WithTimeout(r.Context(), m.discoveryWait)
		target, state, err = m.endSessionURL(ctx, prov, idToken, extra)
		cancel()
		if err != nil {
			m.fail(w, r, err)
			return
		}
	}
	if state != "" {
		http.SetCookie(w, m.stateCookie.issue(state, returnTo))
	} else {
		http.SetCookie(w, m.stateCookie.marker())
	}
	m.logger.LogAttrs(r.Context(), slog.LevelInfo, "logout: session cleared",
		slog.Bool("had_id_token", idToken != ""), slog.Bool("provider_logout", providerLogout))
	if m.after != nil {
		ev := Event{HadIDToken: idToken != "", ProviderLogout: providerLogout, ReturnTo: returnTo}
		if providerLogout {
			ev.Issuer = prov.Issuer
		}
		m.after(r, ev)
	}
	// The response that sets the state cookie must not clear cookies.
	csd := m.clearSiteData.final
	if state != "" {
		csd = m.clearSiteData.toProvider
	}
	setClearSiteData(w.Header(), csd)
	redirect(w, target)
}

// setClearSiteData sets the Clear-Site-Data header to v, unless v is empty.
func setClearSiteData(h http.Header, v string) {
	if v != "" {
		h.Set("Clear-Site-Data", v)
	}
}

// allowMethod reports whether r's method is one of allowed. If it is not,
// it answers through the error handler with ErrMethodNotAllowed and an
// Allow header listing allowed; path names the path in the error.
func (m *Middleware) allowMethod(w http.ResponseWriter, r *http.Request, path string, allowed ...string) bool {
	if slices.Contains(allowed, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	m.fail(w, r, fmt.Errorf("%w: %s on %s path", ErrMethodNotAllowed, r.Method, path))
	return false
}

// runBeforeLogout runs Config.BeforeLogout, when set.
func (m *Middleware) runBeforeLogout(r *http.Request, sess *sessions.Session) error {
	if m.before == nil {
		return nil
	}
	if err := m.before(r, sess); err != nil {
		return fmt.Errorf("%w: %w", ErrHook, err)
	}
	return nil
}

// returnTarget returns the request's return target if the policy allows
// it, and the default landing otherwise.
func (m *Middleware) returnTarget(w http.ResponseWriter, r *http.Request) string {
	target := m.requestedReturnTo(w, r)
	if target == "" {
		return m.defaultReturnTo
	}
	if !m.returnTo.allowed(target) {
		m.logger.LogAttrs(r.Context(), slog.LevelWarn, "logout: return target refused",
			slog.String("param", returnToParam))
		return m.defaultReturnTo
	}
	return target
}

// returnToParam is the query (or POST form) parameter of the logout
// request that names where the user should land.
const returnToParam = "return_to"

// extraParams returns the parameters of Config.EndSessionParams that
// Params has no field for, without those the middleware sets itself.
func extraParams(v url.Values) url.Values {
	var extra url.Values
	for k, vs := range v {
		switch k {
		case paramIDTokenHint, paramPostLogoutRedirectURI, paramState, paramClientID, paramLogoutHint, paramUILocales:
			continue
		}
		if extra == nil {
			extra = url.Values{}
		}
		extra[k] = vs
	}
	return extra
}

// maxFormBytes bounds the body of a logout POST: it carries one short field.
const maxFormBytes = 64 << 10

// requestedReturnTo reads the return target from the query or, for a
// form-encoded POST, from the body.
func (m *Middleware) requestedReturnTo(w http.ResponseWriter, r *http.Request) string {
	if v := r.URL.Query().Get(returnToParam); v != "" || r.Method != http.MethodPost {
		return v
	}
	// ParseForm reads the body of a form-encoded POST only.
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return ""
	}
	return r.PostForm.Get(returnToParam)
}

// endSessionURL returns prov's end-session URL for a session whose
// id_token is idToken (or "" to identify the client alone), and the fresh
// state it carries when a post-logout redirect URI is configured. Without
// an id_token it sends client_id alone: providers refuse (Ory Hydra) or
// ignore a post_logout_redirect_uri and a state without id_token_hint, and
// GenAuth requires the hint for the redirect.
func (m *Middleware) endSessionURL(ctx context.Context, prov *provider, idToken string, extra url.Values) (target, state string, err error) {
	endpoint, err := prov.endSessionEndpoint(ctx)
	if err != nil {
		return "", "", err
	}
	p := Params{IDTokenHint: idToken, ClientID: prov.ClientID, LogoutHint: extra.Get(paramLogoutHint),
		UILocales: extra.Get(paramUILocales), Extra: extraParams(extra)}
	if m.hasCallback && prov.PostLogoutRedirectURI != "" && idToken != "" {
		state = NewState()
		p.PostLogoutRedirectURI, p.State = prov.PostLogoutRedirectURI, state
	}
	if target, err = BuildURL(endpoint, p); err != nil {
		return "", "", err
	}
	return target, state, nil
}

// serveCallback checks the state the provider sends back against the state
// cookie, deletes the cookie, and redirects to the saved return target.
// A return that cannot be honoured lands on DefaultReturnTo, never on the
// saved target: without a state or a cookie (expired while the user was
// at the provider, say; the cookie, if any, is deleted), or with a state
// that does not match (the cookie is kept: a logout in another tab may
// still come back for it).
func (m *Middleware) serveCallback(w http.ResponseWriter, r *http.Request) {
	setNoStore(w.Header())
	if !m.allowMethod(w, r, "callback", http.MethodGet) {
		return
	}
	got := r.URL.Query().Get(paramState)
	c, err := r.Cookie(m.stateCookieName)
	if got == "" || err != nil || c.Value == "" {
		m.logger.LogAttrs(r.Context(), slog.LevelWarn, "logout: provider return without state or state cookie; sent to the default return target",
			slog.String("path", r.URL.Path), slog.Bool("has_state", got != ""), slog.Bool("has_cookie", err == nil && c.Value != ""))
		if err == nil {
			http.SetCookie(w, m.stateCookie.expire())
		}
		redirect(w, m.defaultReturnTo)
		return
	}
	want, returnTo, ok := parseStateCookie(c.Value)
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		m.logger.LogAttrs(r.Context(), slog.LevelWarn, "logout: state does not match; sent to the default return target",
			slog.String("path", r.URL.Path))
		redirect(w, m.defaultReturnTo)
		return
	}
	http.SetCookie(w, m.stateCookie.expire())
	if !m.returnTo.allowed(returnTo) {
		returnTo = m.defaultReturnTo
	}
	setClearSiteData(w.Header(), m.clearSiteData.final)
	redirect(w, returnTo)
}

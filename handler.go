package logout

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/sessions"
)

// serveLogout clears the session and redirects to the provider's
// end-session endpoint (or straight to the return target when there is no
// id_token and the policy says so).
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
	sess, idToken := m.loadSession(r)
	var hint string
	if m.logoutHint != nil {
		hint = m.logoutHint(r, sess)
	}
	if err := m.runBeforeClear(r, sess); err != nil {
		m.fail(w, r, err)
		return
	}
	if err := m.clearSession(w, r, sess); err != nil {
		m.fail(w, r, err)
		return
	}
	target, provider, err := m.logoutTarget(w, r, idToken, hint, returnTo)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	m.logger.LogAttrs(r.Context(), slog.LevelInfo, "logout: session cleared",
		slog.Bool("had_id_token", idToken != ""), slog.Bool("provider_logout", provider))
	if m.after != nil {
		m.after(r, Event{HadIDToken: idToken != "", ProviderLogout: provider, ReturnTo: returnTo})
	}
	csd := m.clearSiteData.final
	if provider && m.hasCallback {
		csd = m.clearSiteData.toProvider // this response sets the state cookie
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

// runBeforeClear runs, with the session still intact, the app's
// BeforeLogout hook and then the back-end steps (token revocation,
// tombstone). An error stops the logout.
func (m *Middleware) runBeforeClear(r *http.Request, sess *sessions.Session) error {
	if m.before != nil {
		if err := m.before(r, sess); err != nil {
			return fmt.Errorf("%w: %w", ErrHook, err)
		}
	}
	return m.beforeClear(r, sess)
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
			slog.String("param", m.returnToParam))
		return m.defaultReturnTo
	}
	return target
}

// maxFormBytes bounds the body of a logout POST: it carries one short field.
const maxFormBytes = 64 << 10

// requestedReturnTo reads the return target from the query or, for a
// form-encoded POST, from the body.
func (m *Middleware) requestedReturnTo(w http.ResponseWriter, r *http.Request) string {
	if v := r.URL.Query().Get(m.returnToParam); v != "" || r.Method != http.MethodPost {
		return v
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return ""
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return ""
	}
	return r.PostForm.Get(m.returnToParam)
}

// logoutTarget returns where to redirect after the session is cleared and
// whether that is the provider. When it is the provider and a
// post-logout redirect URI is configured, it also sets the state cookie.
func (m *Middleware) logoutTarget(w http.ResponseWriter, r *http.Request, idToken, hint, returnTo string) (string, bool, error) {
	if idToken == "" && m.missing == LocalLogoutOnly {
		return returnTo, false, nil
	}
	endpoint, err := m.EndSessionEndpoint(r.Context())
	if err != nil {
		return "", false, err
	}
	p := Params{
		IDTokenHint: idToken,
		ClientID:    m.clientID,
		LogoutHint:  hint,
		UILocales:   m.uiLocales,
		Extra:       m.extraParams,
	}
	if m.hasCallback {
		state, err := NewState()
		if err != nil {
			return "", false, err
		}
		p.PostLogoutRedirectURI, p.State = m.postLogout, state
		http.SetCookie(w, m.stateCookie.issue(state, returnTo))
	}
	target, err := BuildURL(endpoint, p)
	if err != nil {
		return "", false, err
	}
	return target, true, nil
}

// serveCallback checks the state the provider sends back against the state
// cookie, deletes the cookie, and redirects to the saved return target.
// Without a state or a cookie it fails with ErrInvalidState (Wrap passes
// such requests to the app instead). A state that does not match sends the
// browser to the same page without it: never to the saved target, and
// without touching the cookie, which a logout in another tab may still
// come back for.
func (m *Middleware) serveCallback(w http.ResponseWriter, r *http.Request) {
	setNoStore(w.Header())
	if !m.allowMethod(w, r, "callback", http.MethodGet) {
		return
	}
	query := r.URL.Query()
	got := query.Get(paramState)
	c, err := r.Cookie(m.stateCookie.name)
	if got == "" || err != nil {
		m.fail(w, r, fmt.Errorf("%w: state parameter or cookie missing", ErrInvalidState))
		return
	}
	want, returnTo, ok := parseStateCookie(c.Value)
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		m.logger.LogAttrs(r.Context(), slog.LevelWarn, "logout: state does not match; sent to the page without it",
			slog.String("path", r.URL.Path))
		query.Del(paramState)
		redirect(w, (&url.URL{Path: r.URL.Path, RawQuery: query.Encode()}).RequestURI())
		return
	}
	http.SetCookie(w, m.stateCookie.expire())
	if !m.returnTo.allowed(returnTo) {
		returnTo = m.defaultReturnTo
	}
	setClearSiteData(w.Header(), m.clearSiteData.final)
	redirect(w, returnTo)
}

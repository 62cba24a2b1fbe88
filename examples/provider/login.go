package provider

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"time"
)

// Paths served next to the op package's endpoints.
const (
	pathLogin     = "/login"
	pathLoggedOut = "/logged-out"
)

// sessionCookie is the provider's browser-session cookie.
const sessionCookie = "op_session"

// sessionLifetime bounds a browser session at the provider.
const sessionLifetime = 8 * time.Hour

func loginURL(authRequestID string) string {
	return pathLogin + "?authRequestID=" + url.QueryEscape(authRequestID)
}

// browserSession is a user's signed-in session at the provider, named by
// the op_session cookie and by the sid claim of the id_tokens issued in it.
type browserSession struct {
	id       string
	subject  string
	authTime time.Time
}

// newSession starts a browser session for subject.
func (s *storage) newSession(subject string) (*browserSession, error) {
	id, err := randomToken()
	if err != nil {
		return nil, err
	}
	sess := &browserSession{id: id, subject: subject, authTime: time.Now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[id] = sess
	copied := *sess
	return &copied, nil
}

// session returns a copy of a live session, or nil.
func (s *storage) session(id string) *browserSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.liveSession(id)
	if sess == nil {
		return nil
	}
	copied := *sess
	return &copied
}

// liveSession returns session id if it exists and has not expired. The
// caller holds s.mu.
func (s *storage) liveSession(id string) *browserSession {
	sess, ok := s.sessions[id]
	if id == "" || !ok || time.Since(sess.authTime) > sessionLifetime {
		return nil
	}
	return sess
}

// sessionCount returns the number of live browser sessions.
func (s *storage) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id := range s.sessions {
		if s.liveSession(id) != nil {
			n++
		}
	}
	return n
}

// browserCtx carries the request's session cookie and response writer to
// the storage, whose methods the op package calls with the request's
// context only.
type browserCtx struct {
	sid string
	w   http.ResponseWriter
}

type browserCtxKey struct{}

// withBrowserSession puts the browser-session cookie in the request context.
func withBrowserSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bc := &browserCtx{w: w}
		if c, err := r.Cookie(sessionCookie); err == nil {
			bc.sid = c.Value
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), browserCtxKey{}, bc)))
	})
}

// browserSessionID returns the session cookie of the request behind ctx.
func browserSessionID(ctx context.Context) string {
	if bc, ok := ctx.Value(browserCtxKey{}).(*browserCtx); ok {
		return bc.sid
	}
	return ""
}

// expireBrowserSession deletes the session cookie in the response behind ctx.
func expireBrowserSession(ctx context.Context) {
	if bc, ok := ctx.Value(browserCtxKey{}).(*browserCtx); ok && bc.sid != "" {
		http.SetCookie(bc.w, sessionCookieFor("", -1))
	}
}

func sessionCookieFor(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}

// loginUI is the provider's login page. A browser with a live session is
// sent straight back to the op package (single sign-on) unless the request
// demands a fresh login.
type loginUI struct {
	store    *storage
	callback func(context.Context, string) string
}

// ServeHTTP shows the login form (GET) and checks the credentials (POST).
func (l *loginUI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		l.show(w, r)
	case http.MethodPost:
		l.submit(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (l *loginUI) show(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	a, err := l.store.authRequest(id)
	if err != nil {
		http.Error(w, "unknown or expired login request", http.StatusBadRequest)
		return
	}
	if a.done {
		http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
		return
	}
	if sess := l.store.session(browserSessionID(r.Context())); sess != nil && !a.needsLogin(sess, time.Now()) {
		l.finish(w, r, id, sess)
		return
	}
	renderLogin(w, http.StatusOK, loginPage{ID: id, ClientID: a.clientID})
}

func (l *loginUI) submit(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("authRequestID")
	a, err := l.store.authRequest(id)
	if err != nil {
		http.Error(w, "unknown or expired login request", http.StatusBadRequest)
		return
	}
	if !l.store.user.checkPassword(r.PostFormValue("username"), r.PostFormValue("password")) {
		renderLogin(w, http.StatusUnauthorized, loginPage{
			ID: id, ClientID: a.clientID, Username: r.PostFormValue("username"),
			Error: "Wrong username or password.",
		})
		return
	}
	sess, err := l.store.newSession(l.store.user.subject)
	if err != nil {
		http.Error(w, "cannot start a session", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, sessionCookieFor(sess.id, int(sessionLifetime/time.Second)))
	l.finish(w, r, id, sess)
}

// finish completes the authorization request and returns the browser to
// the op package, which redirects it to the client with a code.
func (l *loginUI) finish(w http.ResponseWriter, r *http.Request, id string, sess *browserSession) {
	if err := l.store.completeAuthRequest(id, sess); err != nil {
		http.Error(w, "unknown or expired login request", http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
}

// authRequest returns a copy of a stored, unexpired authorization request.
func (s *storage) authRequest(id string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authRequestLocked(id)
}

type loginPage struct {
	ID, ClientID, Username, Error string
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - embedded OpenID Provider</title></head>
<body>
<h1>Embedded OpenID Provider</h1>
<p>Sign in to continue to <strong>{{.ClientID}}</strong>.</p>
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="authRequestID" value="{{.ID}}">
<p><label>Username <input id="username" name="username" autocomplete="username" value="{{.Username}}" required></label></p>
<p><label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label></p>
<p><button id="submit" type="submit">Sign in</button></p>
</form>
</body>
</html>
`))

func renderLogin(w http.ResponseWriter, status int, page loginPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = loginTmpl.Execute(w, page)
}

// serveLoggedOut is where the end-session endpoint sends a browser that
// named no valid post_logout_redirect_uri.
func serveLoggedOut(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head>` +
		`<body><h1>Signed out</h1><p id="status">You are signed out of the embedded OpenID Provider.</p></body></html>`))
}

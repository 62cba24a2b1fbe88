package logout

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
)

// loadSession returns the user's session and the raw tokens it holds, read
// once (Config.SessionTokens) for the whole logout. A session cookie that
// cannot be decoded (tampered with, signed with rotated keys, expired)
// yields an empty session and no tokens, so that it is still cleared: a
// broken cookie must never keep a user signed in.
func (m *Middleware) loadSession(r *http.Request) (*sessions.Session, Tokens) {
	sess, err := m.store.Get(r, m.sessionName)
	if err != nil {
		m.logger.LogAttrs(r.Context(), slog.LevelInfo, "logout: session could not be decoded; clearing it",
			slog.String("session", m.sessionName), slog.String("error", err.Error()))
	}
	if sess == nil {
		sess, _ = m.store.New(r, m.sessionName)
	}
	if sess == nil {
		sess = sessions.NewSession(m.store, m.sessionName)
		sess.Options.Path = "/"
	}
	if err != nil {
		return sess, Tokens{}
	}
	return sess, m.tokens(sess)
}

// Tokens are the raw tokens an app keeps in its session: see
// Config.SessionTokens.
type Tokens struct {
	// IDToken is sent as id_token_hint at logout, and identifies the
	// session to the session check.
	IDToken string
	// AccessToken and RefreshToken are revoked at logout when
	// Config.Revocation says so.
	AccessToken, RefreshToken string
}

// DefaultSessionTokens reads the tokens from the string values
// "id_token", "access_token" and "refresh_token" of s.
func DefaultSessionTokens(s *sessions.Session) Tokens {
	var t Tokens
	t.IDToken, _ = s.Values["id_token"].(string)
	t.AccessToken, _ = s.Values["access_token"].(string)
	t.RefreshToken, _ = s.Values["refresh_token"].(string)
	return t
}

// noIDTokenWarnEvery is the least time between two warnings about
// sessions without an id_token.
const noIDTokenWarnEvery = time.Minute

// warnNoIDToken warns, at most once a minute, about a logout of a session
// that holds the app's values but no id_token (see Config.SessionTokens):
// most likely the login handler keeps it under another name, and then no
// logout reaches the provider, whose session survives.
func (m *Middleware) warnNoIDToken(r *http.Request, sess *sessions.Session) {
	if !m.hasAppValues(sess) {
		return
	}
	now, last := time.Now().Unix(), m.lastNoIDToken.Load()
	if now-last < int64(noIDTokenWarnEvery/time.Second) || !m.lastNoIDToken.CompareAndSwap(last, now) {
		return
	}
	m.logger.LogAttrs(r.Context(), slog.LevelWarn,
		`logout: the session holds values but no id_token (Config.SessionTokens reads "id_token" by default); the provider's session is not ended`,
		slog.String("session", m.sessionName))
}

// hasAppValues reports whether sess holds a value that the middleware did
// not put there itself.
func (m *Middleware) hasAppValues(sess *sessions.Session) bool {
	for k := range sess.Values {
		if k == frontChannelSIDValue || k == sessionIDValue {
			continue
		}
		return true
	}
	return false
}

// clearSession deletes every value of sess and saves it with MaxAge -1, so
// that the store expires the cookie and deletes any server-side record.
// Values are deleted in place: the same *sessions.Session may be cached in
// the request's sessions.Registry, and nothing of the old session may stay
// readable there.
func (m *Middleware) clearSession(w http.ResponseWriter, r *http.Request, sess *sessions.Session) error {
	clear(sess.Values)
	opts := sessions.Options{Path: "/"}
	if sess.Options != nil {
		opts = *sess.Options
	}
	opts.MaxAge = -1
	sess.Options = &opts
	if err := m.store.Save(r, w, sess); err != nil {
		return fmt.Errorf("%w: session %q: %w", ErrSessionSave, m.sessionName, err)
	}
	// Forget the server-side id, so that a later save of this session in
	// the same request can never bring the deleted record back under it.
	sess.ID, sess.IsNew = "", true
	return nil
}

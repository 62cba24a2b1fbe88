package logout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/sessions"
)

// Session check defaults.
const (
	checkTimeout          = time.Second         // bounds each Ledger call
	defaultTombstoneTTL   = 30 * 24 * time.Hour // securecookie's default max age
	sessionIDValue        = "logout_session_id" // the session value of the random id
	maxCheckedTokenLength = 64 << 10
)

// SessionCheckConfig turns on the session check: on every request that
// is not for the middleware's own paths and that carries the session
// cookie, the session is looked up in the [Ledger], once. A session that
// has ended is cleared, and the request goes on to the next handler as
// signed out. A session ends by back-channel or front-channel logout (of
// its sid or its sub), and by a logout here: each session gets a random
// id (stored in it on first use, or by Middleware.InitSession at login),
// and a logout records a tombstone of that id, and of the session's
// id_token, so that a copy of the cookie taken before the logout is
// treated as signed out (stateless cookie stores keep no record that a
// logout could delete). The identity of a session is read from its
// id_token (iss, sub, sid, iat) without checking its signature, which is
// safe because the token comes from the app's own session, signed or
// kept server-side by the store. Tombstones live as long as the session's
// Options.MaxAge, or 30 days when it has none. The check runs on the
// requests of [Middleware.Wrap] and of the framework adapters.
type SessionCheckConfig struct {
	// Ledger is the store of ended sessions, shared with the
	// backchannel module's handler. Required.
	Ledger Ledger
	// FailOpen lets requests and logouts go on when the Ledger fails (the
	// failure is logged). By default the check fails closed: a request
	// whose session cannot be looked up is served as signed out, without
	// deleting the session, so that the user is signed in again once the
	// Ledger is back; and a logout whose tombstone cannot be recorded
	// stops before the session is cleared, with an error wrapping
	// ErrTombstone (503 by default), so that the user can try again. A
	// ledger that refuses a record because it is full (ErrLedgerFull)
	// stops a logout in any case.
	FailOpen bool
}

// sessionClaims identifies a session at the provider. Empty fields are
// not checked.
type sessionClaims struct {
	// Issuer is the provider's issuer: the id_token's iss, or the issuer
	// of the app's only provider.
	Issuer string
	// Subject is the end-user's sub.
	Subject string
	// SID is the provider's session id (the sid claim).
	SID string
	// IssuedAt is when the session began (the id_token's iat). A logout
	// of every session of Subject ends the sessions begun at or before it;
	// when IssuedAt is zero, any such logout ends this session.
	IssuedAt time.Time
	// TokenHash identifies the login: a hash of the id_token. It is
	// tombstoned at logout, so that a copy of the cookie taken before the
	// session got its random id is refused too.
	TokenHash string
}

// sessionCheck is the middleware's part of the session check.
type sessionCheck struct {
	store    Ledger
	tokens   func(*sessions.Session) Tokens // Config.SessionTokens
	failOpen bool                           // SessionCheckConfig.FailOpen
	// frontChannel: register sessions' sids for front-channel logout.
	frontChannel bool
	issuer       string // the issuer of sessions whose id_token names none
}

// setSessionCheck sets up cfg.SessionCheck, if any.
func (m *Middleware) setSessionCheck(cfg *Config) error {
	sc := cfg.SessionCheck
	if sc == nil {
		return nil
	}
	if sc.Ledger == nil {
		return errors.New("Config.SessionCheck.Ledger is required")
	}
	c := &sessionCheck{
		store:        sc.Ledger,
		tokens:       m.tokens,
		failOpen:     sc.FailOpen,
		issuer:       m.providers.defaultIssuer(),
		frontChannel: cfg.FrontChannelPath != "",
	}
	m.check = c
	return nil
}

// checkSession looks the request's session up in the ledger and
// returns the request next should see: r itself, or a copy without the
// session when it has ended (or the store failed and the policy is
// fail-closed).
func (m *Middleware) checkSession(w http.ResponseWriter, r *http.Request) *http.Request {
	if _, err := r.Cookie(m.sessionName); err != nil {
		return r
	}
	before := r.Context() // store.Get may attach a sessions.Registry to r
	sess, err := m.store.Get(r, m.sessionName)
	if err != nil || sess == nil || len(sess.Values) == 0 {
		return r
	}
	c := m.check
	cl := idTokenClaims(c.tokens(sess).IDToken, true)
	if cl.Issuer == "" {
		cl.Issuer = c.issuer
	}
	var buf [4]LedgerQuery
	if checks := c.checksFor(sess, cl, buf[:0]); len(checks) > 0 {
		ended, err := c.lookup(r.Context(), checks)
		switch {
		case err != nil:
			return m.checkFailed(r, before, err)
		case ended:
			m.clearEndedSession(w, r, sess)
			return withoutSession(r, before, m.sessionName)
		}
	}
	changed := assignSessionID(sess)
	if c.frontChannel && cl.SID != "" {
		changed = m.registerSID(r, sess, cl.Issuer, cl.SID) || changed
	}
	if changed {
		if err := m.store.Save(r, w, sess); err != nil {
			m.logger.LogAttrs(r.Context(), slog.LevelError, "logout: saving the session after the check failed",
				slog.String("error", err.Error()))
		}
	}
	return r
}

// lookup asks the ledger, bounded by the timeout.
func (c *sessionCheck) lookup(ctx context.Context, checks []LedgerQuery) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	return c.store.Seen(ctx, checks...)
}

// checksFor appends the look-ups for sess, whose claims are cl, to dst.
func (c *sessionCheck) checksFor(sess *sessions.Session, cl sessionClaims, dst []LedgerQuery) []LedgerQuery {
	if cl.SID != "" {
		// A sid names one provider session: any logout of it ends it.
		dst = append(dst, LedgerQuery{Key: SIDKey(cl.Issuer, cl.SID)})
	}
	if cl.Subject != "" {
		dst = append(dst, LedgerQuery{Key: SubjectKey(cl.Issuer, cl.Subject), Since: cl.IssuedAt})
	}
	if id, _ := sess.Values[sessionIDValue].(string); id != "" {
		dst = append(dst, LedgerQuery{Key: SessionIDKey(id)})
	}
	if cl.TokenHash != "" {
		dst = append(dst, LedgerQuery{Key: SessionIDKey(cl.TokenHash)})
	}
	return dst
}

// checkFailed applies the store-failure policy.
func (m *Middleware) checkFailed(r *http.Request, before context.Context, err error) *http.Request {
	c := m.check
	m.logger.LogAttrs(r.Context(), slog.LevelError, "logout: session check failed",
		slog.Bool("fail_open", c.failOpen), slog.String("error", err.Error()))
	if c.failOpen {
		return r
	}
	return withoutSession(r, before, m.sessionName)
}

// clearEndedSession clears a session the ledger says has ended: its cookie is expired and
// its server-side record deleted. The session object is then reset to a
// new, empty one, so that a handler that saves it later in this request
// (a new login, say) writes a new session instead of the ended one.
func (m *Middleware) clearEndedSession(w http.ResponseWriter, r *http.Request, sess *sessions.Session) {
	var opts *sessions.Options
	if sess.Options != nil {
		o := *sess.Options
		opts = &o
	}
	if err := m.clearSession(w, r, sess); err != nil {
		m.logger.LogAttrs(r.Context(), slog.LevelError, "logout: clearing an ended session failed",
			slog.String("error", err.Error()))
	}
	sess.Options, sess.IsNew, sess.ID = opts, true, ""
	m.logger.LogAttrs(r.Context(), slog.LevelInfo, "logout: ended session cleared",
		slog.String("session", m.sessionName))
}

// withoutSession returns a copy of r with the context it had before the
// session was read (so without the session cached in a sessions.Registry)
// and without the session cookie: next finds no session at all.
func withoutSession(r *http.Request, before context.Context, name string) *http.Request {
	r2 := r.Clone(before)
	cookies := r.Cookies()
	r2.Header.Del("Cookie")
	var b strings.Builder
	for _, c := range cookies {
		if c.Name == name {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Name + "=" + quoteIf(c.Value, c.Quoted))
	}
	if b.Len() > 0 {
		r2.Header.Set("Cookie", b.String())
	}
	return r2
}

func quoteIf(v string, quoted bool) string {
	if quoted {
		return `"` + v + `"`
	}
	return v
}

// assignSessionID gives sess a random id if it has none, and reports
// whether it did; the caller saves sess.
func assignSessionID(sess *sessions.Session) bool {
	if id, _ := sess.Values[sessionIDValue].(string); id != "" {
		return false
	}
	sess.Values[sessionIDValue] = NewState()
	return true
}

// InitSession gives s the random session id of the session check (see
// SessionCheckConfig), if it has none; the caller saves s. Call it in the
// login handler before the session is first saved, so that every copy of
// the session cookie carries the id; otherwise the id is added on the
// session's first request through the middleware. It does nothing without
// Config.SessionCheck.
func (m *Middleware) InitSession(s *sessions.Session) {
	if m.check != nil {
		assignSessionID(s)
	}
}

// recordTombstones records, at logout, that the session's id and login
// have ended, so that a replayed copy of its cookie is signed out. It does
// nothing without the session check. A failure is logged; it is
// returned, and stops the logout, unless FailOpen is set and the ledger
// is not full (ErrLedgerFull): a full ledger never turns replay
// protection off while the logout reports success.
func (m *Middleware) recordTombstones(r *http.Request, sess *sessions.Session, idToken string) error {
	c, logger := m.check, m.logger
	if c == nil {
		return nil
	}
	var keys []string
	if id, _ := sess.Values[sessionIDValue].(string); id != "" {
		keys = append(keys, SessionIDKey(id))
	}
	if h := idTokenClaims(idToken, true).TokenHash; h != "" {
		keys = append(keys, SessionIDKey(h))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), checkTimeout)
	defer cancel()
	ttl := c.tombstoneTTL(sess.Options)
	for _, k := range keys {
		if err := c.store.Record(ctx, k, time.Now(), ttl); err != nil {
			logger.LogAttrs(r.Context(), slog.LevelError, "logout: recording the session tombstone failed",
				slog.String("error", err.Error()))
			if !c.failOpen || errors.Is(err, ErrLedgerFull) {
				return fmt.Errorf("%w: %w", ErrTombstone, unprefixed(err))
			}
		}
	}
	return nil
}

// tombstoneTTL is how long a record about a session with options opts
// (nil when unknown) is kept: the session's MaxAge, else
// defaultTombstoneTTL.
func (c *sessionCheck) tombstoneTTL(opts *sessions.Options) time.Duration {
	switch {
	case opts != nil && opts.MaxAge > 0:
		return time.Duration(opts.MaxAge) * time.Second
	default:
		return defaultTombstoneTTL
	}
}

// idTokenClaims reads the claims of a raw JWT's payload without verifying
// its signature; see SessionCheckConfig for why that is safe here.
// With withHash, TokenHash is set too, even for a token that cannot be read.
func idTokenClaims(raw string, withHash bool) sessionClaims {
	if raw == "" || len(raw) > maxCheckedTokenLength {
		return sessionClaims{}
	}
	var cl sessionClaims
	if withHash {
		sum := sha256.Sum256([]byte(raw))
		cl.TokenHash = "idt." + base64.RawURLEncoding.EncodeToString(sum[:16])
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return cl
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return cl
	}
	var p struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		SID string          `json:"sid"`
		Iat json.RawMessage `json:"iat"`
	}
	if mayHaveCaseVariants(payload) {
		// encoding/json matches struct fields without regard to case,
		// but claim names are case-sensitive (RFC 7519), and these claims
		// must be read as the back-channel and front-channel logouts that
		// name them read theirs: so by exact name, from a map.
		var m map[string]json.RawMessage
		if json.Unmarshal(payload, &m) != nil {
			return cl
		}
		for _, c := range [...]struct {
			raw json.RawMessage
			dst *string
		}{{m["iss"], &p.Iss}, {m["sub"], &p.Sub}, {m["sid"], &p.SID}} {
			if c.raw != nil && json.Unmarshal(c.raw, c.dst) != nil {
				return cl // as a struct would fail on a claim of another type
			}
		}
		p.Iat = m["iat"]
	} else if json.Unmarshal(payload, &p) != nil {
		return cl
	}
	cl.Issuer, cl.Subject, cl.SID = p.Iss, p.Sub, p.SID
	var iat float64
	if len(p.Iat) > 0 && p.Iat[0] != '"' && json.Unmarshal(p.Iat, &iat) == nil && iat > 0 {
		cl.IssuedAt = time.Unix(int64(iat), 0)
	}
	return cl
}

// mayHaveCaseVariants reports whether payload may hold a member whose
// name is iss, sub, sid or iat in another case ("SID", "Iss"), which a
// struct would take for the claim: when it holds a quoted word that is one
// of them in another case, an escape, which could spell one, or U+017F
// (ſ), which encoding/json takes for an s. It is false for the id_tokens
// of every provider seen, whose payloads are then decoded into a struct,
// at a fraction of a map's cost.
func mayHaveCaseVariants(payload []byte) bool {
	if bytes.IndexByte(payload, '\\') >= 0 || bytes.Contains(payload, []byte("\u017f")) {
		return true
	}
	for i := 0; ; {
		j := bytes.IndexByte(payload[i:], '"')
		if j < 0 || i+j+4 >= len(payload) {
			return false
		}
		i += j + 1
		if payload[i+3] != '"' {
			continue
		}
		w := payload[i : i+3]
		for _, name := range [...]string{"iss", "sub", "sid", "iat"} {
			if string(w) != name && strings.EqualFold(string(w), name) {
				return true
			}
		}
	}
}

// registerSID records the session's sid as seen, for front-channel logout
// (see serveFrontChannel), unless
// the session says it was registered within the last half of the
// registration's lifetime, and reports whether it changed the session,
// which the caller then saves. A failure is logged, and the next request
// tries again.
func (m *Middleware) registerSID(r *http.Request, sess *sessions.Session, issuer, sid string) bool {
	c := m.check
	ttl := c.tombstoneTTL(sess.Options)
	now := time.Now()
	if at, ok := registeredAt(sess, sid); ok && now.Sub(at) < ttl/2 {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	if err := c.store.Record(ctx, registeredSIDKey(issuer, sid), now, ttl); err != nil {
		m.logger.LogAttrs(r.Context(), slog.LevelError, "logout: registering the session for front-channel logout failed",
			slog.String("error", err.Error()))
		return false
	}
	sess.Values[frontChannelSIDValue] = strconv.FormatInt(now.Unix(), 10) + ":" + sid
	return true
}

// registeredAt returns when sid was registered according to sess.
func registeredAt(sess *sessions.Session, sid string) (time.Time, bool) {
	v, _ := sess.Values[frontChannelSIDValue].(string)
	unix, got, ok := strings.Cut(v, ":")
	if !ok || got != sid {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(unix, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

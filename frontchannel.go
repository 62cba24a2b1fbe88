package logout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/sessions"
)

// ErrFrontChannelRequest means a front-channel logout request was not a
// GET with exactly one iss, equal to Config.Issuer (give or take a
// trailing slash), and exactly one non-empty sid. StatusCode maps it to
// 400.
var ErrFrontChannelRequest = errors.New("logout: invalid front-channel logout request")

// maxSIDLength bounds the sid of a front-channel logout request.
const maxSIDLength = 1024

// frontChannelSIDValue is the session value that records which sid of
// the session was registered for front-channel logout.
const frontChannelSIDValue = "logout_frontchannel_sid"

// FrontChannelConfig turns on OpenID Connect Front-Channel Logout 1.0: when
// the user logs out at the provider or at another app, the provider's
// logout page loads the app's frontchannel_logout_uri in an iframe, with
// the iss and sid of the provider session, and the app ends its sessions
// of that sid.
//
// The request is an unauthenticated GET, and browsers that block
// third-party cookies send it without the app's cookies. So the
// middleware does not rely on cookies: it records the sid as revoked in
// the session check's ledger, and the session check signs the
// session out on its next request. To keep anyone who can send a GET from
// filling that store with made-up sids, only sids that the middleware
// registered are recorded: the session check registers a session's sid,
// once, on the first request that carries it (one write, and one
// Set-Cookie for the flag it keeps in the session). A front-channel logout
// of an unregistered sid is answered 200 and ignored.
//
// It needs Config.SessionCheck and Config.Issuer. Register the provider
// client with frontchannel_logout_uri set to the app's URL of Path and
// frontchannel_logout_session_required set to true.
type FrontChannelConfig struct {
	// Path is the path of the app's frontchannel_logout_uri, for example
	// "/frontchannel-logout". Required. Wrap serves it; with a mux, mount
	// the Middleware on it as on the logout path.
	Path string
}

// validateFrontChannel sets up cfg.FrontChannel, if any. It runs after
// validateSessionCheck.
func (m *Middleware) validateFrontChannel(cfg *Config) error {
	fc := cfg.FrontChannel
	if fc == nil {
		return nil
	}
	if m.check == nil || cfg.Issuer == "" {
		return errors.New("Config.FrontChannel needs Config.SessionCheck and Config.Issuer")
	}
	if !strings.HasPrefix(fc.Path, "/") || fc.Path == m.path || (m.hasCallback && fc.Path == m.callbackPath) {
		return fmt.Errorf("Config.FrontChannel.Path %q must start with / and differ from the logout and callback paths", fc.Path)
	}
	m.frontChannelPath, m.hasFrontChannel = fc.Path, true
	m.check.frontChannel = true
	return nil
}

// serveFrontChannel ends the sessions of a registered sid.
func (m *Middleware) serveFrontChannel(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Pragma", "no-cache")
	if !m.allowMethod(w, r, "front-channel logout", http.MethodGet) {
		return
	}
	iss, sid, err := frontChannelParams(r.URL.RawQuery, m.check.issuer)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	ended, err := m.check.endRegisteredSID(r.Context(), iss, sid)
	if err != nil {
		m.fail(w, r, fmt.Errorf("logout: recording a front-channel logout: %w", err))
		return
	}
	m.logger.LogAttrs(r.Context(), slog.LevelInfo, "logout: front-channel logout", slog.Bool("registered_session", ended))
	w.WriteHeader(http.StatusOK)
}

// frontChannelParams returns the iss and sid of a front-channel logout
// query, which must hold exactly one iss, the configured issuer, and
// exactly one sid. The iss may differ from the configured issuer by a
// trailing slash, which the keys of the session check ignore.
func frontChannelParams(rawQuery, issuer string) (iss, sid string, err error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", "", fmt.Errorf("%w: malformed query", ErrFrontChannelRequest)
	}
	isses, sids := q["iss"], q["sid"]
	switch {
	case len(isses) != 1 || len(sids) != 1:
		return "", "", fmt.Errorf("%w: want one iss and one sid", ErrFrontChannelRequest)
	case strings.TrimSuffix(isses[0], "/") != strings.TrimSuffix(issuer, "/"):
		return "", "", fmt.Errorf("%w: iss is not the configured issuer", ErrFrontChannelRequest)
	case sids[0] == "" || len(sids[0]) > maxSIDLength:
		return "", "", fmt.Errorf("%w: empty or over-long sid", ErrFrontChannelRequest)
	}
	return isses[0], sids[0], nil
}

// endRegisteredSID records sid as revoked if it was registered, and
// reports whether it was. The writes are not cancelled when the browser
// goes away.
func (c *sessionCheck) endRegisteredSID(ctx context.Context, issuer, sid string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	registered, err := c.store.Seen(ctx, LedgerQuery{Key: registeredSIDKey(issuer, sid)})
	if err != nil || !registered {
		return false, err
	}
	return true, c.store.Record(ctx, SIDKey(issuer, sid), time.Now(), c.tombstoneTTL(nil))
}

// registerSID registers the session's sid for front-channel logout unless
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
	ctx, cancel := context.WithTimeout(r.Context(), c.timeout)
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

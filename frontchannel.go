package logout

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// maxSIDLength bounds the sid of a front-channel logout request.
const maxSIDLength = 1024

// frontChannelSIDValue is the session value that records which sid of
// the session was registered for front-channel logout.
const frontChannelSIDValue = "logout_frontchannel_sid"

// serveFrontChannel ends the sessions of a registered sid.
func (m *Middleware) serveFrontChannel(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Pragma", "no-cache")
	if !m.allowMethod(w, r, "front-channel logout", http.MethodGet) {
		return
	}
	known := func(iss string) bool { return m.knownIssuer(r.Context(), iss) }
	iss, sid, err := frontChannelParams(r.URL.RawQuery, known)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	ended, err := m.check.endRegisteredSID(r.Context(), iss, sid)
	if err != nil {
		m.fail(w, r, fmt.Errorf("%w: front-channel logout: %w", ErrLedger, unprefixed(err)))
		return
	}
	m.logger.LogAttrs(r.Context(), slog.LevelInfo, "logout: front-channel logout", slog.Bool("registered_session", ended))
	w.WriteHeader(http.StatusOK)
}

// frontChannelParams returns the iss and sid of a front-channel logout
// query, which must hold exactly one iss, a configured provider's
// issuer (known reports which are; they may differ by a trailing slash,
// which the keys of the session check ignore), and exactly one sid.
func frontChannelParams(rawQuery string, known func(iss string) bool) (iss, sid string, err error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", "", fmt.Errorf("%w: malformed query", ErrFrontChannelRequest)
	}
	isses, sids := q["iss"], q["sid"]
	switch {
	case len(isses) != 1 || len(sids) != 1:
		return "", "", fmt.Errorf("%w: want one iss and one sid", ErrFrontChannelRequest)
	case sids[0] == "" || len(sids[0]) > maxSIDLength:
		return "", "", fmt.Errorf("%w: empty or over-long sid", ErrFrontChannelRequest)
	case !known(isses[0]):
		return "", "", fmt.Errorf("%w: iss is not a configured provider's", ErrFrontChannelRequest)
	}
	return isses[0], sids[0], nil
}

// endRegisteredSID records that sid has ended if it was registered, and
// reports whether it was. The writes are not cancelled when the browser
// goes away.
func (c *sessionCheck) endRegisteredSID(ctx context.Context, issuer, sid string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
	defer cancel()
	registered, err := c.store.Seen(ctx, LedgerQuery{Key: registeredSIDKey(issuer, sid)})
	if err != nil || !registered {
		return false, err
	}
	return true, c.store.Record(ctx, SIDKey(issuer, sid), time.Now(), c.tombstoneTTL(nil))
}

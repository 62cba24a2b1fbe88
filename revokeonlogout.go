package logout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
)

// RevocationConfig turns on token revocation at logout (RFC 7009): the
// refresh token and then the access token kept in the session are revoked
// at the session's provider before the session is cleared and the browser
// redirected. Each Provider then needs a ClientID and a revocation
// endpoint (RevocationEndpoint, or one discovered from Issuer); a session
// of an unknown issuer keeps its tokens.
type RevocationConfig struct {
	// AccessTokenKey is the session value holding the raw access token.
	// Default "access_token".
	AccessTokenKey string
	// RefreshTokenKey is the session value holding the raw refresh token.
	// Default "refresh_token".
	RefreshTokenKey string

	// FailClosed makes a failed revocation stop the logout: the session is
	// left as it was, so that the user can try again, and the error (which
	// wraps ErrRevocation, 502 by default) goes to Config.ErrorHandler. By
	// default a failure is logged at WARN, and the user is logged out
	// regardless.
	FailClosed bool
}

// tokenRevocation is the middleware's part of token revocation.
type tokenRevocation struct {
	accessKey, refreshKey string
	failClosed            bool
}

// setRevocation sets up cfg.Revocation, if any; setProviders gives each
// provider its Revoker.
func (m *Middleware) setRevocation(cfg *Config) error {
	rc := cfg.Revocation
	if rc == nil {
		return nil
	}
	m.revocation = &tokenRevocation{
		accessKey:  orDefault(rc.AccessTokenKey, "access_token"),
		refreshKey: orDefault(rc.RefreshTokenKey, "refresh_token"),
		failClosed: rc.FailClosed,
	}
	return nil
}

// revokeTokens revokes the session's refresh token, then its access token,
// at the session's provider prov, when token revocation is on.
// Failures are logged and reported; they are returned only when the
// policy is fail-closed. The requests are not cancelled when the browser
// goes away: the tokens would stay valid.
func (m *Middleware) revokeTokens(r *http.Request, sess *sessions.Session, prov *provider) error {
	tr := m.revocation
	if tr == nil || prov == nil || prov.revoker == nil {
		return nil
	}
	rv := prov.revoker
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*rv.timeout+time.Second)
	defer cancel()
	var errs []error
	for _, t := range [...]struct{ key, hint string }{
		{tr.refreshKey, TokenTypeRefreshToken},
		{tr.accessKey, TokenTypeAccessToken},
	} {
		token, _ := sess.Values[t.key].(string)
		if token == "" {
			continue
		}
		if err := rv.Revoke(ctx, token, t.hint); err != nil {
			err = fmt.Errorf("revoking %s: %w", t.hint, err)
			m.logger.LogAttrs(r.Context(), slog.LevelWarn, "logout: token revocation failed",
				slog.String("token_type", t.hint), slog.String("error", err.Error()))
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 || !tr.failClosed {
		return nil
	}
	return errors.Join(errs...)
}

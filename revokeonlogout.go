package logout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Revocation says whether a logout revokes the session's tokens at its
// provider (RFC 7009): the refresh token and then the access token (see
// Config.SessionTokens), before the session is cleared and the browser
// redirected. Each Provider then needs a ClientID and a revocation
// endpoint (RevocationEndpoint, or one discovered from Issuer); a session
// of an unknown issuer keeps its tokens.
type Revocation uint8

// Token revocation policies.
const (
	// NoRevocation leaves the tokens as they are: the default.
	NoRevocation Revocation = iota
	// RevokeTokens revokes them; a failure is logged at WARN, and the user
	// is logged out regardless.
	RevokeTokens
	// RevokeTokensOrFail revokes them, and a failure stops the logout: the
	// session is left as it was, so that the user can try again, and the
	// error (which wraps ErrRevocation, 502 by default) goes to
	// Config.ErrorHandler.
	RevokeTokensOrFail
)

// setRevocation checks Config.Revocation; setProviders gives each
// provider its Revoker.
func (m *Middleware) setRevocation(cfg *Config) error {
	if cfg.Revocation > RevokeTokensOrFail {
		return fmt.Errorf("Config.Revocation %d is not a revocation policy", cfg.Revocation)
	}
	m.revocation = cfg.Revocation
	return nil
}

// revokeTokens revokes the session's refresh token, then its access token
// (tokens, read from the session by loadSession),
// at the session's provider prov, when token revocation is on.
// Failures are logged and reported; they are returned only when the
// policy is fail-closed. The requests are not cancelled when the browser
// goes away: the tokens would stay valid.
func (m *Middleware) revokeTokens(r *http.Request, tokens Tokens, prov *provider) error {
	if m.revocation == NoRevocation || prov == nil || prov.revoker == nil {
		return nil
	}
	rv := prov.revoker
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*rv.timeout+time.Second)
	defer cancel()
	var errs []error
	for _, t := range [...]struct{ token, hint string }{
		{tokens.RefreshToken, TokenTypeRefreshToken},
		{tokens.AccessToken, TokenTypeAccessToken},
	} {
		token := t.token
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
	if len(errs) == 0 || m.revocation != RevokeTokensOrFail {
		return nil
	}
	return errors.Join(errs...)
}

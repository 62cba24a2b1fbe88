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
// at the provider before the session is cleared and the browser redirected.
type RevocationConfig struct {
	// Revoker revokes the tokens; build it with [NewRevoker]. Required
	// with a single provider; with Config.Providers or
	// Config.LookupProvider it must be nil, and each Provider's Revoker
	// revokes the tokens of its sessions (a session of a provider without
	// one, or of an unknown issuer, keeps its tokens).
	Revoker *Revoker

	// AccessTokenKey is the session value holding the raw access token.
	// Default "access_token".
	AccessTokenKey string
	// RefreshTokenKey is the session value holding the raw refresh token.
	// Default "refresh_token".
	RefreshTokenKey string

	// FailClosed makes a failed revocation stop the logout: the session is
	// left as it was, so that the user can try again, and the error (which
	// wraps ErrRevocation, 502 by default) goes to Config.ErrorHandler. By
	// default a failure is logged and reported to OnError, and the user is
	// logged out regardless.
	FailClosed bool
	// OnError, when set, is called with each failed revocation. The error
	// wraps ErrRevocation and never holds the token.
	OnError func(r *http.Request, err error)
}

// tokenRevocation is the middleware's part of token revocation.
type tokenRevocation struct {
	revoker               *Revoker
	accessKey, refreshKey string
	failClosed            bool
	onError               func(*http.Request, error)
}

// setRevocation sets up cfg.Revocation, if any.
func (m *Middleware) setRevocation(cfg *Config) error {
	rc := cfg.Revocation
	if rc == nil {
		return nil
	}
	several := severalProviders(cfg)
	switch {
	case rc.Revoker == nil && !several:
		return errors.New("Config.Revocation.Revoker is required")
	case rc.Revoker != nil && several:
		return errors.New("Config.Revocation.Revoker must be nil with Config.Providers or Config.LookupProvider: each Provider has its own")
	}
	m.revocation = &tokenRevocation{
		revoker:    rc.Revoker,
		accessKey:  orDefault(rc.AccessTokenKey, "access_token"),
		refreshKey: orDefault(rc.RefreshTokenKey, "refresh_token"),
		failClosed: rc.FailClosed,
		onError:    rc.OnError,
	}
	return nil
}

// revokerFor returns the Revoker of a session of prov (nil for a local
// logout): Config.Revocation's with a single provider, prov's with several.
func (tr *tokenRevocation) revokerFor(prov *provider) *Revoker {
	if tr.revoker != nil || prov == nil {
		return tr.revoker
	}
	return prov.revoker
}

// revokeTokens revokes the session's refresh token, then its access token,
// at the session's provider prov, when token revocation is on.
// Failures are logged and reported; they are returned only when the
// policy is fail-closed. The requests are not cancelled when the browser
// goes away: the tokens would stay valid.
func (m *Middleware) revokeTokens(r *http.Request, sess *sessions.Session, prov *provider) error {
	tr := m.revocation
	if tr == nil {
		return nil
	}
	rv := tr.revokerFor(prov)
	if rv == nil {
		return nil
	}
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
			if tr.onError != nil {
				tr.onError(r, err)
			}
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 || !tr.failClosed {
		return nil
	}
	return errors.Join(errs...)
}

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
	// Endpoint is the provider's revocation_endpoint. When empty it is
	// discovered from Config.Issuer.
	Endpoint string
	// ClientSecret authenticates the client (Config.ClientID, which is
	// required). It is never logged.
	ClientSecret string
	// AuthMethod is the client authentication method. Default
	// ClientSecretBasic when ClientSecret is set, ClientAuthNone otherwise.
	AuthMethod ClientAuthMethod
	// Timeout bounds each revocation request. Default 5 seconds; a logout
	// revokes at most two tokens.
	Timeout time.Duration
	// Revoker, when set, is used instead of one built from Endpoint,
	// ClientSecret, AuthMethod and Timeout, which must then be empty.
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
	revoker                *Revoker
	accessKey, refreshKey  string
	failClosed             bool
	onError                func(*http.Request, error)
	timeoutForBothRequests time.Duration
}

// validateRevocation builds the revoker of cfg.Revocation, if any.
func (m *Middleware) validateRevocation(cfg *Config) error {
	rc := cfg.Revocation
	if rc == nil {
		return nil
	}
	rv := rc.Revoker
	if rv != nil && (rc.Endpoint != "" || rc.ClientSecret != "" || rc.AuthMethod != "" || rc.Timeout != 0) {
		return errors.New("Config.Revocation.Revoker excludes Endpoint, ClientSecret, AuthMethod and Timeout")
	}
	if rv == nil {
		if cfg.ClientID == "" {
			return errors.New("Config.Revocation needs Config.ClientID")
		}
		issuer := cfg.Issuer
		if rc.Endpoint != "" {
			issuer = ""
		}
		var err error
		rv, err = newRevoker(RevokerConfig{
			Endpoint: rc.Endpoint, Issuer: issuer, ClientID: cfg.ClientID, ClientSecret: rc.ClientSecret,
			AuthMethod: rc.AuthMethod, HTTPClient: cfg.HTTPClient, Timeout: rc.Timeout,
		})
		if err != nil {
			return fmt.Errorf("Config.Revocation: %w", err)
		}
		if rv.discovery != nil && m.discovery != nil {
			rv.discovery = m.discovery // one discovery document for both endpoints
		}
	}
	m.revocation = &tokenRevocation{
		revoker:                rv,
		accessKey:              orDefault(rc.AccessTokenKey, "access_token"),
		refreshKey:             orDefault(rc.RefreshTokenKey, "refresh_token"),
		failClosed:             rc.FailClosed,
		onError:                rc.OnError,
		timeoutForBothRequests: 2*rv.timeout + time.Second,
	}
	return nil
}

// beforeClear runs the back-end parts of a logout, before the session is
// cleared: token revocation, then the tombstone of a stateless session. An
// error stops the logout.
func (m *Middleware) beforeClear(r *http.Request, sess *sessions.Session) error {
	if m.revocation != nil {
		if err := m.revokeTokens(r, sess); err != nil {
			return err
		}
	}
	if m.check != nil {
		return m.check.tombstone(r, sess, m.logger)
	}
	return nil
}

// revokeTokens revokes the session's refresh token, then its access token.
// Failures are logged and reported; they are returned only when the
// policy is fail-closed. The requests are not cancelled when the browser
// goes away: the tokens would stay valid.
func (m *Middleware) revokeTokens(r *http.Request, sess *sessions.Session) error {
	tr := m.revocation
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), tr.timeoutForBothRequests)
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
		if err := tr.revoker.Revoke(ctx, token, t.hint); err != nil {
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

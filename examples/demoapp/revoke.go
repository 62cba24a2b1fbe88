package demoapp

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gorilla/sessions"

	"github.com/oidc-logout/logout"
)

// newRevoker returns a Revoker for the provider's revocation_endpoint, or
// nil when the provider has none.
func newRevoker(cfg Config, endpoint string) (*logout.Revoker, error) {
	if endpoint == "" {
		return nil, nil
	}
	rv, err := logout.NewRevoker(logout.RevokerConfig{
		Endpoint:     endpoint,
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		HTTPClient:   cfg.HTTPClient,
	})
	if err != nil {
		return nil, fmt.Errorf("demoapp: %w", err)
	}
	return rv, nil
}

// revokeTokens is the logout middleware's BeforeLogout hook: it revokes
// the session's refresh and access tokens at the provider (RFC 7009), so
// that a copy of them stops working too. A failure is logged and does not
// stop the logout: the user asked to leave.
func (a *App) revokeTokens(r *http.Request, s *sessions.Session) error {
	if a.revoker == nil {
		return nil
	}
	// The refresh token first: revoking it usually revokes its access token too.
	for _, t := range []struct{ key, hint string }{
		{keyRefreshToken, logout.TokenTypeRefreshToken},
		{keyAccessToken, logout.TokenTypeAccessToken},
	} {
		token, _ := s.Values[t.key].(string)
		if token == "" {
			continue
		}
		if err := a.revoker.Revoke(r.Context(), token, t.hint); err != nil {
			a.logger.LogAttrs(r.Context(), slog.LevelWarn, "demoapp: token revocation failed",
				slog.String("token_type", t.hint), slog.String("error", err.Error()))
		}
	}
	return nil
}

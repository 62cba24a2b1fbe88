package demoapp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/sessions"
)

// revokeTimeout bounds each revocation request made during a logout.
const revokeTimeout = 5 * time.Second

// revokeTokens is the logout middleware's BeforeLogout hook: it revokes
// the session's refresh and access tokens at the provider (RFC 7009), so
// that a copy of them stops working too. A failure is logged and does not
// stop the logout: the user asked to leave.
func (a *App) revokeTokens(r *http.Request, s *sessions.Session) error {
	if a.revocation == "" {
		return nil
	}
	for _, kind := range []string{keyRefreshToken, keyAccessToken} {
		token, _ := s.Values[kind].(string)
		if token == "" {
			continue
		}
		if err := a.revoke(r.Context(), token, kind); err != nil {
			a.logger.LogAttrs(r.Context(), slog.LevelWarn, "demoapp: token revocation failed",
				slog.String("token_type", kind), slog.String("error", err.Error()))
		}
	}
	return nil
}

// revoke sends one revocation request, authenticated with
// client_secret_basic, or with client_id alone for a public client.
func (a *App) revoke(ctx context.Context, token, hint string) error {
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	if a.oauth.ClientSecret == "" {
		form.Set("client_id", a.oauth.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.revocation, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("building revocation request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if a.oauth.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(a.oauth.ClientID), url.QueryEscape(a.oauth.ClientSecret))
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", a.revocation, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: status %d", a.revocation, resp.StatusCode)
	}
	return nil
}

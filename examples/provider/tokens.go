package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// CreateAccessToken issues an access token without a refresh token.
func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	t, err := s.newAccessToken(req)
	if err != nil {
		return "", time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessTokens[t.id] = t
	return t.id, t.expires, nil
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token.
// When current is set (a refresh_token grant) it is rotated: the old
// refresh token and its access token stop working.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	t, err := s.newAccessToken(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	value, err := randomToken()
	if err != nil {
		return "", "", time.Time{}, err
	}
	rt := &refreshToken{
		token: value, clientID: clientOf(req), subject: req.GetSubject(), sid: t.sid,
		scopes: req.GetScopes(), expires: time.Now().Add(refreshTokenLifetime), accessTokenID: t.id,
	}
	if idReq, ok := req.(op.IDTokenRequest); ok {
		rt.amr, rt.authTime = idReq.GetAMR(), idReq.GetAuthTime()
	}
	t.refresh = value
	s.mu.Lock()
	defer s.mu.Unlock()
	if current != "" {
		old, ok := s.refreshTokens[current]
		if !ok {
			return "", "", time.Time{}, errors.New("refresh token was revoked")
		}
		s.deleteRefreshLocked(old)
	}
	s.accessTokens[t.id] = t
	s.refreshTokens[value] = rt
	return t.id, value, t.expires, nil
}

func (s *storage) newAccessToken(req op.TokenRequest) (*accessToken, error) {
	id, err := randomToken()
	if err != nil {
		return nil, err
	}
	return &accessToken{
		id: id, clientID: clientOf(req), subject: req.GetSubject(), sid: sessionOf(req),
		scopes: req.GetScopes(), expires: time.Now().Add(accessTokenLifetime),
	}, nil
}

// clientOf returns the client a token request is for.
func clientOf(req op.TokenRequest) string {
	if r, ok := req.(interface{ GetClientID() string }); ok {
		return r.GetClientID()
	}
	return ""
}

// TokenRequestByRefreshToken returns the grant behind a valid refresh token.
func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok || time.Now().After(rt.expires) {
		return nil, fmt.Errorf("refresh token: %w", errNotFound)
	}
	return &refreshTokenRequest{*rt}, nil
}

// GetRefreshTokenInfo identifies a refresh token for revocation.
func (s *storage) GetRefreshTokenInfo(_ context.Context, _, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.token, nil
}

// RevokeToken revokes an access token (by ID) or a refresh token (by
// value) together with the tokens issued with it. Unknown tokens are
// ignored, as RFC 7009 asks.
func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.accessTokens[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.accessTokens, t.id)
		return nil
	}
	if rt, ok := s.refreshTokens[tokenOrID]; ok {
		if rt.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		s.deleteRefreshLocked(rt)
	}
	return nil
}

func (s *storage) deleteRefreshLocked(rt *refreshToken) {
	delete(s.refreshTokens, rt.token)
	delete(s.accessTokens, rt.accessTokenID)
}

// TerminateSession ends every browser session of userID and revokes
// their tokens. The end-session endpoint uses TerminateSessionFromRequest.
func (s *storage) TerminateSession(_ context.Context, userID, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sess := range s.sessions {
		if sess.subject == userID {
			s.endSessionLocked(id)
		}
	}
	return nil
}

// TerminateSessionFromRequest serves the end-session endpoint after the op
// package has validated id_token_hint, client_id and
// post_logout_redirect_uri. It ends the session named by the id_token's
// sid claim and the session of the browser's cookie, revokes their tokens,
// expires the cookie, and returns where to send the browser.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.IDTokenHintClaims != nil && req.IDTokenHintClaims.SessionID != "" {
		s.endSessionLocked(req.IDTokenHintClaims.SessionID)
	}
	if sid := browserSessionID(ctx); sid != "" {
		s.endSessionLocked(sid)
	}
	expireBrowserSession(ctx)
	return req.RedirectURI, nil
}

// endSessionLocked deletes session sid and revokes its tokens.
func (s *storage) endSessionLocked(sid string) {
	delete(s.sessions, sid)
	for id, t := range s.accessTokens {
		if t.sid == sid {
			delete(s.accessTokens, id)
		}
	}
	for value, rt := range s.refreshTokens {
		if rt.sid == sid {
			delete(s.refreshTokens, value)
		}
	}
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the id_token's user claims and its sid.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	s.user.setUserinfo(info, scopes)
	if sid := sessionOf(req); sid != "" {
		info.AppendClaims("sid", sid)
	}
	return nil
}

// SetUserinfoFromToken serves the userinfo endpoint for a valid access token.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	t, ok := s.liveAccessToken(tokenID)
	if !ok {
		return errors.New("access token is invalid or revoked")
	}
	s.user.setUserinfo(info, t.scopes)
	return nil
}

// SetIntrospectionFromToken serves the introspection endpoint.
func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, _, _ string) error {
	t, ok := s.liveAccessToken(tokenID)
	if !ok {
		return errors.New("access token is invalid or revoked")
	}
	resp.Active = true
	resp.Subject = t.subject
	resp.ClientID = t.clientID
	resp.Scope = t.scopes
	resp.Expiration = oidc.FromTime(t.expires)
	return nil
}

func (s *storage) liveAccessToken(id string) (accessToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.accessTokens[id]
	if !ok || time.Now().After(t.expires) {
		return accessToken{}, false
	}
	return *t, true
}

// tokenCount returns the number of unexpired access and refresh tokens.
func (s *storage) tokenCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, n := time.Now(), 0
	for _, t := range s.accessTokens {
		if now.Before(t.expires) {
			n++
		}
	}
	for _, rt := range s.refreshTokens {
		if now.Before(rt.expires) {
			n++
		}
	}
	return n
}

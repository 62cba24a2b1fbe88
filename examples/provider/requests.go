package provider

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// authRequest is a stored authorization request; it implements
// op.AuthRequest. The storage hands out copies, so that the op package
// never reads a value that the login page is changing.
type authRequest struct {
	id           string
	created      time.Time
	clientID     string
	redirectURI  string
	state        string
	nonce        string
	scopes       []string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	challenge    *oidc.CodeChallenge
	prompt       []string
	maxAge       *time.Duration

	// Set when the user is authenticated.
	done     bool
	subject  string
	sid      string
	authTime time.Time
}

func newAuthRequest(id string, r *oidc.AuthRequest) *authRequest {
	a := &authRequest{
		id:           id,
		created:      time.Now(),
		clientID:     r.ClientID,
		redirectURI:  r.RedirectURI,
		state:        r.State,
		nonce:        r.Nonce,
		scopes:       slices.Clone(r.Scopes),
		responseType: r.ResponseType,
		responseMode: r.ResponseMode,
		prompt:       slices.Clone(r.Prompt),
	}
	if r.CodeChallenge != "" {
		a.challenge = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	if r.MaxAge != nil {
		d := time.Duration(*r.MaxAge) * time.Second
		a.maxAge = &d
	}
	return a
}

// complete marks the request as authenticated in session s.
func (a *authRequest) complete(s *browserSession) {
	a.done, a.subject, a.sid, a.authTime = true, s.subject, s.id, s.authTime
}

// needsLogin reports whether session s cannot answer this request without
// the login page: prompt=login, or a max_age that s is older than.
func (a *authRequest) needsLogin(s *browserSession, now time.Time) bool {
	if slices.Contains(a.prompt, oidc.PromptLogin) {
		return true
	}
	return a.maxAge != nil && now.Sub(s.authTime) > *a.maxAge
}

// GetID returns the request's ID.
func (a *authRequest) GetID() string { return a.id }

// GetACR returns no acr.
func (a *authRequest) GetACR() string { return "" }

// GetAMR returns pwd once the user is authenticated.
func (a *authRequest) GetAMR() []string {
	if a.done {
		return []string{"pwd"}
	}
	return nil
}

// GetAudience returns the client.
func (a *authRequest) GetAudience() []string { return []string{a.clientID} }

// GetAuthTime returns when the user logged in.
func (a *authRequest) GetAuthTime() time.Time { return a.authTime }

// GetClientID returns the client_id.
func (a *authRequest) GetClientID() string { return a.clientID }

// GetCodeChallenge returns the PKCE challenge, if any.
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }

// GetNonce returns the nonce.
func (a *authRequest) GetNonce() string { return a.nonce }

// GetRedirectURI returns the redirect_uri.
func (a *authRequest) GetRedirectURI() string { return a.redirectURI }

// GetResponseType returns the response_type.
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.responseType }

// GetResponseMode returns the response_mode.
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.responseMode }

// GetScopes returns the granted scopes.
func (a *authRequest) GetScopes() []string { return a.scopes }

// GetState returns the client's state.
func (a *authRequest) GetState() string { return a.state }

// GetSubject returns the authenticated user.
func (a *authRequest) GetSubject() string { return a.subject }

// Done reports whether the user is authenticated.
func (a *authRequest) Done() bool { return a.done }

// refreshToken is a stored refresh token.
type refreshToken struct {
	token         string
	clientID      string
	subject       string
	sid           string
	scopes        []string
	amr           []string
	authTime      time.Time
	expires       time.Time
	accessTokenID string
}

// refreshTokenRequest implements op.RefreshTokenRequest on a copy of a
// stored refresh token.
type refreshTokenRequest struct {
	refreshToken
}

// GetAMR returns the original login's amr.
func (r *refreshTokenRequest) GetAMR() []string { return r.amr }

// GetAudience returns the client.
func (r *refreshTokenRequest) GetAudience() []string { return []string{r.clientID} }

// GetAuthTime returns the original login's time.
func (r *refreshTokenRequest) GetAuthTime() time.Time { return r.authTime }

// GetClientID returns the client_id.
func (r *refreshTokenRequest) GetClientID() string { return r.clientID }

// GetScopes returns the scopes.
func (r *refreshTokenRequest) GetScopes() []string { return r.scopes }

// GetSubject returns the user.
func (r *refreshTokenRequest) GetSubject() string { return r.subject }

// SetCurrentScopes narrows the scopes of the refreshed tokens.
func (r *refreshTokenRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }

// accessToken is a stored access token.
type accessToken struct {
	id       string
	clientID string
	subject  string
	sid      string
	scopes   []string
	expires  time.Time
	refresh  string // the refresh token issued with it, if any
}

// sessionOf returns the provider session a token request belongs to.
func sessionOf(req any) string {
	switch r := req.(type) {
	case *authRequest:
		return r.sid
	case *refreshTokenRequest:
		return r.sid
	}
	return ""
}

package provider

import (
	"crypto/subtle"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// user is the provider's one test user.
type user struct {
	subject, username, password, name, email string
}

func newUser(username, password string) user {
	return user{
		subject:  "u-" + username,
		username: username,
		password: password,
		name:     strings.ToUpper(username[:1]) + username[1:] + " Example",
		email:    username + "@example.com",
	}
}

// checkPassword compares credentials in constant time.
func (u user) checkPassword(username, password string) bool {
	okUser := subtle.ConstantTimeCompare([]byte(username), []byte(u.username))
	okPass := subtle.ConstantTimeCompare([]byte(password), []byte(u.password))
	return okUser&okPass == 1
}

// setUserinfo fills info with the claims the scopes allow.
func (u user) setUserinfo(info *oidc.UserInfo, scopes []string) {
	info.Subject = u.subject
	for _, s := range scopes {
		switch s {
		case oidc.ScopeProfile:
			info.Name = u.name
			info.PreferredUsername = u.username
		case oidc.ScopeEmail:
			info.Email = u.email
			info.EmailVerified = true
		}
	}
}

// opClient adapts a Client to op.Client.
type opClient struct {
	Client
}

// idTokenLifetime is the lifetime of issued id_tokens.
const idTokenLifetime = time.Hour

// GetID returns the client_id.
func (c opClient) GetID() string { return c.ID }

// RedirectURIs returns the registered redirect_uris.
func (c opClient) RedirectURIs() []string { return c.Client.RedirectURIs }

// PostLogoutRedirectURIs returns the registered post_logout_redirect_uris.
func (c opClient) PostLogoutRedirectURIs() []string { return c.Client.PostLogoutRedirectURIs }

// ApplicationType is web for confidential clients and user agent for public ones.
func (c opClient) ApplicationType() op.ApplicationType {
	if c.Secret == "" {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

// AuthMethod is client_secret_basic, or none for public clients.
func (c opClient) AuthMethod() oidc.AuthMethod {
	if c.Secret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

// ResponseTypes allows the authorization code flow only.
func (c opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

// GrantTypes allows authorization codes and refresh tokens.
func (c opClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

// LoginURL is the provider's login page for an authorization request.
func (c opClient) LoginURL(id string) string { return loginURL(id) }

// AccessTokenType is opaque bearer tokens.
func (c opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }

// IDTokenLifetime is one hour.
func (c opClient) IDTokenLifetime() time.Duration { return idTokenLifetime }

// DevMode allows http redirect URIs on loopback.
func (c opClient) DevMode() bool { return true }

// RestrictAdditionalIdTokenScopes keeps all scopes.
func (c opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// RestrictAdditionalAccessTokenScopes keeps all scopes.
func (c opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed allows no scopes beyond the standard ones.
func (c opClient) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion puts profile and email claims in the
// id_token even when an access token is issued, so that a relying party
// can show the user's name without calling userinfo.
func (c opClient) IDTokenUserinfoClaimsAssertion() bool { return true }

// ClockSkew is zero.
func (c opClient) ClockSkew() time.Duration { return 0 }

package logout

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

// Params are the query parameters of an RP-Initiated Logout request
// (OpenID Connect RP-Initiated Logout 1.0, section 2). Empty fields are
// left out of the URL.
type Params struct {
	// IDTokenHint is the raw id_token previously issued to the client.
	IDTokenHint string
	// PostLogoutRedirectURI is where the provider sends the browser after
	// logout. It must be registered at the provider, and it needs
	// IDTokenHint or ClientID so the provider can check the registration.
	PostLogoutRedirectURI string
	// State is an opaque value the provider passes back unchanged to
	// PostLogoutRedirectURI.
	State string
	// ClientID is the client identifier at the provider.
	ClientID string
	// LogoutHint is a hint about the end-user who is logging out.
	LogoutHint string
	// UILocales is the end-user's preferred languages, space separated.
	UILocales string
	// Extra holds any other parameters. A key that is also one of the
	// named fields above is an error.
	Extra url.Values
}

// Query parameter names of RP-Initiated Logout 1.0.
const (
	paramIDTokenHint           = "id_token_hint"
	paramPostLogoutRedirectURI = "post_logout_redirect_uri"
	paramState                 = "state"
	paramClientID              = "client_id"
	paramLogoutHint            = "logout_hint"
	paramUILocales             = "ui_locales"
)

// BuildURL returns the URL that ends the end-user's session at the provider:
// endSessionEndpoint with the non-empty fields of p added to its query.
// Query parameters already present on endSessionEndpoint are kept; a named
// field of p replaces a parameter of the same name. BuildURL does no I/O.
//
// It returns an error wrapping ErrInvalidEndpoint when endSessionEndpoint is
// not an absolute http or https URL without a fragment, and ErrMissingHint
// when p.PostLogoutRedirectURI is set without IDTokenHint or ClientID.
func BuildURL(endSessionEndpoint string, p Params) (string, error) {
	u, err := parseEndpoint(endSessionEndpointName, endSessionEndpoint)
	if err != nil {
		return "", err
	}
	if err := p.validate(); err != nil {
		return "", err
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", fmt.Errorf("%w: query of end-session endpoint %q: %w", ErrInvalidEndpoint, endSessionEndpoint, err)
	}
	for k, vs := range p.Extra {
		q[k] = append([]string(nil), vs...)
	}
	setIfNotEmpty(q, paramIDTokenHint, p.IDTokenHint)
	setIfNotEmpty(q, paramPostLogoutRedirectURI, p.PostLogoutRedirectURI)
	setIfNotEmpty(q, paramState, p.State)
	setIfNotEmpty(q, paramClientID, p.ClientID)
	setIfNotEmpty(q, paramLogoutHint, p.LogoutHint)
	setIfNotEmpty(q, paramUILocales, p.UILocales)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func (p *Params) validate() error {
	if p.PostLogoutRedirectURI != "" {
		if p.IDTokenHint == "" && p.ClientID == "" {
			return ErrMissingHint
		}
		u, err := url.Parse(p.PostLogoutRedirectURI)
		if err != nil || !u.IsAbs() {
			return fmt.Errorf("logout: post_logout_redirect_uri %q is not an absolute URL", p.PostLogoutRedirectURI)
		}
	}
	for k := range p.Extra {
		switch k {
		case paramIDTokenHint, paramPostLogoutRedirectURI, paramState,
			paramClientID, paramLogoutHint, paramUILocales:
			return fmt.Errorf("logout: Params.Extra[%q] duplicates a named field", k)
		}
	}
	return nil
}

func setIfNotEmpty(q url.Values, key, value string) {
	if value != "" {
		q[key] = []string{value}
	}
}

// Names of the provider's endpoints in errors.
const (
	endSessionEndpointName = "end-session endpoint"
	revocationEndpointName = "revocation endpoint"
	jwksURIName            = "jwks_uri"
)

// parseEndpoint checks that raw, the provider's endpoint called name, is
// an absolute http(s) URL with a host and no fragment, as section 2 of
// RP-Initiated Logout requires of the end-session endpoint.
func parseEndpoint(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidEndpoint, name, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: %s %q: want an absolute http or https URL", ErrInvalidEndpoint, name, raw)
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, fmt.Errorf("%w: %s %q: no userinfo or fragment allowed", ErrInvalidEndpoint, name, raw)
	}
	return u, nil
}

// GenAuthEndpoint returns the end-session endpoint of a GenAuth (Authing)
// application: appHost followed by "/oidc/session/end". appHost is the
// application's domain, such as "https://example.genauth.ai"; a trailing
// slash is dropped, and "https://" is added when appHost has no scheme.
func GenAuthEndpoint(appHost string) string {
	host := strings.TrimRight(strings.TrimSpace(appHost), "/")
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	return host + "/oidc/session/end"
}

// stateBytes is the number of random bytes in a state: 256 bits.
const stateBytes = 32

// NewState returns a fresh random state: 32 bytes from crypto/rand encoded
// as unpadded base64url (43 characters). crypto/rand.Read does not fail
// (it crashes the program instead, since Go 1.24).
func NewState() string {
	var b [stateBytes]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

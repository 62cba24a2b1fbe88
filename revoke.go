package logout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Token type hints of RFC 7009, section 2.1.
const (
	TokenTypeAccessToken  = "access_token"
	TokenTypeRefreshToken = "refresh_token"
)

// Revoker limits.
const (
	defaultRevokeTimeout = 5 * time.Second
	maxRevokeErrorBytes  = 16 << 10
	maxErrorCodeLen      = 64
)

// Client authentication methods of the revocation request (OpenID Connect
// Core 1.0, section 9).
const (
	clientSecretBasic = "client_secret_basic"
	clientSecretPost  = "client_secret_post"
)

// Revoker revokes tokens at a provider's revocation endpoint (OAuth 2.0
// Token Revocation, RFC 7009), for an app that revokes tokens outside a
// logout (the middleware revokes a session's tokens itself when
// Config.Revocation is set). It is safe for concurrent use.
type Revoker struct {
	endpoint  string      // Provider.RevocationEndpoint, or "" to discover
	discovery *discoverer // nil when endpoint is set
	clientID  string
	secret    string
	client    *http.Client
	timeout   time.Duration
}

// NewRevoker returns a Revoker for p, which needs ClientID and one of
// RevocationEndpoint and Issuer (the endpoint is then discovered at the
// first revocation). client sends the requests; nil means a client with a
// 5-second timeout. Every error wraps ErrInvalidConfig.
func NewRevoker(p Provider, client *http.Client) (*Revoker, error) {
	var d *discoverer
	if p.Issuer != "" {
		if err := checkIssuer(p.Issuer); err != nil {
			return nil, fmt.Errorf("%w: Provider.Issuer: %w", ErrInvalidConfig, err)
		}
		d = newDiscoverer(p.Issuer, client)
	}
	if p.RevocationEndpoint != "" {
		if _, err := parseEndpoint(revocationEndpointName, p.RevocationEndpoint); err != nil {
			return nil, fmt.Errorf("%w: Provider.RevocationEndpoint: %w", ErrInvalidConfig, unprefixed(err))
		}
	}
	rv, err := newRevoker(p, d, client, "Provider")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return rv, nil
}

// newRevoker returns a Revoker for the validated p, whose discoverer is d
// (nil without Issuer); errors call p name.
func newRevoker(p Provider, d *discoverer, client *http.Client, name string) (*Revoker, error) {
	switch {
	case p.ClientID == "":
		return nil, fmt.Errorf("%s.ClientID is required for token revocation", name)
	case p.RevocationEndpoint == "" && d == nil:
		return nil, fmt.Errorf("%s.RevocationEndpoint or Issuer is required for token revocation", name)
	}
	rv := &Revoker{endpoint: p.RevocationEndpoint, clientID: p.ClientID, secret: p.ClientSecret,
		client: client, timeout: defaultRevokeTimeout}
	if rv.endpoint == "" {
		rv.discovery = d
	}
	switch {
	case client == nil:
		rv.client = &http.Client{Timeout: defaultRevokeTimeout}
	case client.Timeout > 0 && client.Timeout < rv.timeout:
		rv.timeout = client.Timeout
	}
	return rv, nil
}

// checkIssuer reports whether issuer is an absolute http(s) URL without
// query or fragment.
func checkIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must be an absolute http(s) URL without query or fragment", issuer)
	}
	return nil
}

// GenAuthRevocationEndpoint returns the revocation endpoint of a GenAuth
// (Authing) application: appHost followed by "/oidc/token/revocation",
// with the same normalisation as GenAuthEndpoint.
func GenAuthRevocationEndpoint(appHost string) string {
	return strings.TrimSuffix(GenAuthEndpoint(appHost), "/oidc/session/end") + "/oidc/token/revocation"
}

// Endpoint returns the revocation endpoint: the configured one, or the
// discovered one. Call it at start-up to find a misconfigured provider.
func (rv *Revoker) Endpoint(ctx context.Context) (string, error) {
	if rv.endpoint != "" {
		return rv.endpoint, nil
	}
	ep, _, err := rv.discovered(ctx)
	return ep, err
}

// discovered returns the discovered revocation endpoint, and whether the
// provider takes the client's secret in the form body only.
func (rv *Revoker) discovered(ctx context.Context) (endpoint string, post bool, err error) {
	meta, err := rv.discovery.revocationMetadata(ctx)
	if err != nil {
		return "", false, fmt.Errorf("%w: %w", ErrRevocation, unprefixed(err))
	}
	methods := meta.RevocationAuthMethods
	return meta.RevocationEndpoint, slices.Contains(methods, clientSecretPost) && !slices.Contains(methods, clientSecretBasic), nil
}

// revocationMetadata returns the discovery document, checked to hold a
// valid revocation_endpoint.
func (d *discoverer) revocationMetadata(ctx context.Context) (*providerMetadata, error) {
	meta, err := d.metadata(ctx)
	if err != nil {
		return nil, err
	}
	endpoint, err := checkDiscovered(revocationEndpointName, meta.RevocationEndpoint)
	switch {
	case err != nil:
		return nil, err
	case endpoint == "":
		return nil, fmt.Errorf("provider %s has no revocation_endpoint", d.issuer)
	}
	return meta, nil
}

// RevocationError is the error a Revoker returns when the provider answers
// with a status other than 200. It wraps ErrRevocation and never holds the
// token.
type RevocationError struct {
	// Status is the HTTP status of the response.
	Status int
	// Code is the OAuth error code of the response body, such as
	// "invalid_client" or "unsupported_token_type", when there is one.
	Code string
}

// Error describes the failure without the token.
func (e *RevocationError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("%v: status %d", ErrRevocation, e.Status)
	}
	return fmt.Sprintf("%v: status %d, error %q", ErrRevocation, e.Status, e.Code)
}

// Unwrap returns ErrRevocation.
func (e *RevocationError) Unwrap() error { return ErrRevocation }

// Revoke asks the provider to revoke token. tokenTypeHint is
// TokenTypeAccessToken, TokenTypeRefreshToken or "". A 200 response is
// success (RFC 7009 also answers 200 for tokens that were already invalid);
// any other response is a *RevocationError. Every error wraps ErrRevocation
// and none holds the token.
func (rv *Revoker) Revoke(ctx context.Context, token, tokenTypeHint string) error {
	if token == "" {
		return fmt.Errorf("%w: empty token", ErrRevocation)
	}
	endpoint, post := rv.endpoint, false
	if endpoint == "" {
		var err error
		if endpoint, post, err = rv.discovered(ctx); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, rv.timeout)
	defer cancel()
	req, err := rv.newRequest(ctx, endpoint, token, tokenTypeHint, post)
	if err != nil {
		return err
	}
	resp, err := rv.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: POST %s: %w", ErrRevocation, endpoint, scrubURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxRevokeErrorBytes))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return &RevocationError{Status: resp.StatusCode, Code: oauthErrorCode(body)}
}

// newRequest builds the revocation POST: with the client secret in an
// HTTP Basic header, or in the form when post is set (the provider takes
// only client_secret_post), or client_id alone for a public client.
func (rv *Revoker) newRequest(ctx context.Context, endpoint, token, hint string, post bool) (*http.Request, error) {
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	basic := rv.secret != "" && !post
	if !basic {
		form.Set("client_id", rv.clientID)
	}
	if rv.secret != "" && post {
		form.Set("client_secret", rv.secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRevocation, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		req.SetBasicAuth(url.QueryEscape(rv.clientID), url.QueryEscape(rv.secret))
	}
	return req, nil
}

// scrubURLError drops the request details of a *url.Error, keeping its
// cause: the URL is logged separately, and nothing else is needed.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// oauthErrorCode returns the "error" member of an OAuth error response, if
// it is a plausible error code (RFC 6749, 5.2: printable ASCII without '"'
// or '\'), and "" otherwise.
func oauthErrorCode(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) > maxErrorCodeLen {
		return ""
	}
	for i := 0; i < len(e.Error); i++ {
		if c := e.Error[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return ""
		}
	}
	return e.Error
}

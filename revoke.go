package logout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ClientAuthMethod is how a Revoker authenticates the client to the
// revocation endpoint (OpenID Connect Core 1.0, section 9).
type ClientAuthMethod string

// Client authentication methods a Revoker supports.
const (
	// ClientSecretBasic sends client_id and client_secret in an HTTP Basic
	// Authorization header, each URL-encoded first (RFC 6749, 2.3.1). It is
	// the default when a client secret is set.
	ClientSecretBasic ClientAuthMethod = "client_secret_basic"
	// ClientSecretPost sends client_id and client_secret in the form body.
	ClientSecretPost ClientAuthMethod = "client_secret_post"
	// ClientAuthNone sends client_id alone, for public clients. It is the
	// default when no client secret is set.
	ClientAuthNone ClientAuthMethod = "none"
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

// RevokerConfig configures a Revoker. ClientID is required, and so is one
// of Endpoint and Issuer.
type RevokerConfig struct {
	// Endpoint is the provider's revocation_endpoint, an absolute http(s)
	// URL (for GenAuth, see GenAuthRevocationEndpoint). When empty it is
	// discovered from Issuer at the first revocation.
	Endpoint string
	// Issuer is the provider's issuer URL, used for discovery when
	// Endpoint is empty.
	Issuer string
	// ClientID identifies the client. Required.
	ClientID string
	// ClientSecret authenticates a confidential client. It is never logged.
	ClientSecret string
	// AuthMethod is the client authentication method. Default
	// ClientSecretBasic when ClientSecret is set, ClientAuthNone otherwise.
	AuthMethod ClientAuthMethod
	// HTTPClient sends the requests. Default: a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds each revocation request (and each discovery request).
	// Default 5 seconds.
	Timeout time.Duration
}

// Revoker revokes tokens at a provider's revocation endpoint (OAuth 2.0
// Token Revocation, RFC 7009). It is safe for concurrent use.
type Revoker struct {
	endpoint  string
	discovery *discoverer
	clientID  string
	secret    string
	method    ClientAuthMethod
	client    *http.Client
	timeout   time.Duration
}

// NewRevoker validates cfg and returns a Revoker. Every error wraps
// ErrInvalidConfig. NewRevoker does no network I/O.
func NewRevoker(cfg RevokerConfig) (*Revoker, error) {
	rv, err := newRevoker(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return rv, nil
}

func newRevoker(cfg RevokerConfig) (*Revoker, error) {
	rv := &Revoker{
		endpoint: cfg.Endpoint,
		clientID: cfg.ClientID,
		secret:   cfg.ClientSecret,
		method:   cfg.AuthMethod,
		client:   cfg.HTTPClient,
		timeout:  cfg.Timeout,
	}
	if err := rv.validate(cfg.Issuer); err != nil {
		return nil, err
	}
	return rv, nil
}

func (rv *Revoker) validate(issuer string) error {
	if rv.timeout <= 0 {
		rv.timeout = defaultRevokeTimeout
	}
	if rv.client == nil {
		rv.client = &http.Client{Timeout: rv.timeout}
	}
	if rv.clientID == "" {
		return errors.New("RevokerConfig.ClientID is required")
	}
	if rv.method == "" {
		rv.method = ClientAuthNone
		if rv.secret != "" {
			rv.method = ClientSecretBasic
		}
	}
	switch rv.method {
	case ClientSecretBasic, ClientSecretPost:
		if rv.secret == "" {
			return fmt.Errorf("RevokerConfig.AuthMethod %s needs RevokerConfig.ClientSecret", rv.method)
		}
	case ClientAuthNone:
		if rv.secret != "" {
			return errors.New("RevokerConfig.AuthMethod none must not have a ClientSecret")
		}
	default:
		return fmt.Errorf("RevokerConfig.AuthMethod %q is not supported", rv.method)
	}
	return rv.validateEndpoint(issuer)
}

func (rv *Revoker) validateEndpoint(issuer string) error {
	switch {
	case rv.endpoint != "":
		if _, err := parseEndpoint(revocationEndpointName, rv.endpoint); err != nil {
			return fmt.Errorf("RevokerConfig.Endpoint: %w", unprefixed(err))
		}
	case issuer != "":
		if err := checkIssuer(issuer); err != nil {
			return fmt.Errorf("RevokerConfig.Issuer: %w", err)
		}
		rv.discovery = newDiscoverer(issuer, rv.client)
	default:
		return errors.New("RevokerConfig.Endpoint or RevokerConfig.Issuer is required")
	}
	return nil
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
	ep, err := rv.discovery.revocationEndpoint(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRevocation, unprefixed(err))
	}
	return ep, nil
}

// revocationEndpoint returns the discovered revocation_endpoint.
func (d *discoverer) revocationEndpoint(ctx context.Context) (string, error) {
	meta, err := d.metadata(ctx)
	if err != nil {
		return "", err
	}
	if meta.RevocationEndpoint == "" {
		return "", fmt.Errorf("provider %s has no revocation_endpoint", d.issuer)
	}
	if _, err := parseEndpoint(revocationEndpointName, meta.RevocationEndpoint); err != nil {
		return "", fmt.Errorf("%w: %w", ErrDiscovery, unprefixed(err))
	}
	return meta.RevocationEndpoint, nil
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
	endpoint, err := rv.Endpoint(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, rv.timeout)
	defer cancel()
	req, err := rv.newRequest(ctx, endpoint, token, tokenTypeHint)
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

// newRequest builds the revocation POST with the configured client
// authentication.
func (rv *Revoker) newRequest(ctx context.Context, endpoint, token, hint string) (*http.Request, error) {
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	switch rv.method {
	case ClientSecretPost:
		form.Set("client_id", rv.clientID)
		form.Set("client_secret", rv.secret)
	case ClientAuthNone:
		form.Set("client_id", rv.clientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRevocation, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if rv.method == ClientSecretBasic {
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

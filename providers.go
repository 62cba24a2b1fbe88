package logout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/oidc-logout/logout/internal/lru"
)

// DiscoveryCacheSize is how many looked-up providers (see
// [Config.LookupProvider]) a Middleware keeps, with their discovery
// documents; the least recently used one is dropped to make room. The
// providers of [Config.Providers] are kept apart and always cached.
const DiscoveryCacheSize = 256

// maxIssuerLength bounds the iss of a session's id_token that is looked
// up or logged.
const maxIssuerLength = 2048

// Provider is an OpenID provider the app signs users in with (or one
// tenant of a provider). Everything the middleware, token revocation and
// front-channel logout need of it is here; endpoints left empty are
// discovered from Issuer's .well-known/openid-configuration, once, and
// cached for an hour.
type Provider struct {
	// Issuer is the provider's issuer URL, the iss of the id_tokens it
	// issues. Required, except for an app's only provider when
	// EndSessionEndpoint is set and nothing else needs discovery.
	Issuer string
	// ClientID is the app's client_id at the provider. It is sent with
	// every logout, and needed for token revocation and for
	// Config.ProviderLogoutWithoutIDToken.
	ClientID string
	// ClientSecret authenticates the app to the revocation endpoint, with
	// HTTP Basic (client_secret_basic), or in the form body when the
	// provider's discovery document lists client_secret_post but not
	// client_secret_basic. Empty for a public client. It is never logged.
	ClientSecret string
	// EndSessionEndpoint is the provider's end_session_endpoint, an
	// absolute http(s) URL (for GenAuth, see [GenAuthEndpoint]). Default:
	// discovered.
	EndSessionEndpoint string
	// RevocationEndpoint is the provider's revocation_endpoint (RFC 7009),
	// used when Config.Revocation says so. Default: discovered.
	RevocationEndpoint string
	// PostLogoutRedirectURI is where the provider sends the browser back
	// after logout; it must be absolute and registered at the provider.
	// When set, a fresh state is sent with it and checked at the callback
	// (see Config.CallbackPath). When empty, the provider shows its own
	// page after logout.
	PostLogoutRedirectURI string
	// JWKSURI is the provider's jwks_uri, whose keys sign its back-channel
	// logout tokens (module backchannel). Default: discovered.
	JWKSURI string
	// SigningAlgorithms lists the JWS algorithms ("RS256", "ES256",
	// "EdDSA", ...) the provider signs back-channel logout tokens with;
	// the backchannel module refuses any other. "HS256" and its kin use
	// ClientSecret as the key. Default, in the backchannel module: RS256.
	SigningAlgorithms []string
}

// signingAlgorithms are the JWS algorithms (RFC 7518) a provider may sign
// back-channel logout tokens with; "none" is not one.
var signingAlgorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
}

// sameProvider reports whether a and b are the same provider, one
// trailing slash of the issuer aside.
func sameProvider(a, b Provider) bool {
	return issuerKey(a.Issuer) == issuerKey(b.Issuer) && a.ClientID == b.ClientID && a.ClientSecret == b.ClientSecret &&
		a.EndSessionEndpoint == b.EndSessionEndpoint && a.RevocationEndpoint == b.RevocationEndpoint &&
		a.PostLogoutRedirectURI == b.PostLogoutRedirectURI && a.JWKSURI == b.JWKSURI &&
		slices.Equal(a.SigningAlgorithms, b.SigningAlgorithms)
}

// provider is a validated Provider, with its discoverer (nil without
// Issuer) and, when token revocation is on, its Revoker.
type provider struct {
	Provider
	discovery *discoverer
	revoker   *Revoker // nil with NoRevocation
}

// endSessionEndpoint returns p's end-session endpoint: the configured one,
// or the discovered one.
func (p *provider) endSessionEndpoint(ctx context.Context) (string, error) {
	if p.EndSessionEndpoint != "" {
		return p.EndSessionEndpoint, nil
	}
	return p.discovery.endSessionEndpoint(ctx)
}

// providerSet holds the providers of an app: the configured ones, and
// those LookupProvider finds.
type providerSet struct {
	static map[string]*provider // by issuerKey
	// only is the provider of an app that configures exactly one and no
	// LookupProvider: every session goes to it, whatever its iss.
	only   *provider
	lookup func(context.Context, string) (Provider, bool)
	client *http.Client
	revoke bool // build a Revoker for each provider
	// callbackPath is the path of every post-logout redirect URI; ""
	// when there is no callback (then no provider may have a URI).
	callbackPath string
	// anyURIPath: Config.CallbackPath is set, and a post-logout redirect
	// URI may have any path (a proxy may rewrite paths).
	anyURIPath bool

	mu     sync.Mutex
	looked *lru.Cache[string, *provider] // by issuerKey, at most DiscoveryCacheSize
}

// setProviders validates Config.Providers and Config.LookupProvider, and
// the callback path their post-logout redirect URIs share.
func (m *Middleware) setProviders(cfg *Config) error {
	if len(cfg.Providers) == 0 && cfg.LookupProvider == nil {
		return errors.New("Config.Providers (or Config.LookupProvider) is required")
	}
	ps := &providerSet{
		static: make(map[string]*provider, len(cfg.Providers)), lookup: cfg.LookupProvider,
		client: cfg.HTTPClient, revoke: cfg.Revocation != NoRevocation,
		looked: lru.New[string, *provider](DiscoveryCacheSize),
	}
	if err := ps.setCallbackPath(cfg); err != nil {
		return err
	}
	for i, p := range cfg.Providers {
		rp, err := ps.resolve(p, len(cfg.Providers) == 1 && cfg.LookupProvider == nil, fmt.Sprintf("Config.Providers[%d]", i))
		if err != nil {
			return err
		}
		key := issuerKey(rp.Issuer)
		if _, dup := ps.static[key]; dup {
			return fmt.Errorf("Config.Providers[%d]: issuer %q is listed twice", i, p.Issuer)
		}
		ps.static[key] = rp
		ps.only = rp
	}
	if len(ps.static) != 1 || ps.lookup != nil {
		ps.only = nil
	}
	switch {
	case !cfg.ProviderLogoutWithoutIDToken:
	case ps.only == nil:
		return errors.New("Config.ProviderLogoutWithoutIDToken needs a single provider: without an id_token there is no issuer to pick one")
	case ps.only.ClientID == "":
		return errors.New("Config.ProviderLogoutWithoutIDToken needs the provider's ClientID")
	}
	m.providers = ps
	return nil
}

// setCallbackPath sets the path the providers' post-logout redirect URIs
// share: Config.CallbackPath, or the path of the first configured one.
func (ps *providerSet) setCallbackPath(cfg *Config) error {
	cb, err := callbackPath(cfg)
	if err != nil || cb == "" {
		return err
	}
	if logoutPath := orDefault(cfg.Path, "/logout"); !strings.HasPrefix(cb, "/") || cb == logoutPath {
		return fmt.Errorf("the callback path %q (Config.CallbackPath, or the path of the PostLogoutRedirectURI) must start with / and differ from the logout path %q: the provider must send the user back elsewhere", cb, logoutPath)
	}
	ps.callbackPath, ps.anyURIPath = cb, cfg.CallbackPath != ""
	return nil
}

// callbackPath returns Config.CallbackPath, or the path of the first
// provider's post-logout redirect URI; "" when there is no callback.
func callbackPath(cfg *Config) (string, error) {
	if cfg.CallbackPath != "" {
		if cfg.LookupProvider == nil && !slices.ContainsFunc(cfg.Providers, func(p Provider) bool { return p.PostLogoutRedirectURI != "" }) {
			return "", errors.New("Config.CallbackPath needs a provider's PostLogoutRedirectURI")
		}
		return cfg.CallbackPath, nil
	}
	for i, p := range cfg.Providers {
		if p.PostLogoutRedirectURI == "" {
			continue
		}
		u, err := parsePostLogoutURI(p.PostLogoutRedirectURI)
		if err != nil {
			return "", fmt.Errorf("Config.Providers[%d].PostLogoutRedirectURI: %w", i, err)
		}
		return orDefault(u.Path, "/"), nil
	}
	return "", nil
}

// resolve validates p, which errors call name. only says whether it is
// the app's only provider, which may go without Issuer when its
// end-session endpoint is set.
func (ps *providerSet) resolve(p Provider, only bool, name string) (*provider, error) {
	rp := &provider{Provider: p}
	switch {
	case p.Issuer != "":
		if err := checkIssuer(p.Issuer); err != nil {
			return nil, fmt.Errorf("%s.Issuer: %w", name, err)
		}
		rp.discovery = newDiscoverer(p.Issuer, ps.client)
	case !only:
		return nil, fmt.Errorf("%s.Issuer is required with several providers or Config.LookupProvider", name)
	case p.EndSessionEndpoint == "":
		return nil, fmt.Errorf("%s.EndSessionEndpoint or Issuer is required", name)
	}
	for _, ep := range []struct{ name, field, raw string }{
		{endSessionEndpointName, "EndSessionEndpoint", p.EndSessionEndpoint},
		{revocationEndpointName, "RevocationEndpoint", p.RevocationEndpoint},
		{jwksURIName, "JWKSURI", p.JWKSURI},
	} {
		if ep.raw == "" {
			continue
		}
		if _, err := parseEndpoint(ep.name, ep.raw); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", name, ep.field, unprefixed(err))
		}
	}
	for _, alg := range p.SigningAlgorithms {
		if !slices.Contains(signingAlgorithms, alg) {
			return nil, fmt.Errorf("%s.SigningAlgorithms: %q is not a JWS signing algorithm (want one of %s)", name, alg, strings.Join(signingAlgorithms, ", "))
		}
	}
	if err := ps.checkPostLogout(p.PostLogoutRedirectURI); err != nil {
		return nil, fmt.Errorf("%s.PostLogoutRedirectURI%w", name, err)
	}
	if ps.revoke {
		rv, err := newRevoker(p, rp.discovery, ps.client, name)
		if err != nil {
			return nil, err
		}
		rp.revoker = rv
	}
	return rp, nil
}

// checkPostLogout checks a provider's post-logout redirect URI: absolute,
// without fragment, and leading to the callback path. Its errors follow
// the field's name.
func (ps *providerSet) checkPostLogout(raw string) error {
	if raw == "" {
		return nil
	}
	if ps.callbackPath == "" {
		return errors.New(" needs Config.CallbackPath, or a configured provider's PostLogoutRedirectURI")
	}
	u, err := parsePostLogoutURI(raw)
	if err != nil {
		return fmt.Errorf(": %w", err)
	}
	if !ps.anyURIPath && orDefault(u.Path, "/") != ps.callbackPath {
		return fmt.Errorf(" %q must lead to the callback path %q", raw, ps.callbackPath)
	}
	return nil
}

// parsePostLogoutURI parses a post-logout redirect URI, which must be an
// absolute URL with a host and without fragment.
func parsePostLogoutURI(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must be an absolute URL without fragment", raw)
	}
	return u, nil
}

// find returns the provider of issuer: a configured one, or one that
// LookupProvider finds (which must name the issuer it was asked for); nil
// when there is none.
func (ps *providerSet) find(ctx context.Context, issuer string) (*provider, error) {
	if issuer == "" || len(issuer) > maxIssuerLength {
		return nil, nil
	}
	key := issuerKey(issuer)
	if p, ok := ps.static[key]; ok {
		return p, nil
	}
	if ps.lookup == nil {
		return nil, nil
	}
	found, ok := ps.lookup(ctx, issuer)
	if !ok {
		return nil, nil
	}
	if issuerKey(found.Issuer) != key {
		return nil, fmt.Errorf("%w: Config.LookupProvider returned issuer %q for %q", ErrUnknownProvider, found.Issuer, issuer)
	}
	return ps.cached(found)
}

// cached returns the cached provider made of a looked-up p, making one
// (and dropping the least recently used beyond DiscoveryCacheSize) when
// there is none or p changed, so that its discovery document is fetched
// once.
func (ps *providerSet) cached(p Provider) (*provider, error) {
	key := issuerKey(p.Issuer)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if rp, ok := ps.looked.Get(key); ok && sameProvider(rp.Provider, p) {
		return rp, nil
	}
	rp, err := ps.resolve(p, false, "Config.LookupProvider returned an invalid Provider")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownProvider, unprefixed(err))
	}
	ps.looked.Put(key, rp)
	return rp, nil
}

// cachedProviders reports how many looked-up providers are cached.
func (ps *providerSet) cachedProviders() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.looked.Len()
}

// sessionProvider returns the provider that a logout of the session whose
// id_token is idToken goes to, or nil for a local-only logout. With a
// single provider it is that provider. With several it is the one whose
// issuer is the id_token's iss (read without verification: the token
// comes from the app's own session); a session without id_token, or
// whose issuer is not configured, is logged out locally, and logged.
func (m *Middleware) sessionProvider(r *http.Request, idToken string) (*provider, error) {
	if only := m.providers.only; only != nil {
		return only, nil
	}
	if idToken == "" {
		return nil, nil
	}
	iss := idTokenClaims(idToken, false).Issuer
	p, err := m.providers.find(r.Context(), iss)
	if err != nil {
		return nil, err
	}
	if p == nil {
		if len(iss) > maxIssuerLength {
			iss = iss[:maxIssuerLength]
		}
		m.logger.LogAttrs(r.Context(), slog.LevelWarn, "logout: the session's issuer is not a configured provider; local logout",
			slog.String("iss", iss))
	}
	return p, nil
}

// Discover returns the provider whose issuer is issuer (configured, or
// found by Config.LookupProvider), with the endpoints it left empty filled
// in from its discovery document: end-session, revocation and jwks_uri.
// With a single provider, issuer may be "". Call it at start-up to fetch
// the discovery document before the first logout and to find a
// misconfigured provider early; New does no network I/O. It fails with
// ErrUnknownProvider for an issuer that is not a provider of the app,
// with ErrDiscovery when the document cannot be fetched or holds an
// invalid endpoint, and with ErrNoEndSessionEndpoint when the provider
// has no end-session endpoint. On a failure of discovery, the Provider it
// returns holds what is configured and was found.
func (m *Middleware) Discover(ctx context.Context, issuer string) (Provider, error) {
	p := m.providers.only
	if issuer != "" || p == nil {
		var err error
		if p, err = m.providers.find(ctx, issuer); err != nil {
			return Provider{}, err
		}
	}
	if p == nil {
		return Provider{}, fmt.Errorf("%w: %q", ErrUnknownProvider, issuer)
	}
	found := p.Provider
	if p.discovery != nil && (found.EndSessionEndpoint == "" || found.RevocationEndpoint == "" || found.JWKSURI == "") {
		meta, err := p.discovery.metadata(ctx)
		if err != nil {
			return found, err
		}
		for _, f := range []struct {
			dst        *string
			name, meta string
		}{
			{&found.EndSessionEndpoint, endSessionEndpointName, meta.EndSessionEndpoint},
			{&found.RevocationEndpoint, revocationEndpointName, meta.RevocationEndpoint},
			{&found.JWKSURI, jwksURIName, meta.JWKSURI},
		} {
			if *f.dst != "" {
				continue
			}
			if *f.dst, err = checkDiscovered(f.name, f.meta); err != nil {
				return found, err
			}
		}
	}
	if found.EndSessionEndpoint == "" {
		return found, fmt.Errorf("%w (issuer %s)", ErrNoEndSessionEndpoint, found.Issuer)
	}
	return found, nil
}

// knownIssuer reports whether issuer is a provider's, for a front-channel
// logout request.
func (m *Middleware) knownIssuer(ctx context.Context, issuer string) bool {
	p, err := m.providers.find(ctx, issuer)
	return err == nil && p != nil
}

// defaultIssuer is the issuer of the app's only provider, for sessions
// whose claims name none; "" with several.
func (ps *providerSet) defaultIssuer() string {
	if ps.only == nil {
		return ""
	}
	return ps.only.Issuer
}

// allHTTPS reports whether every configured post-logout redirect URI is
// https (true when there is none): the state cookie is then Secure.
func (ps *providerSet) allHTTPS() bool {
	for _, p := range ps.static {
		if p.PostLogoutRedirectURI != "" && !strings.HasPrefix(p.PostLogoutRedirectURI, "https:") {
			return false
		}
	}
	return true
}

package logout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/oidc-logout/logout/internal/lru"
)

// DiscoveryCacheSize is how many looked-up providers' discovery documents
// (see [Config.LookupProvider]) a Middleware keeps; the least recently
// used one is dropped to make room. The providers of [Config.Providers]
// are kept apart and always cached.
const DiscoveryCacheSize = 256

// maxIssuerLength bounds the iss of a session's id_token that is looked
// up or logged.
const maxIssuerLength = 2048

// Provider is one OpenID provider (or one tenant of a provider) of an app
// that has several: see [Config.Providers] and [Config.LookupProvider].
// Issuer is required; the rest defaults as for a single provider.
type Provider struct {
	// Issuer is the provider's issuer URL, the iss of the id_tokens it
	// issues; a session whose id_token names it is logged out here. When
	// EndSessionEndpoint is empty, the endpoint is discovered from it.
	Issuer string
	// EndSessionEndpoint is the provider's end_session_endpoint. Default:
	// discovered from Issuer.
	EndSessionEndpoint string
	// ClientID is the app's client_id at this provider. Default
	// Config.ClientID.
	ClientID string
	// PostLogoutRedirectURI is the URI registered at this provider.
	// Default Config.PostLogoutRedirectURI. It needs a callback: its path
	// must be that of Config.PostLogoutRedirectURI, unless
	// Config.CallbackPath is set.
	PostLogoutRedirectURI string
	// Revoker, when set, revokes the session's tokens at this provider at
	// logout; it needs Config.Revocation, whose Revoker must then be nil.
	// Its client must be ClientID.
	Revoker *Revoker
}

// provider is a validated Provider, or the single provider of the
// top-level Config fields.
type provider struct {
	issuer     string
	endpoint   string      // static end-session endpoint, or "" to discover
	discovery  *discoverer // nil when endpoint is set, or looked up (see providerSet.discoverer)
	clientID   string
	postLogout string
	revoker    *Revoker
}

// providerSet holds the providers of an app with several.
type providerSet struct {
	static map[string]*provider // by issuer without trailing slash
	lookup func(context.Context, string) (Provider, bool)
	client *http.Client

	defClientID, defPostLogout string
	// callbackPath is the path every post-logout redirect URI must have;
	// "" when Config.CallbackPath is set (a proxy may rewrite paths) or
	// there is no callback (then no provider may have a URI).
	callbackPath string
	hasCallback  bool

	mu     sync.Mutex
	looked *lru.Cache[string, *discoverer] // by issuerKey, at most DiscoveryCacheSize
}

// setProviders validates Config.Providers and Config.LookupProvider, if
// any: with them, the top-level Issuer and EndSessionEndpoint stay empty,
// and ClientID and PostLogoutRedirectURI are the providers' defaults.
func (m *Middleware) setProviders(cfg *Config) error {
	if len(cfg.Providers) == 0 && cfg.LookupProvider == nil {
		return nil
	}
	switch {
	case cfg.Issuer != "" || cfg.EndSessionEndpoint != "":
		return errors.New("Config.Issuer and Config.EndSessionEndpoint must be empty with Config.Providers or Config.LookupProvider")
	case cfg.ProviderLogoutWithoutIDToken:
		return errors.New("Config.ProviderLogoutWithoutIDToken needs a single provider: without an id_token there is no issuer to pick one")
	}
	ps := &providerSet{
		static: make(map[string]*provider, len(cfg.Providers)), lookup: cfg.LookupProvider, client: cfg.HTTPClient,
		defClientID: cfg.ClientID, defPostLogout: cfg.PostLogoutRedirectURI,
		hasCallback: cfg.CallbackPath != "" || cfg.PostLogoutRedirectURI != "",
		looked:      lru.New[string, *discoverer](DiscoveryCacheSize),
	}
	if u, err := postLogoutURL(cfg); err == nil && u != nil && cfg.CallbackPath == "" {
		ps.callbackPath = orDefault(u.Path, "/")
	}
	for i, p := range cfg.Providers {
		rp, err := ps.resolve(p)
		if err == nil && rp.revoker != nil && (cfg.Revocation == nil || cfg.Revocation.Revoker != nil) {
			err = errors.New("a Revoker needs Config.Revocation without a Revoker of its own")
		}
		if err != nil {
			return fmt.Errorf("Config.Providers[%d]: %w", i, err)
		}
		key := issuerKey(rp.issuer)
		if _, dup := ps.static[key]; dup {
			return fmt.Errorf("Config.Providers[%d]: issuer %q is listed twice", i, p.Issuer)
		}
		if rp.endpoint == "" {
			rp.discovery = newDiscoverer(rp.issuer, cfg.HTTPClient)
		}
		ps.static[key] = rp
	}
	m.providers = ps
	return nil
}

// resolve validates p and fills in the defaults.
func (ps *providerSet) resolve(p Provider) (*provider, error) {
	if err := checkIssuer(p.Issuer); err != nil {
		return nil, fmt.Errorf("Provider.Issuer: %w", err)
	}
	if p.EndSessionEndpoint != "" {
		if _, err := parseEndpoint(endSessionEndpointName, p.EndSessionEndpoint); err != nil {
			return nil, fmt.Errorf("Provider.EndSessionEndpoint: %w", unprefixed(err))
		}
	}
	rp := &provider{
		issuer: p.Issuer, endpoint: p.EndSessionEndpoint, revoker: p.Revoker,
		clientID: orDefault(p.ClientID, ps.defClientID), postLogout: orDefault(p.PostLogoutRedirectURI, ps.defPostLogout),
	}
	if err := ps.checkPostLogout(rp.postLogout); err != nil {
		return nil, err
	}
	if rp.revoker != nil && rp.revoker.clientID != rp.clientID {
		return nil, errors.New("the Revoker's client is not the provider's ClientID")
	}
	return rp, nil
}

// checkPostLogout checks a provider's post-logout redirect URI: absolute,
// without fragment, and leading to the callback path.
func (ps *providerSet) checkPostLogout(raw string) error {
	if raw == "" {
		return nil
	}
	if !ps.hasCallback {
		return errors.New("a PostLogoutRedirectURI needs Config.CallbackPath or Config.PostLogoutRedirectURI")
	}
	u, err := parsePostLogoutURI("Provider.PostLogoutRedirectURI", raw)
	if err != nil {
		return err
	}
	if ps.callbackPath != "" && orDefault(u.Path, "/") != ps.callbackPath {
		return fmt.Errorf("Provider.PostLogoutRedirectURI %q must lead to the callback path %q (or set Config.CallbackPath)", raw, ps.callbackPath)
	}
	return nil
}

// find returns the configured provider of issuer, or nil. A looked-up
// provider must name the issuer it was asked for.
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
	p, err := ps.resolve(found)
	if err != nil {
		return nil, fmt.Errorf("%w: Config.LookupProvider: %w", ErrUnknownProvider, unprefixed(err))
	}
	if p.endpoint == "" {
		p.discovery = ps.discoverer(p.issuer)
	}
	return p, nil
}

// discoverer returns the cached discoverer of a looked-up issuer, making
// one (and dropping the least recently used beyond DiscoveryCacheSize)
// when there is none.
func (ps *providerSet) discoverer(issuer string) *discoverer {
	key := issuerKey(issuer)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if d, ok := ps.looked.Get(key); ok {
		return d
	}
	d := newDiscoverer(issuer, ps.client)
	ps.looked.Put(key, d)
	return d
}

// cachedDiscoveries reports how many looked-up providers' discoverers are
// cached.
func (ps *providerSet) cachedDiscoveries() int {
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
	if m.providers == nil {
		return m.singleProvider, nil
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

// EndSessionEndpointFor returns the end-session endpoint of the provider
// whose issuer is issuer: the configured one, or the discovered one. With
// a single provider, issuer must be Config.Issuer (or empty). It fails
// with ErrUnknownProvider for an issuer that is not configured.
func (m *Middleware) EndSessionEndpointFor(ctx context.Context, issuer string) (string, error) {
	if m.providers == nil {
		if issuer != "" && issuerKey(issuer) != issuerKey(m.singleProvider.issuer) {
			return "", fmt.Errorf("%w: %q", ErrUnknownProvider, issuer)
		}
		return m.EndSessionEndpoint(ctx)
	}
	p, err := m.providers.find(ctx, issuer)
	switch {
	case err != nil:
		return "", err
	case p == nil:
		return "", fmt.Errorf("%w: %q", ErrUnknownProvider, issuer)
	}
	return p.endSessionEndpoint(ctx)
}

// endSessionEndpoint returns p's end-session endpoint.
func (p *provider) endSessionEndpoint(ctx context.Context) (string, error) {
	if p.endpoint != "" {
		return p.endpoint, nil
	}
	return p.discovery.endSessionEndpoint(ctx)
}

// knownIssuer reports whether issuer is a configured provider's, for a
// front-channel logout request.
func (m *Middleware) knownIssuer(ctx context.Context, issuer string) bool {
	if m.providers == nil {
		return issuerKey(issuer) == issuerKey(m.singleProvider.issuer)
	}
	p, err := m.providers.find(ctx, issuer)
	return err == nil && p != nil
}

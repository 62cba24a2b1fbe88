package backchannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidc-logout/logout/internal/lru"
)

// ProviderCacheSize is how many looked-up providers (see
// Config.LookupProvider), with their keys, a Handler keeps; the least
// recently used one is dropped to make room. The providers of
// Config.Providers are kept apart and always cached.
const ProviderCacheSize = 256

// maxIssuerLength bounds the iss that is looked up.
const maxIssuerLength = 2048

// Provider is one provider (or tenant) of an app that has several: see
// Config.Providers. Issuer and ClientID are required; the other fields
// mean what Config's fields of the same names mean for a single provider.
type Provider struct {
	// Issuer is compared exactly with the token's iss, and used to
	// discover jwks_uri.
	Issuer string
	// ClientID is the app's client_id at this provider, which the
	// token's aud must contain.
	ClientID string
	// JWKSURI is this provider's JWKS URL. Default: discovered.
	JWKSURI string
	// Algorithms are the signature algorithms of this client's logout
	// tokens. Default DefaultAlgorithms.
	Algorithms []jose.SignatureAlgorithm
	// ClientSecret is this client's secret, the key of HMAC-signed tokens.
	ClientSecret string
}

// verifier checks the tokens of one provider.
type verifier struct {
	issuer, clientID string
	algs             []jose.SignatureAlgorithm
	secret           []byte // the HMAC key; nil unless an HS* algorithm is accepted
	keys             *keySource
	from             Provider // what it was made of, to notice a looked-up provider's change
}

// keyConfig is what every provider's keySource shares.
type keyConfig struct {
	client     *http.Client
	timeout    time.Duration
	minRefresh time.Duration
	now        func() time.Time
}

// newVerifier validates p and returns its verifier.
func newVerifier(p Provider, kc keyConfig) (*verifier, error) {
	if p.Issuer == "" || p.ClientID == "" {
		return nil, errors.New("an issuer and a client_id are required")
	}
	if u, err := url.Parse(p.Issuer); err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("issuer %q is not an absolute URL", p.Issuer)
	}
	algs, secret, err := checkAlgorithms(p.Algorithms, p.ClientSecret)
	if err != nil {
		return nil, err
	}
	p.Algorithms = algs
	return &verifier{
		issuer: p.Issuer, clientID: p.ClientID, algs: algs, secret: secret, from: p,
		keys: &keySource{
			issuer: p.Issuer, jwksURI: p.JWKSURI, client: kc.client, timeout: kc.timeout,
			minRefresh: kc.minRefresh, now: kc.now,
		},
	}, nil
}

// sameProvider reports whether a and b configure a provider alike.
func sameProvider(a, b Provider) bool {
	return a.Issuer == b.Issuer && a.ClientID == b.ClientID && a.JWKSURI == b.JWKSURI &&
		a.ClientSecret == b.ClientSecret && slices.Equal(a.Algorithms, b.Algorithms)
}

// verifierSet holds the providers of an app with several.
type verifierSet struct {
	static map[string]*verifier // by exact issuer
	lookup func(context.Context, string) (Provider, bool)
	kc     keyConfig

	mu     sync.Mutex
	looked *lru.Cache[string, *verifier] // by exact issuer, at most ProviderCacheSize
}

// setProviders sets up Config.Providers and Config.LookupProvider.
func (h *Handler) setProviders(cfg *Config, kc keyConfig) error {
	if cfg.Issuer != "" || cfg.ClientID != "" || cfg.JWKSURI != "" || len(cfg.Algorithms) > 0 || cfg.ClientSecret != "" {
		return errors.New("Config.Issuer, ClientID, JWKSURI, Algorithms and ClientSecret must be empty with Config.Providers or Config.LookupProvider")
	}
	vs := &verifierSet{
		static: make(map[string]*verifier, len(cfg.Providers)), lookup: cfg.LookupProvider, kc: kc,
		looked: lru.New[string, *verifier](ProviderCacheSize),
	}
	for i, p := range cfg.Providers {
		v, err := newVerifier(p, kc)
		if err != nil {
			return fmt.Errorf("Config.Providers[%d]: %w", i, err)
		}
		if _, dup := vs.static[v.issuer]; dup {
			return fmt.Errorf("Config.Providers[%d]: issuer %q is listed twice", i, v.issuer)
		}
		vs.static[v.issuer] = v
		for _, a := range v.algs {
			if !slices.Contains(h.parseAlgs, a) {
				h.parseAlgs = append(h.parseAlgs, a)
			}
		}
	}
	if cfg.LookupProvider != nil {
		// A looked-up provider may accept any algorithm a logout token
		// may use; each token is then held to its provider's.
		h.parseAlgs = append(slices.Clone(asymmetricAlgorithms), jose.HS256, jose.HS384, jose.HS512)
	}
	h.providers = vs
	return nil
}

// verifierFor returns the verifier of the provider that must have signed
// jws: the single provider, or the one whose issuer is the iss of jws's
// payload, read before its signature is checked (the signature is then
// checked with that provider's keys only, and the claims with its issuer
// and client_id).
func (h *Handler) verifierFor(ctx context.Context, jws *jose.JSONWebSignature) (*verifier, error) {
	if h.providers == nil {
		return &h.verifier, nil
	}
	// A quick read: checkClaimsOf reads the verified claims strictly and
	// refuses a token whose exact iss is not the picked provider's.
	var claims struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims) != nil {
		return nil, invalid("claims: not a JSON object with a string iss")
	}
	iss := claims.Iss
	v, err := h.providers.find(ctx, iss)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, invalid("iss %q is not a configured provider's issuer", truncate(iss))
	}
	return v, nil
}

// truncate shortens an untrusted string for an error message.
func truncate(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

// find returns the verifier of issuer, or nil when it is not a provider
// of the app. A looked-up provider that is invalid, or of another issuer,
// is an error wrapping ErrKeys: the handler answers 502, and the provider
// may retry once the app's data is fixed.
func (vs *verifierSet) find(ctx context.Context, issuer string) (*verifier, error) {
	if v, ok := vs.static[issuer]; ok {
		return v, nil
	}
	if vs.lookup == nil || issuer == "" || len(issuer) > maxIssuerLength {
		return nil, nil
	}
	p, ok := vs.lookup(ctx, issuer)
	if !ok {
		return nil, nil
	}
	if p.Issuer != issuer {
		return nil, fmt.Errorf("%w: Config.LookupProvider returned another issuer", ErrKeys)
	}
	return vs.cached(p)
}

// cached returns the cached verifier of a looked-up provider p, made anew
// when p changed, and drops the least recently used beyond
// ProviderCacheSize.
func (vs *verifierSet) cached(p Provider) (*verifier, error) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if v, ok := vs.looked.Get(p.Issuer); ok {
		if sameProvider(v.from, withDefaultAlgorithms(p)) {
			return v, nil
		}
		vs.looked.Remove(p.Issuer)
	}
	v, err := newVerifier(p, vs.kc)
	if err != nil {
		return nil, fmt.Errorf("%w: Config.LookupProvider returned an invalid provider: %w", ErrKeys, err)
	}
	vs.looked.Put(p.Issuer, v)
	return v, nil
}

// withDefaultAlgorithms returns p with DefaultAlgorithms when it names none,
// as newVerifier keeps it.
func withDefaultAlgorithms(p Provider) Provider {
	if len(p.Algorithms) == 0 {
		p.Algorithms = DefaultAlgorithms
	}
	return p
}

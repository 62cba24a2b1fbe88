package backchannel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/backchannel/internal/lru"
)

// ProviderCacheSize is how many providers' verifiers, with their keys, a
// Handler keeps; the least recently used one is dropped to make room.
const ProviderCacheSize = 256

// verifier checks the tokens of one provider.
type verifier struct {
	issuer, clientID string
	algs             []jose.SignatureAlgorithm
	secret           []byte // the HMAC key; nil unless an HS* algorithm is accepted
	keys             *keySource
	from             logout.Provider // what it was made of, to notice a provider's change
}

// keyConfig is what every provider's keySource shares.
type keyConfig struct {
	client     *http.Client
	timeout    time.Duration
	minRefresh time.Duration
	now        func() time.Time
}

// newVerifier validates what the backchannel handler needs of p (its
// issuer, client_id, algorithms and, for HMAC, client secret) and returns
// its verifier.
func newVerifier(p logout.Provider, kc keyConfig) (*verifier, error) {
	if p.Issuer == "" || p.ClientID == "" {
		return nil, errors.New("an issuer and a client_id are required")
	}
	var algs []jose.SignatureAlgorithm // DefaultAlgorithms when p names none
	for _, n := range p.SigningAlgorithms {
		algs = append(algs, jose.SignatureAlgorithm(n))
	}
	algs, secret, err := checkAlgorithms(algs, p.ClientSecret)
	if err != nil {
		return nil, err
	}
	return &verifier{
		issuer: p.Issuer, clientID: p.ClientID, algs: algs, secret: secret, from: p,
		keys: &keySource{
			jwksURI: p.JWKSURI, client: kc.client, timeout: kc.timeout,
			minRefresh: kc.minRefresh, now: kc.now,
		},
	}, nil
}

// issuerKey is the rule by which issuers are compared: one trailing slash
// aside, as the logout middleware and the Ledger's keys compare them.
func issuerKey(issuer string) string { return strings.TrimSuffix(issuer, "/") }

// sameProvider reports whether a and b configure a verifier alike.
func sameProvider(a, b logout.Provider) bool {
	return issuerKey(a.Issuer) == issuerKey(b.Issuer) && a.ClientID == b.ClientID && a.JWKSURI == b.JWKSURI &&
		a.ClientSecret == b.ClientSecret && slices.Equal(a.SigningAlgorithms, b.SigningAlgorithms)
}

// verifierSet caches a verifier, with its keys, per provider.
type verifierSet struct {
	kc keyConfig

	mu    sync.Mutex
	cache *lru.Cache[string, *verifier] // by issuerKey, at most ProviderCacheSize
}

func newVerifierSet(kc keyConfig) *verifierSet {
	return &verifierSet{kc: kc, cache: lru.New[string, *verifier](ProviderCacheSize)}
}

// verifierFor returns the verifier of the provider that must have signed
// jws: the one the middleware finds for the iss of jws's payload, read
// before its signature is checked (the signature is then checked with
// that provider's keys only, and the claims with its issuer and
// client_id).
func (h *Handler) verifierFor(ctx context.Context, jws *jose.JSONWebSignature) (picked, error) {
	// Read as strictly as checkClaimsOf reads the verified claims: iss
	// by its exact name, a name twice refused, so that the provider picked
	// is the one whose issuer the verified claims must name.
	c, err := parseClaimSet(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return picked{}, invalid("claims: %v", err)
	}
	iss, _, err := c.str("iss")
	if err != nil {
		return picked{}, err
	}
	if iss == "" {
		// With a single provider, Discover("") would return it.
		return picked{}, invalid(`iss "" is not a configured provider's issuer`)
	}
	// Discover finds the provider (ErrUnknownProvider, with no Provider,
	// when there is none), then fills its endpoints from its discovery
	// document; on a failure of discovery, or without an end-session
	// endpoint, the Provider is still the one configured or found.
	p, err := h.mw.Discover(ctx, iss)
	var keysErr error
	switch {
	case err == nil, errors.Is(err, logout.ErrNoEndSessionEndpoint):
	case errors.Is(err, logout.ErrUnknownProvider), p.Issuer == "":
		return picked{}, invalid("iss %q is not a configured provider's issuer", truncate(iss))
	case p.JWKSURI == "":
		keysErr = fmt.Errorf("%w: %w", ErrKeys, err)
	}
	v, err := h.providers.cached(p)
	if err != nil {
		return picked{}, err
	}
	return picked{v, keysErr, c}, nil
}

// picked is the verifier of a token's provider and, when its jwks_uri is
// unknown because discovery failed, why: a token signed with a JWKS key
// is then refused with that error, which wraps ErrKeys. claims are the
// token's, read strictly, to be checked once its signature is.
type picked struct {
	*verifier
	noKeys error
	claims claimSet
}

// truncate shortens an untrusted string for an error message.
func truncate(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

// cached returns the cached verifier of p, made anew when p changed (its
// keys are then fetched again), and drops the least recently used beyond
// ProviderCacheSize. A provider the handler cannot use (no client_id, an
// HMAC algorithm without a long enough client secret) is an error
// wrapping ErrKeys: the handler answers 502, and the provider may retry
// once the app's configuration is fixed.
func (vs *verifierSet) cached(p logout.Provider) (*verifier, error) {
	key := issuerKey(p.Issuer)
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if v, ok := vs.cache.Get(key); ok {
		if sameProvider(v.from, p) {
			return v, nil
		}
		vs.cache.Remove(key)
	}
	v, err := newVerifier(p, vs.kc)
	if err != nil {
		return nil, fmt.Errorf("%w: provider %s cannot verify logout tokens: %w", ErrKeys, p.Issuer, err)
	}
	vs.cache.Put(key, v)
	return v, nil
}

// len reports how many verifiers are cached.
func (vs *verifierSet) len() int {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return vs.cache.Len()
}

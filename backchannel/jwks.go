package backchannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// jwksCacheTTL is how long a key set is used before it is fetched again.
const jwksCacheTTL = time.Hour

// ErrKeys means the provider's signing keys could not be fetched.
var ErrKeys = errors.New("backchannel: fetching the provider's keys failed")

// keySource fetches and caches a provider's JWKS. The set is refetched
// when it is older than jwksCacheTTL, and when a token names a key that is
// not in it; either fetch is tried at most once every minRefresh, so that
// tokens, with made-up key ids or while the provider is down, cannot make
// the handler hammer the provider, nor each wait for a failing fetch.
// Until a first set is fetched, each token tries.
type keySource struct {
	jwksURI    string // "" when the provider has none
	client     *http.Client
	timeout    time.Duration
	minRefresh time.Duration
	now        func() time.Time

	mu        sync.Mutex
	keys      *jose.JSONWebKeySet
	fetchedAt time.Time
	triedAt   time.Time
}

// lookup returns the signing keys that may have signed a token with the
// given kid (all signing keys when kid is empty), refreshing the set when
// it is stale or when kid is unknown and the rate limit allows.
func (s *keySource) lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	stale := now.Sub(s.fetchedAt) >= jwksCacheTTL && now.Sub(s.triedAt) >= s.minRefresh
	if s.keys == nil || stale {
		if err := s.refresh(ctx, now); err != nil && s.keys == nil {
			return nil, err
		}
	}
	if found := matchKeys(s.keys, kid); len(found) > 0 || kid == "" {
		return found, nil
	}
	if now.Sub(s.triedAt) < s.minRefresh {
		return nil, nil
	}
	if err := s.refresh(ctx, now); err != nil {
		return nil, err
	}
	return matchKeys(s.keys, kid), nil
}

// refresh fetches the set; on failure the last good set stays in use.
func (s *keySource) refresh(ctx context.Context, now time.Time) error {
	s.triedAt = now
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.jwksURI == "" {
		return fmt.Errorf("%w: the provider has no jwks_uri", ErrKeys)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, s.client, s.jwksURI, &doc); err != nil {
		return fmt.Errorf("%w: %w", ErrKeys, err)
	}
	s.keys, s.fetchedAt = readKeys(doc.Keys), now
	return nil
}

// readKeys returns the keys of a JWKS that can be read. A key of a type
// or curve that go-jose does not support, or that lacks a member, is
// left out, not the whole set (RFC 7517, section 5): one such key, say an
// X25519 encryption key, must not stop the signing keys next to it from
// being used.
func readKeys(raw []json.RawMessage) *jose.JSONWebKeySet {
	set := &jose.JSONWebKeySet{}
	for _, r := range raw {
		var k jose.JSONWebKey
		if json.Unmarshal(r, &k) == nil {
			set.Keys = append(set.Keys, k)
		}
	}
	return set
}

// matchKeys returns the public signing keys of set with the given kid, or
// all of them when kid is empty.
func matchKeys(set *jose.JSONWebKeySet, kid string) []jose.JSONWebKey {
	if set == nil {
		return nil
	}
	var out []jose.JSONWebKey
	for _, k := range set.Keys {
		if (kid != "" && k.KeyID != kid) || (k.Use != "" && k.Use != "sig") || !k.IsPublic() || !k.Valid() {
			continue
		}
		out = append(out, k)
	}
	return out
}

// maxJWKSBytes bounds a key set: 1 MiB is far more than any real one.
const maxJWKSBytes = 1 << 20

// getJSON GETs url with client and decodes its body, at most maxJWKSBytes
// of JSON, into dst. Any status but 200 is an error.
func getJSON(ctx context.Context, client *http.Client, url string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", url, err)
	}
	if len(data) > maxJWKSBytes {
		return fmt.Errorf("%s is larger than %d bytes", url, maxJWKSBytes)
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return fmt.Errorf("decoding %s: %w", url, err)
	}
	return nil
}

package logout

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/oidc-logout/logout/internal/oidcdoc"
)

// Discovery limits.
const (
	discoveryCacheTTL     = time.Hour
	discoveryRetryBackoff = 5 * time.Second
	defaultHTTPTimeout    = 10 * time.Second
	// defaultDiscoveryWait bounds how long a logout waits for discovery
	// (the session is cleared by then): a hanging provider must not hold
	// the user for the HTTP client's whole timeout.
	defaultDiscoveryWait = 3 * time.Second
)

// providerMetadata is the part of a discovery document that logout uses.
type providerMetadata = oidcdoc.Metadata

// discoverer fetches and caches a provider's discovery document. A document
// is cached for discoveryCacheTTL. Refreshing a stale document happens
// outside the lock, in one caller, while the others go on with the last
// good document, which also stays in use when the refresh fails. Without
// any document, the first fetch holds the lock so that concurrent callers
// share it, and failures are retried at most once every
// discoveryRetryBackoff.
type discoverer struct {
	issuer  string
	client  *http.Client
	timeout time.Duration
	now     func() time.Time

	mu         sync.Mutex
	meta       *providerMetadata
	expires    time.Time
	lastErr    error
	retryFrom  time.Time
	refreshing bool
}

// newDiscoverer returns a discoverer for issuer. Each request is bounded
// by client's timeout, or defaultHTTPTimeout when client has none; a nil
// client is one with defaultHTTPTimeout.
func newDiscoverer(issuer string, client *http.Client) *discoverer {
	timeout := defaultHTTPTimeout
	switch {
	case client == nil:
		client = &http.Client{Timeout: timeout}
	case client.Timeout > 0:
		timeout = client.Timeout
	}
	return &discoverer{
		issuer:  strings.TrimRight(issuer, "/"),
		client:  client,
		timeout: timeout,
		now:     time.Now,
	}
}

// metadata returns the cached document, fetching it when it is missing or
// stale.
func (d *discoverer) metadata(ctx context.Context) (*providerMetadata, error) {
	d.mu.Lock()
	now := d.now()
	if d.meta != nil {
		meta := d.meta
		if now.Before(d.expires) || d.refreshing || now.Before(d.retryFrom) {
			d.mu.Unlock()
			return meta, nil
		}
		d.refreshing = true
		d.mu.Unlock()
		fresh, err := d.fetch(ctx)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.refreshing = false
		return d.record(fresh, err, now)
	}
	defer d.mu.Unlock()
	if d.lastErr != nil && now.Before(d.retryFrom) {
		return nil, d.lastErr
	}
	fresh, err := d.fetch(ctx)
	return d.record(fresh, err, now)
}

// record stores the outcome of a fetch started at now and returns the
// document to use: the fresh one, or the last good one when the fetch
// failed. d.mu must be held.
func (d *discoverer) record(fresh *providerMetadata, err error, now time.Time) (*providerMetadata, error) {
	if err != nil {
		d.lastErr, d.retryFrom = err, now.Add(discoveryRetryBackoff)
		if d.meta != nil {
			return d.meta, nil // stale but known good
		}
		return nil, err
	}
	d.meta, d.expires, d.lastErr, d.retryFrom = fresh, now.Add(discoveryCacheTTL), nil, time.Time{}
	return fresh, nil
}

func (d *discoverer) fetch(ctx context.Context) (*providerMetadata, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	meta, err := oidcdoc.Discover(ctx, d.client, d.issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDiscovery, err)
	}
	return meta, nil
}

// endSessionEndpoint returns the discovered end_session_endpoint.
func (d *discoverer) endSessionEndpoint(ctx context.Context) (string, error) {
	meta, err := d.metadata(ctx)
	if err != nil {
		return "", err
	}
	endpoint, err := checkDiscovered(endSessionEndpointName, meta.EndSessionEndpoint)
	if err == nil && endpoint == "" {
		err = fmt.Errorf("%w (issuer %s)", ErrNoEndSessionEndpoint, d.issuer)
	}
	return endpoint, err
}

// checkDiscovered checks raw, the endpoint called name in a discovery
// document: it returns raw when it is a valid endpoint, "" when the
// document names none, and an error wrapping ErrDiscovery when it names
// an invalid one. Every endpoint taken from a discovery document goes
// through it.
func checkDiscovered(name, raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if _, err := parseEndpoint(name, raw); err != nil {
		return "", fmt.Errorf("%w: %w", ErrDiscovery, unprefixed(err))
	}
	return raw, nil
}

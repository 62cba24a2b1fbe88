package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidc-logout/logout"
)

// Defaults of CachedLedgerConfig.
const (
	DefaultMaxStaleness     = 100 * time.Millisecond
	defaultCachedMaxEntries = 100000
)

// CachedLedgerConfig configures NewCachedLedger.
type CachedLedgerConfig struct {
	// Prefix and Timeout are those of the underlying Ledger; see
	// LedgerConfig.
	Prefix  string
	Timeout time.Duration
	// MaxStaleness is how old the local view may be when it answers "not
	// seen" without asking Redis. The view is as fresh as the last
	// answer to the PING it sends on its subscription every
	// MaxStaleness/4; when no answer came for MaxStaleness (the
	// subscription broke, Redis stalls, this process is starved), Seen
	// asks Redis directly until the subscription is healthy again.
	// Default DefaultMaxStaleness (100 ms).
	MaxStaleness time.Duration
	// MaxEntries bounds the number of keys the local view holds. When it
	// is full, a key is forgotten, and read from Redis again when it is
	// next looked up. Default 100000.
	MaxEntries int
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// CachedLedgerStats are the counters of a CachedLedger.
type CachedLedgerStats struct {
	// Local counts look-ups answered from the local view.
	Local uint64
	// Remote counts look-ups that asked Redis: keys not yet in the view,
	// or a view older than MaxStaleness.
	Remote uint64
	// Breaks counts the times the subscription failed and the view was
	// dropped.
	Breaks uint64
	// Entries is the number of keys in the view.
	Entries int
}

// CachedLedger is a Ledger with a local view of the records, kept fresh
// by Redis pub/sub: every record written by any Ledger or CachedLedger
// with the same prefix is published on ChangesChannel(prefix), and each
// CachedLedger applies it to its view. A look-up of keys already in the
// view makes no round trip; the first look-up of a key reads it from
// Redis and keeps the answer, "no record" included. Since a record only
// ever grows (a later time, a later expiry), applying a published record
// and a read in either order gives the same view.
//
// The view answers "not seen" only while it is fresh: while the
// subscription's last PING answer is younger than MaxStaleness. A "seen"
// from the view is always right, however old: records are never removed
// before their expiry. When the subscription breaks the view is dropped,
// look-ups go to Redis, and the view is built again once the subscription
// is back.
//
// Call Close to stop the subscription. It works on a single server and on
// a Redis Cluster (where PUBLISH reaches every node). See
// docs/session-stores.md for the design and the staleness bound.
type CachedLedger struct {
	*Ledger
	maxStale  time.Duration
	pingEvery time.Duration
	maxKeys   int
	now       func() time.Time

	pubsub *redis.PubSub
	cancel context.CancelFunc
	done   chan struct{}

	fresh      atomic.Int64 // Unix ns: the view holds every record written before it; 0 = broken
	subscribed atomic.Bool  // the subscription is up; pongs count
	local      atomic.Uint64
	remote     atomic.Uint64
	breaks     atomic.Uint64

	mu      sync.RWMutex
	entries map[string]cacheEntry
	gen     uint64 // bumped when entries are dropped: a read begun before must not be kept
}

var _ logout.Ledger = (*CachedLedger)(nil)

// cacheEntry is the view of one key: at is the record's time in Unix ms,
// 0 when there is no record; expires is when the record expires, in
// local Unix ns.
type cacheEntry struct {
	at      int64
	expires int64
}

// NewCachedLedger subscribes to ChangesChannel of cfg.Prefix on client
// and returns a CachedLedger. It waits up to the Ledger's Timeout for
// the subscription; on failure the CachedLedger still works, asking
// Redis directly, and keeps trying to subscribe in the background.
func NewCachedLedger(client redis.UniversalClient, cfg CachedLedgerConfig) *CachedLedger {
	c := &CachedLedger{
		Ledger:   NewLedgerWithConfig(client, LedgerConfig{Prefix: cfg.Prefix, Timeout: cfg.Timeout}),
		maxStale: cfg.MaxStaleness, maxKeys: cfg.MaxEntries, now: cfg.Now,
		entries: make(map[string]cacheEntry),
		done:    make(chan struct{}),
	}
	if c.maxStale <= 0 {
		c.maxStale = DefaultMaxStaleness
	}
	if c.maxKeys <= 0 {
		c.maxKeys = defaultCachedMaxEntries
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.pingEvery = c.maxStale / 4
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.pubsub = client.Subscribe(ctx)
	subCtx, subCancel := context.WithTimeout(ctx, c.bound.timeout)
	_ = c.pubsub.Subscribe(subCtx, c.channel) // a failure is retried by Receive
	subCancel()
	go c.receive(ctx)
	go c.ping(ctx)
	return c
}

// Close stops the subscription. The CachedLedger then asks Redis for
// every look-up.
func (c *CachedLedger) Close() error {
	c.cancel()
	err := c.pubsub.Close()
	<-c.done
	c.markBroken()
	if err != nil {
		return fmt.Errorf("redisstore: closing the subscription: %w", err)
	}
	return nil
}

// Stats returns the CachedLedger's counters.
func (c *CachedLedger) Stats() CachedLedgerStats {
	c.mu.RLock()
	n := len(c.entries)
	c.mu.RUnlock()
	return CachedLedgerStats{Local: c.local.Load(), Remote: c.remote.Load(), Breaks: c.breaks.Load(), Entries: n}
}

// Fresh reports whether the local view may answer "not seen" now.
func (c *CachedLedger) Fresh() bool {
	f := c.fresh.Load()
	return f != 0 && c.now().UnixNano()-f < int64(c.maxStale)
}

// receive applies the published records and the PING answers, until ctx
// ends.
func (c *CachedLedger) receive(ctx context.Context) {
	defer close(c.done)
	for ctx.Err() == nil {
		msg, err := c.pubsub.ReceiveTimeout(ctx, time.Second)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // nothing arrived; freshness decays on its own
			}
			c.markBroken()
			select { // do not spin while Redis is down
			case <-ctx.Done():
			case <-time.After(c.pingEvery):
			}
			continue
		}
		c.handle(msg)
	}
}

// handle applies one message of the subscription.
func (c *CachedLedger) handle(msg any) {
	switch m := msg.(type) {
	case *redis.Subscription:
		if m.Kind == "subscribe" && m.Channel == c.channel {
			// A first subscription, or go-redis subscribing again on a
			// new connection: records may have been missed meanwhile.
			c.markBroken()
			c.subscribed.Store(true)
		}
	case *redis.Pong:
		sent, err := strconv.ParseInt(m.Payload, 10, 64)
		if err == nil && c.subscribed.Load() && sent > c.fresh.Load() {
			c.fresh.Store(sent)
		}
	case *redis.Message:
		if m.Channel == c.channel {
			c.apply(m.Payload)
		}
	}
}

// ping sends a PING carrying the time it was sent every pingEvery. Redis
// answers in order, after every message published before the PING, so
// the answer proves the view holds every record written before that
// time (on a cluster: written through this node, or already relayed to
// it by the cluster bus).
func (c *CachedLedger) ping(ctx context.Context) {
	t := time.NewTicker(c.pingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !c.subscribed.Load() {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, c.maxStale)
		_ = c.pubsub.Ping(pctx, strconv.FormatInt(c.now().UnixNano(), 10))
		cancel()
	}
}

// markBroken drops the view: published records may have been missed.
func (c *CachedLedger) markBroken() {
	if c.subscribed.Swap(false) {
		c.breaks.Add(1)
	}
	c.fresh.Store(0)
	c.mu.Lock()
	clear(c.entries)
	c.gen++
	c.mu.Unlock()
}

// apply merges a published record, "<at ms> <ttl ms> <key>", into the
// view.
func (c *CachedLedger) apply(payload string) {
	atS, rest, ok1 := strings.Cut(payload, " ")
	ttlS, key, ok2 := strings.Cut(rest, " ")
	at, err1 := strconv.ParseInt(atS, 10, 64)
	ttl, err2 := strconv.ParseInt(ttlS, 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || key == "" {
		return
	}
	e := cacheEntry{at: at, expires: c.now().Add(time.Duration(ttl) * time.Millisecond).UnixNano()}
	c.mu.Lock()
	c.merge(key, e)
	c.mu.Unlock()
}

// merge keeps the later time and expiry of key's entry and e. c.mu is
// held.
func (c *CachedLedger) merge(key string, e cacheEntry) {
	if old, ok := c.entries[key]; ok {
		e.at, e.expires = max(e.at, old.at), max(e.expires, old.expires)
	} else if len(c.entries) >= c.maxKeys {
		for k := range c.entries { // forget any one key
			delete(c.entries, k)
			break
		}
		c.gen++
	}
	c.entries[key] = e
}

// Record records key in Redis, which publishes it to every CachedLedger,
// and in the local view at once.
func (c *CachedLedger) Record(ctx context.Context, key string, at time.Time, ttl time.Duration) error {
	if err := c.Ledger.Record(ctx, key, at, ttl); err != nil {
		return err
	}
	e := cacheEntry{at: unixMilliCeil(at), expires: c.now().Add(ttl).UnixNano()}
	c.mu.Lock()
	c.merge(key, e)
	c.mu.Unlock()
	return nil
}

// Seen reports whether any of checks matches; see logout.Ledger.Seen.
// It asks Redis only for keys the view does not hold, or when the view
// is not fresh.
func (c *CachedLedger) Seen(ctx context.Context, checks ...logout.LedgerQuery) (bool, error) {
	if len(checks) == 0 {
		return false, nil
	}
	now := c.now().UnixNano()
	missing := false
	c.mu.RLock()
	gen := c.gen
	fresh := c.Fresh() // after gen: a break from now on changes gen
	for _, q := range checks {
		e, ok := c.entries[q.Key]
		switch {
		case ok && e.at != 0 && now < e.expires && (q.Since.IsZero() || e.at >= q.Since.UnixMilli()):
			c.mu.RUnlock()
			c.local.Add(1)
			return true, nil
		case !ok || (e.at != 0 && now >= e.expires):
			missing = true
		}
	}
	c.mu.RUnlock()
	if fresh && !missing {
		c.local.Add(1)
		return false, nil
	}
	c.remote.Add(1)
	return c.fetch(ctx, checks, fresh, gen)
}

// fetch reads checks from Redis with one round trip (GET and PTTL of each
// key, pipelined) and, when the view was fresh before the read and
// nothing was dropped since, keeps the answers in the view.
func (c *CachedLedger) fetch(ctx context.Context, checks []logout.LedgerQuery, fresh bool, gen uint64) (bool, error) {
	gets := make([]*redis.StringCmd, len(checks))
	ttls := make([]*redis.DurationCmd, len(checks))
	err := c.bound.do(ctx, func(ctx context.Context) error {
		_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, q := range checks {
				gets[i] = p.Get(ctx, c.prefix+q.Key)
				ttls[i] = p.PTTL(ctx, c.prefix+q.Key)
			}
			return nil
		})
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("redisstore: reading the ledger: %w", err)
	}
	now := c.now()
	seen := false
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := fresh && gen == c.gen
	for i, q := range checks {
		e, err := readEntry(gets[i], ttls[i], now)
		if err != nil {
			return false, fmt.Errorf("redisstore: record %q: %w", q.Key, err)
		}
		if keep {
			c.merge(q.Key, e)
			e = c.entries[q.Key]
		}
		if e.at != 0 && now.UnixNano() < e.expires && (q.Since.IsZero() || e.at >= q.Since.UnixMilli()) {
			seen = true
		}
	}
	return seen, nil
}

// readEntry makes a cache entry of the replies to GET and PTTL of a key.
func readEntry(get *redis.StringCmd, ttl *redis.DurationCmd, now time.Time) (cacheEntry, error) {
	v, err := get.Result()
	switch {
	case errors.Is(err, redis.Nil):
		return cacheEntry{}, nil
	case err != nil:
		return cacheEntry{}, err
	}
	at, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return cacheEntry{}, fmt.Errorf("holds %q, not a time: %w", v, err)
	}
	left, err := ttl.Result()
	switch {
	case err != nil:
		return cacheEntry{}, err
	case left == -1: // no expiry (go-redis returns PTTL's -1 as -1 ns)
		return cacheEntry{at: at, expires: math.MaxInt64}, nil
	case left <= 0: // gone between the two commands
		return cacheEntry{}, nil
	}
	return cacheEntry{at: at, expires: now.Add(left).UnixNano()}, nil
}

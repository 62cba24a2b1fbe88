package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
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

// NegativeMaxAge is how long a CachedLedger keeps a "no record" answer
// in its view: a look-up of the key after that reads Redis again. The
// subscriptions and their PINGs bound how stale a "no record" can be
// when every failure is seen; this age bounds it when one is not.
const NegativeMaxAge = 5 * time.Second

// CachedLedgerConfig configures NewCachedLedger.
type CachedLedgerConfig struct {
	// Prefix and Timeout are those of the underlying Ledger; see
	// LedgerConfig.
	Prefix  string
	Timeout time.Duration
	// MaxStaleness is how old the local view may be when it answers "not
	// seen" without asking Redis. The view of the keys a server holds is
	// as fresh as the last answer to the PING sent every MaxStaleness/4
	// on the subscription to that server (and, on a cluster, as the last
	// CLUSTER INFO of that server saying cluster_state:ok, asked as
	// often); when none came for MaxStaleness (the subscription broke,
	// the server stalls or reports the cluster down, this process is
	// starved), Seen asks Redis for that server's keys until the proof
	// is fresh again. Default DefaultMaxStaleness (100 ms).
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
	// answers past their age limit, or keys whose server has not proved
	// the view fresh within MaxStaleness.
	Remote uint64
	// Breaks counts the times a subscription failed and the keys its
	// server writes were dropped from the view.
	Breaks uint64
	// Entries is the number of keys in the view.
	Entries int
	// Nodes is the number of servers subscribed to: 1 on a single
	// server, the masters of a Redis Cluster, the shards of a Ring.
	Nodes int
	// StaleNodes is the number of those whose keys the view cannot
	// answer "not seen" for now: their subscription is down, their last
	// PING answer is older than MaxStaleness, or (on a cluster) they
	// report the cluster down.
	StaleNodes int
}

// CachedLedger is a logout.Ledger in Redis, as Ledger is, with a local
// view of the records, kept fresh by Redis pub/sub: every record written
// by any Ledger or CachedLedger with the same prefix is published on
// ChangesChannel(prefix) by the server that holds it, from inside the
// script that writes it, and each CachedLedger subscribes on every
// server that holds records (the single server, each master of a Redis
// Cluster, each shard of a Ring) and applies what it receives to its
// view. A look-up of keys already in the view makes no round trip; the
// first look-up of a key reads it from Redis and keeps the answer, "no
// record" included. Since a record only ever grows (a later time, a later
// expiry), applying a published record and a read in either order gives
// the same view.
//
// The guarantee: once Record (of any instance) has returned, every
// CachedLedger answers "seen" for that record from MaxStaleness after
// the write returned at the latest, or asks Redis. This holds on a single
// server and on a Redis Cluster, healthy or not. The view answers "not
// seen" for a key only while the server that holds the key is fresh: its
// subscription's last PING answer, which comes after every record that
// server published before the PING, is younger than MaxStaleness, and,
// on a cluster, that server said cluster_state:ok less than MaxStaleness
// ago. The records of a cluster never reach the view through the cluster
// bus only: a slow, cut or failed bus delays nothing the proof covers. A
// "seen" from the view is always right, however old: records are never
// removed before their expiry. A "no record" is kept for
// NegativeMaxAge at most and then read again, so that a failure nothing
// detects is bounded too. When a subscription breaks, the keys of its
// server are dropped from the view and looked up in Redis until the
// subscription is back.
//
// Its methods are those of logout.Ledger (Record, Seen), of
// backchannel.OnceRecorder (RecordOnce), Close, Stats and Fresh; it
// writes through a Ledger of its own, which it does not expose. Call
// Close to stop the subscriptions. See docs/session-stores.md for the
// design and the bounds.
type CachedLedger struct {
	ledger    *Ledger // writes, and reads the keys the view cannot answer
	maxStale  time.Duration
	pingEvery time.Duration
	negAge    time.Duration
	maxKeys   int
	now       func() time.Time
	slotted   bool // a cluster: entries know their hash slot

	cancel context.CancelFunc
	wg     sync.WaitGroup
	reload chan struct{}
	closed atomic.Bool

	topo   atomic.Pointer[topology]
	local  atomic.Uint64
	remote atomic.Uint64
	breaks atomic.Uint64

	mu      sync.RWMutex
	entries map[string]cacheEntry
	gen     uint64 // bumped when entries are dropped: a read begun before must not be kept
}

var _ logout.Ledger = (*CachedLedger)(nil)

// cacheEntry is the view of one key: at is the record's time in Unix ms,
// 0 when there is no record; expires is when the record expires, or for
// "no record" when the answer is too old to be used, in local Unix ns;
// slot is the key's cluster hash slot (0 outside a cluster).
type cacheEntry struct {
	at      int64
	expires int64
	slot    uint16
}

// matches reports whether e is a record, unexpired at now (Unix ns), that
// q asks about.
func (e cacheEntry) matches(q logout.LedgerQuery, now int64) bool {
	return e.at != 0 && now < e.expires && (q.Since.IsZero() || e.at >= q.Since.UnixMilli())
}

// NewCachedLedger subscribes to ChangesChannel of cfg.Prefix on the
// servers of client and returns a CachedLedger. It waits up to the
// Ledger's Timeout to learn the servers (on a cluster: its masters and
// their slots), and up to the Timeout again for the subscriptions; on
// failure the CachedLedger still works, asking Redis directly, and keeps
// trying in the background.
func NewCachedLedger(client redis.UniversalClient, cfg CachedLedgerConfig) *CachedLedger {
	c := &CachedLedger{
		ledger:   NewLedgerWithConfig(client, LedgerConfig{Prefix: cfg.Prefix, Timeout: cfg.Timeout}),
		maxStale: cfg.MaxStaleness, maxKeys: cfg.MaxEntries, now: cfg.Now,
		negAge:  NegativeMaxAge,
		entries: make(map[string]cacheEntry),
		reload:  make(chan struct{}, 1),
	}
	_, c.slotted = client.(*redis.ClusterClient)
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
	lctx, lcancel := context.WithTimeout(ctx, c.ledger.bound.timeout)
	first, err := c.loadTopology(lctx) // a failure is retried by manage
	lcancel()
	if err == nil {
		c.setTopology(ctx, first)
	}
	c.wg.Add(1)
	go c.manage(ctx, first)
	return c
}

// Close stops the subscriptions. The CachedLedger then asks Redis for
// every look-up.
func (c *CachedLedger) Close() error {
	if c.closed.Swap(true) {
		return errors.New("redisstore: closing the subscription: already closed")
	}
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	clear(c.entries)
	c.gen++
	c.mu.Unlock()
	return nil
}

// Stats returns the CachedLedger's counters.
func (c *CachedLedger) Stats() CachedLedgerStats {
	c.mu.RLock()
	n := len(c.entries)
	c.mu.RUnlock()
	st := CachedLedgerStats{Local: c.local.Load(), Remote: c.remote.Load(), Breaks: c.breaks.Load(), Entries: n}
	if t := c.topo.Load(); t != nil {
		now := c.now().UnixNano()
		st.Nodes = len(t.nodes)
		for _, nd := range t.nodes {
			if !nd.freshAt(now, c.maxStale) {
				st.StaleNodes++
			}
		}
	}
	return st
}

// Fresh reports whether the local view may answer "not seen" now for
// any key: every server has proved it fresh within MaxStaleness.
func (c *CachedLedger) Fresh() bool {
	return c.topo.Load().allFresh(c.now().UnixNano(), c.maxStale)
}

// apply merges a published record, "<at ms> <ttl ms> <key>", into the
// view.
func (c *CachedLedger) apply(payload string) {
	atS, rest, ok1 := strings.Cut(payload, " ")
	ttlS, key, ok2 := strings.Cut(rest, " ")
	at, err1 := strconv.ParseInt(atS, 10, 64)
	ttl, err2 := strconv.ParseInt(ttlS, 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || key == "" || at <= 0 {
		return
	}
	e := cacheEntry{at: at, expires: c.now().Add(time.Duration(ttl) * time.Millisecond).UnixNano(), slot: c.slotOf(key)}
	c.mu.Lock()
	c.merge(key, e, c.now().UnixNano())
	c.mu.Unlock()
}

// slotOf returns the cluster hash slot of key's record, 0 outside a
// cluster.
func (c *CachedLedger) slotOf(key string) uint16 {
	if !c.slotted {
		return 0
	}
	return keySlot(c.ledger.prefix + key)
}

// merge merges e into key's entry: of two records, the later time and
// the later expiry; a record wins over "no record" unless it has expired
// at now; of two "no record", the later age limit. c.mu is held.
func (c *CachedLedger) merge(key string, e cacheEntry, now int64) {
	if old, ok := c.entries[key]; ok {
		switch {
		case old.at != 0 && e.at != 0:
			e.at, e.expires = max(e.at, old.at), max(e.expires, old.expires)
		case old.at != 0 && now < old.expires: // a record, and "no record" read before it was written
			e = old
		case old.at == 0 && e.at == 0:
			e.expires = max(e.expires, old.expires)
		}
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
	if err := c.ledger.Record(ctx, key, at, ttl); err != nil {
		return err
	}
	c.remember(key, at, ttl)
	return nil
}

// RecordOnce records key (time at, kept for ttl) and once (kept for
// onceTTL) unless once is already recorded, and reports whether it
// recorded them; see Ledger.RecordOnce. It implements
// backchannel.OnceRecorder: the back-channel handler records a logout
// token with it, once being the token's jti. A recorded key is in the
// local view at once.
func (c *CachedLedger) RecordOnce(ctx context.Context, once string, onceTTL time.Duration, key string, at time.Time, ttl time.Duration) (bool, error) {
	recorded, err := c.ledger.RecordOnce(ctx, once, onceTTL, key, at, ttl)
	if err != nil || !recorded {
		return recorded, err
	}
	c.remember(key, at, ttl)
	return true, nil
}

// remember merges a record of key that Redis has just written into the
// view.
func (c *CachedLedger) remember(key string, at time.Time, ttl time.Duration) {
	now := c.now()
	e := cacheEntry{at: unixMilliCeil(at), expires: now.Add(ttl).UnixNano(), slot: c.slotOf(key)}
	c.mu.Lock()
	c.merge(key, e, now.UnixNano())
	c.mu.Unlock()
}

// Seen reports whether any of checks matches; see logout.Ledger.Seen.
// It asks Redis only for keys the view does not hold, answers past their
// age limit, or keys whose server has not proved the view fresh.
func (c *CachedLedger) Seen(ctx context.Context, checks ...logout.LedgerQuery) (bool, error) {
	if len(checks) == 0 {
		return false, nil
	}
	now := c.now().UnixNano()
	missing := false
	c.mu.RLock()
	gen := c.gen
	topo := c.topo.Load() // after gen: a break or a new topology from now on changes gen
	for _, q := range checks {
		e, ok := c.entries[q.Key]
		switch {
		case !ok || now >= e.expires:
			missing = true
		case e.matches(q, now):
			c.mu.RUnlock()
			c.local.Add(1)
			return true, nil
		case !topo.fresh(e.slot, now, c.maxStale):
			missing = true
		}
	}
	c.mu.RUnlock()
	if !missing {
		c.local.Add(1)
		return false, nil
	}
	c.remote.Add(1)
	return c.fetch(ctx, checks, topo, gen)
}

// fetch reads checks from Redis with one round trip (GET and PTTL of each
// key, pipelined) and keeps in the view the answers for keys whose
// server was fresh before the read, when nothing was dropped since. A
// record found answers "seen" even when another key's read failed, as
// with Ledger.Seen.
func (c *CachedLedger) fetch(ctx context.Context, checks []logout.LedgerQuery, topo *topology, gen uint64) (bool, error) {
	gets := make([]*redis.StringCmd, len(checks))
	ttls := make([]*redis.DurationCmd, len(checks))
	entries := make([]cacheEntry, len(checks))
	read := make([]bool, len(checks))
	slots := make([]uint16, len(checks))
	keep := make([]bool, len(checks))
	before := c.now().UnixNano()
	for i, q := range checks {
		slots[i] = c.slotOf(q.Key)
		keep[i] = topo.fresh(slots[i], before, c.maxStale)
	}
	var now time.Time
	var seen bool
	// The replies are read inside the bound: after its deadline the call
	// may still be running and writing them.
	err := c.ledger.bound.do(ctx, func(ctx context.Context) error {
		_, err := c.ledger.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, q := range checks {
				gets[i] = p.Get(ctx, c.ledger.prefix+q.Key)
				ttls[i] = p.PTTL(ctx, c.ledger.prefix+q.Key)
			}
			return nil
		})
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		now = c.now()
		var firstErr error
		for i, q := range checks {
			e, rerr := readEntry(q.Key, gets[i], ttls[i], now, c.negAge)
			if rerr != nil {
				firstErr = cmp.Or(firstErr, rerr)
				continue
			}
			entries[i], read[i] = e, true
			seen = seen || e.matches(q, now.UnixNano())
		}
		if seen {
			return nil
		}
		return cmp.Or(firstErr, err)
	})
	if err != nil {
		return false, lookupError(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, q := range checks {
		if !read[i] || !keep[i] || gen != c.gen {
			continue
		}
		entries[i].slot = slots[i]
		c.merge(q.Key, entries[i], now.UnixNano())
		seen = seen || c.entries[q.Key].matches(q, now.UnixNano())
	}
	return seen, nil
}

// readEntry makes a cache entry of the replies to GET and PTTL of key;
// "no record" is kept for negAge from now.
func readEntry(key string, get *redis.StringCmd, ttl *redis.DurationCmd, now time.Time, negAge time.Duration) (cacheEntry, error) {
	none := cacheEntry{expires: now.Add(negAge).UnixNano()}
	v, err := get.Result()
	switch {
	case errors.Is(err, redis.Nil):
		return none, nil
	case err != nil:
		return cacheEntry{}, fmt.Errorf("%w: key %q: %w", ErrLedgerRead, key, err)
	}
	at, err := parseRecord(key, v)
	if err != nil {
		return cacheEntry{}, err
	}
	left, err := ttl.Result()
	switch {
	case err != nil:
		return cacheEntry{}, fmt.Errorf("%w: key %q: %w", ErrLedgerRead, key, err)
	case left == -1: // no expiry (go-redis returns PTTL's -1 as -1 ns)
		return cacheEntry{at: at, expires: math.MaxInt64}, nil
	case left <= 0: // gone between the two commands
		return none, nil
	}
	return cacheEntry{at: at, expires: now.Add(left).UnixNano()}, nil
}

package logout

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Ledger is the store that logout keeps its facts in: a set of keys, each
// recorded with a time and kept until its TTL runs out. The middleware and
// the backchannel module share one, and ask it three things:
//
//   - has this session ended? Its keys (SIDKey, SubjectKey, SessionIDKey)
//     are recorded by back-channel and front-channel logout, and by a
//     logout here (tombstones, so that a replayed copy of a stateless
//     session cookie is not signed in again); the session check asks once
//     per request;
//   - was this logout token seen before? (JTIKey, replay protection of
//     back-channel logout);
//   - did this app see this provider session? (front-channel logout
//     records only sessions it has seen).
//
// The keys are made in keys.go, so no two kinds of fact share a key.
// Implementations must be safe for concurrent use; ledgertest.Run checks
// one against this contract.
//
// The time of a record is what lets a logout of every session of a
// subject end the sessions that began before it, and not a login made
// after it.
type Ledger interface {
	// Record records key at time at and keeps it for at least ttl. When
	// key is already recorded, the later of the two times and the later
	// of the two expiries are kept. Times must be kept to at least
	// one-second precision; a store that rounds must round up, never
	// down.
	Record(ctx context.Context, key string, at time.Time, ttl time.Duration) error
	// Seen reports whether any of queries matches an unexpired record,
	// with one look-up (one round trip for a remote store). A query
	// matches when its Key is recorded with a time at or after its Since;
	// a zero Since matches any record of the key. A store that reads
	// the keys from several places reports a match found in one of them
	// as true with no error, even when another could not be read: the
	// session has ended whatever that one holds, and FailOpen must not
	// let it through.
	Seen(ctx context.Context, queries ...LedgerQuery) (bool, error)
}

// LedgerQuery is one key that Ledger.Seen looks up.
type LedgerQuery struct {
	// Key is a record key, as made by SIDKey, SubjectKey, SessionIDKey or
	// JTIKey.
	Key string
	// Since is when the session being checked began (for example the iat
	// of its id_token). A record of Key with a time before Since does not
	// match: it ended earlier sessions only. Zero matches any record.
	Since time.Time
}

// Defaults of MemoryLedgerConfig.
const (
	defaultMemoryMaxEntries = 100000
	// expireBatch bounds how many expired records one Record call drops,
	// so that no call stops the world however many records expire at
	// once.
	expireBatch = 32
	// fullLogEvery is the least time between two log records about a
	// full MemoryLedger.
	fullLogEvery = 10 * time.Second
)

// MemoryLedgerConfig configures NewMemoryLedger.
type MemoryLedgerConfig struct {
	// MaxEntries bounds the number of records kept. Default 100000.
	//
	// When it is reached and no record has expired, the new record is
	// kept and the unexpired record closest to its expiry is forgotten
	// (evicted): the one whose loss harms least, since it would have gone
	// soonest anyway. Each eviction is counted (MemoryLedger.Stats) and
	// logged to Logger, at most once every 10 seconds. A store that
	// evicts is too small: raise MaxEntries.
	MaxEntries int
	// RefuseWhenFull makes a full store refuse the new record with
	// ErrLedgerFull instead of evicting one, so that no record is ever
	// forgotten before its TTL. The caller then sees the failure: the
	// back-channel handler answers 503 and the provider retries, but a
	// logout's tombstone is refused too, and the middleware then stops the
	// logout with ErrTombstone, FailOpen or not. Refusals
	// are counted and logged as evictions are.
	RefuseWhenFull bool
	// Logger receives a warning when the store is full. Default: none;
	// Stats still counts.
	Logger *slog.Logger
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// MemoryLedgerStats are the counters of a MemoryLedger.
type MemoryLedgerStats struct {
	// Records is the number of records held, expired ones included until
	// they are dropped.
	Records int
	// Evicted counts unexpired records forgotten because the store was
	// full.
	Evicted uint64
	// Refused counts records refused with ErrLedgerFull (RefuseWhenFull).
	Refused uint64
}

// MemoryLedger is an in-memory Ledger for a single app instance.
// It holds at most MaxEntries records and forgets each one when its TTL
// has passed. Expired records are dropped a few at a time as new ones come
// in, so it needs no background goroutine and no Close, and no call does
// more than a bounded amount of work: a look-up never waits behind a
// sweep. Several instances behind a load balancer need a shared store
// instead (see the redisstore module).
type MemoryLedger struct {
	max    int
	refuse bool
	logger *slog.Logger
	now    func() time.Time

	mu      sync.RWMutex
	records map[string]*memRecord
	expiry  chunks // a min-heap on expires; each record knows its index
	stats   MemoryLedgerStats
	logged  time.Time // when fullness was last logged
}

// memRecord is one record. Times are Unix nanoseconds: 8 bytes each
// rather than a time.Time's 24.
type memRecord struct {
	key     string
	at      int64
	expires int64
	index   int
}

// NewMemoryLedger returns an empty MemoryLedger.
func NewMemoryLedger(cfg MemoryLedgerConfig) *MemoryLedger {
	m := &MemoryLedger{
		max: cfg.MaxEntries, refuse: cfg.RefuseWhenFull, logger: cfg.Logger, now: cfg.Now,
		records: make(map[string]*memRecord),
	}
	if m.max <= 0 {
		m.max = defaultMemoryMaxEntries
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// Record records key; see Ledger.Record. A full store evicts the record
// closest to its expiry, or refuses with ErrLedgerFull under
// RefuseWhenFull; see MemoryLedgerConfig.MaxEntries.
func (m *MemoryLedger) Record(ctx context.Context, key string, at time.Time, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("logout: recording %q: ttl must be positive, got %v", key, ttl)
	}
	now := m.now()
	atNs, nowNs, expires := at.UnixNano(), now.UnixNano(), now.Add(ttl).UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropExpired(nowNs, expireBatch)
	if rec, ok := m.records[key]; ok {
		// An expired record not yet dropped (more than expireBatch
		// expired at once) is replaced: its time goes too.
		if rec.expires <= nowNs || atNs > rec.at {
			rec.at = atNs
		}
		if expires > rec.expires { // always, for an expired record
			rec.expires = expires
			m.down(rec.index)
		}
		return nil
	}
	if len(m.records) >= m.max {
		if err := m.makeRoom(ctx, nowNs); err != nil {
			return err
		}
	}
	rec := &memRecord{key: key, at: atNs, expires: expires, index: m.expiry.len()}
	m.records[key] = rec
	m.expiry.push(rec)
	m.up(rec.index)
	return nil
}

// makeRoom frees one place in a full store, whose records are all
// unexpired (Record drops expired ones first): the record closest to its
// expiry goes, unless the store refuses instead.
func (m *MemoryLedger) makeRoom(ctx context.Context, now int64) error {
	if m.refuse {
		m.stats.Refused++
		m.logFull(ctx, now, "logout: memory ledger is full; record refused")
		return fmt.Errorf("%w: %d records", ErrLedgerFull, len(m.records))
	}
	m.stats.Evicted++
	m.removeFirst()
	m.logFull(ctx, now, "logout: memory ledger is full; the record closest to its expiry was evicted")
	return nil
}

// logFull logs that the store is full, at most once every fullLogEvery.
func (m *MemoryLedger) logFull(ctx context.Context, now int64, msg string) {
	if m.logger == nil || time.Duration(now-m.logged.UnixNano()) < fullLogEvery && !m.logged.IsZero() {
		return
	}
	m.logged = time.Unix(0, now)
	m.logger.LogAttrs(ctx, slog.LevelWarn, msg,
		slog.Int("max_entries", m.max),
		slog.Uint64("evicted", m.stats.Evicted), slog.Uint64("refused", m.stats.Refused))
}

// Seen reports whether any of checks matches; see Ledger.Seen.
func (m *MemoryLedger) Seen(_ context.Context, checks ...LedgerQuery) (bool, error) {
	now := m.now().UnixNano()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, c := range checks {
		rec, ok := m.records[c.Key]
		if ok && now < rec.expires && (c.Since.IsZero() || rec.at >= c.Since.UnixNano()) {
			return true, nil
		}
	}
	return false, nil
}

// Len returns the number of records held, expired ones included until
// they are dropped.
func (m *MemoryLedger) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.records)
}

// Stats returns the store's counters.
func (m *MemoryLedger) Stats() MemoryLedgerStats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := m.stats
	s.Records = len(m.records)
	return s
}

// dropExpired deletes at most limit records whose expiry has passed,
// earliest first.
func (m *MemoryLedger) dropExpired(now int64, limit int) {
	for i := 0; i < limit && m.expiry.len() > 0 && m.expiry.at(0).expires <= now; i++ {
		m.removeFirst()
	}
}

// removeFirst deletes the record closest to its expiry, the root of the
// heap.
func (m *MemoryLedger) removeFirst() {
	rec := m.expiry.at(0)
	last := m.expiry.len() - 1
	m.swap(0, last)
	m.expiry.pop()
	m.down(0)
	delete(m.records, rec.key)
}

// The heap of expiries, with each record's index kept up to date so that
// a record whose expiry changes is moved in place: the heap never holds
// stale items and never needs rebuilding. Two facts keep it simple: a
// record's expiry only ever grows, and records leave from the root only;
// so a changed record only ever sifts down, and a new one up.

func (m *MemoryLedger) swap(i, j int) {
	a, b := m.expiry.at(i), m.expiry.at(j)
	m.expiry.set(i, b)
	m.expiry.set(j, a)
	a.index, b.index = j, i
}

func (m *MemoryLedger) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if m.expiry.at(p).expires <= m.expiry.at(i).expires {
			return
		}
		m.swap(i, p)
		i = p
	}
}

// down sifts the record at i down to its place.
func (m *MemoryLedger) down(i int) {
	n := m.expiry.len()
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && m.expiry.at(r).expires < m.expiry.at(c).expires {
			c = r
		}
		if m.expiry.at(i).expires <= m.expiry.at(c).expires {
			break
		}
		m.swap(i, c)
		i = c
	}
}

// chunkBits sets the size of a chunk of the heap: 4096 records.
const chunkBits = 12

// chunks is a growable array of records in fixed-size chunks. Growing
// never copies the records, unlike append on one slice, which with a
// million records would copy megabytes (and pay the garbage collector for
// them) while holding the lock.
type chunks struct {
	c [][]*memRecord
	n int
}

func (h *chunks) len() int                { return h.n }
func (h *chunks) at(i int) *memRecord     { return h.c[i>>chunkBits][i&(1<<chunkBits-1)] }
func (h *chunks) set(i int, r *memRecord) { h.c[i>>chunkBits][i&(1<<chunkBits-1)] = r }

func (h *chunks) push(r *memRecord) {
	if h.n == len(h.c)<<chunkBits {
		h.c = append(h.c, make([]*memRecord, 1<<chunkBits))
	}
	h.n++
	h.set(h.n-1, r)
}

// pop drops the last record, and frees a chunk when two are unused.
func (h *chunks) pop() {
	h.n--
	h.set(h.n, nil)
	if len(h.c) > 1 && h.n < (len(h.c)-2)<<chunkBits+1 {
		h.c[len(h.c)-1] = nil
		h.c = h.c[:len(h.c)-1]
	}
}

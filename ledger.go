package logout

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
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
	// a zero Since matches any record of the key.
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

// ErrLedgerFull means a MemoryLedger holds as many unexpired
// records as it may, so a new record was refused rather than an older one
// forgotten.
var ErrLedgerFull = errors.New("logout: ledger is full")

// MemoryLedgerConfig configures NewMemoryLedger.
type MemoryLedgerConfig struct {
	// MaxEntries bounds the number of records kept. When it is reached and
	// no record has expired, Record fails with ErrLedgerFull. Default
	// 100000.
	MaxEntries int
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// MemoryLedger is an in-memory Ledger for a single app instance.
// It holds at most MaxEntries records and forgets each one when its TTL
// has passed; expired records are dropped as new ones come in, so it needs
// no background goroutine and no Close. Several instances behind a load
// balancer need a shared store instead (see the redisstore module).
type MemoryLedger struct {
	max int
	now func() time.Time

	mu      sync.RWMutex
	records map[string]memRecord
	expiry  expiryHeap
}

type memRecord struct {
	at      time.Time
	expires time.Time
}

// NewMemoryLedger returns an empty MemoryLedger.
func NewMemoryLedger(cfg MemoryLedgerConfig) *MemoryLedger {
	m := &MemoryLedger{max: cfg.MaxEntries, now: cfg.Now, records: make(map[string]memRecord)}
	if m.max <= 0 {
		m.max = 100000
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// Record records key; see Ledger.Record.
func (m *MemoryLedger) Record(_ context.Context, key string, at time.Time, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("logout: recording %q: ttl must be positive, got %v", key, ttl)
	}
	now := m.now()
	rec := memRecord{at: at, expires: now.Add(ttl)}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropExpired(now)
	old, ok := m.records[key]
	if ok && old.expires.After(now) {
		rec = mergeRecords(old, rec)
	} else if len(m.records) >= m.max {
		return fmt.Errorf("%w: %d records", ErrLedgerFull, len(m.records))
	}
	m.records[key] = rec
	if !ok || rec.expires != old.expires {
		heap.Push(&m.expiry, expiryItem{key: key, expires: rec.expires})
	}
	m.compact()
	return nil
}

// mergeRecords keeps the later time and the later expiry of two records.
func mergeRecords(a, b memRecord) memRecord {
	if b.at.After(a.at) {
		a.at = b.at
	}
	if b.expires.After(a.expires) {
		a.expires = b.expires
	}
	return a
}

// Seen reports whether any of checks matches; see Ledger.Seen.
func (m *MemoryLedger) Seen(_ context.Context, checks ...LedgerQuery) (bool, error) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, c := range checks {
		rec, ok := m.records[c.Key]
		if ok && now.Before(rec.expires) && !rec.at.Before(c.Since) {
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

// dropExpired deletes the records whose expiry has passed. The heap may
// hold stale items for records that were extended; they are skipped.
func (m *MemoryLedger) dropExpired(now time.Time) {
	for len(m.expiry) > 0 && !now.Before(m.expiry[0].expires) {
		it := heap.Pop(&m.expiry).(expiryItem)
		if rec, ok := m.records[it.key]; ok && rec.expires.Equal(it.expires) {
			delete(m.records, it.key)
		}
	}
}

// compact rebuilds the heap when stale items make it much larger than the
// map, so that memory stays bounded by MaxEntries.
func (m *MemoryLedger) compact() {
	if len(m.expiry) <= 2*len(m.records)+16 {
		return
	}
	m.expiry = m.expiry[:0]
	for k, rec := range m.records {
		m.expiry = append(m.expiry, expiryItem{key: k, expires: rec.expires})
	}
	heap.Init(&m.expiry)
}

type expiryItem struct {
	key     string
	expires time.Time
}

// expiryHeap is a min-heap of record expiries.
type expiryHeap []expiryItem

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryItem)) }
func (h *expiryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

package logout

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Revocations records sessions that have ended: sessions that the provider
// logged out through back-channel or front-channel logout (by sid or sub),
// and tombstones of sessions logged out here, so that a replayed copy of a
// stateless session cookie is not signed in again. The middleware's session
// check consults it once per request. With front-channel logout on, it
// also holds a record per provider session seen, whose key never matches a
// session check. Implementations must be safe for concurrent use.
//
// A record holds a time: the sessions matched by its key that began at or
// before that time are revoked. That lets a logout of every session of a
// subject end the sessions issued before it, and not a login made after it.
type Revocations interface {
	// Revoke records that the sessions matched by key and begun at or
	// before at are revoked, and keeps the record for at least ttl. When
	// key is already recorded, the later of the two times and the later of
	// the two expiries are kept. Times must be kept to at least one-second
	// precision; a store that rounds must round at up, never down.
	Revoke(ctx context.Context, key string, at time.Time, ttl time.Duration) error
	// Revoked reports whether any of checks matches an unexpired record,
	// with one look-up (one round trip for a remote store). A check
	// matches when its Key is recorded with a time at or after its Since;
	// a zero Since matches any record of the key.
	Revoked(ctx context.Context, checks ...RevocationCheck) (bool, error)
}

// RevocationCheck is one key that Revocations.Revoked looks up.
type RevocationCheck struct {
	// Key is a record key, as made by SIDKey, SubjectKey or SessionIDKey.
	Key string
	// Since is when the session being checked began (for example the iat
	// of its id_token). A record of Key with a time before Since does not
	// match: it ended earlier sessions only. Zero matches any record.
	Since time.Time
}

// ErrRevocationsFull means a MemoryRevocations holds as many unexpired
// records as it may, so a new record was refused rather than an older one
// forgotten.
var ErrRevocationsFull = errors.New("logout: revocation store is full")

// SIDKey returns the Revocations key of a provider session: the sid claim
// of issuer's tokens (OpenID Connect Front-Channel and Back-Channel
// Logout). The issuer is part of the key because a sid is unique only per
// issuer; a trailing slash of the issuer does not change the key.
func SIDKey(issuer, sid string) string {
	return scopedKey("sid:", issuer, sid)
}

// SubjectKey returns the Revocations key of every session of an end-user:
// the sub claim of issuer's tokens. A trailing slash of the issuer does
// not change the key.
func SubjectKey(issuer, sub string) string {
	return scopedKey("sub:", issuer, sub)
}

// SessionIDKey returns the Revocations key of one session of the app,
// identified by the random id the session check stores in it.
func SessionIDKey(id string) string {
	return "session:" + id
}

// scopedKey joins a prefix, the issuer's length, the issuer and a value, so
// that no two (issuer, value) pairs share a key whatever they contain. One
// trailing slash of the issuer is dropped: with and without it, it names
// the same provider, and a provider's tokens and front-channel requests may
// spell it either way.
func scopedKey(prefix, issuer, value string) string {
	issuer = strings.TrimSuffix(issuer, "/")
	return prefix + strconv.Itoa(len(issuer)) + ":" + issuer + ":" + value
}

// MemoryRevocationsConfig configures NewMemoryRevocations.
type MemoryRevocationsConfig struct {
	// MaxEntries bounds the number of records kept. When it is reached and
	// no record has expired, Revoke fails with ErrRevocationsFull. Default
	// 100000.
	MaxEntries int
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// MemoryRevocations is an in-memory Revocations for a single app instance.
// It holds at most MaxEntries records and forgets each one when its TTL
// has passed; expired records are dropped as new ones come in, so it needs
// no background goroutine and no Close. Several instances behind a load
// balancer need a shared store instead (see the redisstore module).
type MemoryRevocations struct {
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

// NewMemoryRevocations returns an empty MemoryRevocations.
func NewMemoryRevocations(cfg MemoryRevocationsConfig) *MemoryRevocations {
	m := &MemoryRevocations{max: cfg.MaxEntries, now: cfg.Now, records: make(map[string]memRecord)}
	if m.max <= 0 {
		m.max = 100000
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// Revoke records key; see Revocations.Revoke.
func (m *MemoryRevocations) Revoke(_ context.Context, key string, at time.Time, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("logout: revoking %q: ttl must be positive, got %v", key, ttl)
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
		return fmt.Errorf("%w: %d records", ErrRevocationsFull, len(m.records))
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

// Revoked reports whether any of checks matches; see Revocations.Revoked.
func (m *MemoryRevocations) Revoked(_ context.Context, checks ...RevocationCheck) (bool, error) {
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
func (m *MemoryRevocations) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.records)
}

// dropExpired deletes the records whose expiry has passed. The heap may
// hold stale items for records that were extended; they are skipped.
func (m *MemoryRevocations) dropExpired(now time.Time) {
	for len(m.expiry) > 0 && !now.Before(m.expiry[0].expires) {
		it := heap.Pop(&m.expiry).(expiryItem)
		if rec, ok := m.records[it.key]; ok && rec.expires.Equal(it.expires) {
			delete(m.records, it.key)
		}
	}
}

// compact rebuilds the heap when stale items make it much larger than the
// map, so that memory stays bounded by MaxEntries.
func (m *MemoryRevocations) compact() {
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

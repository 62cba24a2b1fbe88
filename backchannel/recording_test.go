package backchannel_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// ledgerWrite is one record a Ledger accepted.
type ledgerWrite struct {
	key string
	at  time.Time
	ttl time.Duration
}

// recordingLedger is a MemoryLedger that keeps, in order, every record it
// accepted, and that can be told to fail.
type recordingLedger struct {
	mem *logout.MemoryLedger

	mu sync.Mutex
	// failRecord, when set, is asked before each Record; a non-nil error
	// is returned and nothing is recorded.
	failRecord func(key string) error
	// failSeen, when set, is returned by every Seen.
	failSeen error
	writes   []ledgerWrite
	attempts int // Record calls, failed ones included
}

func newRecordingLedger() *recordingLedger {
	return &recordingLedger{mem: newStore()}
}

func (l *recordingLedger) Record(ctx context.Context, key string, at time.Time, ttl time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts++
	if l.failRecord != nil {
		if err := l.failRecord(key); err != nil {
			return err
		}
	}
	if err := l.mem.Record(ctx, key, at, ttl); err != nil {
		return err
	}
	l.writes = append(l.writes, ledgerWrite{key, at, ttl})
	return nil
}

func (l *recordingLedger) Seen(ctx context.Context, q ...logout.LedgerQuery) (bool, error) {
	l.mu.Lock()
	fail := l.failSeen
	l.mu.Unlock()
	if fail != nil {
		return false, fail
	}
	return l.mem.Seen(ctx, q...)
}

// Writes returns the records accepted so far, in order.
func (l *recordingLedger) Writes() []ledgerWrite {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ledgerWrite(nil), l.writes...)
}

// Attempts returns how many times Record was called.
func (l *recordingLedger) Attempts() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attempts
}

// recordingOnceLedger is a recordingLedger that is also a
// backchannel.OnceRecorder, as redisstore.Ledger is.
type recordingOnceLedger struct {
	*recordingLedger
	failOnce error // returned by RecordOnce, which then records nothing
	onceTTLs map[string]time.Duration
}

func newRecordingOnceLedger() *recordingOnceLedger {
	return &recordingOnceLedger{recordingLedger: newRecordingLedger(), onceTTLs: map[string]time.Duration{}}
}

func (l *recordingOnceLedger) RecordOnce(ctx context.Context, once string, onceTTL time.Duration, key string, at time.Time, ttl time.Duration) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failOnce != nil {
		return false, l.failOnce
	}
	if seen, err := l.mem.Seen(ctx, logout.LedgerQuery{Key: once}); seen || err != nil {
		return false, err
	}
	for _, w := range []ledgerWrite{{key, at, ttl}, {once, at, onceTTL}} {
		if err := l.mem.Record(ctx, w.key, w.at, w.ttl); err != nil {
			return false, err
		}
		l.writes = append(l.writes, w)
	}
	return true, nil
}

// refusedWithNothingRecorded checks a refusal (see assertRefused), and
// that the ledger holds nothing: no record was written, and the given
// keys (the token's sid or sub, its jti) are not seen.
func refusedWithNothingRecorded(t *testing.T, w *httptest.ResponseRecorder, status int, code, desc string, l *recordingLedger, keys ...string) errorBody {
	t.Helper()
	body := assertRefused(t, w, status, code, desc)
	assertNothingRecorded(t, l, keys...)
	return body
}

// assertRefused checks a refusal: its status, its JSON error, and the
// Cache-Control that keeps it from being cached.
func assertRefused(t *testing.T, w *httptest.ResponseRecorder, status int, code, desc string) errorBody {
	t.Helper()
	require.Equal(t, status, w.Code, w.Body.String())
	assert.Contains(t, w.Header().Get("Cache-Control"), "no-store")
	body := decodeError(t, w)
	assert.Equal(t, code, body.Error)
	assert.Contains(t, body.Description, desc)
	return body
}

// assertNothingRecorded checks that l holds no record and that none of
// keys is seen.
func assertNothingRecorded(t *testing.T, l *recordingLedger, keys ...string) {
	t.Helper()
	assert.Empty(t, l.Writes(), "no record written")
	assert.Zero(t, l.mem.Len(), "the ledger is empty")
	for _, k := range keys {
		assert.False(t, revoked(t, l.mem, k, time.Time{}), "%s is not recorded", k)
	}
}

// tokenClaims are the claims of a logout token that decide what is
// recorded.
type tokenClaims struct {
	Iss string  `json:"iss"`
	Sub string  `json:"sub"`
	SID string  `json:"sid"`
	JTI string  `json:"jti"`
	IAT float64 `json:"iat"`
}

// unverifiedClaims reads the claims of a compact JWS without checking
// anything; the zero value when raw has none that can be read.
func unverifiedClaims(raw string) tokenClaims {
	var c tokenClaims
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return c
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err == nil {
		_ = json.Unmarshal(payload, &c)
	}
	return c
}

// keysOf returns the ledger keys that a logout token with claims c could
// make, under issuer: its sid, its sub, and its jti.
func keysOf(issuer string, c tokenClaims) []string {
	keys := []string{logout.SIDKey(issuer, c.SID), logout.SubjectKey(issuer, c.Sub)}
	if c.JTI != "" {
		keys = append(keys, logout.JTIKey(issuer, c.JTI))
	}
	return keys
}

// acceptedWrites returns the records an accepted logout token with
// claims c writes: the session it ends (its sid, otherwise every session
// of its sub) kept for endedTTL, then its jti kept for jtiTTL, both at its
// iat.
func acceptedWrites(c tokenClaims, endedTTL, jtiTTL time.Duration) []ledgerWrite {
	at := time.Unix(int64(c.IAT), 0)
	key := logout.SubjectKey(c.Iss, c.Sub)
	if c.SID != "" {
		key = logout.SIDKey(c.Iss, c.SID)
	}
	return []ledgerWrite{{key, at, endedTTL}, {logout.JTIKey(c.Iss, c.JTI), at, jtiTTL}}
}

// The TTLs of the records of an accepted logout token under the default
// Config: EndedSessionTTL, and MaxAge plus twice ClockSkew for the jti.
const (
	defaultEndedTTL = 30 * 24 * time.Hour
	defaultJTITTL   = 5*time.Minute + 2*time.Minute
)

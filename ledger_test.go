package logout_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/ledgertest"
)

func TestMemoryLedgerContract(t *testing.T) {
	ledgertest.Run(t, func(*testing.T) logout.Ledger {
		return logout.NewMemoryLedger(logout.MemoryLedgerConfig{})
	})
}

// fakeClock is a settable clock for stores and handlers under test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func isSeen(t *testing.T, s logout.Ledger, key string) bool {
	t.Helper()
	ok, err := s.Seen(context.Background(), logout.LedgerQuery{Key: key})
	require.NoError(t, err)
	return ok
}

func TestMemoryLedgerBounded(t *testing.T) {
	clock := newFakeClock()
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{MaxEntries: 3, Now: clock.Now})
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, s.Record(ctx, fmt.Sprint(i), clock.Now(), time.Duration(i+1)*time.Minute))
	}
	err := s.Record(ctx, "3", clock.Now(), time.Hour)
	require.ErrorIs(t, err, logout.ErrLedgerFull)
	assert.False(t, isSeen(t, s, "3"))
	assert.True(t, isSeen(t, s, "0"), "a full store must not forget a live record")

	// Updating a key already held is not a new record.
	require.NoError(t, s.Record(ctx, "2", clock.Now(), 2*time.Hour))

	// Once the first record expires there is room again.
	clock.Advance(time.Minute)
	assert.False(t, isSeen(t, s, "0"), "expired records no longer match")
	require.NoError(t, s.Record(ctx, "3", clock.Now(), time.Hour))
	assert.Equal(t, 3, s.Len())
	assert.True(t, isSeen(t, s, "3"))
}

func TestMemoryLedgerExtendKeepsLaterExpiry(t *testing.T) {
	clock := newFakeClock()
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{Now: clock.Now})
	ctx := context.Background()
	require.NoError(t, s.Record(ctx, "k", clock.Now(), time.Minute))
	require.NoError(t, s.Record(ctx, "k", clock.Now(), time.Hour))
	require.NoError(t, s.Record(ctx, "k", clock.Now(), time.Second)) // shorter: ignored
	clock.Advance(2 * time.Minute)
	require.NoError(t, s.Record(ctx, "other", clock.Now(), time.Minute)) // drops expired heap items
	assert.True(t, isSeen(t, s, "k"), "the later expiry is kept")
	clock.Advance(time.Hour)
	assert.False(t, isSeen(t, s, "k"))
	require.NoError(t, s.Record(ctx, "again", clock.Now(), time.Minute))
	assert.Equal(t, 1, s.Len(), "expired records are dropped when new ones come in")
}

func TestMemoryLedgerRejectsBadTTL(t *testing.T) {
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{})
	for _, ttl := range []time.Duration{0, -time.Second} {
		assert.Error(t, s.Record(context.Background(), "k", time.Now(), ttl))
	}
}

func TestMemoryLedgerHeapStaysBounded(t *testing.T) {
	clock := newFakeClock()
	s := logout.NewMemoryLedger(logout.MemoryLedgerConfig{MaxEntries: 10, Now: clock.Now})
	ctx := context.Background()
	// Extending the same key many times must not grow memory without bound.
	for i := range 10000 {
		require.NoError(t, s.Record(ctx, "k", clock.Now(), time.Duration(i+1)*time.Second))
	}
	assert.Equal(t, 1, s.Len())
	assert.Less(t, logout.MemoryHeapLen(s), 64)
}

func TestKeysAreUnambiguous(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range []string{
		logout.SIDKey("https://a", "b:c"),
		logout.SIDKey("https://a:b", "c"),
		logout.SubjectKey("https://a", "b:c"),
		logout.SessionIDKey("b:c"),
		logout.SIDKey("", "x"),
		logout.SubjectKey("", "x"),
	} {
		assert.False(t, keys[k], "duplicate key %q", k)
		keys[k] = true
	}
}

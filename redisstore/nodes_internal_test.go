package redisstore

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/redisstore/redistest"
)

// TestKeySlot: the slots are those Redis Cluster computes (CLUSTER
// KEYSLOT), hash tags included, and the masters that serve them are those
// go-redis knows.
func TestKeySlot(t *testing.T) {
	for key, want := range map[string]uint16{
		"":                      0,
		"123456789":             12739, // CRC16/XMODEM's check value 0x31C3
		"foo":                   12182,
		"{user1000}.following":  keySlot("user1000"),
		"{}user1000":            keySlot("{}user1000"),
		"a{}{b}":                keySlot("a{}{b}"),
		"logout:ledger:{x}:sid": keySlot("x"),
	} {
		assert.Equal(t, want, keySlot(key), "%q", key)
	}
	cluster := redistest.StartCluster(t, 3)
	c := cluster.NewClient()
	for _, key := range []string{"", "foo", "{user1000}.following", "{}user1000", "a{}{b}", "a{b", "logout:ledger:sid:https://op.example.com:é"} {
		want, err := c.ClusterKeySlot(context.Background(), key).Result()
		require.NoError(t, err)
		assert.EqualValues(t, want, keySlot(key), "%q", key)
	}

	// CLUSTER SHARDS and, for servers before Redis 7.0, CLUSTER SLOTS
	// name the same master for each slot, as go-redis does.
	node := cluster.Nodes[0].NewClient()
	shards, err := slotRanges(context.Background(), node, false)
	require.NoError(t, err)
	legacy, err := legacySlotRanges(context.Background(), node)
	require.NoError(t, err)
	assert.ElementsMatch(t, legacy, shards)
	masters := map[string]bool{}
	var mu sync.Mutex
	require.NoError(t, c.ForEachMaster(context.Background(), func(_ context.Context, m *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters[m.Options().Addr] = true
		return nil
	}))
	for _, r := range shards {
		assert.True(t, masters[r.addr], "%s is a master go-redis knows", r.addr)
	}

	t.Run("Reload", func(t *testing.T) { testReload(t, c, true) })
	t.Run("NegativeAnswerExpires", func(t *testing.T) { testNegativeAnswerExpires(t, c, 3) })
}

// testReload: reading the same layout again keeps the view and the
// subscriptions; a changed slot map drops the view.
func testReload(t *testing.T, client redis.UniversalClient, slotted bool) {
	ctx := context.Background()
	c := NewCachedLedger(client, CachedLedgerConfig{Prefix: "reload:", MaxStaleness: 3 * time.Second})
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	require.Eventually(t, c.Fresh, 15*time.Second, 5*time.Millisecond)
	_, err := c.Seen(ctx, logout.LedgerQuery{Key: "a"}, logout.LedgerQuery{Key: "b"})
	require.NoError(t, err)
	require.Equal(t, 2, c.Stats().Entries)
	before := c.topo.Load()
	for range 3 {
		again, err := c.loadTopology(ctx)
		require.NoError(t, err)
		c.setTopology(ctx, again)
		assert.Equal(t, 2, c.Stats().Entries, "the same layout keeps the view")
		assert.Equal(t, before.nodes, c.topo.Load().nodes, "and the subscriptions")
	}
	if !slotted {
		return
	}
	moved, err := c.loadTopology(ctx)
	require.NoError(t, err)
	moved.slots[keySlot("reload:a")] = (moved.slots[keySlot("reload:a")] + 1) % uint16(len(moved.nodes))
	c.setTopology(ctx, moved)
	assert.Zero(t, c.Stats().Entries, "a slot that moved drops the view")
	assert.True(t, c.Fresh(), "the subscriptions stay")
}

// TestRingReload: a Ring's shards, listed in any order, make the same
// topology.
func TestRingReload(t *testing.T) {
	addrs := map[string]string{}
	for i := range 3 {
		addrs[fmt.Sprint("s", i)] = redistest.Start(t).Addr()
	}
	ring := redis.NewRing(&redis.RingOptions{Addrs: addrs, MaxRetries: -1, HeartbeatFrequency: time.Hour})
	t.Cleanup(func() { _ = ring.Close() })
	testReload(t, ring, false)
}

// TestMergeRules: of two records, the later time and expiry win; a live
// record wins over "no record", an expired one does not; of two "no
// record", the later age limit.
func TestMergeRules(t *testing.T) {
	now := int64(1_000_000)
	rec := func(at, expires int64) cacheEntry { return cacheEntry{at: at, expires: expires} }
	none := func(expires int64) cacheEntry { return cacheEntry{expires: expires} }
	for _, tc := range []struct {
		name           string
		old, new, want cacheEntry
	}{
		{"two records", rec(5, now+10), rec(4, now+20), rec(5, now+20)},
		{"record, then no record", rec(5, now+10), none(now + 50), rec(5, now+10)},
		{"expired record, then no record", rec(5, now), none(now + 50), none(now + 50)},
		{"no record, then a record", none(now + 50), rec(5, now+10), rec(5, now+10)},
		{"two no records", none(now + 50), none(now + 40), none(now + 50)},
	} {
		c := &CachedLedger{maxKeys: 10, entries: map[string]cacheEntry{"k": tc.old}}
		c.merge("k", tc.new, now)
		assert.Equal(t, tc.want, c.entries["k"], tc.name)
	}
}

// TestTopologyFresh: a key is fresh when the node that serves its slot
// is; a slot no node serves never is; on a ring every shard must be.
func TestTopologyFresh(t *testing.T) {
	const maxStale = time.Second
	now := time.Unix(1_700_000_000, 0).UnixNano()
	mk := func(pong, state int64) *node {
		n := &node{}
		n.pong.Store(pong)
		n.stateOK.Store(state)
		return n
	}
	fresh, stale, down := mk(now, now), mk(now-int64(maxStale), now), mk(now, 0)
	slots := make([]uint16, clusterSlots)
	slots[1], slots[2], slots[3] = 1, 2, noNode
	cluster := &topology{nodes: []*node{fresh, stale, down}, slots: slots}
	assert.True(t, cluster.fresh(0, now, maxStale))
	assert.False(t, cluster.fresh(1, now, maxStale), "last PING answer too old")
	assert.False(t, cluster.fresh(2, now, maxStale), "the node says the cluster is down")
	assert.False(t, cluster.fresh(3, now, maxStale), "no master")
	assert.False(t, cluster.allFresh(now, maxStale))

	single := &topology{nodes: []*node{mk(now, math.MaxInt64)}}
	assert.True(t, single.fresh(1234, now, maxStale))
	ring := &topology{nodes: []*node{fresh, stale}}
	assert.False(t, ring.fresh(0, now, maxStale), "a ring needs every shard fresh")
	var none *topology
	assert.False(t, none.fresh(0, now, maxStale))
	assert.False(t, none.allFresh(now, maxStale))
}

// TestNegativeAnswerExpires: a "no record" is kept for its age limit
// only, on a single server (and on a cluster: TestKeySlot): a record that
// reached Redis without its notice (written by other means) is seen once
// the limit has passed, and not before.
func TestNegativeAnswerExpires(t *testing.T) {
	testNegativeAnswerExpires(t, redistest.Start(t).NewClient(), 1)
}

// testNegativeAnswerExpires is TestNegativeAnswerExpires on cl, whose
// servers number nodes.
func testNegativeAnswerExpires(t *testing.T, cl redis.UniversalClient, nodes int) {
	ctx := context.Background()
	c := NewCachedLedger(cl, CachedLedgerConfig{Prefix: "neg:", MaxStaleness: 3 * time.Second})
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	c.negAge = 500 * time.Millisecond
	require.Eventually(t, c.Fresh, 15*time.Second, 5*time.Millisecond)
	key := logout.SessionIDKey("unannounced")
	q := logout.LedgerQuery{Key: key}
	read := time.Now() // the answer is read after this: it ages out after read + negAge
	got, err := c.Seen(ctx, q)
	require.NoError(t, err)
	require.False(t, got)
	require.NoError(t, cl.Set(ctx, "neg:"+key, time.Now().UnixMilli(), time.Hour).Err())
	for {
		got, err := c.Seen(ctx, q)
		require.NoError(t, err)
		if got {
			break
		}
		require.Less(t, time.Since(read), 5*time.Second, "the \"no record\" outlived its age limit")
		time.Sleep(10 * time.Millisecond)
	}
	assert.GreaterOrEqual(t, time.Since(read), c.negAge, "the view answered until its age limit")
	st := c.Stats()
	assert.EqualValues(t, 2, st.Remote, "the first look-up and the one past the limit")
	assert.Equal(t, nodes, st.Nodes)
}

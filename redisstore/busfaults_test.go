package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/redisstore"
	"github.com/oidc-logout/logout/redisstore/redistest"
)

// busNodeTimeout is the cluster-node-timeout of the bus fault tests: a
// node drops a silent bus link after half of it, and marks a silent node
// as failing after all of it.
const busNodeTimeout = 2 * time.Second

// TestCachedLedgerClusterBusFaults: on a real 3-node cluster whose bus,
// and only its bus, is slowed or cut, an instance that looked a key up
// before never answers "not seen" for it later than MaxStaleness after
// the write of its record returned: it answers "seen", or asks Redis.
// Node X serves the slot of the changes channel (where a single
// subscription to it would sit), node Y the key; the writer is another
// instance with a client of its own.
func TestCachedLedgerClusterBusFaults(t *testing.T) {
	c := redistest.StartClusterWith(t, redistest.ClusterConfig{NodeTimeout: busNodeTimeout, BusProxy: true})
	ctx := context.Background()
	const prefix = "bus:"
	admin := c.NewClient()
	x := nodeOfKey(t, c, admin, redisstore.ChangesChannel(prefix))
	y, z := (x+1)%3, (x+2)%3
	a := newCached(t, c.NewClient(), redisstore.CachedLedgerConfig{Prefix: prefix})
	writer := redisstore.NewLedger(c.NewClient(), prefix)
	waitFresh(t, a)

	both := func(f redistest.BusFault) func() {
		return func() { c.SetBus(x, y, f); c.SetBus(y, x, f) }
	}
	cut := redistest.BusFault{Cut: true}
	for i, tc := range []struct {
		name string
		// fault impairs the bus; it lasts for hold, then the bus heals,
		// and the instance is watched for watch from the write on.
		fault       func()
		hold, watch time.Duration
		// fail: the write is made at once, then the test waits until
		// every node reports cluster_state:fail.
		fail bool
	}{
		{name: "slow bus, 2 s both ways", fault: both(redistest.BusFault{Delay: 2 * time.Second}), hold: 2500 * time.Millisecond, watch: 2500 * time.Millisecond},
		{name: "short cut, 0.5 s", fault: both(cut), hold: 500 * time.Millisecond, watch: time.Second},
		{name: "long cut, 10 s", fault: both(cut), hold: 10 * time.Second, watch: 11 * time.Second},
		{name: "one-way cut into X, 3 s", fault: func() { c.SetBus(y, x, cut) }, hold: 3 * time.Second, watch: 3500 * time.Millisecond},
		{name: "whole bus cut, cluster in fail", fail: true, fault: func() {
			for _, p := range [][2]int{{x, y}, {y, x}, {x, z}, {z, x}, {y, z}, {z, y}} {
				c.SetBus(p[0], p[1], cut)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := keyOnNode(t, c, admin, prefix, fmt.Sprint("ended", i), y)
			other := keyOnNode(t, c, admin, prefix, fmt.Sprint("other", i), x)
			require.False(t, seen(t, a, key, other), "the view now holds: no record")
			tc.fault()
			healed := false
			heal := func() {
				if !healed {
					c.HealBus()
					healed = true
				}
			}
			defer func() {
				heal()
				if !tc.fail { // the last case: nothing needs the cluster back
					require.NoError(t, c.WaitState("ok", 30*time.Second))
					waitFresh(t, a)
				}
			}()

			start := time.Now()
			require.NoError(t, writer.Record(ctx, key, base, time.Hour))
			written := time.Now()
			bound := written.Add(redisstore.DefaultMaxStaleness)
			w := watcher{t: t, a: a, key: key, written: written, bound: bound}
			if tc.fail {
				require.NoError(t, c.WaitState("fail", 30*time.Second))
				failed := time.Now()
				w.watchUntil(failed.Add(time.Second))
				// Every node says the cluster is down: nothing is answered
				// "not seen" from the view, not even a key no one wrote.
				var fromView, errs int
				for range 20 {
					asked := time.Now()
					got, err := a.Seen(ctx, anyCheck(other))
					switch {
					case err != nil:
						errs++
					case !got && asked.After(failed.Add(redisstore.DefaultMaxStaleness)):
						fromView++
					}
					time.Sleep(10 * time.Millisecond)
				}
				t.Logf("cluster in fail %v after the cut; a key of X: %d errors, %d \"not seen\"", failed.Sub(start).Round(time.Millisecond), errs, fromView)
				assert.Zero(t, fromView, "a key answered \"not seen\" while the cluster is down")
			} else {
				end := start.Add(tc.watch)
				healAt := start.Add(tc.hold)
				for time.Now().Before(end) {
					if !healed && time.Now().After(healAt) {
						heal()
					}
					next := time.Now().Add(100 * time.Millisecond)
					if next.After(end) {
						next = end
					}
					w.watchUntil(next)
				}
			}
			t.Logf("write %v; \"not seen\" up to %v after the write returned (%d answers past the bound), \"seen\" %d, errors %d",
				written.Sub(start).Round(time.Microsecond), w.lastNotSeen.Round(time.Microsecond), w.late, w.seen, w.errors)
			assert.Zero(t, w.late, "answers \"not seen\" later than MaxStaleness after the write returned")
			assert.Positive(t, w.seen+w.errors, "the instance answered at all")
		})
	}
}

// watcher looks a key up again and again, and counts the answers.
type watcher struct {
	t            *testing.T
	a            *redisstore.CachedLedger
	key          string
	written      time.Time // when the record's write returned
	bound        time.Time // from then on, "not seen" breaks the guarantee
	lastNotSeen  time.Duration
	late         int
	seen, errors int
}

// watchUntil looks the key up every millisecond or so until end.
func (w *watcher) watchUntil(end time.Time) {
	for time.Now().Before(end) {
		asked := time.Now()
		got, err := w.a.Seen(context.Background(), anyCheck(w.key))
		switch {
		case err != nil:
			w.errors++
		case got:
			w.seen++
		default:
			w.lastNotSeen = max(w.lastNotSeen, asked.Sub(w.written))
			if asked.After(w.bound) {
				w.late++
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// nodeOfKey returns the index in c.Nodes of the master that serves key.
func nodeOfKey(t testing.TB, c *redistest.Cluster, admin *redis.ClusterClient, key string) int {
	t.Helper()
	ctx := context.Background()
	slot, err := admin.ClusterKeySlot(ctx, key).Result()
	require.NoError(t, err)
	shards, err := admin.ClusterShards(ctx).Result()
	require.NoError(t, err)
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start <= slot && slot <= r.End {
				for _, n := range sh.Nodes {
					for i, s := range c.Nodes {
						if n.Role == "master" && int(n.Port) == s.Port() {
							return i
						}
					}
				}
			}
		}
	}
	t.Fatalf("no master serves slot %d", slot)
	return -1
}

// keyOnNode returns a record key, name with a suffix, whose record
// (prefix + key) lives on node.
func keyOnNode(t testing.TB, c *redistest.Cluster, admin *redis.ClusterClient, prefix, name string, node int) string {
	t.Helper()
	for i := range 1000 {
		key := logout.SessionIDKey(fmt.Sprint(name, "-", i))
		if nodeOfKey(t, c, admin, prefix+key) == node {
			return key
		}
	}
	t.Fatalf("no key of %s on node %d", name, node)
	return ""
}

// TestCachedLedgerClusterNodeStalls: one master stops answering (CLIENT
// PAUSE); the view keeps answering for the keys of the other masters,
// and sends the look-ups of the stalled master's keys to Redis, where
// they time out: never "not seen" from a view that master cannot prove
// fresh.
func TestCachedLedgerClusterNodeStalls(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	ctx := context.Background()
	const prefix = "stall:"
	admin := c.NewClient()
	a := newCached(t, c.NewClient(), redisstore.CachedLedgerConfig{Prefix: prefix, Timeout: 200 * time.Millisecond})
	waitFresh(t, a)
	require.Equal(t, 3, a.Stats().Nodes)
	for _, s := range c.Nodes { // one subscription on every master, to the one channel
		channels, err := s.NewClient().PubSubChannels(ctx, "*").Result()
		require.NoError(t, err)
		assert.Equal(t, []string{redisstore.ChangesChannel(prefix)}, channels, s.Addr())
	}
	healthy := keyOnNode(t, c, admin, prefix, "healthy", 0)
	stalled := keyOnNode(t, c, admin, prefix, "stalled", 1)
	require.False(t, seen(t, a, healthy, stalled), "the view now holds: no record")

	const pause = 3 * time.Second
	require.NoError(t, c.Nodes[1].NewClient().Do(ctx, "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err())
	paused := time.Now()
	require.Eventually(t, func() bool { return a.Stats().StaleNodes == 1 }, pause/2, 5*time.Millisecond,
		"the paused master's proof goes stale")
	local := a.Stats().Local
	assert.False(t, seen(t, a, healthy), "a healthy master's key is answered from the view")
	assert.Equal(t, local+1, a.Stats().Local)
	got, err := a.Seen(ctx, anyCheck(stalled))
	require.Less(t, time.Since(paused), pause, "the pause lasted through the look-ups")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the stalled master's key is asked of Redis")
	assert.False(t, got)
	waitFresh(t, a) // and the view comes back once the master answers again
}

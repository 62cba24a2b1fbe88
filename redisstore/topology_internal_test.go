package redisstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/redisstore/redistest"
)

// topologyMaxStale is the MaxStaleness of the CachedLedgers of the
// topology tests: they retry a failed load every quarter of it.
const topologyMaxStale = time.Second

// loadErr returns the error of loading c's topology now.
func loadErr(t *testing.T, c *CachedLedger) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.loadTopology(ctx)
	return err
}

// assertNoTopology checks that c, whose topology does not load, tracks
// no server and asks Redis for every look-up, keeping none of the
// answers: recorded (a key recorded in Redis) is seen, an unknown key
// is not, twice. When lookupErr is not empty, Redis cannot be reached
// and each look-up fails with an error that contains it instead.
func assertNoTopology(t *testing.T, c *CachedLedger, recorded, lookupErr string) {
	t.Helper()
	ctx := context.Background()
	assert.Nil(t, c.topo.Load(), "no topology")
	assert.False(t, c.Fresh())
	st := c.Stats()
	assert.Zero(t, st.Nodes)
	assert.Zero(t, st.StaleNodes)
	if lookupErr != "" {
		seen, err := c.Seen(ctx, logout.LedgerQuery{Key: recorded})
		assert.ErrorContains(t, err, lookupErr, "the look-up fails closed")
		assert.False(t, seen)
		assert.Equal(t, CachedLedgerStats{Remote: 1}, c.Stats())
		return
	}
	seen, err := c.Seen(ctx, logout.LedgerQuery{Key: recorded})
	require.NoError(t, err)
	assert.True(t, seen, "read from Redis")
	for range 2 {
		seen, err = c.Seen(ctx, logout.LedgerQuery{Key: "unknown"})
		require.NoError(t, err)
		assert.False(t, seen)
	}
	assert.Equal(t, CachedLedgerStats{Remote: 3}, c.Stats(), "every look-up asked Redis, and no answer was kept")
}

// assertRecovers checks that c, once its topology loads, tracks nodes
// servers, all fresh, and answers from its view.
func assertRecovers(t *testing.T, c *CachedLedger, nodes int) {
	t.Helper()
	ctx := context.Background()
	require.Eventually(t, func() bool {
		st := c.Stats()
		return st.Nodes == nodes && st.StaleNodes == 0
	}, 15*time.Second, 10*time.Millisecond, "the topology loads once it can: %+v", c.Stats())
	before := c.Stats()
	require.NoError(t, c.Record(ctx, "after", time.Now(), time.Minute))
	for _, q := range []logout.LedgerQuery{{Key: "after"}, {Key: "unknown-after"}, {Key: "unknown-after"}} {
		_, err := c.Seen(ctx, q)
		require.NoError(t, err)
	}
	st := c.Stats()
	assert.Equal(t, before.Local+2, st.Local, "the record and the kept \"no record\" are answered from the view")
	assert.Equal(t, before.Remote+1, st.Remote, "the unknown key is read once")
}

// TestClusterTopologyFailures: when the layout of a cluster cannot be
// read (a node fails CLUSTER SLOTS, CLUSTER INFO or CLUSTER SHARDS, or
// lists no slot, or names masters the client does not know), the
// CachedLedger tracks no server and asks Redis for every look-up; once
// the layout reads again it tracks every master. A server older than
// Redis 7.0, without CLUSTER SHARDS, is read with CLUSTER SLOTS. A
// client that reaches the nodes under other addresses than they announce
// (address translation) is followed: masters are matched by node id. Each
// node is reached through a proxy that answers the chosen commands
// itself.
func TestClusterTopologyFailures(t *testing.T) {
	ctx := context.Background()
	cluster := redistest.StartCluster(t, 3)
	var proxies []*redistest.Proxy
	for _, s := range cluster.Nodes {
		proxies = append(proxies, redistest.StartProxy(t, s.Addr()))
	}
	const prefix = "topo:"
	require.NoError(t, NewLedgerWithConfig(cluster.NewClient(), LedgerConfig{Prefix: prefix}).
		Record(ctx, "recorded", time.Now(), time.Hour))
	const unknownShards = "ERR unknown subcommand 'shards'. Try CLUSTER HELP." // Redis 6.2
	// One shard of every slot, whose master is at 127.0.0.1:1 (RESP2).
	const unknownMaster = "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n" +
		"*8\r\n$2\r\nid\r\n$7\r\nunknown\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n:1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
	type fault struct {
		node             int // -1: every node
		command, respond string
	}
	for _, tc := range []struct {
		name   string
		faults []fault
		// warm: the client reads the layout before the faults begin.
		warm bool
		// nat: the client reaches the nodes through the proxies under
		// the proxies' addresses, not the nodes' own.
		nat       bool
		natErr    error    // with nat: the error of the client's ClusterSlots
		wantErr   []string // nothing: the topology loads
		lookupErr string
	}{{
		name:      "the client cannot list the masters",
		faults:    []fault{{-1, "CLUSTER SLOTS", "-ERR slots refused\r\n"}},
		wantErr:   []string{"redisstore: reading the cluster's masters: ", "ERR slots refused"},
		lookupErr: "ERR slots refused",
	}, {
		name:    "a master fails CLUSTER INFO",
		faults:  []fault{{1, "CLUSTER INFO", "-ERR info refused\r\n"}},
		wantErr: []string{"redisstore: reading the cluster's masters: ", "ERR info refused"},
	}, {
		name:    "CLUSTER SHARDS fails",
		faults:  []fault{{-1, "CLUSTER SHARDS", "-ERR shards refused\r\n"}},
		wantErr: []string{"redisstore: reading the cluster's slots: ", "ERR shards refused"},
	}, {
		name:    "CLUSTER SHARDS lists no slot",
		faults:  []fault{{-1, "CLUSTER SHARDS", "*0\r\n"}},
		wantErr: []string{"redisstore: no slot of the cluster is served"},
	}, {
		name:   "before Redis 7.0",
		faults: []fault{{-1, "CLUSTER SHARDS", "-" + unknownShards + "\r\n"}},
	}, {
		name: "before Redis 7.0, CLUSTER SLOTS fails",
		faults: []fault{
			{-1, "CLUSTER SHARDS", "-" + unknownShards + "\r\n"},
			{-1, "CLUSTER SLOTS", "-ERR slots refused\r\n"},
		},
		warm:    true,
		wantErr: []string{"redisstore: reading the cluster's slots: ", "ERR slots refused"},
	}, {
		name:    "the nodes name a master the client does not know",
		faults:  []fault{{-1, "CLUSTER SHARDS", unknownMaster}},
		wantErr: []string{"redisstore: master 127.0.0.1:1 is not known to the client yet"},
	}, {
		name: "the client reaches the nodes under translated addresses",
		nat:  true,
	}, {
		name:    "the client's ClusterSlots fails",
		nat:     true,
		natErr:  errors.New("no layout"),
		wantErr: []string{"redisstore: reading the cluster's masters: no layout"},
		// The client cannot route either.
		lookupErr: "no layout",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &redis.ClusterOptions{Addrs: cluster.Addrs(), Dialer: redistest.ProxyDialer(proxies...),
				DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second}
			if tc.nat {
				node := cluster.Nodes[0].NewClient()
				opts.Dialer = nil
				opts.ClusterSlots = func(ctx context.Context) ([]redis.ClusterSlot, error) {
					if tc.natErr != nil {
						return nil, tc.natErr
					}
					return proxiedSlots(ctx, node, proxies)
				}
			}
			client := redis.NewClusterClient(opts)
			t.Cleanup(func() { _ = client.Close() })
			if tc.warm {
				require.NoError(t, client.ForEachMaster(ctx, func(context.Context, *redis.Client) error { return nil }))
			}
			t.Cleanup(func() {
				for _, p := range proxies {
					p.Clear()
				}
			})
			for _, f := range tc.faults {
				for i, p := range proxies {
					if f.node < 0 || f.node == i {
						p.Reply(f.command, f.respond)
					}
				}
			}
			c := NewCachedLedger(client, CachedLedgerConfig{Prefix: prefix, MaxStaleness: topologyMaxStale})
			t.Cleanup(func() { assert.NoError(t, c.Close()) })

			err := loadErr(t, c)
			if len(tc.wantErr) == 0 {
				require.NoError(t, err)
				if !tc.nat {
					answered := 0
					for _, p := range proxies {
						answered += p.Answered("CLUSTER SHARDS")
					}
					assert.Positive(t, answered, "the proxies refused CLUSTER SHARDS")
				}
				assertClusterLayout(t, c, cluster)
				assertRecovers(t, c, len(cluster.Nodes))
				return
			}
			for _, want := range tc.wantErr {
				assert.ErrorContains(t, err, want)
			}
			assertNoTopology(t, c, "recorded", tc.lookupErr)
			if tc.nat {
				return // the layout never reads
			}
			for _, p := range proxies {
				p.Clear()
			}
			assertRecovers(t, c, len(cluster.Nodes))
			assertClusterLayout(t, c, cluster)
		})
	}
}

// assertClusterLayout checks that c's topology has every master of
// cluster serve the slots CLUSTER SHARDS gives it, each node named by
// the address the client reaches it at.
func assertClusterLayout(t *testing.T, c *CachedLedger, cluster *redistest.Cluster) {
	t.Helper()
	ctx := context.Background()
	ranges, err := slotRanges(ctx, cluster.Nodes[0].NewClient(), false)
	require.NoError(t, err)
	topo := c.topo.Load()
	require.NotNil(t, topo)
	assert.Len(t, topo.nodes, len(cluster.Nodes))
	ids := make([]string, len(topo.nodes))
	for i, n := range topo.nodes {
		client := n.id.(*redis.Client)
		ids[i] = client.ClusterMyID(ctx).Val()
		assert.Equal(t, client.Options().Addr, n.addr)
	}
	served := 0
	for _, r := range ranges {
		for s := r.start; s <= r.end; s++ {
			if assert.NotEqual(t, noNode, topo.slots[s]) && ids[topo.slots[s]] == r.id {
				served++
			}
		}
	}
	assert.Equal(t, clusterSlots, served, "every slot is served by the master CLUSTER SHARDS names")
}

// proxiedSlots reads the layout of the cluster from node and names each
// master by the address of the proxy in front of it, as a client behind
// address translation sees the cluster.
func proxiedSlots(ctx context.Context, node *redis.Client, proxies []*redistest.Proxy) ([]redis.ClusterSlot, error) {
	ranges, err := slotRanges(ctx, node, false)
	if err != nil {
		return nil, err
	}
	slots := make([]redis.ClusterSlot, 0, len(ranges))
	for _, r := range ranges {
		addr := r.addr
		for _, p := range proxies {
			if p.Target() == r.addr {
				addr = p.Addr()
			}
		}
		slots = append(slots, redis.ClusterSlot{Start: r.start, End: r.end, Nodes: []redis.ClusterNode{{Addr: addr}}})
	}
	return slots, nil
}

// TestClusterWithoutSlots: a cluster node that serves no slot yet has no
// master to subscribe to; look-ups fail closed (the node refuses every
// key) until the node is given the slots, and the CachedLedger then
// tracks it.
func TestClusterWithoutSlots(t *testing.T) {
	ctx := context.Background()
	node := redistest.StartClusterNode(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{node.Addr()},
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })
	c := NewCachedLedger(client, CachedLedgerConfig{Prefix: "noslots:", MaxStaleness: topologyMaxStale})
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	assert.EqualError(t, loadErr(t, c), "redisstore: the cluster has no master")
	assertNoTopology(t, c, "recorded", "CLUSTERDOWN")

	require.NoError(t, node.NewClient().Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, clusterSlots-1).Err())
	assertRecovers(t, c, 1)
}

// TestRingWithoutLiveShard: a Ring whose shards are all down has no
// server to subscribe to; look-ups and records fail closed until the
// shards are back, and the CachedLedger then tracks them.
func TestRingWithoutLiveShard(t *testing.T) {
	ctx := context.Background()
	servers := []*redistest.Server{redistest.Start(t), redistest.Start(t)}
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:              map[string]string{"s0": servers[0].Addr(), "s1": servers[1].Addr()},
		HeartbeatFrequency: 20 * time.Millisecond, MaxRetries: -1, DialTimeout: time.Second,
	})
	t.Cleanup(func() { _ = ring.Close() })
	for _, s := range servers {
		s.Stop()
	}
	require.Eventually(t, func() bool {
		err := ring.Ping(ctx).Err()
		return err != nil && strings.Contains(err.Error(), "all ring shards are down")
	}, 15*time.Second, 10*time.Millisecond, "the ring sees its shards down")
	c := NewCachedLedger(ring, CachedLedgerConfig{Prefix: "ring:", MaxStaleness: topologyMaxStale})
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	assert.EqualError(t, loadErr(t, c), "redisstore: the ring has no live shard")
	assertNoTopology(t, c, "recorded", "all ring shards are down")
	assert.ErrorContains(t, c.Record(ctx, "k", time.Now(), time.Minute), "all ring shards are down")
	assert.Zero(t, c.Stats().Entries, "a failed record is not kept")

	for _, s := range servers {
		s.Restart()
	}
	assertRecovers(t, c, len(servers))
}

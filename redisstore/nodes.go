package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// topologyReload is how often a CachedLedger on a Redis Cluster or a Ring
// reads the cluster's layout again even when nothing told it to.
const topologyReload = 10 * time.Second

// noNode marks a slot that no master serves.
const noNode = math.MaxUint16

// topology is the set of servers a CachedLedger subscribes to, and which
// of them writes each key.
type topology struct {
	nodes []*node
	// slots maps each cluster hash slot to the index in nodes of the
	// master that serves it (noNode when none does). It is nil when the
	// keys are not placed by slot: on a single server, which writes them
	// all, and on a Ring, where every shard's view must be fresh.
	slots []uint16
	// epoch is the highest cluster current epoch seen when the layout
	// was read; a node that reports a higher one makes the CachedLedger
	// read the layout again.
	epoch int64
}

// nodeOf returns the node that writes the key of slot, nil when none or
// every node does.
func (t *topology) nodeOf(slot uint16) (n *node, all bool) {
	if t.slots == nil {
		if len(t.nodes) == 1 {
			return t.nodes[0], false
		}
		return nil, true
	}
	if i := t.slots[slot]; i != noNode {
		return t.nodes[i], false
	}
	return nil, false
}

// fresh reports whether the view may answer "not seen" at now for a key
// of slot: the node that writes it has proved, less than maxStale ago,
// that every record it wrote before then is in the view.
func (t *topology) fresh(slot uint16, now int64, maxStale time.Duration) bool {
	if t == nil {
		return false
	}
	n, all := t.nodeOf(slot)
	if all {
		return t.allFresh(now, maxStale)
	}
	return n != nil && n.freshAt(now, maxStale)
}

// allFresh reports whether every node is fresh at now.
func (t *topology) allFresh(now int64, maxStale time.Duration) bool {
	if t == nil || len(t.nodes) == 0 {
		return false
	}
	for _, n := range t.nodes {
		if !n.freshAt(now, maxStale) {
			return false
		}
	}
	return true
}

// node is the subscription of a CachedLedger to one server: the single
// server, a master of a Redis Cluster, or a shard of a Ring. Every record
// is published from inside the script that writes it, by the server that
// holds it, to that server's own subscribers at once; so the node's
// subscription receives the records its server writes in order with the
// answers to the PINGs sent on it, whatever the cluster bus does.
type node struct {
	addr string
	id   any // the go-redis client: a node whose client changed is a new node
	// subscribe returns a PubSub on the node, subscribed to nothing yet.
	subscribe func(ctx context.Context) *redis.PubSub
	// clusterInfo runs CLUSTER INFO on the node; nil outside a cluster.
	clusterInfo func(ctx context.Context) (string, error)

	pubsub *redis.PubSub
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// pong is the send time (Unix ns) of the latest PING answered on the
	// subscription since it was last (re)established: the view holds
	// every record the node wrote before it. 0 while not proven.
	pong atomic.Int64
	// stateOK is the send time of the latest CLUSTER INFO that answered
	// cluster_state:ok; MaxInt64 outside a cluster; 0 once the node said
	// the cluster is down.
	stateOK    atomic.Int64
	subscribed atomic.Bool // the subscription is up; PING answers count
}

// freshAt reports whether the node's proof is younger than maxStale at
// now.
func (n *node) freshAt(now int64, maxStale time.Duration) bool {
	f := min(n.pong.Load(), n.stateOK.Load())
	return f != 0 && now-f < int64(maxStale)
}

// loadTopology returns the servers to subscribe to and, on a cluster,
// the slot map and epoch.
func (c *CachedLedger) loadTopology(ctx context.Context) (*topology, error) {
	switch cl := c.ledger.client.(type) {
	case *redis.Client:
		return &topology{nodes: []*node{c.newNode(cl.Options().Addr, cl, cl, false)}}, nil
	case *redis.ClusterClient:
		return c.loadCluster(ctx, cl)
	case *redis.Ring:
		var mu sync.Mutex
		var nodes []*node
		err := cl.ForEachShard(ctx, func(_ context.Context, shard *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			nodes = append(nodes, c.newNode(shard.Options().Addr, shard, shard, false))
			return nil
		})
		switch {
		case err != nil:
			return nil, fmt.Errorf("redisstore: listing the ring's shards: %w", err)
		case len(nodes) == 0:
			return nil, errors.New("redisstore: the ring has no live shard")
		}
		// The same shards in the same order make the same topology.
		slices.SortFunc(nodes, func(a, b *node) int { return strings.Compare(a.addr, b.addr) })
		return &topology{nodes: nodes}, nil
	default:
		n := &node{addr: "", id: c.ledger.client, subscribe: func(ctx context.Context) *redis.PubSub {
			return c.ledger.client.Subscribe(ctx)
		}}
		n.stateOK.Store(math.MaxInt64)
		return &topology{nodes: []*node{n}}, nil
	}
}

// newNode returns a node on client.
func (c *CachedLedger) newNode(addr string, id any, client *redis.Client, cluster bool) *node {
	n := &node{addr: addr, id: id, subscribe: func(ctx context.Context) *redis.PubSub {
		return client.Subscribe(ctx)
	}}
	if cluster {
		n.clusterInfo = func(ctx context.Context) (string, error) { return client.ClusterInfo(ctx).Result() }
	} else {
		n.stateOK.Store(math.MaxInt64)
	}
	return n
}

// loadCluster reads the masters of a cluster and which slots each
// serves. The epoch is read from every master before the slot map, so
// that a map older than a change of the epoch is read again. Masters are
// matched to the map by their node ids, so that a client that reaches
// them under other addresses than the cluster announces (address
// translation, a ClusterOptions.ClusterSlots of its own) is followed too.
func (c *CachedLedger) loadCluster(ctx context.Context, cl *redis.ClusterClient) (*topology, error) {
	var mu sync.Mutex
	masters := make(map[string]*redis.Client) // by node id
	var epoch int64
	err := cl.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		var info, id *redis.StringCmd
		if _, err := m.Pipelined(ctx, func(p redis.Pipeliner) error {
			info, id = p.ClusterInfo(ctx), p.ClusterMyID(ctx)
			return nil
		}); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		masters[id.Val()] = m
		epoch = max(epoch, clusterEpoch(info.Val()))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: reading the cluster's masters: %w", err)
	}
	var from *redis.Client
	for _, m := range masters {
		from = m
		break
	}
	if from == nil {
		return nil, errors.New("redisstore: the cluster has no master")
	}
	ranges, err := slotRanges(ctx, from, cl.Options().TLSConfig != nil)
	if err != nil {
		return nil, fmt.Errorf("redisstore: reading the cluster's slots: %w", err)
	}
	t := &topology{slots: make([]uint16, clusterSlots), epoch: epoch}
	for i := range t.slots {
		t.slots[i] = noNode
	}
	// The masters in the order of their ids, so that the same layout
	// makes the same topology.
	var ids []string
	for _, r := range ranges {
		if r.valid() && !slices.Contains(ids, r.id) {
			ids = append(ids, r.id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := masters[id]
		if m == nil { // the client's view of the cluster is behind
			cl.ReloadState(ctx)
			return nil, fmt.Errorf("redisstore: master %s is not known to the client yet", rangeOf(ranges, id).addr)
		}
		t.nodes = append(t.nodes, c.newNode(m.Options().Addr, m, m, true))
	}
	for _, r := range ranges {
		if r.valid() {
			i := uint16(slices.Index(ids, r.id))
			for s := r.start; s <= r.end; s++ {
				t.slots[s] = i
			}
		}
	}
	if len(t.nodes) == 0 {
		return nil, errors.New("redisstore: no slot of the cluster is served")
	}
	return t, nil
}

// slotRange is a range of slots and the master that serves it, by its
// node id and the address the cluster announces.
type slotRange struct {
	start, end int
	id, addr   string
}

// valid reports whether r is a range of slots that exist.
func (r slotRange) valid() bool {
	return r.start >= 0 && r.end < clusterSlots && r.start <= r.end
}

// rangeOf returns the first of ranges served by the master id.
func rangeOf(ranges []slotRange, id string) slotRange {
	i := slices.IndexFunc(ranges, func(r slotRange) bool { return r.id == id })
	return ranges[i]
}

// slotRanges reads which master serves which slots with CLUSTER SHARDS,
// or CLUSTER SLOTS from a server older than Redis 7.0, and names each
// master by its node id and its preferred endpoint, as go-redis does.
func slotRanges(ctx context.Context, from *redis.Client, tls bool) ([]slotRange, error) {
	shards, err := from.ClusterShards(ctx).Result()
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "unknown") {
		return legacySlotRanges(ctx, from)
	}
	if err != nil {
		return nil, err
	}
	var out []slotRange
	for _, sh := range shards {
		for _, n := range sh.Nodes {
			if n.Role != "master" {
				continue
			}
			host, port := n.Endpoint, n.Port
			if host == "" || host == "?" {
				host = n.IP
			}
			if (tls && n.TLSPort != 0) || port == 0 {
				port = n.TLSPort
			}
			addr := net.JoinHostPort(host, strconv.FormatInt(port, 10))
			for _, r := range sh.Slots {
				out = append(out, slotRange{int(r.Start), int(r.End), n.ID, addr})
			}
		}
	}
	return out, nil
}

// legacySlotRanges is slotRanges with CLUSTER SLOTS.
func legacySlotRanges(ctx context.Context, from *redis.Client) ([]slotRange, error) {
	cmd := redis.NewClusterSlotsCmd(ctx, "cluster", "slots")
	_ = from.Process(ctx, cmd)
	ranges, err := cmd.Result()
	if err != nil {
		return nil, err
	}
	out := make([]slotRange, 0, len(ranges))
	for _, r := range ranges {
		if len(r.Nodes) > 0 {
			out = append(out, slotRange{r.Start, r.End, r.Nodes[0].ID, r.Nodes[0].Addr})
		}
	}
	return out, nil
}

// clusterEpoch returns cluster_current_epoch of a CLUSTER INFO reply, 0
// when absent.
func clusterEpoch(info string) int64 {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "cluster_current_epoch:"); ok {
			e, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return e
		}
	}
	return 0
}

// manage keeps the topology: it loads it, starts the nodes' goroutines,
// and loads it again when a node reports a newer cluster epoch, every
// topologyReload, or until a load succeeds. It returns when ctx ends,
// after stopping every node.
func (c *CachedLedger) manage(ctx context.Context, first *topology) {
	defer c.wg.Done()
	_, single := c.ledger.client.(*redis.Client)
	retry := time.NewTimer(0)
	if first != nil {
		retry.Reset(topologyReload)
	}
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			if t := c.topo.Swap(nil); t != nil {
				for _, n := range t.nodes {
					c.stopNode(n)
				}
			}
			return
		case <-retry.C:
		case <-c.reload:
		}
		if single && c.topo.Load() != nil {
			retry.Reset(topologyReload)
			continue // one server: nothing to learn
		}
		lctx, cancel := context.WithTimeout(ctx, c.ledger.bound.timeout)
		t, err := c.loadTopology(lctx)
		cancel()
		if err != nil {
			if c.topo.Load() == nil {
				retry.Reset(c.pingEvery) // nothing to answer from yet
			} else {
				retry.Reset(time.Second) // the current topology still holds
			}
			continue
		}
		c.setTopology(ctx, t)
		retry.Reset(topologyReload)
		select { // a burst of reports loads once more at most
		case <-ctx.Done():
		case <-time.After(c.pingEvery):
		}
	}
}

// setTopology makes t the topology, keeping the nodes t shares with the
// current one (same address, same client) and their subscriptions. When
// the slot map or the set of nodes changed, the view is dropped.
func (c *CachedLedger) setTopology(ctx context.Context, t *topology) {
	old := c.topo.Load()
	kept := make(map[*node]bool)
	same := old != nil && len(old.nodes) == len(t.nodes)
	if old != nil {
		for i, n := range t.nodes {
			for _, o := range old.nodes {
				if o.addr == n.addr && o.id == n.id {
					t.nodes[i] = o
					kept[o] = true
				}
			}
			same = same && i < len(old.nodes) && old.nodes[i] == t.nodes[i]
		}
		same = same && slices.Equal(old.slots, t.slots) && (old.slots == nil) == (t.slots == nil)
	}
	if !same {
		c.mu.Lock()
		c.topo.Store(t)
		clear(c.entries)
		c.gen++
		c.mu.Unlock()
	} else {
		c.topo.Store(t)
	}
	if old != nil {
		for _, o := range old.nodes {
			if !kept[o] {
				c.stopNode(o)
			}
		}
	}
	var started sync.WaitGroup // subscribe to the new nodes at once, not one by one
	for _, n := range t.nodes {
		if !kept[n] {
			started.Go(func() { c.startNode(ctx, n) })
		}
	}
	started.Wait()
}

// startNode subscribes n, waiting up to the Timeout for the subscription
// to be sent, and starts its goroutines.
func (c *CachedLedger) startNode(ctx context.Context, n *node) {
	ctx, n.cancel = context.WithCancel(ctx)
	n.pubsub = n.subscribe(ctx)
	subCtx, cancel := context.WithTimeout(ctx, c.ledger.bound.timeout)
	_ = n.pubsub.Subscribe(subCtx, c.ledger.channel) // a failure is retried by Receive
	cancel()
	n.wg.Add(2)
	go c.receive(ctx, n)
	go c.ping(ctx, n)
	if n.clusterInfo != nil {
		n.wg.Add(1)
		go c.checkState(ctx, n)
	}
}

// stopNode ends n's subscription and goroutines, and drops the keys it
// wrote from the view.
func (c *CachedLedger) stopNode(n *node) {
	n.cancel()
	_ = n.pubsub.Close()
	n.wg.Wait()
	c.nodeBroken(n)
}

// receive applies the records and PING answers of n's subscription until
// ctx ends.
func (c *CachedLedger) receive(ctx context.Context, n *node) {
	defer n.wg.Done()
	for ctx.Err() == nil {
		msg, err := n.pubsub.ReceiveTimeout(ctx, time.Second)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // nothing arrived; freshness decays on its own
			}
			c.nodeBroken(n)
			select { // do not spin while the server is down
			case <-ctx.Done():
			case <-time.After(c.pingEvery):
			}
			continue
		}
		c.handle(n, msg)
	}
}

// handle applies one message of n's subscription.
func (c *CachedLedger) handle(n *node, msg any) {
	switch m := msg.(type) {
	case *redis.Subscription:
		if m.Kind == "subscribe" && m.Channel == c.ledger.channel {
			// A first subscription, or go-redis subscribing again on a
			// new connection: records may have been missed meanwhile.
			c.nodeBroken(n)
			n.subscribed.Store(true)
		}
	case *redis.Pong:
		sent, err := strconv.ParseInt(m.Payload, 10, 64)
		if err == nil && n.subscribed.Load() && sent > n.pong.Load() {
			n.pong.Store(sent)
		}
	case *redis.Message:
		if m.Channel == c.ledger.channel {
			c.apply(m.Payload)
		}
	}
}

// ping sends a PING carrying the time it was sent on n's subscription
// every pingEvery. The server answers in order, after every message it
// published before the PING, so the answer proves that the view holds
// every record the server wrote before that time.
func (c *CachedLedger) ping(ctx context.Context, n *node) {
	defer n.wg.Done()
	t := time.NewTicker(c.pingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !n.subscribed.Load() {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, c.maxStale)
		_ = n.pubsub.Ping(pctx, strconv.FormatInt(c.now().UnixNano(), 10))
		cancel()
	}
}

// checkState asks a cluster node every pingEvery whether the cluster is
// ok. A node that says it is not (it lost the majority, or a slot has no
// master) is not fresh until it says ok again: its keys may have moved
// to a master it does not know of. A node that reports a newer epoch
// than the topology's makes the topology load again.
func (c *CachedLedger) checkState(ctx context.Context, n *node) {
	defer n.wg.Done()
	t := time.NewTicker(c.pingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := c.now().UnixNano()
		ictx, cancel := context.WithTimeout(ctx, c.maxStale)
		info, err := n.clusterInfo(ictx)
		cancel()
		switch {
		case err != nil:
			continue // no answer: freshness decays on its own
		case !strings.Contains(info, "cluster_state:ok"):
			n.stateOK.Store(0)
		case sent > n.stateOK.Load():
			n.stateOK.Store(sent)
		}
		if topo := c.topo.Load(); topo != nil && clusterEpoch(info) > topo.epoch {
			select {
			case c.reload <- struct{}{}:
			default:
			}
		}
	}
}

// nodeBroken records that n's subscription may have missed records, and
// drops from the view the keys n writes.
func (c *CachedLedger) nodeBroken(n *node) {
	n.pong.Store(0)
	if !n.subscribed.Swap(false) {
		// Not subscribed since the last break: the view took no "no
		// record" of n's keys since, and a record is always right.
		return
	}
	c.breaks.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	t := c.topo.Load()
	if t == nil || t.slots == nil {
		clear(c.entries)
		return
	}
	for k, e := range c.entries {
		if owner, _ := t.nodeOf(e.slot); owner == n || owner == nil {
			delete(c.entries, k)
		}
	}
}

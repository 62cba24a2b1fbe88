package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterBusOffset is what Redis adds to a node's port for its cluster
// bus.
const clusterBusOffset = 10000

// Cluster is a running Redis Cluster of masters without replicas, owned by
// one test.
type Cluster struct {
	tb    testing.TB
	Nodes []*Server

	proxies    []*busProxy // nil without ClusterConfig.BusProxy
	busMu      sync.Mutex
	faults     map[[2]int]BusFault
	busChanged chan struct{} // closed and replaced when faults change
}

// ClusterConfig configures StartClusterWith.
type ClusterConfig struct {
	// Nodes is the number of masters, at least 3. Default 3.
	Nodes int
	// NodeTimeout is each node's cluster-node-timeout. Default 5 s.
	NodeTimeout time.Duration
	// BusProxy puts a proxy in front of each node's cluster bus port, so
	// that SetBus can delay or cut the bus between two nodes, one way or
	// both, without touching the clients' connections.
	BusProxy bool
}

// StartCluster starts n (at least 3) redis-server processes with
// cluster-enabled on free loopback ports below 55536 (each node's bus is
// its port + 10000), joins them (CLUSTER MEET, then an even share of the
// slots for each with CLUSTER ADDSLOTSRANGE), and waits until every node
// reports cluster_state:ok. The nodes are stopped when the test ends.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	return StartClusterWith(tb, ClusterConfig{Nodes: n})
}

// StartClusterWith is StartCluster configured by cfg.
func StartClusterWith(tb testing.TB, cfg ClusterConfig) *Cluster {
	tb.Helper()
	bin := lookPath(tb)
	if cfg.Nodes == 0 {
		cfg.Nodes = 3
	}
	if cfg.Nodes < 3 {
		tb.Fatalf("redistest: a cluster needs at least 3 masters, not %d", cfg.Nodes)
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = 5 * time.Second
	}
	c := &Cluster{tb: tb, faults: make(map[[2]int]BusFault), busChanged: make(chan struct{})}
	for i := range cfg.Nodes {
		var extra []string
		if cfg.BusProxy {
			p, err := startBusProxy(c, i)
			if err != nil {
				tb.Fatalf("redistest: bus proxy: %v", err)
			}
			tb.Cleanup(p.close)
			c.proxies = append(c.proxies, p)
			extra = busArgs(p)
		}
		s := startNode(tb, bin, cfg.NodeTimeout, extra)
		if cfg.BusProxy {
			c.proxies[i].mu.Lock()
			c.proxies[i].target = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port+clusterBusOffset))
			c.proxies[i].mu.Unlock()
		}
		c.Nodes = append(c.Nodes, s)
	}
	c.join()
	c.waitOK()
	return c
}

// StartClusterNode starts one cluster-enabled redis-server that is in no
// cluster and serves no slot yet, as a node being set up is: it answers
// CLUSTER SLOTS with nothing and refuses every key (CLUSTERDOWN) until it
// is given slots (CLUSTER ADDSLOTSRANGE). It is stopped when the test
// ends.
func StartClusterNode(tb testing.TB) *Server {
	tb.Helper()
	return startNode(tb, lookPath(tb), 5*time.Second, nil)
}

// join introduces every node to the first and gives each an even share
// of the slots.
func (c *Cluster) join() {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	first := c.nodeClient(0)
	defer first.Close()
	for i, s := range c.Nodes[1:] {
		args := []any{"CLUSTER", "MEET", "127.0.0.1", s.port}
		if c.proxies != nil {
			args = append(args, c.proxies[i+1].port())
		}
		if err := first.Do(ctx, args...).Err(); err != nil {
			c.tb.Fatalf("redistest: CLUSTER MEET %s: %v", s.Addr(), err)
		}
	}
	n := len(c.Nodes)
	for i := range c.Nodes {
		cl := c.nodeClient(i)
		lo, hi := i*clusterSlots/n, (i+1)*clusterSlots/n-1
		err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err()
		_ = cl.Close()
		if err != nil {
			c.tb.Fatalf("redistest: CLUSTER ADDSLOTSRANGE %d %d on %s: %v", lo, hi, c.Nodes[i].Addr(), err)
		}
	}
}

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// nodeClient returns a plain client of node i; the caller closes it.
func (c *Cluster) nodeClient(i int) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: c.Nodes[i].Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
}

// startNode starts one cluster-enabled node whose port and bus port are
// both free.
func startNode(tb testing.TB, bin string, nodeTimeout time.Duration, extra []string) *Server {
	tb.Helper()
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), extra: append([]string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10),
	}, extra...)}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Errorf("redistest: %v", err)
		}
	})
	var err error
	for range 20 {
		s.port = 20000 + rand.IntN(55536-clusterBusOffset-20000)
		if !portFree(s.port) || !portFree(s.port+clusterBusOffset) {
			continue
		}
		if err = s.start(); err == nil {
			return s
		}
	}
	tb.Fatalf("redistest: no cluster node started: %v", err)
	return nil
}

// portFree reports whether a loopback port can be listened on.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// waitOK waits until every node knows every other and reports
// cluster_state:ok.
func (c *Cluster) waitOK() {
	c.tb.Helper()
	if err := c.WaitState("ok", 3*startTimeout); err != nil {
		c.tb.Fatalf("redistest: %v", err)
	}
}

// WaitState waits up to timeout until every node knows every other and
// reports cluster_state:state ("ok" or "fail").
func (c *Cluster) WaitState(state string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := fmt.Sprintf("cluster_known_nodes:%d", len(c.Nodes))
	for i := range c.Nodes {
		cl := c.nodeClient(i)
		for {
			info, err := cl.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:"+state) && strings.Contains(info, want) {
				break
			}
			if time.Now().After(deadline) {
				_ = cl.Close()
				return fmt.Errorf("node %s not in state %s after %v: %v %s", c.Nodes[i].Addr(), state, timeout, err, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = cl.Close()
	}
	return nil
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr()
	}
	return addrs
}

// NewClient returns a go-redis cluster client for c, closed when the test
// ends.
func (c *Cluster) NewClient() *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:        c.Addrs(),
		DialTimeout:  time.Second,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
	})
	c.tb.Cleanup(func() { _ = cl.Close() })
	return cl
}

// String names the cluster's nodes, for messages.
func (c *Cluster) String() string {
	return fmt.Sprintf("cluster %v", c.Addrs())
}

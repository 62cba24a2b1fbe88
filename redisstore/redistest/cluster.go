package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
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
}

// StartCluster starts n (at least 3) redis-server processes with
// cluster-enabled on free loopback ports below 55536 (each node's bus is
// its port + 10000), joins them with redis-cli --cluster create, and
// waits until every node reports cluster_state:ok. The nodes are stopped
// when the test ends.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	bin := lookPath(tb)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Fatalf("redistest: redis-cli is needed for a cluster: %v", err)
	}
	c := &Cluster{tb: tb}
	for range n {
		c.Nodes = append(c.Nodes, startNode(tb, bin))
	}
	args := []string{"--cluster", "create"}
	for _, s := range c.Nodes {
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitOK()
	return c
}

// startNode starts one cluster-enabled node whose port and bus port are
// both free.
func startNode(tb testing.TB, bin string) *Server {
	tb.Helper()
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), extra: []string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "5000",
	}}
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

// waitOK waits until every node reports cluster_state:ok.
func (c *Cluster) waitOK() {
	c.tb.Helper()
	deadline := time.Now().Add(3 * startTimeout)
	for _, s := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
		for {
			info, err := cl.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				_ = cl.Close()
				c.tb.Fatalf("redistest: cluster not ok: %v %s", err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = cl.Close()
	}
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

package redistest_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/redisstore/redistest"
)

func TestStartStopRestart(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	c := srv.NewClient()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	port := srv.Port()

	srv.Stop()
	assert.Error(t, c.Ping(ctx).Err(), "a stopped server must refuse commands")
	srv.Stop() // stopping twice is harmless

	srv.Restart()
	assert.Equal(t, port, srv.Port())
	require.NoError(t, c.Ping(ctx).Err(), "the client reconnects to the restarted server")
	assert.Zero(t, c.Exists(ctx, "k").Val(), "a restarted server starts empty (no persistence)")
}

// TestClientRetriesNothing: a command whose connection is lost fails,
// rather than be sent again on a new connection. Here the server holds
// the write, its connection is killed and the server lets writes through
// at once: a write sent again would happen.
func TestClientRetriesNothing(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	admin := srv.NewClient()
	require.NoError(t, admin.Do(ctx, "CLIENT", "PAUSE", 20000, "WRITE").Err())
	errc := make(chan error, 1)
	go func() { errc <- srv.NewClient().Set(ctx, "k", "v", 0).Err() }()
	require.Eventually(t, func() bool {
		return strings.Contains(admin.Info(ctx, "clients").Val(), "blocked_clients:1")
	}, 30*time.Second, 10*time.Millisecond, "the write reaches the paused server")
	require.NoError(t, admin.ClientKillByFilter(ctx, "TYPE", "normal", "SKIPME", "yes").Err())
	require.NoError(t, admin.Do(ctx, "CLIENT", "UNPAUSE").Err())
	select {
	case err := <-errc:
		assert.Error(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the write did not end")
	}
	assert.Zero(t, admin.Exists(ctx, "k").Val(), "the write was not sent again")
}

func TestServersAreIndependent(t *testing.T) {
	ctx := context.Background()
	a, b := redistest.Start(t), redistest.Start(t)
	require.NotEqual(t, a.Addr(), b.Addr())
	require.NoError(t, a.NewClient().Set(ctx, "k", "a", 0).Err())
	assert.Zero(t, b.NewClient().Exists(ctx, "k").Val())
}

// recordingTB records how Start gave up; Skipf and Fatalf end the
// goroutine like the real ones.
type recordingTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMissingBinarySkipsOrFailsInCI(t *testing.T) {
	old := redistest.Binary
	redistest.Binary = "redis-server-that-does-not-exist"
	t.Cleanup(func() { redistest.Binary = old })
	for _, tc := range []struct {
		ci                  string
		wantSkip, wantFatal bool
	}{
		{ci: "", wantSkip: true},
		{ci: "false", wantSkip: true},
		{ci: "true", wantFatal: true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			rec := &recordingTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				redistest.Start(rec)
			}()
			<-done
			assert.Equal(t, tc.wantSkip, rec.skipped)
			assert.Equal(t, tc.wantFatal, rec.failed)
			assert.Contains(t, rec.msg, "redis-server-that-does-not-exist")
		})
	}
}

func TestStartCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	client := c.NewClient()
	ctx := context.Background()
	for i := range 20 {
		require.NoError(t, client.Set(ctx, fmt.Sprint("k", i), i, time.Minute).Err())
	}
	var masters atomic.Int32
	require.NoError(t, client.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		if n > 0 {
			masters.Add(1)
		}
		return err
	}))
	assert.EqualValues(t, 3, masters.Load(), "the keys are spread over the three nodes")
	for _, s := range c.Nodes {
		assert.Less(t, s.Port(), 55536)
	}
}

// TestClusterBusFaults: with BusProxy, every node announces its proxy as
// its bus, and SetBus delays, holds and releases what one node sends
// another, here a PUBLISH relayed from node 1 to a subscriber of node 0,
// while the clients' own connections are untouched.
func TestClusterBusFaults(t *testing.T) {
	c := redistest.StartClusterWith(t, redistest.ClusterConfig{NodeTimeout: 2 * time.Second, BusProxy: true})
	ctx := context.Background()
	nodes := make([]*redis.Client, len(c.Nodes))
	for i, s := range c.Nodes {
		nodes[i] = s.NewClient()
		out, err := nodes[i].ClusterNodes(ctx).Result()
		require.NoError(t, err)
		for line := range strings.Lines(out) {
			addr := strings.Fields(line)[1] // ip:port@cport
			port, cport, ok := strings.Cut(strings.Split(addr, ":")[1], "@")
			require.True(t, ok, line)
			assert.NotEqual(t, port, fmt.Sprint(mustAtoi(t, cport)-10000), "node %s announces its proxy as its bus: %s", s.Addr(), line)
		}
	}
	sub := nodes[0].Subscribe(ctx, "bus")
	t.Cleanup(func() { _ = sub.Close() })
	_, err := sub.Receive(ctx) // the subscription's confirmation
	require.NoError(t, err)
	relayed := func(msg string) time.Duration {
		start := time.Now()
		require.NoError(t, nodes[1].Publish(ctx, "bus", msg).Err())
		m, err := sub.ReceiveMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, msg, m.Payload)
		return time.Since(start)
	}
	assert.Less(t, relayed("healthy"), time.Second)

	c.SetBus(1, 0, redistest.BusFault{Delay: 300 * time.Millisecond})
	assert.GreaterOrEqual(t, relayed("delayed"), 300*time.Millisecond)

	c.SetBus(1, 0, redistest.BusFault{Cut: true})
	require.NoError(t, nodes[1].Publish(ctx, "bus", "held").Err())
	_, err = sub.ReceiveTimeout(ctx, 300*time.Millisecond)
	assert.Error(t, err, "nothing crosses a cut bus")
	c.HealBus()
	m, err := sub.ReceiveMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "held", m.Payload, "a short cut delivers what it held once healed")
	require.NoError(t, c.WaitState("ok", 10*time.Second))
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// TestProxy: the proxy answers the commands chosen with Fail or Reply
// itself, in the order of a pipeline, and passes every other command,
// RESP3 replies and subscriptions included, to the server.
func TestProxy(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	direct := srv.NewClient()
	p := redistest.StartProxy(t, srv.Addr())
	require.Equal(t, srv.Addr(), p.Target())
	// Through the proxy by address, and by a dialer under the server's
	// own address.
	byAddr := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = byAddr.Close() })
	byDialer := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, Dialer: redistest.ProxyDialer(p)})
	t.Cleanup(func() { _ = byDialer.Close() })

	for name, c := range map[string]*redis.Client{"address": byAddr, "dialer": byDialer} {
		t.Run(name, func(t *testing.T) {
			p.Clear()
			before := p.Answered("get")
			require.NoError(t, c.HSet(ctx, "h", "f", "v").Err())
			assert.Equal(t, map[string]string{"f": "v"}, c.HGetAll(ctx, "h").Val(), "a RESP3 map passes")

			p.Fail("get", "ERR refused by the proxy")
			p.Reply("CONFIG GET", "*0\r\n")
			cmds, err := c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
				pipe.Set(ctx, "k", "v", 0)
				pipe.Get(ctx, "k")
				pipe.Incr(ctx, "n")
				pipe.ConfigGet(ctx, "maxmemory")
				pipe.ConfigSet(ctx, "maxmemory", "0") // CONFIG SET is not CONFIG GET
				return nil
			})
			require.Error(t, err)
			require.Len(t, cmds, 5)
			assert.NoError(t, cmds[0].Err())
			assert.EqualError(t, cmds[1].Err(), "ERR refused by the proxy")
			assert.NoError(t, cmds[2].Err())
			assert.Equal(t, map[string]string{}, cmds[3].(*redis.MapStringStringCmd).Val())
			assert.NoError(t, cmds[4].Err())
			assert.Equal(t, before+1, p.Answered("GET"))
			assert.Equal(t, "v", direct.Get(ctx, "k").Val(), "the SET reached the server")
			assert.NotEmpty(t, direct.ConfigGet(ctx, "maxmemory").Val(), "the server itself answers")

			p.Clear()
			assert.Equal(t, "v", c.Get(ctx, "k").Val())

			p.Fail("PING", "ERR refused by the proxy") // not on a subscription: it is relayed whole
			sub := c.Subscribe(ctx, "ch")
			t.Cleanup(func() { _ = sub.Close() })
			_, err = sub.Receive(ctx)
			require.NoError(t, err)
			require.NoError(t, direct.Publish(ctx, "ch", "hello").Err())
			m, err := sub.ReceiveMessage(ctx)
			require.NoError(t, err)
			assert.Equal(t, "hello", m.Payload)
			require.NoError(t, sub.Ping(ctx, "through"))
			pong, err := sub.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, &redis.Pong{Payload: "through"}, pong)
			p.Clear()
		})
	}
}

// TestServerDiesWithTestProcess: a test process that dies without its
// Cleanups (here a panic in a goroutine, as a go test timeout does too)
// takes its servers with it, on Linux.
func TestServerDiesWithTestProcess(t *testing.T) {
	if os.Getenv("REDISTEST_CRASH") == "1" {
		srv := redistest.Start(t)
		fmt.Println("addr", srv.Addr())
		done := make(chan struct{})
		go func() { panic("crash without cleanup") }()
		<-done
	}
	if runtime.GOOS != "linux" {
		t.Skip("the kernel stops the servers of a dead process on Linux only")
	}
	redistest.Start(t) // skips without redis-server, or fails in CI
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithTestProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REDISTEST_CRASH=1")
	out, err := cmd.Output()
	require.Error(t, err, "the child crashed")
	var got string
	for line := range strings.Lines(string(out)) {
		if a, ok := strings.CutPrefix(strings.TrimSpace(line), "addr "); ok {
			got = a
		}
	}
	require.NotEmpty(t, got, "the child started a server: %s", out)
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", got, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	}, 10*time.Second, 20*time.Millisecond, "the server at %s is gone", got)
}

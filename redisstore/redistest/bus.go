package redistest

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// BusFault is what the cluster bus does to the bytes one node sends
// another. The zero value is a healthy bus.
type BusFault struct {
	// Delay holds each chunk of bytes for this long before passing it
	// on, in order.
	Delay time.Duration
	// Cut holds the bytes until the cut is healed, as a network that
	// drops every packet while TCP retransmits them does. Bytes still
	// held when either end closes the connection are lost; so is every
	// message a node queued on a link it gave up on.
	Cut bool
}

// busProxy stands in front of one node's cluster bus port: the node
// announces the proxy's port as its bus port
// (--cluster-announce-bus-port), so that every other node's connection
// to it goes through the proxy, which applies the cluster's BusFaults to
// each direction.
type busProxy struct {
	*relayServer
	c      *Cluster
	node   int
	mu     sync.Mutex
	target string // the node's own bus address
}

// startBusProxy listens on a free loopback port for node's bus.
func startBusProxy(c *Cluster, node int) (*busProxy, error) {
	s, err := listenRelay()
	if err != nil {
		return nil, err
	}
	p := &busProxy{relayServer: s, c: c, node: node}
	s.start(p.serve)
	return p, nil
}

// port returns the port the node announces as its bus port.
func (p *busProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// busHeader is the length of a cluster bus message's header up to and
// including the sender's base port: "RCmb", total length, version, port.
const busHeader = 12

// serve relays one connection: it reads the first message's header to
// learn which node connected (the sender's base port), dials the node's
// own bus port, and relays both directions, each under the fault of the
// cluster for its direction.
func (p *busProxy) serve(in net.Conn) {
	head := make([]byte, busHeader)
	if _, err := io.ReadFull(in, head); err != nil || string(head[:4]) != "RCmb" {
		return
	}
	peer := p.c.nodeByPort(int(binary.BigEndian.Uint16(head[10:12])))
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	out := p.dial(target)
	if out == nil {
		return
	}
	defer p.untrack(out)
	done := make(chan struct{})
	var once sync.Once
	stop := func() { // either side gone: drop both, and whatever is held
		once.Do(func() {
			close(done)
			_ = in.Close()
			_ = out.Close()
		})
	}
	var relays sync.WaitGroup
	relays.Add(2)
	go func() {
		defer relays.Done()
		p.relay(in, out, head, peer, p.node, done, stop)
	}()
	go func() {
		defer relays.Done()
		p.relay(out, in, nil, p.node, peer, done, stop)
	}()
	relays.Wait()
}

// chunk is bytes read from one end, and when.
type chunk struct {
	b  []byte
	at time.Time
}

// relay copies src to dst, the bytes node from sends node to (-1 when
// unknown), holding each chunk as the fault from→to says at the time.
// first is sent before what src yields.
func (p *busProxy) relay(src, dst net.Conn, first []byte, from, to int, done chan struct{}, stop func()) {
	defer stop()
	queue := make(chan chunk, 4096)
	go func() {
		defer close(queue)
		if first != nil {
			queue <- chunk{first, time.Now()}
		}
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case queue <- chunk{buf[:n], time.Now()}:
				case <-done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range queue {
		if !p.c.hold(from, to, ch.at, done) {
			return
		}
		if _, err := dst.Write(ch.b); err != nil {
			return
		}
	}
}

// SetBus makes the cluster bus apply f to every byte node from sends
// node to (indexes in Nodes), on every connection between them, from now
// on; bytes already held are held as f says. The cluster must have been
// started with ClusterConfig.BusProxy.
func (c *Cluster) SetBus(from, to int, f BusFault) {
	c.tb.Helper()
	if c.proxies == nil {
		c.tb.Fatalf("redistest: SetBus needs a cluster started with BusProxy")
	}
	c.busMu.Lock()
	defer c.busMu.Unlock()
	if f == (BusFault{}) {
		delete(c.faults, [2]int{from, to})
	} else {
		c.faults[[2]int{from, to}] = f
	}
	close(c.busChanged)
	c.busChanged = make(chan struct{})
}

// HealBus ends every fault of the cluster bus: held bytes flow again.
func (c *Cluster) HealBus() {
	c.busMu.Lock()
	defer c.busMu.Unlock()
	clear(c.faults)
	close(c.busChanged)
	c.busChanged = make(chan struct{})
}

// hold waits until a chunk read at at may be passed from node from to
// node to; false when done is closed first.
func (c *Cluster) hold(from, to int, at time.Time, done chan struct{}) bool {
	for {
		c.busMu.Lock()
		f := c.faults[[2]int{from, to}]
		changed := c.busChanged
		c.busMu.Unlock()
		var timer *time.Timer
		var fire <-chan time.Time
		if !f.Cut {
			wait := time.Until(at.Add(f.Delay))
			if wait <= 0 {
				return true
			}
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-done:
		case <-changed:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		select {
		case <-done:
			return false
		default:
		}
	}
}

// nodeByPort returns the index of the node with base port port, -1 when
// none.
func (c *Cluster) nodeByPort(port int) int {
	for i, s := range c.Nodes {
		if s.port == port {
			return i
		}
	}
	return -1
}

// busArgs returns the redis-server arguments that announce p's port as
// the node's bus port.
func busArgs(p *busProxy) []string {
	return []string{"--cluster-announce-bus-port", strconv.Itoa(p.port())}
}

package redistest

import (
	"net"
	"sync"
	"time"
)

// relayServer is what the two proxies of this package share: a loopback
// listener whose connections are each served in a goroutine of their own
// and tracked, with those the proxy dials, so that close ends them all
// and waits for their goroutines.
type relayServer struct {
	ln     net.Listener
	connMu sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// listenRelay listens on a free loopback port; start then serves it.
func listenRelay() (*relayServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &relayServer{ln: ln, conns: make(map[net.Conn]struct{})}, nil
}

// start serves each connection with serve, which may return at any time:
// the connection is closed after it.
func (s *relayServer) start(serve func(net.Conn)) {
	s.wg.Add(1)
	go s.accept(serve)
}

// accept serves connections until the listener is closed.
func (s *relayServer) accept(serve func(net.Conn)) {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(conn) {
			return
		}
		s.wg.Go(func() {
			defer s.untrack(conn)
			serve(conn)
		})
	}
}

// dial connects to target for a connection being served; nil when it
// fails or the server is closing. The caller untracks it when done.
func (s *relayServer) dial(target string) net.Conn {
	out, err := net.DialTimeout("tcp", target, time.Second)
	if err != nil {
		return nil
	}
	if !s.track(out) {
		return nil
	}
	return out
}

// track adds conn to the connections closed by close; false when the
// server is closed already (conn is then closed).
func (s *relayServer) track(conn net.Conn) bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.closed {
		_ = conn.Close()
		return false
	}
	s.conns[conn] = struct{}{}
	return true
}

// untrack closes conn and forgets it.
func (s *relayServer) untrack(conn net.Conn) {
	_ = conn.Close()
	s.connMu.Lock()
	delete(s.conns, conn)
	s.connMu.Unlock()
}

// close stops the server and every connection through it, and waits for
// their goroutines.
func (s *relayServer) close() {
	s.connMu.Lock()
	s.closed = true
	_ = s.ln.Close()
	for conn := range s.conns {
		_ = conn.Close()
	}
	s.connMu.Unlock()
	s.wg.Wait()
}

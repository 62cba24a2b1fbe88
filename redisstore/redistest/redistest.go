// Package redistest starts a real redis-server for tests: on a free
// 127.0.0.1 port, in a temporary directory, without persistence. Tests can
// stop it and start it again on the same port to see how their code copes
// with Redis going away and coming back. A Proxy in front of a server
// answers chosen commands itself, as an older or failing server would.
//
// When redis-server is not installed, Start skips the test, except when the
// environment variable CI is "true": there a missing server is a failure.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Binary is the redis-server executable that Start runs. It is looked up in
// PATH unless it holds a path.
var Binary = "redis-server"

const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
	startTries   = 3
)

// Server is a running (or stopped) redis-server owned by one test.
type Server struct {
	tb    testing.TB
	bin   string
	dir   string
	port  int
	extra []string // more redis-server arguments

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start runs redis-server on a free loopback port and waits until it
// answers PING. The server is stopped and its directory removed when the
// test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := lookPath(tb)
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Errorf("redistest: %v", err)
		}
	})
	var err error
	for range startTries {
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.start(); err == nil {
			return s
		}
	}
	tb.Fatalf("redistest: %v", err)
	return nil
}

// lookPath finds the redis-server binary, or skips (fails in CI) the test.
func lookPath(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath(Binary)
	if err == nil {
		return bin
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("redistest: %s is required in CI (apt-get install redis-server): %v", Binary, err)
	}
	tb.Skipf("redistest: %s not found; install the redis-server package to run this test", Binary)
	return ""
}

// Addr returns the server's address, "127.0.0.1:port".
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Port returns the server's TCP port. It stays the same across Restart.
func (s *Server) Port() int { return s.port }

// Stop shuts the server down and waits until it has exited, so that new
// connections to Addr are refused. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.tb.Helper()
	if err := s.stop(); err != nil {
		s.tb.Fatalf("redistest: %v", err)
	}
}

// Restart starts a stopped server again on the same port, empty, and waits
// until it answers PING. It stops the server first if it is running.
func (s *Server) Restart() {
	s.tb.Helper()
	if err := s.stop(); err != nil {
		s.tb.Fatalf("redistest: %v", err)
	}
	var err error
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		// The port may still be in TIME_WAIT or briefly taken; retry.
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.tb.Fatalf("redistest: restart on port %d: %v", s.port, err)
}

// start launches redis-server on s.port and waits for PING.
func (s *Server) start() error {
	logFile := filepath.Join(s.dir, "redis.log")
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--logfile", logFile,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "no",
		"--databases", "1",
	)
	cmd.Args = append(cmd.Args, s.extra...)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status of a stopped server is not interesting
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	if err := waitReady(s.Addr(), done); err != nil {
		_ = s.stop()
		return fmt.Errorf("redis-server on port %d: %w; log: %s", s.port, err, tail(logFile))
	}
	return nil
}

// stop terminates the server, if running, and waits for it to exit.
func (s *Server) stop() error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(os.Interrupt) // fails only if it already exited
	select {
	case <-done:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("redis-server (pid %d) did not exit", cmd.Process.Pid)
	}
}

// waitReady polls addr with PING until it answers PONG, the process exits
// or startTimeout passes.
func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("exited during start-up")
		default:
		}
		if err = ping(addr); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no PONG within %v: %w", startTimeout, err)
}

// ping sends one inline PING and expects +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return fmt.Errorf("write PING: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the end of the server's log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	const limit = 2000
	if len(b) > limit {
		b = b[len(b)-limit:]
	}
	return string(b)
}

// NewClient returns a go-redis client for s, closed when the test ends.
// It retries nothing: a stopped server makes its commands fail at once.
func (s *Server) NewClient() *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:          s.Addr(),
		MaxRetries:    -1,
		DialerRetries: 1,
		DialTimeout:   time.Second,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
	})
	s.tb.Cleanup(func() { _ = c.Close() })
	return c
}

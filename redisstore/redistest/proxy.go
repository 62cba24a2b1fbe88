package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy in front of one redis-server that reads the
// commands its clients send and answers the ones chosen with Fail or
// Reply itself, as a server that does not know them (an older Redis) or
// fails them would; it passes every other command to the server and the
// server's reply back. It handles one command at a time on each
// connection, so that the replies keep the order of the commands, also
// in a pipeline. A connection that subscribes (SUBSCRIBE, SSUBSCRIBE,
// PSUBSCRIBE) is relayed byte for byte from then on.
type Proxy struct {
	*relayServer
	target string

	mu       sync.Mutex
	replies  map[string]string // upper-case command words -> RESP reply
	answered map[string]int
}

// StartProxy starts a Proxy on a free loopback port in front of the
// server at target. It is closed, with every connection through it, when
// the test ends.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	s, err := listenRelay()
	if err != nil {
		tb.Fatalf("redistest: proxy: %v", err)
	}
	p := &Proxy{relayServer: s, target: target, replies: make(map[string]string), answered: make(map[string]int)}
	s.start(p.serve)
	tb.Cleanup(p.close)
	return p
}

// Addr returns the proxy's address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address of the server behind the proxy.
func (p *Proxy) Target() string { return p.target }

// Fail makes the proxy answer command with the error msg from now on.
// command is the command's first words, in any case ("GET", "CLUSTER
// SHARDS"); it matches every command that begins with them. msg is the
// error's text, its code included ("ERR unknown subcommand 'SHARDS'.").
func (p *Proxy) Fail(command, msg string) {
	p.Reply(command, "-"+msg+"\r\n")
}

// Reply makes the proxy answer command (as in Fail) with resp, a whole
// RESP reply ("*0\r\n" for an empty array), from now on.
func (p *Proxy) Reply(command, resp string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.replies[commandKey(strings.Fields(command))] = resp
}

// Clear makes the proxy pass every command to the server again.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.replies)
}

// Answered returns how many times the proxy answered command (as given
// to Fail or Reply) itself.
func (p *Proxy) Answered(command string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answered[commandKey(strings.Fields(command))]
}

// ProxyDialer returns a dialer for redis.Options.Dialer or
// redis.ClusterOptions.Dialer that connects to each proxy instead of its
// target, and to every other address directly: a cluster client then
// reaches the nodes behind proxies through them, under the nodes' own
// addresses.
func ProxyDialer(proxies ...*Proxy) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		for _, p := range proxies {
			if p.target == addr {
				addr = p.Addr()
				break
			}
		}
		return d.DialContext(ctx, network, addr)
	}
}

// commandKey joins the upper-cased words of a command.
func commandKey(words []string) string {
	return strings.ToUpper(strings.Join(words, " "))
}

// answer returns the reply the proxy gives to the command args itself,
// if any, and counts it.
func (p *Proxy) answer(args []string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := min(len(args), 3); n > 0; n-- {
		key := commandKey(args[:n])
		if resp, ok := p.replies[key]; ok {
			p.answered[key]++
			return resp, true
		}
	}
	return "", false
}

// serve relays one client connection to a connection of its own to the
// server, command by command.
func (p *Proxy) serve(in net.Conn) {
	out := p.dial(p.target)
	if out == nil {
		return
	}
	defer p.untrack(out)
	cin, sin := bufio.NewReader(in), bufio.NewReader(out)
	for {
		raw, args, err := readCommand(cin)
		if err != nil {
			return
		}
		if resp, ok := p.answer(args); ok {
			if _, err := io.WriteString(in, resp); err != nil {
				return
			}
			continue
		}
		if _, err := out.Write(raw); err != nil {
			return
		}
		if subscribes(args) {
			// Pub/sub: messages come without commands; relay both ways
			// until either end closes.
			var up sync.WaitGroup
			up.Go(func() {
				_, _ = io.Copy(out, cin)
				_ = out.Close()
			})
			_, _ = io.Copy(in, sin)
			_ = in.Close()
			up.Wait()
			return
		}
		reply, err := readValue(sin)
		if err != nil {
			return
		}
		if _, err := in.Write(reply); err != nil {
			return
		}
	}
}

// subscribes reports whether the command args makes its connection a
// subscription.
func subscribes(args []string) bool {
	if len(args) == 0 {
		return false
	}
	switch strings.ToUpper(args[0]) {
	case "SUBSCRIBE", "SSUBSCRIBE", "PSUBSCRIBE":
		return true
	}
	return false
}

// readCommand reads one command, a RESP array of bulk strings or an
// inline command, and returns its bytes and its arguments.
func readCommand(r *bufio.Reader) (raw []byte, args []string, err error) {
	line, err := readLine(r)
	if err != nil {
		return nil, nil, err
	}
	if line[0] != '*' {
		return line, strings.Fields(string(line)), nil
	}
	n, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil {
		return nil, nil, fmt.Errorf("command length %q: %w", line, err)
	}
	raw = line
	for range n {
		arg, err := readValue(r)
		if err != nil {
			return nil, nil, err
		}
		if arg[0] != '$' {
			return nil, nil, fmt.Errorf("command argument %q is not a bulk string", arg)
		}
		raw = append(raw, arg...)
		_, data, _ := strings.Cut(string(arg[:len(arg)-2]), "\r\n")
		args = append(args, data)
	}
	return raw, args, nil
}

// readValue reads one whole RESP2 or RESP3 value and returns its bytes.
func readValue(r *bufio.Reader) ([]byte, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(': // one line
		return line, nil
	}
	n, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil {
		return nil, fmt.Errorf("length %q: %w", line, err)
	}
	switch line[0] {
	case '$', '!', '=': // bulk: n bytes and CRLF, none when n is -1
		if n < 0 {
			return line, nil
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, err
		}
		return append(line, data...), nil
	case '%', '|': // map, attribute: n pairs
		n *= 2
	case '*', '~', '>': // array, set, push: n values
	default:
		return nil, fmt.Errorf("unknown RESP type %q", line)
	}
	for range n {
		v, err := readValue(r)
		if err != nil {
			return nil, err
		}
		line = append(line, v...)
	}
	if line[0] == '|' { // attributes precede the reply they describe
		v, err := readValue(r)
		if err != nil {
			return nil, err
		}
		line = append(line, v...)
	}
	return line, nil
}

// readLine reads one line, CRLF included.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, errors.New("malformed RESP line")
	}
	return line, nil
}

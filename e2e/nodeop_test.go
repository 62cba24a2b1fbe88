package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// nodeOPConfig is the client registration handed to e2e/oidc-provider/server.js.
type nodeOPConfig struct {
	ClientID, ClientSecret string
	RedirectURI            string
	PostLogoutRedirectURI  string
	BackchannelLogoutURI   string // optional
	// IDTokenSignedResponseAlg is the client's id_token_signed_response_alg;
	// optional, the provider's default is RS256.
	IDTokenSignedResponseAlg string
}

// nodeOP is a running oidc-provider child process.
type nodeOP struct {
	Issuer string
	Port   int
}

// nodeStartTimeout bounds the provider's start-up (it generates an RSA key).
const nodeStartTimeout = 20 * time.Second

// requireTool skips the test when a tool it needs is missing, unless
// CI=true, where a missing tool is a broken environment and fails the test.
func requireTool(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required when CI=true", what)
	}
	t.Skipf("%s is missing; skipping", what)
}

// startNodeOP starts panva's oidc-provider with node and stops it when the
// test ends. Its stderr is written to the test log if the test fails.
func startNodeOP(t *testing.T, cfg nodeOPConfig) *nodeOP {
	t.Helper()
	nodePath, err := exec.LookPath("node")
	requireTool(t, err == nil, "node (Node.js 20.19 or newer)")
	_, err = os.Stat(filepath.Join("node_modules", "oidc-provider", "package.json"))
	requireTool(t, err == nil, "e2e/node_modules/oidc-provider (run `npm ci` in e2e/)")

	cmd := exec.Command(nodePath, filepath.Join("oidc-provider", "server.js"))
	cmd.Env = append(os.Environ(),
		"OP_HOST=localhost",
		"OP_PORT=0",
		"OP_CLIENT_ID="+cfg.ClientID,
		"OP_CLIENT_SECRET="+cfg.ClientSecret,
		"OP_REDIRECT_URIS="+cfg.RedirectURI,
		"OP_POST_LOGOUT_REDIRECT_URIS="+cfg.PostLogoutRedirectURI,
		"OP_BACKCHANNEL_LOGOUT_URI="+cfg.BackchannelLogoutURI,
		"OP_ID_TOKEN_SIGNED_RESPONSE_ALG="+cfg.IDTokenSignedResponseAlg,
		"NODE_NO_WARNINGS=1",
	)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe() // the script exits when its stdin closes
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start(), "starting node")

	done := make(chan error, 1)
	t.Cleanup(func() {
		stopProcess(t, cmd, stdin, done)
		if t.Failed() {
			t.Logf("oidc-provider stderr:\n%s", stderr.String())
		}
	})

	op, err := readReady(stdout, done, cmd)
	require.NoError(t, err, "oidc-provider did not start; stderr:\n%s", stderr.String())
	return op
}

// readReady waits for the JSON line the script prints once it listens.
// It also starts the goroutine that reaps the process into done.
func readReady(stdout io.Reader, done chan<- error, cmd *exec.Cmd) (*nodeOP, error) {
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() { // drain, so the child never blocks on a full pipe
		}
		done <- cmd.Wait()
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			return nil, errors.New("oidc-provider exited before it was ready")
		}
		var op nodeOP
		if err := json.Unmarshal([]byte(line), &op); err != nil || op.Issuer == "" {
			return nil, fmt.Errorf("unexpected ready line %q: %v", line, err)
		}
		return &op, nil
	case <-time.After(nodeStartTimeout):
		return nil, fmt.Errorf("no ready line after %s", nodeStartTimeout)
	}
}

// stopProcess closes the child's stdin, sends SIGTERM, and kills it if it
// has not exited after a few seconds.
func stopProcess(t *testing.T, cmd *exec.Cmd, stdin io.Closer, done <-chan error) {
	t.Helper()
	_ = stdin.Close()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a child
// process and the reads of the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

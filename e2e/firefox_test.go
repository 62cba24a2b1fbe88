package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/websocket"
)

// This file drives Firefox through WebDriver BiDi, the W3C protocol it
// speaks on --remote-debugging-port, with a small client over a WebSocket:
// commands are JSON objects with an id, answered by a result or an error
// with the same id; events arrive on the same socket without an id.

// findFirefox returns the path of Firefox (Debian's firefox-esr). Without
// one the test is skipped, except in CI (CI=true), where it fails.
func findFirefox(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"firefox-esr", "firefox"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	requireTool(t, false, "Firefox (firefox-esr or firefox in PATH)")
	return ""
}

// firefoxPrefs keep a test profile quiet and offline: no first-run pages,
// no updates, telemetry, safe browsing or remote settings, no proxy.
const firefoxPrefs = `user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.startup.page", 0);
user_pref("browser.aboutwelcome.enabled", false);
user_pref("app.update.disabledForTesting", true);
user_pref("app.normandy.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.proxy.type", 0);
user_pref("services.settings.server", "http://127.0.0.1:9/");
user_pref("extensions.update.enabled", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.tabs.warnOnClose", false);
`

// firefoxListening is the line Firefox prints once its BiDi server listens.
var firefoxListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// firefox is a headless Firefox with a fresh profile, and a BiDi session
// on its first tab.
type firefox struct {
	t       *testing.T
	conn    *websocket.Conn
	context string // the tab's browsing context id

	mu      sync.Mutex
	nextID  int
	pending map[int]chan bidiMessage
	closed  bool
}

type bidiMessage struct {
	ID     *int            `json:"id"`
	Type   string          `json:"type"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Msg    string          `json:"message"`
}

// startFirefox starts headless Firefox with a fresh profile and opens a
// BiDi session. The browser and its child processes are killed when the
// test ends.
func startFirefox(t *testing.T, path string) *firefox {
	t.Helper()
	profile := filepath.Join(t.TempDir(), "profile")
	require.NoError(t, os.MkdirAll(profile, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(profile, "user.js"), []byte(firefoxPrefs), 0o600))
	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", profile,
		"--remote-debugging-port=0", "--remote-allow-origins=http://127.0.0.1", "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1", "MOZ_HEADLESS_WIDTH=1024", "MOZ_HEADLESS_HEIGHT=768")
	// Its content processes join its group; and it dies with the test
	// process, should that end without running the cleanups (a timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start(), "starting Firefox")
	log := &syncBuffer{}
	wsURL := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			_, _ = fmt.Fprintln(log, sc.Text())
			if m := firefoxListening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case wsURL <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		// The whole process group: Firefox and the content processes it
		// started, all children of this test.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("Firefox stderr:\n%s", log.String())
		}
	})
	var addr string
	select {
	case addr = <-wsURL:
	case <-done:
		t.Fatalf("Firefox exited before it listened; stderr:\n%s", log.String())
	case <-time.After(eventWait):
		t.Fatalf("Firefox did not listen within %s; stderr:\n%s", eventWait, log.String())
	}
	cfg, err := websocket.NewConfig(addr+"/session", "http://127.0.0.1")
	require.NoError(t, err)
	conn, err := websocket.DialConfig(cfg)
	require.NoError(t, err, "connecting to Firefox's WebDriver BiDi server")
	f := &firefox{t: t, conn: conn, pending: map[int]chan bidiMessage{}}
	t.Cleanup(f.close)
	go f.read()

	f.call("session.new", map[string]any{"capabilities": map[string]any{}}, nil)
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	f.call("browsingContext.getTree", map[string]any{"maxDepth": 0}, &tree)
	require.NotEmpty(t, tree.Contexts, "Firefox has a tab")
	f.context = tree.Contexts[0].Context
	// The test's own instrumentation, not the app's: every document
	// records its pageshow events, so that a page restored from the
	// back/forward cache (persisted: true) can be told from one fetched
	// again; both report the navigation type back_forward.
	f.call("script.addPreloadScript", map[string]any{
		"functionDeclaration": `() => { window.addEventListener("pageshow", e => { (window.__pageshows ||= []).push(e.persisted) }) }`,
	}, nil)
	return f
}

// read hands each answer to the command that waits for it, until the
// socket closes. The session subscribes to no event.
func (f *firefox) read() {
	for {
		var m bidiMessage
		if err := websocket.JSON.Receive(f.conn, &m); err != nil {
			f.mu.Lock()
			f.closed = true
			for id, ch := range f.pending {
				close(ch)
				delete(f.pending, id)
			}
			f.mu.Unlock()
			return
		}
		if m.ID != nil {
			f.mu.Lock()
			ch := f.pending[*m.ID]
			delete(f.pending, *m.ID)
			f.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
	}
}

func (f *firefox) close() {
	_ = f.conn.Close()
}

// send sends a command and returns its answer: the result, or an error
// naming the BiDi error code.
func (f *firefox) send(method string, params any) (json.RawMessage, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, errors.New("the BiDi connection is closed")
	}
	f.nextID++
	id := f.nextID
	ch := make(chan bidiMessage, 1)
	f.pending[id] = ch
	f.mu.Unlock()
	if err := websocket.JSON.Send(f.conn, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: the BiDi connection closed", method)
		}
		if m.Type == "error" {
			return nil, fmt.Errorf("%s: %s: %s", method, m.Error, m.Msg)
		}
		return m.Result, nil
	case <-time.After(eventWait):
		return nil, fmt.Errorf("%s: no answer within %s", method, eventWait)
	}
}

// call sends a command, fails the test on an error, and decodes the
// result into out (unless nil).
func (f *firefox) call(method string, params any, out any) {
	f.t.Helper()
	res, err := f.send(method, params)
	require.NoError(f.t, err)
	if out != nil {
		require.NoError(f.t, json.Unmarshal(res, out), "%s result", method)
	}
}

// eval evaluates a JavaScript expression in the tab's page and decodes
// its value into out. It retries while a navigation replaces the page.
// The value comes back as JSON text: BiDi's own serialization of objects
// is a list of typed pairs.
func (f *firefox) eval(expr string, out any) {
	f.t.Helper()
	var err error
	for deadline := time.Now().Add(eventWait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var res json.RawMessage
		res, err = f.send("script.evaluate", map[string]any{
			"expression": "JSON.stringify((" + expr + ") ?? null)", "target": map[string]any{"context": f.context},
			"awaitPromise": true,
		})
		if err != nil {
			continue
		}
		var r struct {
			Type             string `json:"type"`
			ExceptionDetails *struct {
				Text string `json:"text"`
			} `json:"exceptionDetails"`
			Result struct {
				Value string `json:"value"`
			} `json:"result"`
		}
		require.NoError(f.t, json.Unmarshal(res, &r))
		if r.Type == "exception" {
			err = fmt.Errorf("evaluating %q: %s", expr, r.ExceptionDetails.Text)
			continue
		}
		if out != nil {
			require.NoError(f.t, json.Unmarshal([]byte(r.Result.Value), out), "value of %q", expr)
		}
		return
	}
	f.t.Fatalf("evaluating %q: %v", expr, err)
}

// redactQueries drops the query strings of urls, which may carry tokens.
func redactQueries(urls []string) []string {
	out := make([]string, 0, len(urls))
	for _, raw := range urls {
		if u, err := url.Parse(raw); err == nil {
			out = append(out, where(u))
		}
	}
	return out
}

// cookie returns the value of the cookie called name that the browser
// holds for host, on a path that path starts with (HttpOnly included).
func (f *firefox) cookie(rawURL, name string) (string, bool) {
	f.t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(f.t, err)
	var res struct {
		Cookies []struct {
			Name  string `json:"name"`
			Path  string `json:"path"`
			Value struct {
				Value string `json:"value"`
			} `json:"value"`
		} `json:"cookies"`
	}
	f.call("storage.getCookies", map[string]any{
		"filter":    map[string]any{"name": name, "domain": u.Hostname()},
		"partition": map[string]any{"type": "storageKey", "sourceOrigin": origin(u)},
	}, &res)
	for _, c := range res.Cookies {
		if strings.HasPrefix(u.Path+"/", strings.TrimSuffix(c.Path, "/")+"/") || c.Path == "/" {
			return c.Value.Value, true
		}
	}
	return "", false
}

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// This file runs Ory Hydra v2.3.0 as a provider: built once from the
// module in e2e/hydra (its go.mod pins the version) and kept in the
// user's cache directory, started per test as `hydra serve all --dev`
// with an in-memory database. Hydra has no login or consent pages of its
// own: a small UI, served by the test in front of Hydra's public port on
// the issuer's origin, shows a login form and accepts the login, the
// consent and the logout through Hydra's admin API.

// hydraVersion is the version that e2e/hydra/go.mod pins.
const hydraVersion = "v2.3.0"

// hydraBuildTimeout bounds the one build of Hydra (a few minutes on two
// cores, with the module downloads).
const hydraBuildTimeout = 15 * time.Minute

var hydraBuild struct {
	sync.Mutex
	path string
	err  error
	done bool
}

// findHydra returns the path of the Hydra binary: $HYDRA_BIN if set, or
// the one built from e2e/hydra into the user's cache directory, built on
// first use. When it cannot be built the test is skipped, except in CI
// (CI=true), where it fails.
func findHydra(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HYDRA_BIN"); p != "" {
		_, err := os.Stat(p)
		requireTool(t, err == nil, "Ory Hydra at HYDRA_BIN="+p)
		return p
	}
	hydraBuild.Lock()
	defer hydraBuild.Unlock()
	if !hydraBuild.done {
		hydraBuild.path, hydraBuild.err = buildHydra(t)
		hydraBuild.done = true
	}
	if hydraBuild.err != nil {
		requireTool(t, false, fmt.Sprintf("Ory Hydra %s (built from e2e/hydra: %v)", hydraVersion, hydraBuild.err))
	}
	return hydraBuild.path
}

// buildHydra builds Hydra into the cache directory unless it is there.
// SQLite (for DSN=memory) needs cgo and a C compiler.
func buildHydra(t *testing.T) (string, error) {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: %w", err)
	}
	dir := filepath.Join(cache, "oidc-logout-e2e")
	path := filepath.Join(dir, "hydra-"+hydraVersion)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go not in PATH: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), hydraBuildTimeout)
	defer cancel()
	t.Logf("building Ory Hydra %s into %s (once)", hydraVersion, path)
	start := time.Now()
	cmd := exec.CommandContext(ctx, goBin, "build", "-tags", "sqlite,sqlite_omit_load_extension", "-o", tmp, "github.com/ory/hydra/v2")
	cmd.Dir = "hydra"
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.Remove(tmp)
		if len(out) > 2000 {
			out = out[len(out)-2000:]
		}
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	t.Logf("built Ory Hydra in %v", time.Since(start).Round(time.Second))
	return path, os.Rename(tmp, path)
}

// hydraConfig is what a test asks of Hydra.
type hydraConfig struct {
	// IDTokenTTL is the id_token's lifetime; default Hydra's (one hour).
	IDTokenTTL time.Duration
}

// hydra is a running Hydra, behind the test's UI on the issuer's origin.
type hydra struct {
	t      *testing.T
	Issuer string // http://localhost:PORT, the UI and Hydra's public API
	admin  string // http://127.0.0.1:PORT, Hydra's admin API
	// Password is the one password the login form accepts.
	Password string

	mu      sync.Mutex
	logouts int // logout requests accepted
}

// startHydra starts Hydra with an in-memory database, and the UI in front
// of it, and stops both when the test ends.
func startHydra(t *testing.T, cfg hydraConfig) *hydra {
	t.Helper()
	bin := findHydra(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	h := &hydra{
		t:        t,
		Issuer:   "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port),
		Password: rand.Text(),
	}
	public, admin := freePort(t), freePort(t)
	h.admin = "http://127.0.0.1:" + admin
	env := append(os.Environ(),
		"DSN=memory",
		"SECRETS_SYSTEM="+rand.Text()+rand.Text(),
		"URLS_SELF_ISSUER="+h.Issuer,
		"URLS_SELF_PUBLIC="+h.Issuer,
		"URLS_LOGIN="+h.Issuer+"/ui/login",
		"URLS_CONSENT="+h.Issuer+"/ui/consent",
		"URLS_LOGOUT="+h.Issuer+"/ui/logout",
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT="+public,
		"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT="+admin,
		"LOG_LEVEL=warn", "LOG_LEAK_SENSITIVE_VALUES=false", "SQA_OPT_OUT=true",
	)
	if cfg.IDTokenTTL > 0 {
		env = append(env, "TTL_ID_TOKEN="+cfg.IDTokenTTL.String())
	}
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out")
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start(), "starting Hydra")
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("Hydra's log:\n%s", log.String())
		}
	})

	target, err := url.Parse("http://127.0.0.1:" + public)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui/login", h.loginPage)
	mux.HandleFunc("POST /ui/login", h.login)
	mux.HandleFunc("GET /ui/consent", h.consent)
	mux.HandleFunc("GET /ui/logout", h.logout)
	mux.Handle("/", &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}})
	serveOn(t, ln, mux)

	for deadline := time.Now().Add(eventWait); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(h.admin + "/health/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("Hydra exited; its log:\n%s", log.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "Hydra was not ready within %s; its log:\n%s", eventWait, log.String())
	}
	return h
}

// freePort returns a port that was free a moment ago, for a server that
// must be told its port (Hydra).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// hydraClient is a client registration.
type hydraClient struct {
	ID, Secret                 string
	RedirectURIs               []string
	PostLogoutRedirectURIs     []string
	BackChannelURI, FrontChURI string
}

// register registers c through the admin API.
func (h *hydra) register(c hydraClient) {
	h.t.Helper()
	body := map[string]any{
		"client_id": c.ID, "client_secret": c.Secret,
		"redirect_uris": c.RedirectURIs, "post_logout_redirect_uris": c.PostLogoutRedirectURIs,
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"scope":                      "openid profile email offline_access",
		"token_endpoint_auth_method": "client_secret_basic",
	}
	if c.BackChannelURI != "" {
		body["backchannel_logout_uri"], body["backchannel_logout_session_required"] = c.BackChannelURI, true
	}
	if c.FrontChURI != "" {
		body["frontchannel_logout_uri"], body["frontchannel_logout_session_required"] = c.FrontChURI, true
	}
	var out struct {
		ClientID string `json:"client_id"`
	}
	status := h.adminCall(http.MethodPost, "/admin/clients", nil, body, &out)
	require.Equal(h.t, http.StatusCreated, status, "registering the client")
	require.Equal(h.t, c.ID, out.ClientID)
}

// adminCall sends a JSON request to the admin API and decodes the answer.
func (h *hydra) adminCall(method, path string, query url.Values, body, out any) int {
	h.t.Helper()
	status, err := h.adminDo(method, path, query, body, out)
	require.NoError(h.t, err)
	return status
}

func (h *hydra) adminDo(method, path string, query url.Values, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	u := h.admin + path
	if query != nil {
		u += "?" + query.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// accept accepts a login, consent or logout request and redirects the
// browser where Hydra says.
func (h *hydra) accept(w http.ResponseWriter, kind, challenge string, body any) {
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	status, err := h.adminDo(http.MethodPut, "/admin/oauth2/auth/requests/"+kind+"/accept",
		url.Values{kind + "_challenge": {challenge}}, body, &out)
	if err != nil || status != http.StatusOK || out.RedirectTo == "" {
		http.Error(w, fmt.Sprintf("accepting the %s request: %d %v", kind, status, err), http.StatusBadGateway)
		return
	}
	w.Header().Set("Location", out.RedirectTo)
	w.WriteHeader(http.StatusFound)
}

// loginPage shows the login form, or accepts at once when Hydra's session
// lives (skip).
func (h *hydra) loginPage(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	var req struct {
		Skip    bool   `json:"skip"`
		Subject string `json:"subject"`
	}
	status, err := h.adminDo(http.MethodGet, "/admin/oauth2/auth/requests/login", url.Values{"login_challenge": {challenge}}, nil, &req)
	if err != nil || status != http.StatusOK {
		http.Error(w, fmt.Sprintf("login request: %d %v", status, err), http.StatusBadGateway)
		return
	}
	if req.Skip {
		h.accept(w, "login", challenge, map[string]any{"subject": req.Subject})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = fmt.Fprintf(w, `<!doctype html><title>Sign in</title><form method="post" action="/ui/login">
<input type="hidden" name="challenge" value="%s">
<input type="text" id="username" name="username"> <input type="password" id="password" name="password">
<button type="submit" id="submit">Sign in</button></form>`, html.EscapeString(challenge))
}

// login accepts the login with the typed name as the subject, remembered
// so that Hydra keeps a session (and a sid) for logout to end.
func (h *hydra) login(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("password") != h.Password || r.PostFormValue("username") == "" {
		http.Error(w, "wrong password", http.StatusForbidden)
		return
	}
	h.accept(w, "login", r.PostFormValue("challenge"), map[string]any{
		"subject": r.PostFormValue("username"), "remember": true, "remember_for": 0,
	})
}

// consent grants the scopes asked for, with the subject as the name.
func (h *hydra) consent(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("consent_challenge")
	var req struct {
		Subject   string   `json:"subject"`
		Scopes    []string `json:"requested_scope"`
		Audiences []string `json:"requested_access_token_audience"`
	}
	status, err := h.adminDo(http.MethodGet, "/admin/oauth2/auth/requests/consent", url.Values{"consent_challenge": {challenge}}, nil, &req)
	if err != nil || status != http.StatusOK {
		http.Error(w, fmt.Sprintf("consent request: %d %v", status, err), http.StatusBadGateway)
		return
	}
	h.accept(w, "consent", challenge, map[string]any{
		"grant_scope": req.Scopes, "grant_access_token_audience": req.Audiences,
		"session": map[string]any{"id_token": map[string]any{"name": req.Subject}},
	})
}

// logout accepts a logout at once.
func (h *hydra) logout(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.logouts++
	h.mu.Unlock()
	h.accept(w, "logout", r.URL.Query().Get("logout_challenge"), nil)
}

// acceptedLogouts returns the number of logout requests accepted so far.
func (h *hydra) acceptedLogouts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logouts
}

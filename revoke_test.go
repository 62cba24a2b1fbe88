package logout_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// revocationRequest is what a fake revocation endpoint received.
type revocationRequest struct {
	Form       url.Values
	User, Pass string
	HasBasic   bool
	Method     string
	CType      string
}

// fakeRevocationEndpoint records requests and answers with status and body.
type fakeRevocationEndpoint struct {
	mu       sync.Mutex
	requests []revocationRequest
	status   int
	body     string
	delay    time.Duration
}

func (f *fakeRevocationEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	user, pass, ok := r.BasicAuth()
	f.mu.Lock()
	f.requests = append(f.requests, revocationRequest{
		Form: r.PostForm, User: user, Pass: pass, HasBasic: ok, Method: r.Method, CType: r.Header.Get("Content-Type"),
	})
	status, body, delay := f.status, f.body, f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (f *fakeRevocationEndpoint) received() []revocationRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]revocationRequest(nil), f.requests...)
}

func startRevocationEndpoint(t *testing.T, f *fakeRevocationEndpoint) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL + "/oauth/revoke"
}

func TestRevokerAuthMethods(t *testing.T) {
	const id, secret = "client 1:ä", "s3cr%t+/="
	tests := []struct {
		name             string
		secret           string
		methods          []string // the discovery document's; nil: a configured endpoint
		wantBasic        bool
		wantFormClientID string
		wantFormSecret   string
	}{
		{"secret: basic", secret, nil, true, "", ""},
		{"secret, provider takes basic and post: basic", secret, []string{"client_secret_post", "client_secret_basic"}, true, "", ""},
		{"secret, provider takes post only: post", secret, []string{"client_secret_post", "private_key_jwt"}, false, id, secret},
		{"secret, provider says nothing: basic", secret, []string{}, true, "", ""},
		{"no secret: client_id alone", "", nil, false, id, ""},
		{"no secret, provider takes post only: client_id alone", "", []string{"client_secret_post"}, false, id, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRevocationEndpoint{}
			p := logout.Provider{RevocationEndpoint: startRevocationEndpoint(t, f), ClientID: id, ClientSecret: tc.secret}
			if tc.methods != nil {
				p.Issuer = startDiscoveryDoc(t, map[string]any{
					"revocation_endpoint": p.RevocationEndpoint, "revocation_endpoint_auth_methods_supported": tc.methods,
				})
				p.RevocationEndpoint = ""
			}
			rv, err := logout.NewRevoker(p, nil)
			require.NoError(t, err)
			require.NoError(t, rv.Revoke(context.Background(), "tok-1", logout.TokenTypeRefreshToken))
			reqs := f.received()
			require.Len(t, reqs, 1)
			got := reqs[0]
			assert.Equal(t, http.MethodPost, got.Method)
			assert.Equal(t, "application/x-www-form-urlencoded", got.CType)
			assert.Equal(t, "tok-1", got.Form.Get("token"))
			assert.Equal(t, "refresh_token", got.Form.Get("token_type_hint"))
			assert.Equal(t, tc.wantBasic, got.HasBasic)
			if tc.wantBasic {
				// RFC 6749 2.3.1: form-encoded before Basic.
				assert.Equal(t, url.QueryEscape(id), got.User)
				assert.Equal(t, url.QueryEscape(secret), got.Pass)
			}
			assert.Equal(t, tc.wantFormClientID, got.Form.Get("client_id"))
			assert.Equal(t, tc.wantFormSecret, got.Form.Get("client_secret"))
		})
	}
}

func TestRevokerNoHint(t *testing.T) {
	f := &fakeRevocationEndpoint{}
	rv, err := logout.NewRevoker(logout.Provider{RevocationEndpoint: startRevocationEndpoint(t, f), ClientID: "c"}, nil)
	require.NoError(t, err)
	require.NoError(t, rv.Revoke(context.Background(), "tok", ""))
	_, has := f.received()[0].Form["token_type_hint"]
	assert.False(t, has)
}

func TestRevokerFailures(t *testing.T) {
	const token = "secret-token-value"
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantCode   string
	}{
		{"invalid client", http.StatusUnauthorized, `{"error":"invalid_client"}`, 401, "invalid_client"},
		{"unsupported type", http.StatusBadRequest, `{"error":"unsupported_token_type"}`, 400, "unsupported_token_type"},
		{"unavailable", http.StatusServiceUnavailable, ``, 503, ""},
		{"echoes the token", http.StatusBadRequest, `{"error":"bad ` + token + `\"x","error_description":"` + token + `"}`, 400, ""},
		{"html", http.StatusInternalServerError, `<html>oops</html>`, 500, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRevocationEndpoint{status: tc.status, body: tc.body}
			rv, err := logout.NewRevoker(logout.Provider{RevocationEndpoint: startRevocationEndpoint(t, f), ClientID: "c", ClientSecret: "s"}, nil)
			require.NoError(t, err)
			err = rv.Revoke(context.Background(), token, logout.TokenTypeAccessToken)
			require.ErrorIs(t, err, logout.ErrRevocation)
			var re *logout.RevocationError
			require.True(t, errors.As(err, &re))
			assert.Equal(t, tc.wantStatus, re.Status)
			assert.Equal(t, tc.wantCode, re.Code)
			assert.NotContains(t, err.Error(), token)
			assert.NotContains(t, err.Error(), "secret")
			assert.Equal(t, http.StatusBadGateway, logout.StatusCode(err))
		})
	}
}

func TestRevokerTimeoutAndUnreachable(t *testing.T) {
	f := &fakeRevocationEndpoint{delay: 5 * time.Second}
	rv, err := logout.NewRevoker(logout.Provider{RevocationEndpoint: startRevocationEndpoint(t, f), ClientID: "c"}, &http.Client{Timeout: 100 * time.Millisecond})
	require.NoError(t, err)
	start := time.Now()
	err = rv.Revoke(context.Background(), "tok", "")
	require.ErrorIs(t, err, logout.ErrRevocation)
	assert.Less(t, time.Since(start), 2*time.Second, "the timeout bounds the request")
	assert.NotContains(t, err.Error(), "tok&")

	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	rv, err = logout.NewRevoker(logout.Provider{RevocationEndpoint: addr + "/revoke", ClientID: "c"}, nil)
	require.NoError(t, err)
	assert.ErrorIs(t, rv.Revoke(context.Background(), "tok", ""), logout.ErrRevocation)
	assert.ErrorIs(t, rv.Revoke(context.Background(), "", ""), logout.ErrRevocation, "an empty token is refused")
}

// startDiscovery serves a discovery document whose issuer is the server.
func startDiscovery(t *testing.T, meta map[string]string) string {
	t.Helper()
	doc := make(map[string]any, len(meta))
	for k, v := range meta {
		doc[k] = v
	}
	return startDiscoveryDoc(t, doc)
}

// startDiscoveryDoc serves a discovery document whose issuer is the
// server.
func startDiscoveryDoc(t *testing.T, meta map[string]any) string {
	t.Helper()
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		doc := map[string]any{"issuer": issuer}
		for k, v := range meta {
			doc[k] = v
		}
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL
	return issuer
}

func TestRevokerDiscovery(t *testing.T) {
	f := &fakeRevocationEndpoint{}
	endpoint := startRevocationEndpoint(t, f)
	issuer := startDiscovery(t, map[string]string{"revocation_endpoint": endpoint})
	rv, err := logout.NewRevoker(logout.Provider{Issuer: issuer, ClientID: "c"}, nil)
	require.NoError(t, err)
	got, err := rv.Endpoint(context.Background())
	require.NoError(t, err)
	assert.Equal(t, endpoint, got)
	require.NoError(t, rv.Revoke(context.Background(), "tok", ""))
	assert.Len(t, f.received(), 1)

	bare := startDiscovery(t, nil)
	rv, err = logout.NewRevoker(logout.Provider{Issuer: bare, ClientID: "c"}, nil)
	require.NoError(t, err)
	assert.ErrorIs(t, rv.Revoke(context.Background(), "tok", ""), logout.ErrRevocation)
}

func TestNewRevokerValidates(t *testing.T) {
	tests := []struct {
		name string
		p    logout.Provider
		want string
	}{
		{"no client id", logout.Provider{RevocationEndpoint: "https://op/revoke"}, "ClientID"},
		{"no endpoint", logout.Provider{ClientID: "c"}, "RevocationEndpoint or Issuer"},
		{"bad endpoint", logout.Provider{ClientID: "c", RevocationEndpoint: "/revoke"}, "Provider.RevocationEndpoint"},
		{"bad issuer", logout.Provider{ClientID: "c", Issuer: "op.example"}, "Provider.Issuer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := logout.NewRevoker(tc.p, nil)
			require.ErrorIs(t, err, logout.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, 1, strings.Count(err.Error(), "logout: "), err.Error())
		})
	}
}

func TestGenAuthRevocationEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"https://x.genauth.ai":  "https://x.genauth.ai/oidc/token/revocation",
		"https://x.genauth.ai/": "https://x.genauth.ai/oidc/token/revocation",
		"x.genauth.ai":          "https://x.genauth.ai/oidc/token/revocation",
	} {
		assert.Equal(t, want, logout.GenAuthRevocationEndpoint(in), in)
	}
}

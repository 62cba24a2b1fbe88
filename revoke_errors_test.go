package logout_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// TestRevokerEndpointFailures pins what a Revoker that discovers its
// endpoint reports when discovery cannot give one: the cause, wrapped in
// both sentinels, and no request to any endpoint.
func TestRevokerEndpointFailures(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	tests := []struct {
		name          string
		issuer        string
		wantDiscovery bool
		wantText      string
	}{
		{"discovery fails", failing.URL, true, "status 500"},
		{"no revocation_endpoint", startDiscovery(t, nil), false, "has no revocation_endpoint"},
		{"relative revocation_endpoint", startDiscovery(t, map[string]string{"revocation_endpoint": "/revoke"}), true, "revocation endpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rv, err := logout.NewRevoker(logout.Provider{Issuer: tc.issuer, ClientID: "c"}, nil)
			require.NoError(t, err)
			ep, err := rv.Endpoint(context.Background())
			require.ErrorIs(t, err, logout.ErrRevocation)
			assert.Empty(t, ep)
			assert.Equal(t, tc.wantDiscovery, errors.Is(err, logout.ErrDiscovery))
			assert.Contains(t, err.Error(), tc.wantText)
			assert.NotContains(t, err.Error(), "end-session", "the endpoint is named for what it is")
			assert.Equal(t, 1, strings.Count(err.Error(), "logout: "), "one prefix: %v", err)

			err = rv.Revoke(context.Background(), "tok", "")
			require.ErrorIs(t, err, logout.ErrRevocation)
			assert.Equal(t, tc.wantDiscovery, errors.Is(err, logout.ErrDiscovery), "Revoke reports the look-up's failure, not a request's: %v", err)
			assert.Contains(t, err.Error(), tc.wantText)
			assert.NotContains(t, err.Error(), "POST", "no request is made without an endpoint")
		})
	}
}

// TestRevokerUnreachableErrorText pins the text of a request that fails:
// the endpoint once, the cause, and nothing of the request.
func TestRevokerUnreachableErrorText(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL + "/revoke"
	srv.Close()
	rv, err := logout.NewRevoker(logout.Provider{RevocationEndpoint: endpoint, ClientID: "c", ClientSecret: "s3cret"}, nil)
	require.NoError(t, err)
	err = rv.Revoke(context.Background(), "tok-value", "")
	require.ErrorIs(t, err, logout.ErrRevocation)
	assert.Equal(t, 1, strings.Count(err.Error(), endpoint), "the endpoint appears once: %v", err)
	assert.NotContains(t, err.Error(), `Post "`, "the *url.Error's own text is dropped")
	assert.NotContains(t, err.Error(), "tok-value")
	assert.NotContains(t, err.Error(), "s3cret")
}

// TestRevokerErrorCodeBound pins that an OAuth error code longer than 64
// bytes, or one that is not a string, is not reported.
func TestRevokerErrorCodeBound(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{`{"error":"` + strings.Repeat("x", 64) + `"}`, strings.Repeat("x", 64)},
		{`{"error":"` + strings.Repeat("x", 65) + `"}`, ""},
		{`{"error":42}`, ""},
		{`{"error":"invalid_client"`, ""},
	}
	for _, tc := range tests {
		f := &fakeRevocationEndpoint{status: http.StatusBadRequest, body: tc.body}
		rv, err := logout.NewRevoker(logout.Provider{RevocationEndpoint: startRevocationEndpoint(t, f), ClientID: "c"}, nil)
		require.NoError(t, err)
		err = rv.Revoke(context.Background(), "tok", "")
		var re *logout.RevocationError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, tc.want, re.Code, tc.body)
	}
}

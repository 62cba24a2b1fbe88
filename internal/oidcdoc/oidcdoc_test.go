package oidcdoc

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetJSON(t *testing.T) {
	big := `{"issuer":"` + strings.Repeat("i", MaxBytes) + `"}`
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string // "" for success
	}{
		{name: "document", handler: func(w http.ResponseWriter, r *http.Request) {
			assert.Equal(t, "application/json", r.Header.Get("Accept"))
			_, _ = w.Write([]byte(`{"issuer":"https://op.example","jwks_uri":"https://op.example/jwks"}`))
		}},
		{name: "status", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"issuer":"x"}`, http.StatusNotFound)
		}, wantErr: "status 404"},
		{name: "too large", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(big))
		}, wantErr: "larger than"},
		{name: "cut short", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(100))
			_, _ = w.Write([]byte(`{"issuer":"https://op.example"}`))
		}, wantErr: "reading"},
		{name: "not JSON", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`<html>`))
		}, wantErr: "decoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			meta := Metadata{Issuer: "unchanged"}
			err := getJSON(t.Context(), srv.Client(), srv.URL, &meta)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, Metadata{Issuer: "https://op.example", JWKSURI: "https://op.example/jwks"}, meta)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, Metadata{Issuer: "unchanged"}, meta, "nothing decoded")
		})
	}
}

func TestGetJSONBadURL(t *testing.T) {
	called := false
	client := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		called = true
		return nil, http.ErrHandlerTimeout
	})}
	err := getJSON(t.Context(), client, "http://op.example/\x7f", &Metadata{})
	require.Error(t, err)
	assert.False(t, called, "no request sent")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDiscover(t *testing.T) {
	var doc string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(doc))
	}))
	defer srv.Close()

	doc = `{"issuer":"` + srv.URL + `/","end_session_endpoint":"` + srv.URL + `/end"}`
	meta, err := Discover(t.Context(), srv.Client(), srv.URL+"/")
	require.NoError(t, err, "a trailing slash on either side")
	assert.Equal(t, srv.URL+"/end", meta.EndSessionEndpoint)

	doc = `{"issuer":"https://other.example"}`
	_, err = Discover(t.Context(), srv.Client(), srv.URL)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not match")

	_, err = Discover(t.Context(), srv.Client(), srv.URL+"/missing")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "status 404", "the fetch's own error")
}

// TestGetJSONBound: a document of exactly MaxBytes is read, one byte more
// is refused.
func TestGetJSONBound(t *testing.T) {
	for _, tt := range []struct {
		size int
		ok   bool
	}{{MaxBytes, true}, {MaxBytes + 1, false}} {
		doc := `{"issuer":"` + strings.Repeat("i", tt.size-len(`{"issuer":""}`)) + `"}`
		require.Len(t, doc, tt.size)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(doc))
		}))
		var meta Metadata
		err := getJSON(t.Context(), srv.Client(), srv.URL, &meta)
		srv.Close()
		if tt.ok {
			assert.NoError(t, err, tt.size)
		} else {
			assert.ErrorContains(t, err, "larger than", tt.size)
		}
	}
}

package httpconv_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"

	"github.com/oidc-logout/logout/adapters/fiber/internal/httpconv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// source is a request held in buffers that a server reuses, as fasthttp's.
type source struct {
	method, uri, host, body []byte
	headers                 [][2][]byte
}

func (s *source) Method() []byte                           { return s.method }
func (s *source) RequestURI() []byte                       { return s.uri }
func (s *source) Host() []byte                             { return s.host }
func (s *source) PostBody() []byte                         { return s.body }
func (s *source) RemoteAddr() net.Addr                     { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4242} }
func (s *source) TLSConnectionState() *tls.ConnectionState { return nil }

func (s *source) all(yield func(k, v []byte) bool) {
	for _, h := range s.headers {
		if !yield(h[0], h[1]) {
			return
		}
	}
}

// overwrite fills every buffer of s with 'x', as a server does when it
// reuses them for the next request.
func (s *source) overwrite() {
	for _, b := range [][]byte{s.method, s.uri, s.host, s.body} {
		for i := range b {
			b[i] = 'x'
		}
	}
	for _, h := range s.headers {
		for i := range h[1] {
			h[1][i] = 'x'
		}
	}
}

type ctxKey struct{}

func TestNewRequestCopiesEverything(t *testing.T) {
	src := &source{
		method: []byte("POST"),
		uri:    []byte("/frontchannel-logout?iss=https%3A%2F%2Fop&sid=op-sid-1"),
		host:   []byte("app.example.com"),
		body:   []byte("return_to=%2Fbye"),
		headers: [][2][]byte{
			{[]byte("Host"), []byte("app.example.com")},
			{[]byte("Transfer-Encoding"), []byte("chunked")},
			{[]byte("Cookie"), []byte("app=session-value")},
			{[]byte("Accept"), []byte("text/html")},
			{[]byte("Accept"), []byte("application/json")},
		},
	}
	ctx := context.WithValue(context.Background(), ctxKey{}, "request-42")
	r, err := httpconv.NewRequest(ctx, src, src.all)
	require.NoError(t, err)
	sid := r.URL.Query().Get("sid")
	src.overwrite()

	assert.Equal(t, "op-sid-1", sid, "the query is not left in the server's buffer")
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/frontchannel-logout", r.URL.Path)
	assert.Equal(t, "/frontchannel-logout?iss=https%3A%2F%2Fop&sid=op-sid-1", r.RequestURI)
	assert.Equal(t, "app.example.com", r.Host)
	assert.Equal(t, "192.0.2.1:4242", r.RemoteAddr)
	assert.Equal(t, "request-42", r.Context().Value(ctxKey{}))
	assert.Equal(t, http.Header{"Cookie": {"app=session-value"}, "Accept": {"text/html", "application/json"}}, r.Header,
		"Host and Transfer-Encoding are kept out of Header")
	body, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	assert.Equal(t, "return_to=%2Fbye", string(body))
	assert.Equal(t, int64(len(body)), r.ContentLength)
}

func TestNewRequestBadURI(t *testing.T) {
	src := &source{method: []byte("GET"), uri: []byte("no-slash"), host: []byte("app.example.com")}
	_, err := httpconv.NewRequest(context.Background(), src, src.all)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "logout: request URI")
}

// response records what a ResponseWriter does to a server's response.
type response struct {
	status int
	body   []byte
	header [][3]string // op, key, value
}

func (r *response) SetStatusCode(status int) { r.status = status }
func (r *response) AppendBody(b []byte)      { r.body = append(r.body, b...) }
func (r *response) Set(k, v string)          { r.header = append(r.header, [3]string{"set", k, v}) }
func (r *response) Add(k, v string)          { r.header = append(r.header, [3]string{"add", k, v}) }

func TestResponseWriter(t *testing.T) {
	tests := []struct {
		name       string
		write      func(w *httpconv.ResponseWriter)
		wantStatus int
		wantBody   string
		wantHeader [][3]string
	}{
		{
			name: "redirect with cookies",
			write: func(w *httpconv.ResponseWriter) {
				w.Header().Set("Location", "/")
				w.Header().Add("Set-Cookie", "a=1")
				w.Header().Add("Set-Cookie", "b=2")
				w.WriteHeader(http.StatusFound)
				w.WriteHeader(http.StatusTeapot)
				w.Finish()
			},
			wantStatus: http.StatusFound,
			wantHeader: [][3]string{{"set", "Location", "/"}, {"add", "Set-Cookie", "a=1"}, {"add", "Set-Cookie", "b=2"}},
		},
		{
			name: "body without WriteHeader",
			write: func(w *httpconv.ResponseWriter) {
				w.Header().Add("Vary", "Cookie")
				w.Header().Add("Vary", "Origin")
				_, _ = w.Write([]byte("he"))
				_, _ = w.Write([]byte("llo"))
			},
			wantStatus: http.StatusOK,
			wantBody:   "hello",
			wantHeader: [][3]string{{"set", "Vary", "Cookie"}, {"add", "Vary", "Origin"}},
		},
		{
			name:       "nothing written",
			write:      func(w *httpconv.ResponseWriter) { w.Finish() },
			wantStatus: http.StatusOK,
		},
		{
			name: "headers only, the chain goes on",
			write: func(w *httpconv.ResponseWriter) {
				w.Header().Add("Set-Cookie", "app=; Max-Age=0")
				w.CopyHeaders()
			},
			wantHeader: [][3]string{{"add", "Set-Cookie", "app=; Max-Age=0"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := &response{}
			tc.write(httpconv.NewResponseWriter(resp, resp))
			assert.Equal(t, tc.wantStatus, resp.status)
			assert.Equal(t, tc.wantBody, string(resp.body))
			assert.ElementsMatch(t, tc.wantHeader, resp.header)
		})
	}
}

// FuzzNewRequest: whatever the request, NewRequest does not panic, and
// what it returns stays as it was when the server reuses its buffers.
func FuzzNewRequest(f *testing.F) {
	f.Add("/logout?return_to=%2Fbye", "return_to=%2Fbye", "app=a; logout_state=b")
	f.Add("/frontchannel-logout?iss=https%3A%2F%2Fop&sid=s", "", "")
	f.Add("*", "", "x")
	f.Add("http://app.example.com/logout/callback?state=x", "\x00", "\xff")
	f.Fuzz(func(t *testing.T, uri, body, cookie string) {
		src := &source{
			method:  []byte("POST"),
			uri:     []byte(uri),
			host:    []byte("app.example.com"),
			body:    []byte(body),
			headers: [][2][]byte{{[]byte("Cookie"), []byte(cookie)}},
		}
		r, err := httpconv.NewRequest(context.Background(), src, src.all)
		if err != nil {
			return
		}
		want, err := url.ParseRequestURI(uri) // from the fuzzer's own copy
		require.NoError(t, err)
		src.overwrite()
		assert.Equal(t, uri, r.RequestURI)
		assert.Equal(t, want.Path, r.URL.Path)
		assert.Equal(t, want.RawQuery, r.URL.RawQuery)
		assert.Equal(t, cookie, r.Header.Get("Cookie"))
		got, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		assert.Equal(t, body, string(got))
	})
}

package backchannel

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGetJSON checks each way a key set fetch fails, and that a set of
// exactly maxJWKSBytes is read while one byte more is refused.
func TestGetJSON(t *testing.T) {
	exact := `{"keys":[],"x":"` + strings.Repeat("i", maxJWKSBytes-len(`{"keys":[],"x":""}`)) + `"}`
	require.Len(t, exact, maxJWKSBytes)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string // "" means read
	}{
		{"exactly the bound", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(exact)) }, ""},
		{"one byte more", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(exact + " ")) }, "larger than"},
		{"status 500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, "status 500"},
		{"not JSON", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }, "decoding"},
		{"body cut short", func(w http.ResponseWriter, _ *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"keys\"")
			_ = buf.Flush()
			_ = conn.(*net.TCPConn).Close()
		}, "reading"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			var doc map[string]any
			err := getJSON(t.Context(), srv.Client(), srv.URL, &doc)
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.Contains(t, doc, "keys")
				return
			}
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
	var doc map[string]any
	assert.Error(t, getJSON(t.Context(), http.DefaultClient, "http://bad host/", &doc), "a URL that cannot be requested")
}

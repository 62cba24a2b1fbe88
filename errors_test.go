package logout_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// TestErrorsSayThePrefixOnceAndWrapTheirSentinels: every error of the
// package starts with "logout: ", says it once, names what failed, and
// wraps the sentinels a caller branches on.
func TestErrorsSayThePrefixOnceAndWrapTheirSentinels(t *testing.T) {
	badOP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": "http://" + r.Host, "end_session_endpoint": "/end", "revocation_endpoint": "/revoke",
		})
	}))
	defer badOP.Close()
	store := sessions.NewCookieStore(stHashKey)
	newErr := func(mutate func(*logout.Config)) error {
		cfg := logout.Config{Store: store, SessionName: testSession, Providers: []logout.Provider{{EndSessionEndpoint: testIssuer + "/end"}}}
		mutate(&cfg)
		_, err := logout.New(cfg)
		return err
	}
	tests := []struct {
		name  string
		err   func(t *testing.T) error
		wants []error
		says  string
	}{
		{"relative end-session endpoint", func(*testing.T) error {
			return newErr(func(c *logout.Config) { c.Providers[0].EndSessionEndpoint = "/end" })
		}, []error{logout.ErrInvalidConfig, logout.ErrInvalidEndpoint}, `Config.Providers[0].EndSessionEndpoint: invalid endpoint: end-session endpoint "/end"`},
		{"provider's end-session endpoint", func(*testing.T) error {
			return newErr(func(c *logout.Config) {
				c.Providers = []logout.Provider{{Issuer: testIssuer}, {Issuer: testIssuer + "/b", EndSessionEndpoint: "ftp://x"}}
			})
		}, []error{logout.ErrInvalidConfig, logout.ErrInvalidEndpoint}, `Config.Providers[1].EndSessionEndpoint: invalid endpoint`},
		{"revocation endpoint", func(*testing.T) error {
			_, err := logout.NewRevoker(logout.Provider{RevocationEndpoint: "/revoke", ClientID: "c"}, nil)
			return err
		}, []error{logout.ErrInvalidConfig, logout.ErrInvalidEndpoint}, `revocation endpoint "/revoke"`},
		{"BuildURL", func(*testing.T) error {
			_, err := logout.BuildURL("op.example/end", logout.Params{})
			return err
		}, []error{logout.ErrInvalidEndpoint}, `end-session endpoint "op.example/end"`},
		{"discovered end-session endpoint", func(t *testing.T) error {
			m, err := logout.New(logout.Config{Store: store, SessionName: testSession, Providers: []logout.Provider{{Issuer: badOP.URL}}})
			require.NoError(t, err)
			_, err = m.Discover(t.Context(), "")
			return err
		}, []error{logout.ErrDiscovery, logout.ErrInvalidEndpoint}, `end-session endpoint "/end"`},
		{"discovered revocation endpoint", func(t *testing.T) error {
			rv, err := logout.NewRevoker(logout.Provider{Issuer: badOP.URL, ClientID: "c"}, nil)
			require.NoError(t, err)
			_, err = rv.Endpoint(t.Context())
			return err
		}, []error{logout.ErrRevocation, logout.ErrDiscovery, logout.ErrInvalidEndpoint}, `revocation endpoint "/revoke"`},
		{"tombstone refused by a full ledger", func(t *testing.T) error {
			w := newWorld(t, nil)
			full := logout.NewMemoryLedger(logout.MemoryLedgerConfig{MaxEntries: 1, RefuseWhenFull: true})
			require.NoError(t, full.Record(t.Context(), "other", time.Now(), time.Hour))
			w.ledger.MemoryLedger = full
			w.serve(t, stRequest(http.MethodGet, "/logout", w.login(t)))
			return w.lastErr()
		}, []error{logout.ErrTombstone, logout.ErrLedgerFull}, "ledger is full"},
		{"front-channel ledger failure", func(t *testing.T) error {
			w := newWorld(t, nil)
			w.ledger.failSeen.Store(true)
			resp := w.serve(t, stRequest(http.MethodGet, "/frontchannel-logout?iss="+w.op.URL+"&sid=s"))
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			return w.lastErr()
		}, []error{logout.ErrLedger, errLedgerDown}, "front-channel logout"},
		{"LookupProvider answers with an invalid provider", func(t *testing.T) error {
			w := newWorld(t, func(c *logout.Config) {
				c.Providers, c.Revocation = nil, logout.NoRevocation
				c.LookupProvider = func(_ context.Context, iss string) (logout.Provider, bool) {
					return logout.Provider{Issuer: iss, EndSessionEndpoint: "/end"}, true
				}
			})
			w.serve(t, stRequest(http.MethodGet, "/logout", w.login(t)))
			return w.lastErr()
		}, []error{logout.ErrUnknownProvider, logout.ErrInvalidEndpoint}, `Config.LookupProvider returned an invalid Provider.EndSessionEndpoint: invalid endpoint`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(t)
			require.Error(t, err)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "logout: "), msg)
			assert.Equal(t, 1, strings.Count(": "+msg, ": logout: "), msg)
			assert.Contains(t, msg, tt.says)
			for _, want := range tt.wants {
				assert.True(t, errors.Is(err, want), "%q does not wrap %q", msg, want)
			}
		})
	}
}

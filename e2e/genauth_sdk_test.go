package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// genAuthCase is one input given both to the middleware and to GenAuth's
// SDKs (e2e/genauth-sdk/logout-urls.js).
type genAuthCase struct {
	Name        string `json:"-"`
	AppID       string `json:"appId"`
	AppHost     string `json:"appHost"`
	RedirectURI string `json:"redirectUri"`
	IDToken     string `json:"idToken"`
	State       string `json:"state"`
	// rawSafe: no value holds a character with a meaning in a query
	// (& = + # % or a space), so that authing-js-sdk, which concatenates
	// values into the URL unencoded, builds a URL that means the same.
	rawSafe bool
}

// sdkURL is what one SDK built for a case.
type sdkURL struct {
	URL   string `json:"url"`
	Error string `json:"error"`
}

// genAuthSDKURLs runs the SDK script on cases.
func genAuthSDKURLs(t *testing.T, cases []genAuthCase) []struct{ Node, JS sdkURL } {
	t.Helper()
	nodePath, err := exec.LookPath("node")
	requireTool(t, err == nil, "node (Node.js 20.19 or newer)")
	for _, pkg := range []string{"authing-node-sdk", "authing-js-sdk"} {
		_, err = os.Stat(filepath.Join("node_modules", pkg, "package.json"))
		requireTool(t, err == nil, "e2e/node_modules/"+pkg+" (run `npm ci` in e2e/)")
	}
	in, err := json.Marshal(cases)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodePath, filepath.Join("genauth-sdk", "logout-urls.js"))
	cmd.Env = append(os.Environ(), "NODE_NO_WARNINGS=1")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node: %s", stderr.String())
	var res []struct{ Node, JS sdkURL }
	require.NoError(t, json.Unmarshal(out, &res))
	require.Len(t, res, len(cases))
	return res
}

// middlewareLogoutURL logs a session holding c.IDToken out through a
// middleware configured for GenAuth, and returns its redirect and the
// state it generated.
func middlewareLogoutURL(t *testing.T, c genAuthCase) (*url.URL, string) {
	t.Helper()
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	m, err := logout.New(logout.Config{
		Store:        store,
		SessionName:  "app",
		Providers:    []logout.Provider{{EndSessionEndpoint: logout.GenAuthEndpoint(c.AppHost), PostLogoutRedirectURI: c.RedirectURI}},
		CallbackPath: "/logout/callback", // the redirect URI may have any path
	})
	require.NoError(t, err)

	login := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
	s, err := store.New(r, "app")
	require.NoError(t, err)
	s.Values["id_token"] = c.IDToken
	require.NoError(t, s.Save(r, login))

	r = httptest.NewRequest(http.MethodGet, "https://app.example.com/logout", nil)
	for _, ck := range login.Result().Cookies() {
		r.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	m.ServeHTTP(w, r)
	require.Equal(t, http.StatusFound, w.Code)
	loc, err := url.Parse(w.Header().Get("Location"))
	require.NoError(t, err)
	return loc, loc.Query().Get("state")
}

// TestEndSessionURLMatchesGenAuthSDK compares, parameter by parameter, the
// end-session URL the middleware redirects to with the URL GenAuth's own
// SDKs build for the same app host, id_token, post-logout redirect URI and
// state: authing-node-sdk (which encodes each value) for every case, and
// authing-js-sdk (which concatenates them unencoded and takes no state)
// where no value needs encoding.
func TestEndSessionURLMatchesGenAuthSDK(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1LTEiLCJzaWQiOiJzLTEifQ.c2lnbmF0dXJlLV9zaWc"
	cases := []genAuthCase{
		{Name: "typical", AppID: "app1", AppHost: "https://example.genauth.ai",
			RedirectURI: "https://app.example.com/logout/callback", IDToken: jwt, rawSafe: true},
		{Name: "authing.cn host and port", AppID: "app1", AppHost: "https://tenant.authing.cn:8443",
			RedirectURI: "http://localhost:8080/logout/callback", IDToken: jwt, rawSafe: true},
		{Name: "redirect URI with a query", AppID: "app1", AppHost: "https://example.genauth.ai",
			RedirectURI: "https://app.example.com/logout/callback?tenant=a&next=/x y", IDToken: jwt},
		{Name: "token with + / =", AppID: "app1", AppHost: "https://example.genauth.ai",
			RedirectURI: "https://app.example.com/logout/callback", IDToken: "ab+c/d==.e+f.g/h="},
		{Name: "non-ASCII path", AppID: "app1", AppHost: "https://example.genauth.ai",
			RedirectURI: "https://app.example.com/登出/callback", IDToken: jwt, rawSafe: true},
	}
	// The middleware draws a random state per logout; the SDKs are given
	// the same state.
	redirects := make([]*url.URL, len(cases))
	for i := range cases {
		redirects[i], cases[i].State = middlewareLogoutURL(t, cases[i])
		require.NotEmpty(t, cases[i].State)
	}
	results := genAuthSDKURLs(t, cases)

	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			ours := redirects[i]
			want := url.Values{
				"id_token_hint":            {c.IDToken},
				"post_logout_redirect_uri": {c.RedirectURI},
				"state":                    {c.State},
			}
			assert.Equal(t, want, ours.Query(), "the middleware's URL decodes to the inputs")
			assert.Regexp(t, `^[\x21-\x7e]+$`, ours.String(), "the middleware's URL is percent-encoded ASCII")

			require.Empty(t, results[i].Node.Error)
			node := mustParseURL(t, results[i].Node.URL)
			assert.Equal(t, endpointOf(node), endpointOf(ours), "authing-node-sdk: same endpoint")
			assert.Equal(t, node.Query(), ours.Query(), "authing-node-sdk: same parameters and values")

			require.Empty(t, results[i].JS.Error)
			js := mustParseURL(t, results[i].JS.URL)
			assert.Equal(t, endpointOf(js), endpointOf(ours), "authing-js-sdk: same endpoint")
			jsWant := url.Values{"id_token_hint": want["id_token_hint"], "post_logout_redirect_uri": want["post_logout_redirect_uri"]}
			oursNoState := ours.Query()
			oursNoState.Del("state")
			if c.rawSafe {
				assert.Equal(t, jsWant, js.Query(), "authing-js-sdk: same parameters and values")
				assert.Equal(t, js.Query(), oursNoState)
			} else {
				assert.NotEqual(t, jsWant, js.Query(), "authing-js-sdk does not encode values; if this fails, it now does, and the case can be compared")
			}
		})
	}

	t.Run("id_token only", func(t *testing.T) {
		res := genAuthSDKURLs(t, []genAuthCase{{AppID: "app1", AppHost: "https://example.genauth.ai", IDToken: jwt}})
		u, err := logout.BuildURL(logout.GenAuthEndpoint("https://example.genauth.ai"), logout.Params{IDTokenHint: jwt})
		require.NoError(t, err)
		ours := mustParseURL(t, u)
		node := mustParseURL(t, res[0].Node.URL)
		assert.Equal(t, endpointOf(node), endpointOf(ours))
		assert.Equal(t, node.Query(), ours.Query())
	})
}

func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err, raw)
	return u
}

// endpointOf is u without its query.
func endpointOf(u *url.URL) string {
	v := *u
	v.RawQuery, v.Fragment, v.RawFragment = "", "", ""
	return v.String()
}

package ginlogout_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"
	"github.com/oidc-logout/logout"
	ginlogout "github.com/oidc-logout/logout/adapters/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mount says how the middleware is installed in the gin app.
type mount string

const (
	asMiddleware mount = "engine middleware"
	asHandler    mount = "group routes"
)

// newApp returns a gin app with login and hello routes under prefix and
// the logout middleware installed as mode says.
func newApp(m *logout.Middleware, store sessions.Store, mode mount, prefix string) *gin.Engine {
	r := gin.New()
	if mode == asMiddleware {
		r.Use(ginlogout.Middleware(m))
	}
	g := r.Group(prefix)
	g.GET("/login", login(store))
	g.GET("/hello", func(c *gin.Context) { c.String(http.StatusOK, "hello") })
	if mode == asHandler {
		g.Any("/logout", ginlogout.Handler(m))
		g.GET("/logout/callback", ginlogout.Handler(m))
	}
	return r
}

var layouts = []struct {
	mode   mount
	prefix string
}{
	{asMiddleware, ""},
	{asMiddleware, "/app"},
	{asHandler, ""},
	{asHandler, "/app"},
}

func TestLogoutAndCallback(t *testing.T) {
	for _, l := range layouts {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(string(l.mode)+" "+l.prefix+" "+method, func(t *testing.T) {
				store := newStore()
				app := newApp(newMiddleware(t, store, l.prefix), store, l.mode, l.prefix)
				session := signIn(t, app, l.prefix+"/login")

				resp := do(app, method, l.prefix+"/logout", session)
				state := assertProviderRedirect(t, resp, l.prefix+"/logout/callback")

				back := do(app, http.MethodGet, callback(t, resp), state)
				assert.Equal(t, http.StatusFound, back.StatusCode)
				assert.Equal(t, "/", back.Header.Get("Location"))
				expired := cookie(back, "logout_state")
				require.NotNil(t, expired, "state cookie is deleted")
				assert.Negative(t, expired.MaxAge)

				forged := do(app, http.MethodGet, l.prefix+"/logout/callback?state=forged", state)
				assert.Equal(t, http.StatusBadRequest, forged.StatusCode)
				assert.Empty(t, forged.Header.Get("Location"))
			})
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name      string
		failSave  bool
		method    string
		header    [2]string
		wantCode  int
		wantAllow string
	}{
		{name: "cross-site", method: http.MethodGet, header: [2]string{"Sec-Fetch-Site", "cross-site"}, wantCode: http.StatusForbidden},
		{name: "foreign origin", method: http.MethodPost, header: [2]string{"Origin", "https://evil.example"}, wantCode: http.StatusForbidden},
		{name: "method", method: http.MethodPut, wantCode: http.StatusMethodNotAllowed, wantAllow: "GET, POST"},
		{name: "store save fails", failSave: true, method: http.MethodGet, wantCode: http.StatusInternalServerError},
	}
	for _, l := range layouts {
		for _, tc := range cases {
			t.Run(string(l.mode)+" "+l.prefix+" "+tc.name, func(t *testing.T) {
				store := newStore()
				var mwStore sessions.Store = store
				if tc.failSave {
					mwStore = failingStore{store}
				}
				app := newApp(newMiddleware(t, mwStore, l.prefix), store, l.mode, l.prefix)
				session := signIn(t, app, l.prefix+"/login")

				r := newRequest(tc.method, l.prefix+"/logout", session)
				if tc.header[0] != "" {
					r.Header.Del("Sec-Fetch-Site")
					r.Header.Set(tc.header[0], tc.header[1])
				}
				resp := serve(app, r)
				assert.Equal(t, tc.wantCode, resp.StatusCode)
				assert.Equal(t, tc.wantAllow, resp.Header.Get("Allow"))
				assert.Empty(t, resp.Header.Get("Location"), "no redirect on error")
				assert.Nil(t, cookie(resp, sessionName), "session cookie untouched")
				assert.Nil(t, cookie(resp, "logout_state"))
			})
		}
	}
}

func TestPassThroughContinuesChain(t *testing.T) {
	store := newStore()
	var trace []string
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		trace = append(trace, "outer after next: aborted="+boolString(c.IsAborted()))
	})
	r.Use(ginlogout.Middleware(newMiddleware(t, store, "")))
	r.Use(func(c *gin.Context) { trace = append(trace, "inner middleware") })
	r.GET("/hello", func(c *gin.Context) {
		trace = append(trace, "handler")
		c.Header("X-App", "1")
		c.String(http.StatusTeapot, "hello")
	})

	resp := do(r, http.MethodGet, "/hello")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	assert.Equal(t, "hello", string(body))
	assert.Equal(t, "1", resp.Header.Get("X-App"))
	assert.Empty(t, resp.Header.Get("Cache-Control"), "response untouched")
	assert.Equal(t, []string{"inner middleware", "handler", "outer after next: aborted=false"}, trace)

	trace = nil
	resp = do(r, http.MethodGet, "/logout")
	assert.Equal(t, http.StatusFound, resp.StatusCode, "no session: local logout")
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assert.Equal(t, []string{"outer after next: aborted=true"}, trace, "chain stops at the logout path")
}

func TestGroupMiddlewareOnlyPrefixedPaths(t *testing.T) {
	// Group middleware sees full request paths: the middleware compares
	// them with the full paths of the config.
	store := newStore()
	r := gin.New()
	g := r.Group("/app", ginlogout.Middleware(newMiddleware(t, store, "/app")))
	g.GET("/login", login(store))
	g.Any("/logout", func(c *gin.Context) { c.String(http.StatusOK, "not reached") })
	g.GET("/logout/callback", func(c *gin.Context) { c.String(http.StatusOK, "not reached") })
	r.GET("/logout", func(c *gin.Context) { c.String(http.StatusOK, "other logout") })

	session := signIn(t, r, "/app/login")
	resp := do(r, http.MethodGet, "/app/logout", session)
	assertProviderRedirect(t, resp, "/app/logout/callback")

	other := do(r, http.MethodGet, "/logout", session)
	body, err := io.ReadAll(other.Body)
	require.NoError(t, err)
	assert.Equal(t, "other logout", string(body), "paths outside the config pass")
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

package ginlogout_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"
	"github.com/oidc-logout/logout"
	ginlogout "github.com/oidc-logout/logout/adapters/gin"
	"github.com/oidc-logout/logout/adapters/gin/internal/fixture"
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
	g.GET("/login", gin.WrapF(fixture.Login(store)))
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

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	m.Run()
}

func TestLogoutAndCallback(t *testing.T) {
	for _, l := range layouts {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(string(l.mode)+" "+l.prefix+" "+method, func(t *testing.T) {
				store := fixture.NewStore()
				app := newApp(fixture.NewMiddleware(t, store, l.prefix), store, l.mode, l.prefix)
				session := fixture.SignIn(t, app, l.prefix+"/login")

				resp := fixture.Do(app, method, l.prefix+"/logout", session)
				state := fixture.AssertProviderRedirect(t, resp, l.prefix+"/logout/callback")
				fixture.AssertCallback(t, app, resp, state)
			})
		}
	}
}

func TestErrors(t *testing.T) {
	for _, l := range layouts {
		for _, tc := range fixture.ErrorCases {
			t.Run(string(l.mode)+" "+l.prefix+" "+tc.Name, func(t *testing.T) {
				store := fixture.NewStore()
				app := newApp(fixture.NewMiddleware(t, tc.Store(store), l.prefix), store, l.mode, l.prefix)
				session := fixture.SignIn(t, app, l.prefix+"/login")
				tc.AssertError(t, fixture.Serve(app, tc.Request(l.prefix+"/logout", session)))
			})
		}
	}
}

func TestPassThroughContinuesChain(t *testing.T) {
	store := fixture.NewStore()
	var trace []string
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		trace = append(trace, "outer after next: aborted="+boolString(c.IsAborted()))
	})
	r.Use(ginlogout.Middleware(fixture.NewMiddleware(t, store, "")))
	r.Use(func(c *gin.Context) { trace = append(trace, "inner middleware") })
	r.GET("/hello", func(c *gin.Context) {
		trace = append(trace, "handler")
		c.Header("X-App", "1")
		c.String(http.StatusTeapot, "hello")
	})

	resp := fixture.Do(r, http.MethodGet, "/hello")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	assert.Equal(t, "hello", string(body))
	assert.Equal(t, "1", resp.Header.Get("X-App"))
	assert.Empty(t, resp.Header.Get("Cache-Control"), "response untouched")
	assert.Equal(t, []string{"inner middleware", "handler", "outer after next: aborted=false"}, trace)

	trace = nil
	resp = fixture.Do(r, http.MethodGet, "/logout")
	assert.Equal(t, http.StatusFound, resp.StatusCode, "no session: local logout")
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assert.Equal(t, []string{"outer after next: aborted=true"}, trace, "chain stops at the logout path")
}

func TestGroupMiddlewareOnlyPrefixedPaths(t *testing.T) {
	// Group middleware sees full request paths: the middleware compares
	// them with the full paths of the config.
	store := fixture.NewStore()
	r := gin.New()
	g := r.Group("/app", ginlogout.Middleware(fixture.NewMiddleware(t, store, "/app")))
	g.GET("/login", gin.WrapF(fixture.Login(store)))
	g.Any("/logout", func(c *gin.Context) { c.String(http.StatusOK, "not reached") })
	g.GET("/logout/callback", func(c *gin.Context) { c.String(http.StatusOK, "not reached") })
	r.GET("/logout", func(c *gin.Context) { c.String(http.StatusOK, "other logout") })

	session := fixture.SignIn(t, r, "/app/login")
	resp := fixture.Do(r, http.MethodGet, "/app/logout", session)
	fixture.AssertProviderRedirect(t, resp, "/app/logout/callback")

	other := fixture.Do(r, http.MethodGet, "/logout", session)
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

// TestSessionCheckOnPassThrough: with Config.SessionCheck on, a copy of the
// session cookie taken before the logout is signed out on the routes after
// the middleware.
func TestSessionCheckOnPassThrough(t *testing.T) {
	store := fixture.NewStore()
	m, err := logout.New(logout.Config{
		Store:              store,
		SessionName:        fixture.SessionName,
		EndSessionEndpoint: fixture.Endpoint,
		SessionCheck: &logout.SessionCheckConfig{
			Revocations: logout.NewMemoryRevocations(logout.MemoryRevocationsConfig{}),
			SessionIDs:  true,
		},
	})
	require.NoError(t, err)
	app := gin.New()
	app.Use(ginlogout.Middleware(m))
	app.GET("/login", gin.WrapF(fixture.Login(store)))
	app.GET("/me", func(c *gin.Context) {
		s, _ := store.Get(c.Request, fixture.SessionName)
		_, ok := s.Values["id_token"]
		c.String(http.StatusOK, "%t", ok)
	})
	signedIn := func(cookie *http.Cookie) (string, *http.Response) {
		resp := fixture.Do(app, http.MethodGet, "/me", cookie)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(body), resp
	}

	copied := fixture.SignIn(t, app, "/login")
	body, resp := signedIn(copied)
	require.Equal(t, "true", body)
	if withID := fixture.Cookie(resp, fixture.SessionName); withID != nil {
		copied = withID // the session got its random id on its first request
	}
	require.Equal(t, http.StatusFound, fixture.Do(app, http.MethodGet, "/logout", copied).StatusCode)

	body, resp = signedIn(copied)
	assert.Equal(t, "false", body, "the replayed pre-logout cookie is signed out")
	gone := fixture.Cookie(resp, fixture.SessionName)
	require.NotNil(t, gone)
	assert.Negative(t, gone.MaxAge, "and expired")
}

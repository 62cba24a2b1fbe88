package ginlogout_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"
	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/adapters/conformance/fixture"
	ginlogout "github.com/oidc-logout/logout/adapters/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newApp returns a gin app with the login route under l.Prefix and the
// logout middleware installed as l says; next is the app's handler of the
// logout route, after Handler when the middleware is mounted on it.
func newApp(_ *testing.T, m *logout.Middleware, store *sessions.CookieStore, l fixture.Layout, next *fixture.AppHandler) http.Handler {
	r := gin.New()
	if l.Mount == fixture.AsMiddleware {
		r.Use(ginlogout.Middleware(m))
	}
	g := r.Group(l.Prefix)
	g.GET("/login", gin.WrapF(fixture.Login(store)))
	g.GET("/", gin.WrapF(fixture.Home(store)))
	g.GET("/homepage", gin.WrapF(fixture.Home(store)))
	if l.Mount == fixture.AsHandler {
		g.Any("/logout", ginlogout.Handler(m), gin.WrapH(next))
		g.GET("/logout/callback", ginlogout.Handler(m))
	} else {
		g.Any("/logout", gin.WrapH(next))
	}
	return r
}

// suite leaves out group middleware: gin runs it only for the routes of
// the group, see TestGroupMiddlewareOnlyPrefixedPaths.
var suite = fixture.Suite{
	Layouts: []fixture.Layout{
		{Mount: fixture.AsMiddleware, Prefix: ""},
		{Mount: fixture.AsMiddleware, Prefix: "/app"},
		{Mount: fixture.AsHandler, Prefix: ""},
		{Mount: fixture.AsHandler, Prefix: "/app"},
	},
	New: newApp,
}

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	m.Run()
}

func TestLogoutAndCallback(t *testing.T) { suite.LogoutAndCallback(t) }

func TestErrors(t *testing.T) { suite.Errors(t) }

func TestAppPageCallback(t *testing.T) { suite.AppPageCallback(t) }

func TestReturnWithoutState(t *testing.T) { suite.ReturnWithoutState(t) }

func TestPostFormReturnTo(t *testing.T) { suite.PostFormReturnTo(t) }

func TestSameOriginPostWithOrigin(t *testing.T) { suite.SameOriginPostWithOrigin(t) }

func TestPassThroughContinuesChain(t *testing.T) {
	var trace []string
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		trace = append(trace, "outer after next: aborted="+boolString(c.IsAborted()))
	})
	store := fixture.NewRecordingStore(fixture.NewStore())
	r.Use(ginlogout.Middleware(fixture.NewMiddleware(t, store, "")))
	r.Use(func(c *gin.Context) { trace = append(trace, "inner middleware") })
	r.GET("/hello", func(c *gin.Context) {
		trace = append(trace, "handler")
		c.Header("X-App", "1")
		c.String(http.StatusTeapot, "hello")
	})
	fixture.PassThroughContinuesChain(t, r, store, &trace,
		[]string{"inner middleware", "handler", "outer after next: aborted=false"},
		[]string{"outer after next: aborted=true"})
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
	app := gin.New()
	app.Use(ginlogout.Middleware(fixture.NewSessionCheckMiddleware(t, store)))
	app.GET("/login", gin.WrapF(fixture.Login(store)))
	app.GET("/me", gin.WrapF(fixture.Me(store)))
	fixture.SessionCheckOnPassThrough(t, app)
}

// TestServedRequestStaysWholeForOuterMiddleware: after the middleware
// serves a logout, middleware above it still sees the request it was
// given (a logger reading c.Request after c.Next, say).
func TestServedRequestStaysWholeForOuterMiddleware(t *testing.T) {
	var seen []string
	store := fixture.NewStore()
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		if c.Request != nil {
			seen = append(seen, c.Request.URL.Path)
		}
	})
	r.Use(ginlogout.Middleware(fixture.NewMiddleware(t, store, "")))
	r.GET("/login", gin.WrapF(fixture.Login(store)))

	resp := fixture.Do(r, http.MethodGet, "/logout", fixture.SignIn(t, r, "/login"))
	fixture.AssertProviderRedirect(t, resp, "/logout/callback")
	assert.Equal(t, []string{"/login", "/logout"}, seen)
}

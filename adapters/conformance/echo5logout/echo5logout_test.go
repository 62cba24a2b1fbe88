package echo5logout_test

import (
	"net/http"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v5"
	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/adapters/conformance/fixture"
	"github.com/oidc-logout/logout/adapters/echo/echo5"
	"github.com/stretchr/testify/assert"
)

// newApp returns an echo app with the login route under l.Prefix and the
// logout middleware installed as l says; next is the app's handler of the
// logout route behind the middleware. Mounted as the route's handler, the
// middleware ends the chain: echo runs nothing after a route's handler.
func newApp(_ *testing.T, m *logout.Middleware, store *sessions.CookieStore, l fixture.Layout, next *fixture.AppHandler) http.Handler {
	e := echo.New()
	if l.Mount == fixture.AsMiddleware {
		e.Use(echo5logout.Middleware(m))
	}
	g := e.Group(l.Prefix)
	if l.Mount == fixture.AsGroupMiddleware {
		g.Use(echo5logout.Middleware(m))
	}
	g.GET("/login", echo.WrapHandler(fixture.Login(store)))
	g.GET("/", echo.WrapHandler(fixture.Home(store)))
	g.GET("/homepage", echo.WrapHandler(fixture.Home(store)))
	if l.Mount == fixture.AsHandler {
		g.Any("/logout", echo5logout.Handler(m))
		g.GET("/logout/callback", echo5logout.Handler(m))
	} else {
		g.Any("/logout", echo.WrapHandler(next))
	}
	return e
}

var suite = fixture.Suite{Layouts: fixture.Layouts, New: newApp}

func TestLogoutAndCallback(t *testing.T) { suite.LogoutAndCallback(t) }

func TestErrors(t *testing.T) { suite.Errors(t) }

func TestAppPageCallback(t *testing.T) { suite.AppPageCallback(t) }

func TestReturnWithoutState(t *testing.T) { suite.ReturnWithoutState(t) }

func TestPostFormReturnTo(t *testing.T) { suite.PostFormReturnTo(t) }

func TestSameOriginPostWithOrigin(t *testing.T) { suite.SameOriginPostWithOrigin(t) }

func TestPassThroughContinuesChain(t *testing.T) {
	var trace []string
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			err := next(c)
			trace = append(trace, "outer after next")
			return err
		}
	})
	store := fixture.NewRecordingStore(fixture.NewStore())
	e.Use(echo5logout.Middleware(fixture.NewMiddleware(t, store, "")))
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			trace = append(trace, "inner middleware")
			return next(c)
		}
	})
	e.GET("/hello", func(c *echo.Context) error {
		trace = append(trace, "handler")
		c.Response().Header().Set("X-App", "1")
		return c.String(http.StatusTeapot, "hello")
	})
	fixture.PassThroughContinuesChain(t, e, store, &trace,
		[]string{"inner middleware", "handler", "outer after next"},
		[]string{"outer after next"})
}

// hello adds to e a route /hello answering 204 and returns a function that
// serves one request to it.
func hello(e *echo.Echo) func() {
	e.GET("/hello", func(c *echo.Context) error { return c.NoContent(http.StatusNoContent) })
	return fixture.Hello(e)
}

func wrappedEcho(tb testing.TB) *echo.Echo {
	e := echo.New()
	e.Use(echo5logout.Middleware(fixture.NewMiddleware(tb, fixture.NewStore(), "")))
	return e
}

// BenchmarkPassThroughBare measures an echo route without the middleware.
func BenchmarkPassThroughBare(b *testing.B) {
	fixture.Benchmark(b, hello(echo.New()))
}

// BenchmarkPassThroughWrapped measures the same route behind the logout
// middleware: the difference is the cost of a request that is not a logout.
func BenchmarkPassThroughWrapped(b *testing.B) {
	fixture.Benchmark(b, hello(wrappedEcho(b)))
}

// TestPassThroughAddsNoAllocation: echo v5 compiles its middleware chain
// once, so the wrapped route must allocate exactly as much as the bare one.
func TestPassThroughAddsNoAllocation(t *testing.T) {
	fixture.AssertNoExtraAllocs(t, hello(wrappedEcho(t)), hello(echo.New()), "bare echo")
}

// TestSessionCheckOnPassThrough: with Config.SessionCheck on, a copy of the
// session cookie taken before the logout is signed out on the routes after
// the middleware.
func TestSessionCheckOnPassThrough(t *testing.T) {
	store := fixture.NewStore()
	app := echo.New()
	app.Use(echo5logout.Middleware(fixture.NewSessionCheckMiddleware(t, store)))
	app.GET("/login", echo.WrapHandler(fixture.Login(store)))
	app.GET("/me", echo.WrapHandler(fixture.Me(store)))
	fixture.SessionCheckOnPassThrough(t, app)
}

// TestReturnWithoutStateIsNoError: the landing of a provider return
// without its state is the middleware's answer, not an error of the
// chain: echo's error handler (and any middleware above) never sees the
// 404. Without a logout in progress, the 404 is echo's as usual.
func TestReturnWithoutStateIsNoError(t *testing.T) {
	var errs []error
	e := echo.New()
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		errs = append(errs, err)
		echo.DefaultHTTPErrorHandler(false)(c, err)
	}
	store := fixture.NewStore()
	e.Use(echo5logout.Middleware(fixture.NewMiddleware(t, store, "")))
	e.GET("/login", echo.WrapHandler(fixture.Login(store)))
	resp := fixture.Do(e, http.MethodGet, "/logout", fixture.SignIn(t, e, "/login"))
	state := fixture.AssertProviderRedirect(t, resp, "/logout/callback")

	back := fixture.Do(e, http.MethodGet, "/logout/callback", state)
	assert.Equal(t, http.StatusFound, back.StatusCode)
	assert.Empty(t, errs, "no error reaches echo's error handler")

	plain := fixture.Do(e, http.MethodGet, "/logout/callback")
	assert.Equal(t, http.StatusNotFound, plain.StatusCode)
	if assert.Len(t, errs, 1) {
		assert.ErrorIs(t, errs[0], echo.ErrNotFound)
	}
}

package echologout_test

import (
	"net/http"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/adapters/conformance/fixture"
	echologout "github.com/oidc-logout/logout/adapters/echo"
	"github.com/stretchr/testify/assert"
)

// newApp returns an echo app with the login route under l.Prefix and the
// logout middleware installed as l says; next is the app's handler of the
// logout route behind the middleware. Mounted as the route's handler, the
// middleware ends the chain: echo runs nothing after a route's handler.
func newApp(_ *testing.T, m *logout.Middleware, store *sessions.CookieStore, l fixture.Layout, next *fixture.AppHandler) http.Handler {
	e := echo.New()
	if l.Mount == fixture.AsMiddleware {
		e.Use(echologout.Middleware(m))
	}
	g := e.Group(l.Prefix)
	if l.Mount == fixture.AsGroupMiddleware {
		g.Use(echologout.Middleware(m))
	}
	g.GET("/login", echo.WrapHandler(fixture.Login(store)))
	g.GET("/", echo.WrapHandler(fixture.Home(store)))
	g.GET("/homepage", echo.WrapHandler(fixture.Home(store)))
	if l.Mount == fixture.AsHandler {
		g.Any("/logout", echologout.Handler(m))
		g.GET("/logout/callback", echologout.Handler(m))
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
		return func(c echo.Context) error {
			err := next(c)
			trace = append(trace, "outer after next")
			return err
		}
	})
	store := fixture.NewRecordingStore(fixture.NewStore())
	e.Use(echologout.Middleware(fixture.NewMiddleware(t, store, "")))
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			trace = append(trace, "inner middleware")
			return next(c)
		}
	})
	e.GET("/hello", func(c echo.Context) error {
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
	e.GET("/hello", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	return fixture.Hello(e)
}

func wrappedEcho(tb testing.TB) *echo.Echo {
	e := echo.New()
	e.Use(echologout.Middleware(fixture.NewMiddleware(tb, fixture.NewStore(), "")))
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

// noop is the cheapest echo middleware. echo composes its middleware for
// every request, so any middleware costs one closure allocation.
func noop(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { return next(c) }
}

func noopEcho() *echo.Echo {
	e := echo.New()
	e.Use(noop)
	return e
}

// BenchmarkPassThroughNoopMiddleware measures the route behind a
// middleware that does nothing: echo's own cost of a middleware.
func BenchmarkPassThroughNoopMiddleware(b *testing.B) {
	fixture.Benchmark(b, hello(noopEcho()))
}

func TestPassThroughAddsNoAllocation(t *testing.T) {
	fixture.AssertNoExtraAllocs(t, hello(wrappedEcho(t)), hello(noopEcho()), "a no-op echo middleware")
}

// TestSessionCheckOnPassThrough: with Config.SessionCheck on, a copy of the
// session cookie taken before the logout is signed out on the routes after
// the middleware.
func TestSessionCheckOnPassThrough(t *testing.T) {
	store := fixture.NewStore()
	app := echo.New()
	app.Use(echologout.Middleware(fixture.NewSessionCheckMiddleware(t, store)))
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
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		errs = append(errs, err)
		e.DefaultHTTPErrorHandler(err, c)
	}
	store := fixture.NewStore()
	e.Use(echologout.Middleware(fixture.NewMiddleware(t, store, "")))
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

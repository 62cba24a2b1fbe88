package echo5logout_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v5"
	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/adapters/echo/echo5"
	"github.com/oidc-logout/logout/adapters/echo/internal/fixture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mount says how the middleware is installed in the echo app.
type mount string

const (
	asMiddleware      mount = "server middleware"
	asGroupMiddleware mount = "group middleware"
	asHandler         mount = "routes"
)

// newApp returns an echo app with login and hello routes under prefix
// and the logout middleware installed as mode says.
func newApp(m *logout.Middleware, store sessions.Store, mode mount, prefix string) *echo.Echo {
	e := echo.New()
	if mode == asMiddleware {
		e.Use(echo5logout.Middleware(m))
	}
	g := e.Group(prefix)
	if mode == asGroupMiddleware {
		g.Use(echo5logout.Middleware(m))
	}
	g.GET("/login", echo.WrapHandler(fixture.Login(store)))
	g.GET("/hello", func(c *echo.Context) error { return c.String(http.StatusOK, "hello") })
	if mode == asHandler {
		g.Any("/logout", echo5logout.Handler(m))
		g.GET("/logout/callback", echo5logout.Handler(m))
	}
	return e
}

var layouts = []struct {
	mode   mount
	prefix string
}{
	{asMiddleware, ""},
	{asMiddleware, "/app"},
	{asGroupMiddleware, "/app"},
	{asHandler, ""},
	{asHandler, "/app"},
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
	var trace []string
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			err := next(c)
			trace = append(trace, "outer after next")
			return err
		}
	})
	e.Use(echo5logout.Middleware(fixture.NewMiddleware(t, fixture.NewStore(), "")))
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

	resp := fixture.Do(e, http.MethodGet, "/hello")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	assert.Equal(t, "hello", string(body))
	assert.Equal(t, "1", resp.Header.Get("X-App"))
	assert.Empty(t, resp.Header.Get("Cache-Control"), "response untouched")
	assert.Equal(t, []string{"inner middleware", "handler", "outer after next"}, trace)

	trace = nil
	resp = fixture.Do(e, http.MethodGet, "/logout")
	assert.Equal(t, http.StatusFound, resp.StatusCode, "no session: local logout")
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assert.Equal(t, []string{"outer after next"}, trace, "chain stops at the logout path")

	resp = fixture.Do(e, http.MethodGet, "/missing")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "echo's 404 still applies")
}

func benchmarkPassThrough(b *testing.B, e *echo.Echo) {
	e.GET("/hello", func(c *echo.Context) error { return c.NoContent(http.StatusNoContent) })
	req := httptest.NewRequest(http.MethodGet, "/hello", nil)
	w := &fixture.DiscardWriter{H: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		e.ServeHTTP(w, req)
	}
}

// BenchmarkPassThroughBare measures an echo route without the middleware.
func BenchmarkPassThroughBare(b *testing.B) {
	benchmarkPassThrough(b, echo.New())
}

// BenchmarkPassThroughWrapped measures the same route behind the logout
// middleware: the difference is the cost of a request that is not a logout.
func BenchmarkPassThroughWrapped(b *testing.B) {
	e := echo.New()
	e.Use(echo5logout.Middleware(fixture.NewMiddleware(b, fixture.NewStore(), "")))
	benchmarkPassThrough(b, e)
}

func TestPassThroughAddsNoAllocation(t *testing.T) {
	if fixture.RaceEnabled {
		t.Skip("the race detector changes allocations")
	}
	// echo v5 compiles its middleware chain once, so the wrapped route
	// must allocate exactly as much as the bare one.
	allocs := func(e *echo.Echo) float64 {
		e.GET("/hello", func(c *echo.Context) error { return c.NoContent(http.StatusNoContent) })
		req := httptest.NewRequest(http.MethodGet, "/hello", nil)
		w := &fixture.DiscardWriter{H: http.Header{}}
		return testing.AllocsPerRun(100, func() { e.ServeHTTP(w, req) })
	}
	wrapped := echo.New()
	wrapped.Use(echo5logout.Middleware(fixture.NewMiddleware(t, fixture.NewStore(), "")))
	if bare, got := allocs(echo.New()), allocs(wrapped); got > bare {
		t.Errorf("pass-through allocates %v times per request, bare echo %v", got, bare)
	}
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
	app := echo.New()
	app.Use(echo5logout.Middleware(m))
	app.GET("/login", echo.WrapHandler(fixture.Login(store)))
	app.GET("/me", func(c *echo.Context) error {
		s, _ := store.Get(c.Request(), fixture.SessionName)
		_, ok := s.Values["id_token"]
		return c.String(http.StatusOK, fmt.Sprint(ok))
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

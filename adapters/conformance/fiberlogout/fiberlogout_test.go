package fiberlogout_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/adapters/conformance/fixture"
	fiberlogout "github.com/oidc-logout/logout/adapters/fiber"
)

// handler serves app to net/http requests through app.Test, so that the
// fixture drives it as an http.Handler.
func handler(t *testing.T, app *fiber.App) http.Handler {
	return fixture.RoundTripHandler(t, func(r *http.Request) (*http.Response, error) { return app.Test(r, -1) })
}

// nativeLogin signs the user in with fiber's own cookie API: the session
// is encoded with the store's codecs and set with c.Cookie.
func nativeLogin(store *sessions.CookieStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		values := map[any]any{"id_token": fixture.IDToken}
		enc, err := securecookie.EncodeMulti(fixture.SessionName, values, store.Codecs...)
		if err != nil {
			return err
		}
		c.Cookie(&fiber.Cookie{Name: fixture.SessionName, Value: enc, Path: "/", HTTPOnly: true})
		return c.SendStatus(http.StatusNoContent)
	}
}

// newApp returns a fiber app with the login routes under l.Prefix and
// the logout middleware installed as l says; next is the app's handler of
// the logout route, after Handler when the middleware is mounted on it. It
// is a native handler, which any request reaches, even one that fiber's
// adaptor cannot convert.
func newApp(t *testing.T, m *logout.Middleware, store *sessions.CookieStore, l fixture.Layout, next *fixture.AppHandler) http.Handler {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if l.Mount == fixture.AsMiddleware {
		app.Use(fiberlogout.Middleware(m))
	}
	g := app.Group(l.Prefix)
	if l.Mount == fixture.AsGroupMiddleware {
		g.Use(fiberlogout.Middleware(m))
	}
	g.Get("/login", adaptor.HTTPHandlerFunc(fixture.Login(store)))
	g.Get("/", adaptor.HTTPHandlerFunc(fixture.Home(store)))
	g.Get("/homepage", adaptor.HTTPHandlerFunc(fixture.Home(store)))
	g.Get("/native-login", nativeLogin(store))
	if l.Mount == fixture.AsHandler {
		g.All("/logout", fiberlogout.Handler(m), reach(next))
		g.Get("/logout/callback", fiberlogout.Handler(m))
	} else {
		g.All("/logout", reach(next))
	}
	return handler(t, app)
}

// reach returns a native fiber handler that counts its requests with h
// and answers 200 "app".
func reach(h *fixture.AppHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		h.Reach()
		return c.SendString("app")
	}
}

var suite = fixture.Suite{
	Layouts: fixture.Layouts,
	Logins:  []string{"/login", "/native-login"},
	New:     newApp,
}

func TestLogoutAndCallback(t *testing.T) { suite.LogoutAndCallback(t) }

func TestErrors(t *testing.T) { suite.Errors(t) }

func TestAppPageCallback(t *testing.T) { suite.AppPageCallback(t) }

func TestReturnWithoutState(t *testing.T) { suite.ReturnWithoutState(t) }

func TestPostFormReturnTo(t *testing.T) { suite.PostFormReturnTo(t) }

func TestSameOriginPostWithOrigin(t *testing.T) { suite.SameOriginPostWithOrigin(t) }

func TestUnparsableLogout(t *testing.T) { suite.UnparsableLogout(t) }

// TestUnparsableSessionCheck: a request the adapter cannot copy for the
// session check does not reach the page with its session unchecked.
func TestUnparsableSessionCheck(t *testing.T) {
	store, page := fixture.NewStore(), &fixture.AppHandler{}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(fiberlogout.Middleware(fixture.NewSessionCheckMiddleware(t, store)))
	app.Get("/login", adaptor.HTTPHandlerFunc(fixture.Login(store)))
	app.Get("/me", reach(page))
	fixture.UnparsableSessionCheck(t, handler(t, app), page)
}

func TestHeadersOfEarlierHandlers(t *testing.T) {
	store := fixture.NewStore()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error {
		c.Set("X-Request-Id", "42")
		c.Set("Cache-Control", "public, max-age=3600")
		c.Cookie(&fiber.Cookie{Name: "theme", Value: "dark"})
		return c.Next()
	})
	app.Use(fiberlogout.Middleware(fixture.NewMiddleware(t, store, "")))
	app.Get("/login", adaptor.HTTPHandlerFunc(fixture.Login(store)))
	fixture.HeadersOfEarlierHandlers(t, handler(t, app))
}

// TestHooksSeeUserContext: the hooks' request carries c.UserContext().
func TestHooksSeeUserContext(t *testing.T) {
	var got any
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(context.WithValue(c.UserContext(), fixture.ContextKey{}, fixture.ContextValue))
		return c.Next()
	})
	app.Use(fiberlogout.Middleware(fixture.NewContextHookMiddleware(t, fixture.NewStore(), &got)))
	fixture.HooksSeeContext(t, handler(t, app), &got)
}

func TestPassThroughContinuesChain(t *testing.T) {
	var trace []string
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error {
		err := c.Next()
		trace = append(trace, "outer after next")
		return err
	})
	store := fixture.NewRecordingStore(fixture.NewStore())
	app.Use(fiberlogout.Middleware(fixture.NewMiddleware(t, store, "")))
	app.Use(func(c *fiber.Ctx) error {
		trace = append(trace, "inner middleware")
		return c.Next()
	})
	app.Get("/hello", func(c *fiber.Ctx) error {
		trace = append(trace, "handler")
		c.Set("X-App", "1")
		return c.Status(http.StatusTeapot).SendString("hello")
	})

	fixture.PassThroughContinuesChain(t, handler(t, app), store, &trace,
		[]string{"inner middleware", "handler", "outer after next"},
		[]string{"outer after next"})
}

// TestSessionCheckOnPassThrough: with Config.SessionCheck on, a copy of the
// session cookie taken before the logout is signed out, and expired, on
// the routes after the middleware, also when they read the session through
// fiber's adaptor.
func TestSessionCheckOnPassThrough(t *testing.T) {
	store := fixture.NewStore()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(fiberlogout.Middleware(fixture.NewSessionCheckMiddleware(t, store)))
	app.Get("/login", adaptor.HTTPHandlerFunc(fixture.Login(store)))
	app.Get("/me", adaptor.HTTPHandlerFunc(fixture.Me(store)))
	fixture.SessionCheckOnPassThrough(t, handler(t, app))
}

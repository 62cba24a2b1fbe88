package fiberlogout_test

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/oidc-logout/logout"
	fiberlogout "github.com/oidc-logout/logout/adapters/fiber"
	"github.com/oidc-logout/logout/adapters/internal/fixture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handler serves app to net/http requests through app.Test, so that the
// fixture drives it as an http.Handler: the status, the headers and the
// body of fiber's response are copied to w.
func handler(t *testing.T, app *fiber.App) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := app.Test(r, -1)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		maps.Copy(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		_, err = io.Copy(w, resp.Body)
		require.NoError(t, err)
	})
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
// the logout middleware installed as l says.
func newApp(t *testing.T, m *logout.Middleware, store *sessions.CookieStore, l fixture.Layout) http.Handler {
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
		g.All("/logout", fiberlogout.Handler(m))
		g.Get("/logout/callback", fiberlogout.Handler(m))
	}
	return handler(t, app)
}

var suite = fixture.Suite{
	Layouts: fixture.Layouts,
	Logins:  []string{"/login", "/native-login"},
	New:     newApp,
}

func TestLogoutAndCallback(t *testing.T) { suite.LogoutAndCallback(t) }

func TestErrors(t *testing.T) { suite.Errors(t) }

func TestAppPageCallback(t *testing.T) { suite.AppPageCallback(t) }

// defaultApp is the app of the layout {AsMiddleware, ""}, signed in.
func defaultApp(t *testing.T) (http.Handler, *http.Cookie) {
	store := fixture.NewStore()
	app := newApp(t, fixture.NewMiddleware(t, store, ""), store, fixture.Layout{Mount: fixture.AsMiddleware})
	return app, fixture.SignIn(t, app, "/login")
}

func TestPostFormReturnTo(t *testing.T) {
	app, session := defaultApp(t)

	form := url.Values{"return_to": {"/goodbye?x=1"}}.Encode()
	r := fixture.NewRequest(http.MethodPost, "/logout", session)
	r.Body = io.NopCloser(strings.NewReader(form))
	r.ContentLength = int64(len(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := fixture.Serve(app, r)
	state := fixture.AssertProviderRedirect(t, resp, "/logout/callback")

	back := fixture.Do(app, http.MethodGet, fixture.Callback(t, resp), state)
	assert.Equal(t, http.StatusFound, back.StatusCode)
	assert.Equal(t, "/goodbye?x=1", back.Header.Get("Location"), "return target read from the form body")
}

func TestSameOriginPostWithOrigin(t *testing.T) {
	// The Origin check compares Origin with the Host the request was
	// converted with.
	app, session := defaultApp(t)
	r := fixture.NewRequest(http.MethodPost, "/logout", session)
	r.Header.Del("Sec-Fetch-Site")
	r.Header.Set("Origin", fixture.AppOrigin)
	fixture.AssertProviderRedirect(t, fixture.Serve(app, r), "/logout/callback")
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
	h := handler(t, app)
	session := fixture.SignIn(t, h, "/login")

	resp := fixture.Do(h, http.MethodGet, "/logout", session)
	fixture.AssertProviderRedirect(t, resp, "/logout/callback")
	assert.Equal(t, "42", resp.Header.Get("X-Request-Id"), "headers of earlier handlers are kept")
	assert.Equal(t, []string{"no-store"}, resp.Header.Values("Cache-Control"), "the middleware's header replaces theirs")
	assert.NotNil(t, fixture.Cookie(resp, "theme"), "cookies of earlier handlers are kept")
	assert.Len(t, resp.Header.Values("Set-Cookie"), 3)
}

type ctxKey struct{}

func TestHooksSeeUserContext(t *testing.T) {
	store := fixture.NewStore()
	var got any
	m, err := logout.New(logout.Config{
		Store:              store,
		SessionName:        fixture.SessionName,
		EndSessionEndpoint: fixture.Endpoint,
		BeforeLogout: func(r *http.Request, _ *sessions.Session) error {
			got = r.Context().Value(ctxKey{})
			return nil
		},
	})
	require.NoError(t, err)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(context.WithValue(c.UserContext(), ctxKey{}, "request-42"))
		return c.Next()
	})
	app.Use(fiberlogout.Middleware(m))

	resp := fixture.Do(handler(t, app), http.MethodGet, "/logout")
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "request-42", got)
}

func TestPassThroughContinuesChain(t *testing.T) {
	var trace []string
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error {
		err := c.Next()
		trace = append(trace, "outer after next")
		return err
	})
	app.Use(fiberlogout.Middleware(fixture.NewMiddleware(t, fixture.NewStore(), "")))
	app.Use(func(c *fiber.Ctx) error {
		trace = append(trace, "inner middleware")
		return c.Next()
	})
	app.Get("/hello", func(c *fiber.Ctx) error {
		trace = append(trace, "handler")
		c.Set("X-App", "1")
		return c.Status(http.StatusTeapot).SendString("hello")
	})

	fixture.PassThroughContinuesChain(t, handler(t, app), &trace,
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

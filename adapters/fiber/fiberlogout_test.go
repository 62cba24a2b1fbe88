package fiberlogout_test

import (
	"context"
	"io"
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
	"github.com/oidc-logout/logout/adapters/fiber/internal/fixture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mount says how the middleware is installed in the fiber app.
type mount string

const (
	asMiddleware      mount = "app middleware"
	asGroupMiddleware mount = "group middleware"
	asHandler         mount = "routes"
)

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

// newApp returns a fiber app with login routes and a hello route under
// prefix, and the logout middleware installed as mode says.
func newApp(m *logout.Middleware, store *sessions.CookieStore, mode mount, prefix string) *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if mode == asMiddleware {
		app.Use(fiberlogout.Middleware(m))
	}
	g := app.Group(prefix)
	if mode == asGroupMiddleware {
		g.Use(fiberlogout.Middleware(m))
	}
	g.Get("/login", adaptor.HTTPHandlerFunc(fixture.Login(store)))
	g.Get("/native-login", nativeLogin(store))
	g.Get("/hello", func(c *fiber.Ctx) error { return c.SendString("hello") })
	if mode == asHandler {
		g.All("/logout", fiberlogout.Handler(m))
		g.Get("/logout/callback", fiberlogout.Handler(m))
	}
	return app
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
		for _, login := range []string{"/login", "/native-login"} {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				t.Run(string(l.mode)+" "+l.prefix+" "+login+" "+method, func(t *testing.T) {
					store := fixture.NewStore()
					app := newApp(fixture.NewMiddleware(t, store, l.prefix), store, l.mode, l.prefix)
					session := fixture.SignIn(t, app, l.prefix+login)

					resp := fixture.Do(t, app, method, l.prefix+"/logout", session)
					state := fixture.AssertProviderRedirect(t, resp, l.prefix+"/logout/callback")
					assert.Len(t, resp.Header.Values("Set-Cookie"), 2, "session and state cookies")
					fixture.AssertCallback(t, app, resp, state)
				})
			}
		}
	}
}

func TestPostFormReturnTo(t *testing.T) {
	store := fixture.NewStore()
	app := newApp(fixture.NewMiddleware(t, store, ""), store, asMiddleware, "")
	session := fixture.SignIn(t, app, "/login")

	form := url.Values{"return_to": {"/goodbye?x=1"}}.Encode()
	r := fixture.NewRequest(http.MethodPost, "/logout", session)
	r.Body = io.NopCloser(strings.NewReader(form))
	r.ContentLength = int64(len(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := fixture.Serve(t, app, r)
	state := fixture.AssertProviderRedirect(t, resp, "/logout/callback")

	back := fixture.Do(t, app, http.MethodGet, fixture.Callback(t, resp), state)
	assert.Equal(t, http.StatusFound, back.StatusCode)
	assert.Equal(t, "/goodbye?x=1", back.Header.Get("Location"), "return target read from the form body")
}

func TestErrors(t *testing.T) {
	for _, l := range layouts {
		for _, tc := range fixture.ErrorCases {
			t.Run(string(l.mode)+" "+l.prefix+" "+tc.Name, func(t *testing.T) {
				store := fixture.NewStore()
				app := newApp(fixture.NewMiddleware(t, tc.Store(store), l.prefix), store, l.mode, l.prefix)
				session := fixture.SignIn(t, app, l.prefix+"/login")
				tc.AssertError(t, fixture.Serve(t, app, tc.Request(l.prefix+"/logout", session)))
			})
		}
	}
}

func TestSameOriginPostWithOrigin(t *testing.T) {
	// The Origin check compares Origin with the Host the request was
	// converted with.
	store := fixture.NewStore()
	app := newApp(fixture.NewMiddleware(t, store, ""), store, asMiddleware, "")
	session := fixture.SignIn(t, app, "/login")
	r := fixture.NewRequest(http.MethodPost, "/logout", session)
	r.Header.Del("Sec-Fetch-Site")
	r.Header.Set("Origin", fixture.AppOrigin)
	fixture.AssertProviderRedirect(t, fixture.Serve(t, app, r), "/logout/callback")
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
	session := fixture.SignIn(t, app, "/login")

	resp := fixture.Do(t, app, http.MethodGet, "/logout", session)
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

	resp := fixture.Do(t, app, http.MethodGet, "/logout")
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

	resp := fixture.Do(t, app, http.MethodGet, "/hello")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	assert.Equal(t, "hello", string(body))
	assert.Equal(t, "1", resp.Header.Get("X-App"))
	assert.Empty(t, resp.Header.Get("Cache-Control"), "response untouched")
	assert.Equal(t, []string{"inner middleware", "handler", "outer after next"}, trace)

	trace = nil
	resp = fixture.Do(t, app, http.MethodGet, "/logout")
	assert.Equal(t, http.StatusFound, resp.StatusCode, "no session: local logout")
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assert.Equal(t, []string{"outer after next"}, trace, "chain stops at the logout path")

	resp = fixture.Do(t, app, http.MethodGet, "/missing")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "fiber's 404 still applies")
}

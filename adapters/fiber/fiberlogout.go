// Package fiberlogout adapts the logout middleware of
// github.com/oidc-logout/logout to the fiber web framework (v2), which
// runs on fasthttp rather than net/http. Package fiber3logout in the
// fiber3 directory, a module of its own, does the same for fiber v3; its
// documentation says why both adapters copy requests themselves rather
// than through fiber's adaptor middleware.
//
// Use Middleware on the app or on a group:
//
//	app := fiber.New()
//	app.Use(fiberlogout.Middleware(m))
//
// or mount Handler on routes:
//
//	app.All("/logout", fiberlogout.Handler(m))
//	app.Get("/logout/callback", fiberlogout.Handler(m))
//
// The paths in logout.Config are full request paths, group prefix
// included. Requests that are not a logout are passed on with c.Next
// after one comparison of c.Path(), without any conversion. A logout
// request is converted to an *http.Request for the session store, and
// the response, Set-Cookie headers included, is written back to fiber's
// response. The *http.Request handed to Config hooks carries
// c.UserContext() and must not be kept after the hook returns.
package fiberlogout

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/adapters/fiber/internal/httpconv"
)

// Middleware returns a fiber middleware that serves the logout path and
// the callback path of m, and calls c.Next for every other request. Those
// are passed on unconverted after one path comparison, unless
// Config.SessionCheck is on and they carry the session cookie: then the
// session is checked, and a revoked one is expired and its cookie taken
// out of the request, so that the handlers after it see it signed out.
//
// A request to the callback path is served only when it is the
// provider's return (see logout.Middleware.Dispatch); any other, such as
// a visit to a callback that is also a page of the app, goes on with
// c.Next, after being converted once to find out. When no route answers
// the provider's return without its state (fiber's 404), the user is sent
// to Config.DefaultReturnTo instead (see logout.Middleware.ServeNotFound).
func Middleware(m *logout.Middleware) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !m.NeedsRequest(c.Path(), func(name string) bool { return c.Cookies(name) != "" }) {
			return c.Next()
		}
		r, err := toHTTPRequest(c)
		if err != nil {
			return err
		}
		served, dropped := httpconv.Dispatch(m, newResponseWriter(c), r)
		if served {
			return nil
		}
		for _, name := range dropped {
			c.Request().Header.DelCookie(name) // the session has ended: go on signed out
		}
		err = c.Next()
		if err != nil && isNotFound(err) && m.ServeNotFound(newResponseWriter(c), r) {
			return nil // the provider's return without its state: sent to DefaultReturnTo
		}
		return err
	}
}

// isNotFound reports whether err is fiber's 404, which it returns when no
// route matches.
func isNotFound(err error) bool {
	var fe *fiber.Error
	return errors.As(err, &fe) && fe.Code == http.StatusNotFound
}

// Handler returns a fiber handler that serves m on a route: the callback
// when the request path is the callback path, a logout otherwise. Mount it
// with All on the logout route, so that methods other than GET and POST
// get 405 with an Allow header, and with Get on the callback route.
func Handler(m *logout.Middleware) fiber.Handler {
	return func(c *fiber.Ctx) error {
		return serve(m, c)
	}
}

// serve runs m on a net/http copy of the request and writes its response
// to fiber's response.
func serve(m *logout.Middleware, c *fiber.Ctx) error {
	r, err := toHTTPRequest(c)
	if err != nil {
		return err
	}
	return serveRequest(m, c, r)
}

// serveRequest runs m on r, the net/http copy of the request of c, and
// writes its response to fiber's response.
func serveRequest(m *logout.Middleware, c *fiber.Ctx, r *http.Request) error {
	httpconv.Serve(m, newResponseWriter(c), r)
	return nil
}

// toHTTPRequest copies the request of c into a new *http.Request that
// carries c.UserContext().
func toHTTPRequest(c *fiber.Ctx) (*http.Request, error) {
	fc := c.Context()
	return httpconv.NewRequest(c.UserContext(), fc, func(yield func(k, v []byte) bool) {
		fc.Request.Header.VisitAll(func(k, v []byte) { yield(k, v) })
	})
}

// newResponseWriter returns an http.ResponseWriter that writes to the
// response of c.
func newResponseWriter(c *fiber.Ctx) *httpconv.ResponseWriter {
	resp := c.Response()
	return httpconv.NewResponseWriter(resp, &resp.Header)
}

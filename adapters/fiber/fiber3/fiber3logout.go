// Package fiber3logout adapts the logout middleware of
// github.com/oidc-logout/logout to the fiber web framework, version 3,
// which runs on fasthttp rather than net/http. Package fiberlogout in the
// parent directory does the same for fiber v2.
//
// Use Middleware on the app or on a group:
//
//	app := fiber.New()
//	app.Use(fiber3logout.Middleware(m))
//
// or mount Handler on routes:
//
//	app.All("/logout", fiber3logout.Handler(m))
//	app.Get("/logout/callback", fiber3logout.Handler(m))
//
// The paths in logout.Config are full request paths, group prefix
// included. Requests that are not a logout are passed on with c.Next
// after one comparison of c.Path(), without any conversion. A logout
// request is converted to an *http.Request for the session store, and
// the response, Set-Cookie headers included, is written back to fiber's
// response. Failed logouts are answered by Config.ErrorHandler, not by
// fiber's ErrorHandler. The *http.Request handed to Config hooks carries
// c.Context() and must not be kept after the hook returns.
//
// The conversion is the adapter's own rather than fiber's
// middleware/adaptor, which does not fit the middleware:
//   - adaptor.HTTPMiddleware converts every request and runs it on a
//     goroutine of its own, where the pass-through path must stay one
//     string comparison without allocation;
//   - adaptor.ConvertRequest leaves the strings of the *http.Request, the
//     query among them, in fasthttp's buffers, which are reused after the
//     request, while the middleware keeps the sid of a front-channel
//     logout in the ledger;
//   - adaptor.HTTPHandler adds the middleware's headers to those of
//     earlier handlers rather than replacing them (two Cache-Control
//     headers instead of no-store), and hands the handler fasthttp's
//     request context rather than c.Context().
//
// Your own net/http handlers (a sign-in that writes the gorilla/sessions
// session, for example) run fine through adaptor.HTTPHandlerFunc.
package fiber3logout

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v3"
	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/adapters/fiber/fiber3/internal/httpconv"
)

// Middleware returns a fiber middleware that serves the logout path, the
// front-channel logout path and the provider's return to the callback
// path of m, and calls c.Next for every other request. Those are passed
// on unconverted after one path comparison, unless Config.SessionCheck is
// on and they carry the session cookie: then the session is checked, and
// a revoked one is expired and its cookie taken out of the request, so
// that the handlers after it see it signed out.
//
// A request to the callback path is served only when it is the
// provider's return (see logout.Middleware.Dispatch); any other, such as
// a visit to a callback that is also a page of the app, goes on with
// c.Next, after being converted once to find out. When no route answers
// the provider's return without its state (fiber's 404), the user is sent
// to Config.DefaultReturnTo instead (see logout.Middleware.ServeNotFound).
func Middleware(m *logout.Middleware) fiber.Handler {
	return func(c fiber.Ctx) error {
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
	return func(c fiber.Ctx) error {
		r, err := toHTTPRequest(c)
		if err != nil {
			return err
		}
		return serveRequest(m, c, r)
	}
}

// serveRequest runs m on r, the net/http copy of the request of c, and
// writes its response to fiber's response.
func serveRequest(m *logout.Middleware, c fiber.Ctx, r *http.Request) error {
	httpconv.Serve(m, newResponseWriter(c), r)
	return nil
}

// toHTTPRequest copies the request of c into a new *http.Request that
// carries c.Context().
func toHTTPRequest(c fiber.Ctx) (*http.Request, error) {
	fc := c.RequestCtx()
	return httpconv.NewRequest(c.Context(), fc, fc.Request.Header.All())
}

// newResponseWriter returns an http.ResponseWriter that writes to the
// response of c.
func newResponseWriter(c fiber.Ctx) *httpconv.ResponseWriter {
	resp := c.Response()
	return httpconv.NewResponseWriter(resp, &resp.Header)
}

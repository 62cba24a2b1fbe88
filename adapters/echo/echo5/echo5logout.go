// Package echo5logout adapts the logout middleware of
// github.com/oidc-logout/logout to the echo web framework, version 5.
//
// Use Middleware on the server or on a group:
//
//	e := echo.New()
//	e.Use(echo5logout.Middleware(m))
//
// or mount Handler on routes:
//
//	e.Any("/logout", echo5logout.Handler(m))
//	e.GET("/logout/callback", echo5logout.Handler(m))
//
// The paths in logout.Config are full request paths, group prefix
// included. Failed logouts are answered by Config.ErrorHandler, not by
// echo's HTTPErrorHandler.
package echo5logout

import (
	"net/http"

	"github.com/labstack/echo/v5"
	"github.com/oidc-logout/logout"
)

// Middleware returns an echo middleware that serves the logout path and
// the provider's return to the callback path of m, and calls next for
// every other request, visits to a callback that is also a page of the
// app ("/", "/homepage") included: the only work added is one comparison
// of the request path and, when Config.SessionCheck is set, the session
// check (a revoked session goes on signed out). See
// logout.Middleware.Dispatch. When the app answers the provider's return
// to the callback path without its state with echo's 404 error, the user
// is sent to Config.DefaultReturnTo instead (see
// logout.Middleware.ServeNotFound).
func Middleware(m *logout.Middleware) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := c.Request()
			checked := m.Dispatch(c.Response(), r)
			if checked == nil {
				return nil // served
			}
			if checked != r {
				c.SetRequest(checked) // the session has ended: go on signed out
			}
			err := next(c)
			if err != nil && isNotFound(err) && !committed(c) && m.ServeNotFound(c.Response(), checked) {
				return nil // the provider's return without its state: sent to DefaultReturnTo
			}
			return err
		}
	}
}

// Handler returns an echo handler that serves m on a route: the callback
// when the request path is the callback path, a logout otherwise. Mount it
// with Any on the logout route, so that methods other than GET and POST
// get 405 with an Allow header, and with GET on the callback route.
func Handler(m *logout.Middleware) echo.HandlerFunc {
	return func(c *echo.Context) error {
		m.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// isNotFound reports whether err is echo's 404.
func isNotFound(err error) bool { return echo.StatusCode(err) == http.StatusNotFound }

// committed reports whether the response of c has been written.
func committed(c *echo.Context) bool {
	resp, err := echo.UnwrapResponse(c.Response())
	return err != nil || resp.Committed // a writer echo cannot see into: assume written
}

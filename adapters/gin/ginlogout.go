// Package ginlogout adapts the logout middleware of
// github.com/oidc-logout/logout to the gin web framework.
//
// Use Middleware on the engine, so that the logout and callback paths are
// served whatever routes exist:
//
//	r := gin.New()
//	r.Use(ginlogout.Middleware(m))
//
// or mount Handler on routes, inside a group if the paths have a prefix:
//
//	g := r.Group("/app")
//	g.Any("/logout", ginlogout.Handler(m))
//	g.GET("/logout/callback", ginlogout.Handler(m))
//
// The paths in logout.Config are full request paths: with the group above,
// Config.Path is "/app/logout" and the Provider's PostLogoutRedirectURI ends in
// "/app/logout/callback".
package ginlogout

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/oidc-logout/logout"
)

// Middleware returns a gin middleware that serves the logout path and the
// provider's return to the callback path of m and aborts the chain there.
// Every other request goes on down the chain through c.Next, visits to a
// callback that is also a page of the app ("/", "/homepage") included: the
// only work added is one comparison of the request path, with no
// allocation, and, when Config.SessionCheck is set, the session check (a
// revoked session goes on signed out). When gin finds no route for the
// provider's return to the callback path without its state, the user is
// sent to Config.DefaultReturnTo rather than to gin's 404 (see
// logout.Middleware.ServeNotFound). See logout.Middleware.Dispatch.
//
// gin runs the middleware of a group only for routes registered in that
// group, so register Middleware on the engine (r.Use), or mount Handler on
// routes instead.
func Middleware(m *logout.Middleware) gin.HandlerFunc {
	return func(c *gin.Context) {
		next := m.Dispatch(c.Writer, c.Request)
		if next == nil {
			c.Abort() // served
			return
		}
		c.Request = next // a copy without the session cookie when the session has ended
		c.Next()
		// gin's own 404 (no route) is written after the middleware returns.
		if c.Writer.Status() == http.StatusNotFound && !c.Writer.Written() {
			m.ServeNotFound(c.Writer, next)
		}
	}
}

// Handler returns a gin handler that serves m on a route: the callback
// when the request path is the callback path, a logout otherwise. Mount it
// with Any on the logout route, so that methods other than GET and POST
// get 405 with an Allow header rather than 404, and with GET on the
// callback route. Handlers after it in the chain do not run.
func Handler(m *logout.Middleware) gin.HandlerFunc {
	return func(c *gin.Context) {
		m.ServeHTTP(c.Writer, c.Request)
		c.Abort()
	}
}

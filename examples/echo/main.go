// Command echo is an echo (v4) app that logs users out with the logout
// middleware.
//
//	go -C examples run ./echo           # the middleware on the server: e.Use(echologout.Middleware(m))
//	go -C examples run ./echo -mount    # the middleware mounted on routes
//
// Open http://127.0.0.1:8080/, sign in, and log out. The sign-in is a
// stand-in that stores a placeholder id_token, and the end-session endpoint
// defaults to a stand-in provider that sends the browser straight back:
// see examples/demo for a real OpenID Connect login. To log out at a real
// provider, set OIDC_END_SESSION_ENDPOINT and OIDC_CLIENT_ID, and register
// APP_BASE_URL/logout/callback there as a post-logout redirect URI.
//
// The session store, the logout.Config and the stand-ins are shared by the
// framework examples, in examples/internal/frameworkdemo; they are net/http
// handlers, which echo runs through echo.WrapHandler.
package main

import (
	"log"

	"github.com/labstack/echo/v4"
	"github.com/oidc-logout/logout"
	echologout "github.com/oidc-logout/logout/adapters/echo"

	"github.com/oidc-logout/logout/examples/internal/frameworkdemo"
)

func main() {
	s := frameworkdemo.ParseFlags("mount the middleware on routes instead of e.Use")
	e, err := newServer(s)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(frameworkdemo.ListenAndServe(s, e))
}

// newServer returns the app: the logout middleware, a home page and the
// stand-ins for the login and the provider.
func newServer(s frameworkdemo.Settings) (*echo.Echo, error) {
	demo := frameworkdemo.New(s)
	m, err := logout.New(demo.Config)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner = true
	if !s.Mount {
		e.Use(echologout.Middleware(m)) // serves /logout and /logout/callback, passes everything else on
	} else {
		e.Any("/logout", echologout.Handler(m)) // every method: the middleware answers 405 itself
		e.GET("/logout/callback", echologout.Handler(m))
	}
	e.GET("/", echo.WrapHandler(demo.Home))
	e.GET("/login", echo.WrapHandler(demo.StandInLogin))
	e.GET(frameworkdemo.StandInEndSessionPath, echo.WrapHandler(demo.StandInProvider))
	return e, nil
}

// Command fiber is a fiber (v3) app that logs users out with the logout
// middleware. examples/fiber2 is the same app on fiber v2.
//
//	go -C examples run ./fiber           # the middleware on the app: app.Use(fiber3logout.Middleware(m))
//	go -C examples run ./fiber -mount    # the middleware mounted on routes
//
// The app's own gorilla/sessions code (the home page and the sign-in) runs
// through fiber's adaptor middleware; the logout middleware needs no
// adaptor.
//
// Open http://127.0.0.1:8080/, sign in, and log out. The sign-in is a
// stand-in that stores a placeholder id_token, and the end-session endpoint
// defaults to a stand-in provider that sends the browser straight back:
// see examples/demo for a real OpenID Connect login. To log out at a real
// provider, set OIDC_END_SESSION_ENDPOINT and OIDC_CLIENT_ID, and register
// APP_BASE_URL/logout/callback there as a post-logout redirect URI.
//
// The session store, the logout.Config and the stand-ins are shared by the
// framework examples, in examples/internal/frameworkdemo.
package main

import (
	"log"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/adaptor"
	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/adapters/fiber/fiber3"

	"github.com/oidc-logout/logout/examples/internal/frameworkdemo"
)

func main() {
	s := frameworkdemo.ParseFlags("mount the middleware on routes instead of app.Use")
	app, err := newApp(s)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("open %s/", s.BaseURL)
	log.Fatal(app.Listen(s.Addr, fiber.ListenConfig{DisableStartupMessage: true}))
}

// newApp returns the app: the logout middleware, a home page and the
// stand-ins for the login and the provider.
func newApp(s frameworkdemo.Settings) (*fiber.App, error) {
	demo := frameworkdemo.New(s)
	m, err := logout.New(demo.Config)
	if err != nil {
		return nil, err
	}
	app := fiber.New(fiber.Config{ReadTimeout: 10 * time.Second})
	if !s.Mount {
		app.Use(fiber3logout.Middleware(m)) // serves /logout and /logout/callback, passes everything else on
	} else {
		app.All("/logout", fiber3logout.Handler(m)) // every method: the middleware answers 405 itself
		app.Get("/logout/callback", fiber3logout.Handler(m))
	}
	app.Get("/", adaptor.HTTPHandlerFunc(demo.Home))
	app.Get("/login", adaptor.HTTPHandlerFunc(demo.StandInLogin))
	app.Get(frameworkdemo.StandInEndSessionPath, adaptor.HTTPHandlerFunc(demo.StandInProvider))
	return app, nil
}

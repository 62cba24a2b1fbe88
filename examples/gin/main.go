// Command gin is a gin app that logs users out with the logout middleware.
//
//	go -C examples run ./gin           # the middleware on the engine: r.Use(ginlogout.Middleware(m))
//	go -C examples run ./gin -mount    # the middleware mounted on routes
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
// handlers, which gin runs through gin.WrapF.
package main

import (
	"log"

	"github.com/gin-gonic/gin"
	"github.com/oidc-logout/logout"
	ginlogout "github.com/oidc-logout/logout/adapters/gin"

	"github.com/oidc-logout/logout/examples/internal/frameworkdemo"
)

func main() {
	s := frameworkdemo.ParseFlags("mount the middleware on routes instead of r.Use")
	r, err := newEngine(s)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(frameworkdemo.ListenAndServe(s, r))
}

// newEngine returns the app: the logout middleware, a home page and the
// stand-ins for the login and the provider.
func newEngine(s frameworkdemo.Settings) (*gin.Engine, error) {
	demo := frameworkdemo.New(s)
	m, err := logout.New(demo.Config)
	if err != nil {
		return nil, err
	}
	r := gin.New()
	r.Use(gin.Recovery())
	if !s.Mount {
		r.Use(ginlogout.Middleware(m)) // serves /logout and /logout/callback, passes everything else on
	} else {
		r.Any("/logout", ginlogout.Handler(m)) // every method: the middleware answers 405 itself
		r.GET("/logout/callback", ginlogout.Handler(m))
	}
	r.GET("/", gin.WrapF(demo.Home))
	r.GET("/login", gin.WrapF(demo.StandInLogin))
	r.GET(frameworkdemo.StandInEndSessionPath, gin.WrapF(demo.StandInProvider))
	return r, nil
}

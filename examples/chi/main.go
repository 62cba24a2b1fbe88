// Command chi is a chi app that logs users out with the logout middleware.
//
//	go -C examples run ./chi           # the middleware on the router: r.Use(m.Wrap)
//	go -C examples run ./chi -mount    # the middleware mounted on routes
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
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/oidc-logout/logout"

	"github.com/oidc-logout/logout/examples/internal/frameworkdemo"
)

func main() {
	s := frameworkdemo.ParseFlags("mount the middleware on routes instead of r.Use(m.Wrap)")
	r, err := newRouter(s)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(frameworkdemo.ListenAndServe(s, r))
}

// newRouter returns the app: the logout middleware, a home page and the
// stand-ins for the login and the provider.
func newRouter(s frameworkdemo.Settings) (http.Handler, error) {
	demo := frameworkdemo.New(s)
	m, err := logout.New(demo.Config)
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	if !s.Mount {
		r.Use(m.Wrap) // serves /logout and /logout/callback, passes everything else on
	} else {
		r.Handle("/logout", m)
		r.Handle("/logout/callback", m)
	}
	r.Get("/", demo.Home)
	r.Get("/login", demo.StandInLogin)
	r.Get(frameworkdemo.StandInEndSessionPath, demo.StandInProvider)
	return r, nil
}

// Command gorillamux is a gorilla/mux app that logs users out with the
// logout middleware.
//
//	go -C examples run ./gorillamux           # the router wrapped: m.Wrap(r)
//	go -C examples run ./gorillamux -mount    # the middleware mounted on routes
//
// gorilla/mux runs the middleware of r.Use only after a route matched, so
// r.Use(m.Wrap) alone never sees /logout: wrap the whole router, or mount
// the middleware on the logout and callback routes.
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

	"github.com/gorilla/mux"
	"github.com/oidc-logout/logout"

	"github.com/oidc-logout/logout/examples/internal/frameworkdemo"
)

func main() {
	s := frameworkdemo.ParseFlags("mount the middleware on routes instead of wrapping the router")
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
	r := mux.NewRouter()
	r.Handle("/", demo.Home).Methods(http.MethodGet)
	r.Handle("/login", demo.StandInLogin).Methods(http.MethodGet)
	r.Handle(frameworkdemo.StandInEndSessionPath, demo.StandInProvider).Methods(http.MethodGet)
	if s.Mount {
		r.Handle("/logout", m) // every method: the middleware answers 405 itself
		r.Handle("/logout/callback", m)
		return r, nil
	}
	return m.Wrap(r), nil // serves /logout and /logout/callback, passes everything else on
}

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
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/oidc-logout/logout"
	echologout "github.com/oidc-logout/logout/adapters/echo"
)

const sessionName = "session"

// settings configure the app; they come from the environment.
type settings struct {
	baseURL            string // where the app is served, e.g. http://127.0.0.1:8080
	endSessionEndpoint string // the provider's end_session_endpoint
	clientID           string
	mount              bool // mount the middleware on routes instead of e.Use
}

func main() {
	mount := flag.Bool("mount", false, "mount the middleware on routes instead of r.Use")
	flag.Parse()
	s := settingsFromEnv()
	s.mount = *mount
	e, err := newServer(s)
	if err != nil {
		log.Fatal(err)
	}
	u, err := url.Parse(s.baseURL)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("open %s/", s.baseURL)
	srv := &http.Server{Addr: u.Host, Handler: e, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func settingsFromEnv() settings {
	s := settings{
		baseURL:            envOr("APP_BASE_URL", "http://127.0.0.1:8080"),
		endSessionEndpoint: os.Getenv("OIDC_END_SESSION_ENDPOINT"),
		clientID:           envOr("OIDC_CLIENT_ID", "example"),
	}
	if s.endSessionEndpoint == "" {
		s.endSessionEndpoint = s.baseURL + standInEndSessionPath
	}
	return s
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// newServer returns the app: the logout middleware, a home page and the
// stand-ins for the login and the provider.
func newServer(s settings) (*echo.Echo, error) {
	store := newStore(s.baseURL)
	m, err := logout.New(logout.Config{
		Store:                 store,
		SessionName:           sessionName,
		EndSessionEndpoint:    s.endSessionEndpoint,
		ClientID:              s.clientID,
		PostLogoutRedirectURI: s.baseURL + "/logout/callback",
	})
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner = true
	if !s.mount {
		e.Use(echologout.Middleware(m)) // serves /logout and /logout/callback, passes everything else on
	} else {
		e.Any("/logout", echologout.Handler(m)) // every method: the middleware answers 405 itself
		e.GET("/logout/callback", echologout.Handler(m))
	}
	e.GET("/", home(store))
	e.GET("/login", standInLogin(store))
	e.GET(standInEndSessionPath, standInProvider)
	return e, nil
}

// newStore returns an encrypted cookie store. Its keys are random, so
// sessions end when the app restarts.
func newStore(baseURL string) *sessions.CookieStore {
	store := sessions.NewCookieStore(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	store.Options = &sessions.Options{
		Path: "/", MaxAge: 8 * 3600, HttpOnly: true,
		Secure: strings.HasPrefix(baseURL, "https:"), SameSite: http.SameSiteLaxMode,
	}
	return store
}

// home shows whether the user is signed in, with a logout button.
func home(store sessions.Store) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		s, _ := store.Get(c.Request(), sessionName)
		if _, ok := s.Values["id_token"].(string); ok {
			return c.HTML(http.StatusOK, `<p>Signed in.</p><form method="post" action="/logout"><button>Log out</button></form>`)
		}
		return c.HTML(http.StatusOK, `<p>Signed out. <a href="/login">Sign in</a></p>`)
	}
}

// standInLogin stands in for an OpenID Connect login callback, which
// stores the raw id_token it received in the session.
func standInLogin(store sessions.Store) echo.HandlerFunc {
	return func(c echo.Context) error {
		s, _ := store.Get(c.Request(), sessionName)
		s.Values["id_token"] = "placeholder-id-token"
		if err := s.Save(c.Request(), c.Response()); err != nil {
			return fmt.Errorf("saving the session: %w", err)
		}
		return c.Redirect(http.StatusFound, "/")
	}
}

// standInEndSessionPath is served by standInProvider.
const standInEndSessionPath = "/stand-in-provider/end-session"

// standInProvider stands in for the provider's end_session_endpoint: it
// ends no session and sends the browser back with the state.
func standInProvider(c echo.Context) error {
	back, err := url.Parse(c.QueryParam("post_logout_redirect_uri"))
	if err != nil || back.Path != "/logout/callback" {
		return echo.NewHTTPError(http.StatusBadRequest, "unregistered post_logout_redirect_uri")
	}
	back.RawQuery = url.Values{"state": {c.QueryParam("state")}}.Encode()
	return c.Redirect(http.StatusFound, back.String())
}

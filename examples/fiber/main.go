// Command fiber is a fiber (v2) app that logs users out with the logout
// middleware.
//
//	go -C examples run ./fiber           # the middleware on the app: app.Use(fiberlogout.Middleware(m))
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
package main

import (
	"flag"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/oidc-logout/logout"
	fiberlogout "github.com/oidc-logout/logout/adapters/fiber"
)

const sessionName = "session"

// settings configure the app; they come from the environment.
type settings struct {
	baseURL            string // where the app is served, e.g. http://127.0.0.1:8080
	endSessionEndpoint string // the provider's end_session_endpoint
	clientID           string
	mount              bool // mount the middleware on routes instead of app.Use
}

func main() {
	mount := flag.Bool("mount", false, "mount the middleware on routes instead of app.Use")
	flag.Parse()
	s := settingsFromEnv()
	s.mount = *mount
	app, err := newApp(s)
	if err != nil {
		log.Fatal(err)
	}
	u, err := url.Parse(s.baseURL)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("open %s/", s.baseURL)
	log.Fatal(app.Listen(u.Host))
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

// newApp returns the app: the logout middleware, a home page and the
// stand-ins for the login and the provider.
func newApp(s settings) (*fiber.App, error) {
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
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ReadTimeout: 10 * time.Second})
	if !s.mount {
		app.Use(fiberlogout.Middleware(m)) // serves /logout and /logout/callback, passes everything else on
	} else {
		app.All("/logout", fiberlogout.Handler(m)) // every method: the middleware answers 405 itself
		app.Get("/logout/callback", fiberlogout.Handler(m))
	}
	app.Get("/", adaptor.HTTPHandlerFunc(home(store)))
	app.Get("/login", adaptor.HTTPHandlerFunc(standInLogin(store)))
	app.Get(standInEndSessionPath, standInProvider)
	return app, nil
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
func home(store sessions.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		s, _ := store.Get(r, sessionName)
		if _, ok := s.Values["id_token"].(string); ok {
			_, _ = w.Write([]byte(`<p>Signed in.</p><form method="post" action="/logout"><button>Log out</button></form>`))
			return
		}
		_, _ = w.Write([]byte(`<p>Signed out. <a href="/login">Sign in</a></p>`))
	}
}

// standInLogin stands in for an OpenID Connect login callback, which
// stores the raw id_token it received in the session.
func standInLogin(store sessions.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, sessionName)
		s.Values["id_token"] = "placeholder-id-token"
		if err := s.Save(r, w); err != nil {
			http.Error(w, "cannot save the session", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusFound)
	}
}

// standInEndSessionPath is served by standInProvider.
const standInEndSessionPath = "/stand-in-provider/end-session"

// standInProvider stands in for the provider's end_session_endpoint: it
// ends no session and sends the browser back with the state.
func standInProvider(c *fiber.Ctx) error {
	back, err := url.Parse(c.Query("post_logout_redirect_uri"))
	if err != nil || back.Path != "/logout/callback" {
		return fiber.NewError(http.StatusBadRequest, "unregistered post_logout_redirect_uri")
	}
	back.RawQuery = url.Values{"state": {c.Query("state")}}.Encode()
	return c.Redirect(back.String(), http.StatusFound)
}

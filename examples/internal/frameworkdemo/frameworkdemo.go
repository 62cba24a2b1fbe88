// Package frameworkdemo holds what the framework examples (chi, gorillamux,
// gin, echo, fiber) share, so that each example shows only how its
// framework mounts the logout middleware: the settings read from the
// environment and the command line, the session store and the
// logout.Config, the home page, a stand-in for the login, and a stand-in
// for the provider's end_session_endpoint.
//
// The handlers are net/http handlers. gin, echo and fiber run them through
// their own wrappers (gin.WrapF, echo.WrapHandler, fiber's adaptor), like
// any gorilla/sessions code an app already has.
package frameworkdemo

import (
	"flag"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/oidc-logout/logout"
)

// SessionName is the name of the gorilla/sessions session that holds the
// id_token.
const SessionName = "session"

// StandInEndSessionPath is the path of the stand-in provider's
// end_session_endpoint, served by App.StandInProvider.
const StandInEndSessionPath = "/stand-in-provider/end-session"

// Settings configure an example app.
type Settings struct {
	BaseURL            string // where the app is served, e.g. http://127.0.0.1:8080
	Addr               string // the address to listen on: the host of BaseURL
	EndSessionEndpoint string // the provider's end_session_endpoint
	ClientID           string
	Mount              bool // mount the middleware on routes instead of the framework's Use
}

// ParseFlags returns the settings from the environment (see
// SettingsFromEnv) and the -mount flag of the command line, described by
// mountUsage. It ends the program if APP_BASE_URL is not a URL.
func ParseFlags(mountUsage string) Settings {
	mount := flag.Bool("mount", false, mountUsage)
	flag.Parse()
	s, err := SettingsFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	s.Mount = *mount
	return s
}

// SettingsFromEnv reads APP_BASE_URL (default http://127.0.0.1:8080),
// OIDC_END_SESSION_ENDPOINT (default: the stand-in provider's) and
// OIDC_CLIENT_ID (default "example").
func SettingsFromEnv() (Settings, error) {
	s := Settings{
		BaseURL:            envOr("APP_BASE_URL", "http://127.0.0.1:8080"),
		EndSessionEndpoint: os.Getenv("OIDC_END_SESSION_ENDPOINT"),
		ClientID:           envOr("OIDC_CLIENT_ID", "example"),
	}
	if s.EndSessionEndpoint == "" {
		s.EndSessionEndpoint = s.BaseURL + StandInEndSessionPath
	}
	u, err := url.Parse(s.BaseURL)
	if err != nil {
		return Settings{}, err
	}
	s.Addr = u.Host
	return s, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// ListenAndServe serves h at s.Addr.
func ListenAndServe(s Settings, h http.Handler) error {
	log.Printf("open %s/", s.BaseURL)
	srv := &http.Server{Addr: s.Addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

// App is what an example app is made of, apart from its framework.
type App struct {
	// Store is an encrypted cookie store. Its keys are random, so sessions
	// end when the app restarts.
	Store *sessions.CookieStore
	// Config configures the logout middleware: pass it to logout.New.
	Config logout.Config
	// Home shows whether the user is signed in, with a logout button.
	Home http.HandlerFunc
	// StandInLogin stands in for an OpenID Connect login callback, which
	// stores the raw id_token it received in the session.
	StandInLogin http.HandlerFunc
	// StandInProvider stands in for the provider's end_session_endpoint at
	// StandInEndSessionPath: it ends no session and sends the browser back
	// with the state.
	StandInProvider http.HandlerFunc
}

// New returns the parts of an app configured by s.
func New(s Settings) *App {
	store := sessions.NewCookieStore(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	store.Options = &sessions.Options{
		Path: "/", MaxAge: 8 * 3600, HttpOnly: true,
		Secure: strings.HasPrefix(s.BaseURL, "https:"), SameSite: http.SameSiteLaxMode,
	}
	return &App{
		Store: store,
		Config: logout.Config{
			Store:       store,
			SessionName: SessionName,
			Providers: []logout.Provider{{
				ClientID:              s.ClientID,
				EndSessionEndpoint:    s.EndSessionEndpoint,
				PostLogoutRedirectURI: s.BaseURL + "/logout/callback",
			}},
		},
		Home:            home(store),
		StandInLogin:    standInLogin(store),
		StandInProvider: standInProvider,
	}
}

func home(store sessions.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		s, _ := store.Get(r, SessionName)
		if _, ok := s.Values["id_token"].(string); ok {
			_, _ = w.Write([]byte(`<p>Signed in.</p><form method="post" action="/logout"><button>Log out</button></form>`))
			return
		}
		_, _ = w.Write([]byte(`<p>Signed out. <a href="/login">Sign in</a></p>`))
	}
}

func standInLogin(store sessions.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, SessionName)
		s.Values["id_token"] = "placeholder-id-token"
		if err := s.Save(r, w); err != nil {
			http.Error(w, "cannot save the session", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusFound)
	}
}

func standInProvider(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back, err := url.Parse(q.Get("post_logout_redirect_uri"))
	if err != nil || back.Path != "/logout/callback" {
		http.Error(w, "unregistered post_logout_redirect_uri", http.StatusBadRequest)
		return
	}
	back.RawQuery = url.Values{"state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// Package app is what every program of this module shares: the session
// store and the logout middleware of a user's app, and its two pages.
package app

import (
	"fmt"
	"net/http"

	"github.com/gorilla/sessions"

	"github.com/oidc-logout/logout"
)

// IDToken is the id_token the login handler keeps in the session.
const IDToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl"

// Endpoint is the provider's end-session endpoint.
const Endpoint = "https://op.example.com/end"

// New returns the app's session store and its logout middleware.
func New() (*sessions.CookieStore, *logout.Middleware, error) {
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	store.Options.HttpOnly = true
	store.Options.SameSite = http.SameSiteLaxMode
	m, err := logout.New(logout.Config{
		Store:       store,
		SessionName: "app",
		Providers:   []logout.Provider{{ClientID: "client-1", EndSessionEndpoint: Endpoint, PostLogoutRedirectURI: "https://app.example.com/logout/callback"}},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("app: %w", err)
	}
	return store, m, nil
}

// Login signs the user in, as the app's handler of the provider's
// callback does: it keeps IDToken in the session.
func Login(store sessions.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, _ := store.Get(r, "app")
		sess.Values["id_token"] = IDToken
		if err := sess.Save(r, w); err != nil {
			http.Error(w, "session not saved", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// Home answers "signed in: true" or "signed in: false".
func Home(store sessions.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, _ := store.Get(r, "app")
		_, ok := sess.Values["id_token"].(string)
		fmt.Fprintf(w, "signed in: %t", ok)
	}
}

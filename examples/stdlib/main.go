// Command stdlib mounts the logout middleware on a standard library
// http.ServeMux, with a GenAuth (Authing) application as the provider.
//
//	GENAUTH_APP_HOST=https://example.genauth.ai GENAUTH_APP_ID=... go -C examples run ./stdlib
//
// Register http://127.0.0.1:8080/logout/callback as a logout callback of
// the application. Your login handler stores the raw id_token in the session
// under "id_token"; this example has no login, so it only shows the wiring.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/sessions"

	"github.com/oidc-logout/logout"
)

func main() {
	store := sessions.NewCookieStore(sessionKey("SESSION_HASH_KEY"), sessionKey("SESSION_BLOCK_KEY"))
	store.Options = &sessions.Options{
		Path: "/", MaxAge: 8 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}

	m, err := logout.New(logout.Config{
		Store:       store,
		SessionName: "session",
		Providers: []logout.Provider{{
			ClientID:              os.Getenv("GENAUTH_APP_ID"),
			EndSessionEndpoint:    logout.GenAuthEndpoint(envOr("GENAUTH_APP_HOST", "https://example.genauth.ai")),
			PostLogoutRedirectURI: "http://127.0.0.1:8080/logout/callback",
		}},
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/logout", m)          // GET or POST: clears the session, redirects to the provider
	mux.Handle("/logout/callback", m) // the provider comes back here; state is checked
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		sess, _ := store.Get(r, "session")
		_, signedIn := sess.Values["id_token"].(string)
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `<p>Signed in: %v</p><form method="post" action="/logout"><button>Log out</button></form>`, signedIn)
	})

	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("listening on http://%s", srv.Addr)
	log.Fatal(srv.ListenAndServe())
}

// sessionKey reads a 32-byte key, hex-encoded, from the environment. When
// it is unset, a random key is used: sessions then end at every restart.
func sessionKey(name string) []byte {
	if v := os.Getenv(name); v != "" {
		key, err := hex.DecodeString(v)
		if err != nil || len(key) != 32 {
			log.Fatalf("%s must be 64 hex digits (32 bytes)", name)
		}
		return key
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}
	return key
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

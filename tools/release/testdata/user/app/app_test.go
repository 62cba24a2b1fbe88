package app_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	echologout "github.com/oidc-logout/logout/adapters/echo"
	ginlogout "github.com/oidc-logout/logout/adapters/gin"

	"example.com/logoutuser/app"
)

// TestLogout signs in, logs out and checks that the session is gone and
// the browser is sent to the provider, on net/http, gin and echo.
func TestLogout(t *testing.T) {
	gin.SetMode(gin.TestMode)
	tests := []struct {
		name    string
		handler func(*testing.T) http.Handler
	}{
		{"net/http", func(t *testing.T) http.Handler {
			store, m := newApp(t)
			mux := http.NewServeMux()
			mux.HandleFunc("GET /login", app.Login(store))
			mux.HandleFunc("GET /{$}", app.Home(store))
			return m.Wrap(mux)
		}},
		{"gin", func(t *testing.T) http.Handler {
			store, m := newApp(t)
			r := gin.New()
			r.Use(ginlogout.Middleware(m))
			r.GET("/login", gin.WrapF(app.Login(store)))
			r.GET("/", gin.WrapF(app.Home(store)))
			return r
		}},
		{"echo", func(t *testing.T) http.Handler {
			store, m := newApp(t)
			e := echo.New()
			e.Use(echologout.Middleware(m))
			e.GET("/login", echo.WrapHandler(app.Login(store)))
			e.GET("/", echo.WrapHandler(app.Home(store)))
			return e
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler(t))
			t.Cleanup(srv.Close)
			jar, err := cookiejar.New(nil)
			require.NoError(t, err)
			client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}}

			get(t, client, srv.URL+"/login")
			require.Equal(t, "signed in: true", get(t, client, srv.URL+"/"))

			resp, err := client.Get(srv.URL + "/logout")
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusFound, resp.StatusCode)
			to, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, app.Endpoint, to.Scheme+"://"+to.Host+to.Path)
			assert.Equal(t, app.IDToken, to.Query().Get("id_token_hint"))
			assert.NotEmpty(t, to.Query().Get("state"))

			assert.Equal(t, "signed in: false", get(t, client, srv.URL+"/"), "the session is gone")
		})
	}
}

func newApp(t *testing.T) (*sessions.CookieStore, *logout.Middleware) {
	t.Helper()
	store, m, err := app.New()
	require.NoError(t, err)
	return store, m
}

func get(t *testing.T, client *http.Client, u string) string {
	t.Helper()
	resp, err := client.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

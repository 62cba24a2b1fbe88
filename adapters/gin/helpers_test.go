package ginlogout_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"
	"github.com/oidc-logout/logout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	sessionName = "app"
	idToken     = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl"
	endpoint    = "https://op.example.com/end"
	clientID    = "client-1"
	appOrigin   = "https://app.example.com"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	m.Run()
}

// failingStore is a session store whose Save always fails.
type failingStore struct{ sessions.Store }

func (failingStore) Save(*http.Request, http.ResponseWriter, *sessions.Session) error {
	return errors.New("store unavailable")
}

func newStore() *sessions.CookieStore {
	return sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
}

// newMiddleware returns a middleware whose logout path is prefix+"/logout"
// and whose callback path is prefix+"/logout/callback".
func newMiddleware(t testing.TB, store sessions.Store, prefix string) *logout.Middleware {
	t.Helper()
	m, err := logout.New(logout.Config{
		Path:                  prefix + "/logout",
		Store:                 store,
		SessionName:           sessionName,
		EndSessionEndpoint:    endpoint,
		ClientID:              clientID,
		PostLogoutRedirectURI: appOrigin + prefix + "/logout/callback",
	})
	require.NoError(t, err)
	return m
}

// login is a gin handler that signs the user in: it stores the id_token in
// the session, as an app does after the provider's callback.
func login(store sessions.Store) gin.HandlerFunc {
	return func(c *gin.Context) {
		s, _ := store.Get(c.Request, sessionName)
		s.Values["id_token"] = idToken
		if err := s.Save(c.Request, c.Writer); err != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// newRequest returns a same-origin browser request with cookies.
func newRequest(method, target string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(method, appOrigin+target, nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// serve runs r through h and returns the response.
func serve(h http.Handler, r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// do sends a same-origin browser request to h with cookies.
func do(h http.Handler, method, target string, cookies ...*http.Cookie) *http.Response {
	return serve(h, newRequest(method, target, cookies...))
}

// signIn calls the app's login route and returns the session cookie it sets.
func signIn(t *testing.T, h http.Handler, path string) *http.Cookie {
	t.Helper()
	resp := do(h, http.MethodGet, path)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	c := cookie(resp, sessionName)
	require.NotNil(t, c, "login sets the session cookie")
	return c
}

// cookie returns the Set-Cookie of resp named name, or nil.
func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// assertProviderRedirect checks a logout response: session cookie
// expired, 302 to the provider with the expected parameters. It returns
// the state cookie for the callback.
func assertProviderRedirect(t *testing.T, resp *http.Response, callback string) *http.Cookie {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	sc := cookie(resp, sessionName)
	require.NotNil(t, sc, "session cookie is cleared")
	assert.Negative(t, sc.MaxAge, "session cookie expires now (Max-Age=0)")

	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "op.example.com", loc.Host)
	assert.Equal(t, "/end", loc.Path)
	q := loc.Query()
	assert.Equal(t, idToken, q.Get("id_token_hint"))
	assert.Equal(t, clientID, q.Get("client_id"))
	assert.Equal(t, appOrigin+callback, q.Get("post_logout_redirect_uri"))
	require.NotEmpty(t, q.Get("state"))

	state := cookie(resp, "logout_state")
	require.NotNil(t, state, "state cookie is set")
	assert.Equal(t, callback, state.Path)
	return state
}

// callback returns the provider's redirect back to the app for a logout
// response: the callback URL with the state it was given.
func callback(t *testing.T, resp *http.Response) string {
	t.Helper()
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	back, err := url.Parse(loc.Query().Get("post_logout_redirect_uri"))
	require.NoError(t, err)
	return back.Path + "?state=" + url.QueryEscape(loc.Query().Get("state"))
}

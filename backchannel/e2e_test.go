package backchannel_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/backchannel"
)

const sessionName = "app_session"

// testApp is an app with a login handler, a page that shows who is signed
// in, the logout middleware with the session check on, and the
// back-channel logout handler, sharing one ledger.
type testApp struct {
	store    *sessions.CookieStore
	revs     *logout.MemoryLedger
	mw       *logout.Middleware
	bc       *backchannel.Handler
	handler  http.Handler
	logouts  atomic.Int64
	provider *testProvider
	key      signingKey
}

// slowStore widens the window between look-up and record, so that a
// missing lock around jti checks shows up as a double-counted logout.
type slowStore struct{ logout.Ledger }

func (s slowStore) Seen(ctx context.Context, checks ...logout.LedgerQuery) (bool, error) {
	time.Sleep(5 * time.Millisecond)
	return s.Ledger.Seen(ctx, checks...)
}

func newTestApp(t testing.TB) *testApp {
	t.Helper()
	a := &testApp{store: sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef")), revs: newStore()}
	a.store.Options.HttpOnly = true
	a.key = newRSAKey(t, "k1")
	a.provider = startProvider(t, a.key)
	var err error
	a.mw, err = logout.New(logout.Config{
		Store: a.store, SessionName: sessionName,
		Providers: []logout.Provider{{
			Issuer: a.provider.issuer, ClientID: testClientID, EndSessionEndpoint: a.provider.issuer + "/session/end",
		}},
		SessionCheck: &logout.SessionCheckConfig{Ledger: a.revs},
	})
	require.NoError(t, err)
	a.bc, err = backchannel.New(a.mw, backchannel.Config{
		Ledger:   slowStore{a.revs},
		OnLogout: func(context.Context, *backchannel.LogoutToken) { a.logouts.Add(1) },
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("POST /backchannel-logout", a.bc)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s, _ := a.store.Get(r, sessionName)
		if tok, _ := s.Values["id_token"].(string); tok != "" {
			fmt.Fprint(w, "signed in as ", s.Values["user"])
			return
		}
		fmt.Fprint(w, "signed out")
	})
	a.handler = a.mw.Wrap(mux)
	return a
}

// login signs the user in with an id_token issued by the provider; the
// query gives sub, sid and how many seconds ago it was issued.
func (a *testApp) login(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	age, _ := time.ParseDuration(q.Get("age"))
	claims := map[string]any{
		"iss": a.provider.issuer, "aud": testClientID, "sub": q.Get("sub"), "sid": q.Get("sid"),
		"iat": time.Now().Add(-age).Unix(), "exp": time.Now().Add(time.Hour).Unix(), "nonce": "n",
	}
	s, _ := a.store.Get(r, sessionName)
	s.Values["id_token"] = sign(a.provider.t, a.key, claims)
	s.Values["user"] = q.Get("sub")
	a.mw.InitSession(s)
	if err := s.Save(r, w); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, "ok")
}

// browser is a cookie-keeping client of a running app.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, base: base, client: &http.Client{Jar: jar}}
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.Get(b.base + path)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp, string(body)
}

// postLogoutToken sends the provider's back-channel request to the app.
func postLogoutToken(t *testing.T, base, token string) int {
	t.Helper()
	resp, err := http.PostForm(base+"/backchannel-logout", url.Values{"logout_token": {token}})
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func sessionCookieExpired(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if c.Name == sessionName && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

func TestEndToEndBackChannelLogoutSignsOut(t *testing.T) {
	a := newTestApp(t)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)

	alice := newBrowser(t, srv.URL)
	alice.get("/login?sub=alice&sid=op-sid-1&age=10s")
	_, body := alice.get("/")
	require.Equal(t, "signed in as alice", body)

	carol := newBrowser(t, srv.URL) // another user, another provider session
	carol.get("/login?sub=carol&sid=op-sid-2&age=10s")

	require.Equal(t, http.StatusOK, postLogoutToken(t, srv.URL, sign(t, a.key, a.provider.claims("op-sid-1", "alice"))))

	resp, body := alice.get("/")
	assert.Equal(t, "signed out", body, "the app's next request is signed out")
	assert.True(t, sessionCookieExpired(resp), "the session cookie is expired")
	_, body = alice.get("/")
	assert.Equal(t, "signed out", body)
	_, body = carol.get("/")
	assert.Equal(t, "signed in as carol", body, "other sessions are untouched")
	assert.EqualValues(t, 1, a.logouts.Load())
}

func TestEndToEndSubjectLogoutSparesLaterLogin(t *testing.T) {
	a := newTestApp(t)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)

	laptop, phone := newBrowser(t, srv.URL), newBrowser(t, srv.URL)
	laptop.get("/login?sub=bob&sid=a&age=30s")
	phone.get("/login?sub=bob&sid=b&age=20s")
	require.Equal(t, http.StatusOK, postLogoutToken(t, srv.URL, sign(t, a.key, a.provider.claims("", "bob"))))

	_, body := laptop.get("/")
	assert.Equal(t, "signed out", body)
	_, body = phone.get("/")
	assert.Equal(t, "signed out", body, "a sub-only token ends every session of the user")

	// A login after the logout (its id_token issued later) stays signed in.
	phone.get("/login?sub=bob&sid=c&age=-2s")
	_, body = phone.get("/")
	assert.Equal(t, "signed in as bob", body)
}

// TestConcurrentRequestsAndLogouts runs requests, RP-initiated logouts and
// back-channel logouts (some sent twice at once) for many users at the same
// time, then checks that every logout took effect exactly once and that no
// other session was touched.
func TestConcurrentRequestsAndLogouts(t *testing.T) {
	const users = 90
	a := newTestApp(t)
	cookies := make([]*http.Cookie, users)
	tokens := make([]string, users)
	for i := range users {
		cookies[i] = loginCookie(t, a, fmt.Sprintf("user%d", i), fmt.Sprintf("sid%d", i))
		if i%3 == 0 {
			tokens[i] = sign(t, a.key, a.provider.claims(fmt.Sprintf("sid%d", i), ""))
		}
	}
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range users {
		for range 3 { // ordinary requests
			wg.Go(func() { serveWith(a.handler, "GET", "/", cookies[i]) })
		}
		switch i % 3 {
		case 0: // the provider sends the same logout token three times at once
			for range 3 {
				wg.Go(func() {
					switch serveForm(a.handler, tokens[i]) {
					case http.StatusOK:
						accepted.Add(1)
					case http.StatusBadRequest:
						refused.Add(1)
					}
				})
			}
		case 1: // the user logs out here
			wg.Go(func() { serveWith(a.handler, "GET", "/logout", cookies[i]) })
		}
	}
	wg.Wait()

	loggedOut := users / 3
	assert.EqualValues(t, loggedOut, accepted.Load(), "each logout token accepted once")
	assert.EqualValues(t, 2*loggedOut, refused.Load(), "each replay refused")
	assert.EqualValues(t, loggedOut, a.logouts.Load(), "OnLogout once per logout")
	// sid + jti per back-channel logout; session id + id_token hash per local logout.
	assert.Equal(t, 4*loggedOut, a.revs.Len(), "nothing lost, nothing recorded twice")
	for i := range users {
		body := serveWith(a.handler, "GET", "/", cookies[i]).Body.String()
		if i%3 == 2 {
			assert.Equal(t, fmt.Sprintf("signed in as user%d", i), body)
		} else {
			assert.Equal(t, "signed out", body, "user%d (its pre-logout cookie replayed)", i)
		}
	}
}

// loginCookie signs a user in and returns the session cookie.
func loginCookie(t *testing.T, a *testApp, sub, sid string) *http.Cookie {
	t.Helper()
	w := serveWith(a.handler, "GET", "/login?age=5s&sub="+sub+"&sid="+sid, nil)
	require.Equal(t, http.StatusOK, w.Code)
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionName {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

func serveWith(h http.Handler, method, target string, c *http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	if c != nil {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func serveForm(h http.Handler, token string) int {
	r := httptest.NewRequest(http.MethodPost, "/backchannel-logout", strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/redisstore"
	"github.com/oidc-logout/logout/redisstore/redistest"
)

// app is one instance of an app: a stateless cookie store, a Middleware
// whose session check uses Redis, and a handler that says whether the
// request is signed in.
type app struct {
	store   *sessions.CookieStore
	m       *logout.Middleware
	handler http.Handler
}

func newApp(t *testing.T, srv *redistest.Server, prefix string, failOpen bool, opts ...func(*logout.Config)) *app {
	t.Helper()
	a := &app{store: sessions.NewCookieStore(hashKey)}
	a.m = newMiddleware(t, a.store, func(c *logout.Config) {
		var ledger logout.Ledger // set by an option when srv is nil
		if srv != nil {
			ledger = redisstore.NewLedger(srv.NewClient(), prefix)
		}
		c.SessionCheck = &logout.SessionCheckConfig{Ledger: ledger, FailOpen: failOpen}
		for _, opt := range opts {
			opt(c)
		}
	})
	a.handler = a.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := a.store.Get(r, sessionName)
		if err == nil && s.Values["id_token"] != nil {
			_, _ = io.WriteString(w, "in")
			return
		}
		_, _ = io.WriteString(w, "out")
	}))
	return a
}

// login signs alice in and returns her session cookie.
func (a *app) login(t *testing.T, iat time.Time) *http.Cookie {
	t.Helper()
	r := newRequest(http.MethodGet, "/login")
	w := httptest.NewRecorder()
	s, err := a.store.New(r, sessionName)
	require.NoError(t, err)
	s.Values["id_token"] = fakeJWT(t, map[string]any{"sub": "alice", "sid": "op-s1", "iat": iat.Unix()}, 0)
	a.m.InitSession(s)
	require.NoError(t, s.Save(r, w))
	return w.Result().Cookies()[0]
}

// get requests path with cookie, if not nil, and returns the recorder.
func (a *app) get(t *testing.T, path string, cookie *http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	r := newRequest(http.MethodGet, path)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	a.handler.ServeHTTP(w, r)
	return w
}

func TestSessionCheckReplayAfterLogoutOnEveryInstance(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newApp(t, srv, "replay:", false), newApp(t, srv, "replay:", false)
	cookie := a.login(t, time.Now().Add(-time.Minute))
	require.Equal(t, "in", a.get(t, "/", cookie).Body.String())
	require.Equal(t, "in", b.get(t, "/", cookie).Body.String())

	require.Equal(t, http.StatusFound, a.get(t, "/logout", cookie).Code)

	for name, inst := range map[string]*app{"same instance": a, "other instance": b} {
		w := inst.get(t, "/", cookie)
		assert.Equal(t, "out", w.Body.String(), "%s: a replayed pre-logout cookie is signed out", name)
		if c := setCookies(w)[sessionName]; assert.NotNil(t, c, name) {
			assert.Equal(t, -1, c.MaxAge, "%s: the replayed cookie is expired", name)
		}
	}
	// A new login after the logout is a new session.
	assert.Equal(t, "in", b.get(t, "/", a.login(t, time.Now())).Body.String())
}

func TestSessionCheckBackChannelLogoutFromAnotherInstance(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	a := newApp(t, srv, "bcl:", false)
	// The back-channel receiver runs on another instance with its own client.
	receiver := redisstore.NewLedger(srv.NewClient(), "bcl:")
	loginAt := time.Now().Add(-time.Minute)
	cookie := a.login(t, loginAt)

	// A logout of every session of alice that ended before this login
	// leaves it alone.
	require.NoError(t, receiver.Record(ctx, logout.SubjectKey(issuer, "alice"), loginAt.Add(-time.Hour), time.Hour))
	assert.Equal(t, "in", a.get(t, "/", cookie).Body.String())

	require.NoError(t, receiver.Record(ctx, logout.SIDKey(issuer, "op-s1"), time.Now(), time.Hour))
	assert.Equal(t, "out", a.get(t, "/", cookie).Body.String())
}

func TestFrontChannelLogoutFromAnotherInstance(t *testing.T) {
	frontChannel := func(c *logout.Config) {
		c.Providers[0].Issuer = issuer
		c.FrontChannelPath = "/frontchannel-logout"
	}
	srv := redistest.Start(t)
	a, b := newApp(t, srv, "fc:", false, frontChannel), newApp(t, srv, "fc:", false, frontChannel)
	fcURL := "/frontchannel-logout?" + url.Values{"iss": {issuer}, "sid": {"op-s1"}}.Encode()

	// A front-channel logout of a session no instance has seen is ignored.
	require.Equal(t, http.StatusOK, b.get(t, fcURL, nil).Code)
	cookie := a.login(t, time.Now().Add(-time.Minute))
	w := a.get(t, "/", cookie)
	require.Equal(t, "in", w.Body.String())
	registered := setCookies(w)[sessionName]
	require.NotNil(t, registered, "instance a registers the sid")

	// The provider's iframe reaches instance b; both sign the session out.
	require.Equal(t, http.StatusOK, b.get(t, fcURL, nil).Code)
	assert.Equal(t, "out", a.get(t, "/", registered).Body.String())
	assert.Equal(t, "out", b.get(t, "/", cookie).Body.String())
}

func TestSessionCheckRedisDown(t *testing.T) {
	for _, tc := range []struct {
		failOpen bool
		whenDown string
	}{
		{failOpen: false, whenDown: "out"},
		{failOpen: true, whenDown: "in"},
	} {
		t.Run(fmt.Sprintf("FailOpen=%v", tc.failOpen), func(t *testing.T) {
			srv := redistest.Start(t)
			a := newApp(t, srv, "down:", tc.failOpen)
			cookie := a.login(t, time.Now().Add(-time.Minute))
			require.Equal(t, "in", a.get(t, "/", cookie).Body.String())

			srv.Stop()
			var w *httptest.ResponseRecorder
			require.NotPanics(t, func() { w = a.get(t, "/", cookie) })
			assert.Equal(t, http.StatusOK, w.Code)
			assert.Equal(t, tc.whenDown, w.Body.String())
			assert.NotContains(t, setCookies(w), sessionName, "the session is kept while Redis is down")

			srv.Restart()
			assert.Equal(t, "in", a.get(t, "/", cookie).Body.String(), "signed in again once Redis is back")
		})
	}
}

// TestSessionCheckTombstoneWriteFailure pins a limit of stateless
// stores: when Redis refuses the tombstone at logout, the logout by
// default still clears the browser's cookie, but a copy of the cookie
// taken before it is accepted again. (A Redis without persistence that
// restarts loses every tombstone the same way.) By default (FailOpen off)
// such a logout is refused instead, and the retry works once Redis writes;
// with FailOpen the logout goes on without its tombstone.
func TestSessionCheckTombstoneWriteFailure(t *testing.T) {
	for _, failOpen := range []bool{true, false} {
		failClosed := !failOpen
		t.Run(fmt.Sprintf("FailOpen=%v", failOpen), func(t *testing.T) {
			ctx := context.Background()
			srv := redistest.Start(t)
			a := newApp(t, srv, "lost:", failOpen)
			cookie := a.login(t, time.Now().Add(-time.Minute))
			admin := srv.NewClient()
			// Reads keep working; writes fail with NOREPLICAS.
			require.NoError(t, admin.ConfigSet(ctx, "min-replicas-to-write", "1").Err())
			require.ErrorContains(t, redisstore.NewLedger(admin, "lost:").Record(ctx, "probe", time.Now(), time.Minute), "NOREPLICAS")

			w := a.get(t, "/logout", cookie)
			if failClosed {
				assert.Equal(t, http.StatusServiceUnavailable, w.Code, "the logout is refused")
				assert.NotContains(t, setCookies(w), sessionName, "the session is left as it was")
			} else {
				assert.Equal(t, http.StatusFound, w.Code, "the logout itself goes on")
				assert.Equal(t, -1, setCookies(w)[sessionName].MaxAge)
			}

			require.NoError(t, admin.ConfigSet(ctx, "min-replicas-to-write", "0").Err())
			if !failClosed {
				assert.Equal(t, "in", a.get(t, "/", cookie).Body.String(), "no tombstone: the replayed cookie is accepted")
				return
			}
			assert.Equal(t, "in", a.get(t, "/", cookie).Body.String(), "still signed in, as the error said")
			require.Equal(t, http.StatusFound, a.get(t, "/logout", cookie).Code, "the retry logs out")
			assert.Equal(t, "out", a.get(t, "/", cookie).Body.String(), "the replayed cookie is signed out")
		})
	}
}

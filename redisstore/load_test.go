package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/redisstore"
	"github.com/oidc-logout/logout/redisstore/redistest"
)

// TestConcurrentLoginsAndLogouts runs logins, requests and logouts from
// several goroutines against one Redis store and one Middleware (with the
// session check on Redis too), while a bystander session is read all
// along: every logout ends exactly its own session, and nothing is left.
func TestConcurrentLoginsAndLogouts(t *testing.T) {
	const workers, rounds = 8, 20
	ctx := context.Background()
	srv := redistest.Start(t)
	client := srv.NewClient()
	store := redisstore.NewStore(client, hashKey)
	m := newMiddleware(t, store, func(c *logout.Config) {
		c.SessionCheck = &logout.SessionCheckConfig{Ledger: redisstore.NewLedger(client, "")}
	})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, sessionName)
		if err == nil && s.Values["id_token"] != nil {
			_, _ = io.WriteString(w, s.Values["user"].(string))
			return
		}
		_, _ = io.WriteString(w, "out")
	}))
	serve := func(path string, c *http.Cookie) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, newRequest(http.MethodGet, path, c))
		return w
	}
	loginAs := func(user string) *http.Cookie {
		return login(t, store, map[any]any{
			"user":     user,
			"id_token": fakeJWT(t, map[string]any{"sub": user, "sid": "sid-" + user}, 1200),
		})
	}
	bystander := loginAs("bystander")

	var logouts atomic.Int64
	var ids sync.Map
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if !assert.Equal(t, "bystander", serve("/", bystander).Body.String()) {
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				user := fmt.Sprintf("u%d-%d", w, i)
				cookie := loginAs(user)
				_, dup := ids.LoadOrStore(cookie.Value, user)
				ok := assert.False(t, dup, "session cookie issued twice") &&
					assert.Equal(t, user, serve("/", cookie).Body.String()) &&
					assert.Equal(t, http.StatusFound, serve("/logout", cookie).Code) &&
					assert.Equal(t, "out", serve("/", cookie).Body.String(), "user %s", user)
				if !ok {
					return
				}
				logouts.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	assert.Equal(t, int64(workers*rounds), logouts.Load())
	keys, err := client.Keys(ctx, redisstore.DefaultKeyPrefix+"*").Result()
	require.NoError(t, err)
	assert.Len(t, keys, 1, "only the bystander's session is left")
	assert.Equal(t, "bystander", serve("/", bystander).Body.String())
}

// TestConcurrentSaveAndLogoutOfOneSession races requests that save a
// session against its logout: once the logout has answered, the session
// stays gone whatever order the saves land in.
func TestConcurrentSaveAndLogoutOfOneSession(t *testing.T) {
	const savers = 8
	ctx := context.Background()
	srv := redistest.Start(t)
	client := srv.NewClient()
	store := redisstore.NewStore(client, hashKey)
	m := newMiddleware(t, store, nil)
	for round := range 10 {
		cookie := login(t, store, map[any]any{"id_token": "t", "n": 0})
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range savers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := newRequest(http.MethodGet, "/", cookie)
				s, err := store.Get(r, sessionName)
				<-start
				if err != nil || s.IsNew {
					return // the logout came first
				}
				s.Values["n"] = s.Values["n"].(int) + 1
				err = s.Save(r, httptest.NewRecorder())
				if err != nil {
					assert.ErrorIs(t, err, redisstore.ErrSessionEnded)
				}
			}()
		}
		close(start)
		w := httptest.NewRecorder()
		m.ServeHTTP(w, newRequest(http.MethodPost, "/logout", cookie))
		require.Equal(t, http.StatusFound, w.Code)
		wg.Wait()
		n, err := client.DBSize(ctx).Result()
		require.NoError(t, err)
		assert.Zero(t, n, "round %d: a save that raced the logout brought the session back", round)
	}
}

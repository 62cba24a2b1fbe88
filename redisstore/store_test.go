package redisstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/redisstore"
	"github.com/oidc-logout/logout/redisstore/redistest"
)

// newStore returns a store on a fresh server and a client to inspect it.
func newStore(t testing.TB) (*redisstore.Store, *redis.Client, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	client := srv.NewClient()
	return redisstore.NewStore(client, hashKey), client, srv
}

// sessionKeys returns the session keys in Redis.
func sessionKeys(t testing.TB, client *redis.Client) []string {
	t.Helper()
	keys, err := client.Keys(context.Background(), redisstore.DefaultKeyPrefix+"*").Result()
	require.NoError(t, err)
	return keys
}

func TestStoreRoundTripLargeTokens(t *testing.T) {
	store, client, _ := newStore(t)
	values := bigTokens(t)
	require.Greater(t, len(values["id_token"].(string)), 2900)

	cookie := login(t, store, values)
	assert.Less(t, len(cookie.Value), 300, "only the signed id travels in the cookie")
	assert.True(t, cookie.HttpOnly)
	assert.True(t, cookie.Secure)
	assert.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
	assert.Equal(t, "/", cookie.Path)
	assert.Equal(t, redisstore.DefaultMaxAge, cookie.MaxAge)

	keys := sessionKeys(t, client)
	require.Len(t, keys, 1)
	assert.Regexp(t, regexp.MustCompile(`^session:[A-Za-z0-9_-]{43}$`), keys[0], "32 random bytes, base64url")
	ttl := client.TTL(context.Background(), keys[0]).Val()
	assert.InDelta(t, float64(redisstore.DefaultMaxAge*time.Second), float64(ttl), float64(5*time.Second))

	s, err := store.New(newRequest(http.MethodGet, "/", cookie), sessionName)
	require.NoError(t, err)
	assert.False(t, s.IsNew)
	assert.Equal(t, values, s.Values)
}

func TestStoreLogoutDeletesRecord(t *testing.T) {
	store, client, _ := newStore(t)
	values := bigTokens(t)
	cookie := login(t, store, values)
	other := &http.Cookie{Name: "prefs", Value: "dark"}
	require.Len(t, sessionKeys(t, client), 1)

	w := httptest.NewRecorder()
	newMiddleware(t, store, nil).Wrap(http.NotFoundHandler()).ServeHTTP(w, newRequest(http.MethodGet, "/logout", cookie, other))

	require.Equal(t, http.StatusFound, w.Code)
	loc, err := url.Parse(w.Header().Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, values["id_token"], loc.Query().Get("id_token_hint"), "the 3 KB id_token reaches the provider")
	assert.Empty(t, sessionKeys(t, client), "logout deletes the Redis record")

	set := setCookies(w)
	assert.Len(t, set, 2, "only the session cookie and the state cookie are set")
	require.Contains(t, set, sessionName)
	assert.Contains(t, set, "__Host-logout_state", "the state cookie of an https app")
	assert.Empty(t, set[sessionName].Value)
	assert.Equal(t, -1, set[sessionName].MaxAge, "the session cookie is expired")

	s, err := store.New(newRequest(http.MethodGet, "/", cookie), sessionName)
	require.NoError(t, err, "a logged-out session is simply gone, not an error")
	assert.True(t, s.IsNew)
	assert.Empty(t, s.Values)
	assert.Empty(t, s.ID)
}

func TestStoreRegistryCaching(t *testing.T) {
	store, client, _ := newStore(t)
	cookie := login(t, store, bigTokens(t))
	r := newRequest(http.MethodGet, "/logout", cookie)

	a, err := store.Get(r, sessionName)
	require.NoError(t, err)
	b, err := store.Get(r, sessionName)
	require.NoError(t, err)
	assert.Same(t, a, b, "Get caches the session in the request's registry")
	c, err := store.New(r, sessionName)
	require.NoError(t, err)
	assert.NotSame(t, a, c, "New bypasses the registry")
	oldID := a.ID

	// An outer middleware read the session first; the logout then runs
	// in the same request, and a handler after it reads the session again.
	var after *sessions.Session
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := store.Get(r, sessionName)
			require.NoError(t, err)
			next.ServeHTTP(w, r)
			after, err = store.Get(r, sessionName)
			require.NoError(t, err)
		})
	}
	w := httptest.NewRecorder()
	outer(newMiddleware(t, store, nil).Wrap(http.NotFoundHandler())).ServeHTTP(w, r)

	require.Equal(t, http.StatusFound, w.Code)
	assert.Same(t, a, after)
	assert.Empty(t, after.Values, "nothing of the old session stays readable in the request")
	assert.Empty(t, after.ID)
	assert.Empty(t, sessionKeys(t, client))

	// A handler that saves the session again later in the request starts
	// a new one: the old id is not revived.
	after.Values["user"] = "bob"
	after.Options.MaxAge = 3600
	w = httptest.NewRecorder()
	require.NoError(t, sessions.Save(r, w))
	assert.NotEmpty(t, after.ID)
	assert.NotEqual(t, oldID, after.ID)
	s, err := store.New(newRequest(http.MethodGet, "/", cookie), sessionName)
	require.NoError(t, err)
	assert.True(t, s.IsNew, "the pre-logout cookie still finds nothing")
}

func TestStoreSlowRequestCannotReviveSession(t *testing.T) {
	store, client, _ := newStore(t)
	cookie := login(t, store, bigTokens(t))

	// A slow request loads the session, a logout ends it meanwhile, then
	// the slow request saves.
	slow := newRequest(http.MethodGet, "/slow", cookie)
	s, err := store.Get(slow, sessionName)
	require.NoError(t, err)
	w := httptest.NewRecorder()
	newMiddleware(t, store, nil).ServeHTTP(w, newRequest(http.MethodPost, "/logout", cookie))
	require.Equal(t, http.StatusFound, w.Code)

	s.Values["last_seen"] = "now"
	w = httptest.NewRecorder()
	err = s.Save(slow, w)
	require.ErrorIs(t, err, redisstore.ErrSessionEnded)
	assert.Empty(t, w.Result().Cookies(), "no cookie for a session that was not saved")
	assert.Empty(t, sessionKeys(t, client), "the logged-out session is not brought back")
}

func TestStoreBadCookie(t *testing.T) {
	store, client, _ := newStore(t)
	cookie := login(t, store, bigTokens(t))
	otherKeys := redisstore.NewStore(client, []byte("another-key-another-key-another-"))
	for name, c := range map[string]*http.Cookie{
		"tampered":    {Name: sessionName, Value: cookie.Value[:len(cookie.Value)-2] + "AA"},
		"garbage":     {Name: sessionName, Value: "not-a-cookie"},
		"rotated key": login(t, otherKeys, map[any]any{"id_token": "x"}),
	} {
		t.Run(name, func(t *testing.T) {
			s, err := store.New(newRequest(http.MethodGet, "/", c), sessionName)
			assert.Error(t, err)
			require.NotNil(t, s)
			assert.True(t, s.IsNew)
			assert.Empty(t, s.Values)

			w := httptest.NewRecorder()
			newMiddleware(t, store, nil).ServeHTTP(w, newRequest(http.MethodGet, "/logout", c))
			assert.Equal(t, http.StatusFound, w.Code, "a broken cookie is still logged out")
			assert.Equal(t, -1, setCookies(w)[sessionName].MaxAge)
		})
	}
}

func TestStoreRedisDown(t *testing.T) {
	store, _, srv := newStore(t)
	cookie := login(t, store, bigTokens(t))
	srv.Stop()

	s, err := store.New(newRequest(http.MethodGet, "/", cookie), sessionName)
	assert.Error(t, err)
	assert.True(t, s.IsNew)
	assert.Empty(t, s.Values)

	fresh := sessions.NewSession(store, sessionName)
	fresh.Values["k"] = "v"
	w := httptest.NewRecorder()
	assert.Error(t, store.Save(newRequest(http.MethodGet, "/"), w, fresh))
	assert.Empty(t, fresh.ID, "a failed first save leaves no id behind")
	assert.Empty(t, w.Result().Cookies())

	// The record cannot be deleted: the user is not told they are logged out.
	w = httptest.NewRecorder()
	newMiddleware(t, store, nil).ServeHTTP(w, newRequest(http.MethodGet, "/logout", cookie))
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Empty(t, w.Header().Get("Location"))
	assert.Empty(t, w.Result().Cookies())

	srv.Restart()
	w = httptest.NewRecorder()
	newMiddleware(t, store, nil).ServeHTTP(w, newRequest(http.MethodGet, "/logout", cookie))
	assert.Equal(t, http.StatusFound, w.Code, "logout works again once Redis is back")
}

func TestStoreTTL(t *testing.T) {
	ctx := context.Background()
	_, client, _ := newStore(t)
	for _, tc := range []struct {
		name          string
		storeMaxAge   int
		sessionMaxAge int
		want          time.Duration
	}{
		{"session MaxAge", redisstore.DefaultMaxAge, 3600, time.Hour},
		{"browser session, store MaxAge", 7200, 0, 2 * time.Hour},
		{"browser session, no store MaxAge", 0, 0, 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := redisstore.NewStore(client, hashKey)
			store.KeyPrefix = "ttl:" + tc.name + ":"
			store.MaxAge(tc.storeMaxAge)
			r := newRequest(http.MethodGet, "/")
			s, err := store.New(r, sessionName)
			require.NoError(t, err)
			s.Options.MaxAge = tc.sessionMaxAge
			s.Values["k"] = "v"
			require.NoError(t, s.Save(r, httptest.NewRecorder()))
			ttl := client.TTL(ctx, store.KeyPrefix+s.ID).Val()
			assert.InDelta(t, float64(tc.want), float64(ttl), float64(5*time.Second))
		})
	}
}

func TestStoreKeyPrefix(t *testing.T) {
	ctx := context.Background()
	store, client, _ := newStore(t)
	store.KeyPrefix = "shop:sess:"
	cookie := login(t, store, map[any]any{"k": "v"})
	keys, err := client.Keys(ctx, "shop:sess:*").Result()
	require.NoError(t, err)
	assert.Len(t, keys, 1)

	other := redisstore.NewStore(client, hashKey)
	other.KeyPrefix = "blog:sess:"
	s, err := other.New(newRequest(http.MethodGet, "/", cookie), sessionName)
	require.NoError(t, err)
	assert.True(t, s.IsNew, "a store with another prefix does not see the session")
}

func TestStoreValuesMustBeGobEncodable(t *testing.T) {
	store, client, _ := newStore(t)
	r := newRequest(http.MethodGet, "/")
	s, err := store.New(r, sessionName)
	require.NoError(t, err)
	s.Values["fn"] = func() {}
	w := httptest.NewRecorder()
	assert.ErrorContains(t, s.Save(r, w), "encoding values")
	assert.Empty(t, sessionKeys(t, client))
	assert.Empty(t, w.Result().Cookies())
}

// TestStoreWriteFailures: a Save that Redis fails (paused past the
// store's Timeout, refused, or cut off by a killed connection) reports
// the error, sets no cookie and changes nothing in Redis, so that the
// user, told so, can try again; once Redis works, a logout deletes the
// record for good.
func TestStoreWriteFailures(t *testing.T) {
	ctx := context.Background()
	for _, f := range writeFaults {
		t.Run(f.name, func(t *testing.T) {
			srv := redistest.Start(t)
			admin := srv.NewClient()
			store := redisstore.NewStore(honouringClient(t, srv), hashKey)
			store.Timeout = f.bound
			cookie := login(t, store, map[any]any{"id_token": "t1"})
			keys := sessionKeys(t, admin)
			require.Len(t, keys, 1)
			record := admin.Get(ctx, keys[0]).Val()
			loaded := func(t *testing.T) (*http.Request, *sessions.Session) {
				t.Helper()
				r := newRequest(http.MethodGet, "/", cookie)
				s, err := store.New(r, sessionName)
				require.NoError(t, err)
				require.False(t, s.IsNew)
				return r, s
			}
			unchanged := func(t *testing.T) {
				t.Helper()
				assert.Equal(t, keys, sessionKeys(t, admin), "no key written or deleted")
				assert.Equal(t, record, admin.Get(ctx, keys[0]).Val(), "the record is as it was")
			}

			t.Run("new session", func(t *testing.T) {
				r := newRequest(http.MethodGet, "/login")
				s, err := store.New(r, sessionName)
				require.NoError(t, err)
				s.Values["id_token"] = "t2"
				w := httptest.NewRecorder()
				f.assertFailed(t, f.run(t, srv, func() error { return store.Save(r, w, s) }))
				assert.Empty(t, s.ID, "no id is left behind")
				assert.Empty(t, w.Result().Cookies())
				unchanged(t)
			})
			t.Run("loaded session", func(t *testing.T) {
				r, s := loaded(t)
				id := s.ID
				s.Values["id_token"] = "t2"
				w := httptest.NewRecorder()
				f.assertFailed(t, f.run(t, srv, func() error { return store.Save(r, w, s) }))
				assert.Equal(t, id, s.ID)
				assert.Empty(t, w.Result().Cookies())
				unchanged(t)
			})
			t.Run("delete", func(t *testing.T) {
				r, s := loaded(t)
				id := s.ID
				s.Options.MaxAge = -1
				w := httptest.NewRecorder()
				f.assertFailed(t, f.run(t, srv, func() error { return store.Save(r, w, s) }))
				assert.Equal(t, id, s.ID, "the id is kept: saving again retries the delete")
				assert.Empty(t, w.Result().Cookies(), "the cookie is not expired")
				unchanged(t)
			})
			t.Run("logout", func(t *testing.T) {
				w := httptest.NewRecorder()
				require.NoError(t, f.run(t, srv, func() error {
					newMiddleware(t, store, nil).ServeHTTP(w, newRequest(http.MethodGet, "/logout", cookie))
					return nil
				}))
				assert.Equal(t, http.StatusInternalServerError, w.Code, "the user is not told they are logged out")
				assert.Empty(t, w.Header().Get("Location"))
				assert.Empty(t, w.Result().Cookies())
				unchanged(t)
			})

			// Redis works again: the logout deletes the record.
			w := httptest.NewRecorder()
			newMiddleware(t, store, nil).ServeHTTP(w, newRequest(http.MethodGet, "/logout", cookie))
			assert.Equal(t, http.StatusFound, w.Code)
			assert.Empty(t, sessionKeys(t, admin), "the logout deleted the record")
		})
	}
}

// TestStoreReadFailures: when Redis cannot be read (stopped, or paused
// past the store's Timeout), New returns the error with an empty session
// that keeps the cookie's id, so that deleting it, as a logout does,
// fails too rather than report a session ended that is not.
func TestStoreReadFailures(t *testing.T) {
	for _, f := range readFaults {
		t.Run(f.name, func(t *testing.T) {
			srv := redistest.Start(t)
			store := redisstore.NewStore(honouringClient(t, srv), hashKey)
			store.Timeout = faultBound
			cookie := login(t, store, map[any]any{"id_token": "t"})
			keys := sessionKeys(t, srv.NewClient())
			require.Len(t, keys, 1)
			id := strings.TrimPrefix(keys[0], redisstore.DefaultKeyPrefix)
			f.fail(t, srv)

			r := newRequest(http.MethodGet, "/", cookie)
			s, err := store.New(r, sessionName)
			f.assertFailed(t, err)
			require.NotNil(t, s)
			assert.True(t, s.IsNew)
			assert.Empty(t, s.Values)
			assert.Equal(t, id, s.ID, "the cookie's id is kept")

			s.Options.MaxAge = -1
			w := httptest.NewRecorder()
			f.assertFailed(t, store.Save(r, w, s), "the delete fails rather than be skipped")
			assert.Equal(t, id, s.ID)
			assert.Empty(t, w.Result().Cookies())
		})
	}
}

// TestStoreUndecodableRecord: a record that does not decode is an error
// of New, not a session, and a logout still deletes it.
func TestStoreUndecodableRecord(t *testing.T) {
	ctx := context.Background()
	store, client, _ := newStore(t)
	cookie := login(t, store, map[any]any{"id_token": "t"})
	keys := sessionKeys(t, client)
	require.Len(t, keys, 1)
	require.NoError(t, client.Set(ctx, keys[0], "not gob", time.Hour).Err())

	s, err := store.New(newRequest(http.MethodGet, "/", cookie), sessionName)
	assert.ErrorContains(t, err, "decoding session")
	assert.True(t, s.IsNew)
	assert.Empty(t, s.Values)
	assert.Equal(t, strings.TrimPrefix(keys[0], redisstore.DefaultKeyPrefix), s.ID)

	w := httptest.NewRecorder()
	newMiddleware(t, store, nil).ServeHTTP(w, newRequest(http.MethodGet, "/logout", cookie))
	assert.Equal(t, http.StatusFound, w.Code)
	assert.Equal(t, -1, setCookies(w)[sessionName].MaxAge)
	assert.Empty(t, sessionKeys(t, client), "the logout deleted the record")
}

// failingCodec is a securecookie.Codec that fails.
type failingCodec struct{}

func (failingCodec) Encode(string, any) (string, error) { return "", errors.New("codec failed") }
func (failingCodec) Decode(string, string, any) error   { return errors.New("codec failed") }

// TestStoreCookieEncodingFails: a Save whose cookie cannot be encoded
// reports the error and sets no cookie.
func TestStoreCookieEncodingFails(t *testing.T) {
	store, _, _ := newStore(t)
	store.Codecs = []securecookie.Codec{failingCodec{}}
	r := newRequest(http.MethodGet, "/login")
	s, err := store.New(r, sessionName)
	require.NoError(t, err)
	s.Values["id_token"] = "t"
	w := httptest.NewRecorder()
	assert.ErrorContains(t, store.Save(r, w, s), "codec failed")
	assert.Empty(t, w.Result().Cookies())
}

package logout_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
)

// newFilesystemStore returns a FilesystemStore in a fresh directory that
// accepts sessions of up to 64 KB, and the directory.
func newFilesystemStore(t *testing.T) (*sessions.FilesystemStore, string) {
	dir := t.TempDir()
	s := sessions.NewFilesystemStore(dir, stHashKey)
	s.MaxLength(64 << 10)
	return s, dir
}

// sessionFiles returns the session files in dir.
func sessionFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "session_*"))
	require.NoError(t, err)
	return files
}

func TestFilesystemStoreLogoutDeletesFile(t *testing.T) {
	store, dir := newFilesystemStore(t)
	values := stBigTokens(t)
	cookie := stLogin(t, store, testSession, values)
	require.Len(t, sessionFiles(t, dir), 1)
	h := stMiddleware(t, store, nil).Wrap(stSignedIn(store))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, stRequest(http.MethodGet, "/", cookie))
	require.Equal(t, "in", w.Body.String(), "a 5 KB session works in a FilesystemStore")

	w = httptest.NewRecorder()
	h.ServeHTTP(w, stRequest(http.MethodGet, "/logout", cookie))
	require.Equal(t, http.StatusFound, w.Code)
	loc, err := url.Parse(w.Header().Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, values["id_token"], loc.Query().Get("id_token_hint"))
	assert.Empty(t, sessionFiles(t, dir), "logout deletes the session file")
	set := stSetCookies(t, w)
	require.Contains(t, set, testSession)
	assert.Equal(t, -1, set[testSession].MaxAge)

	// The old cookie finds no session. FilesystemStore reports the
	// missing file as an error, which apps must treat as signed out.
	s, err := store.New(stRequest(http.MethodGet, "/", cookie), testSession)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Empty(t, s.Values)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, stRequest(http.MethodGet, "/", cookie))
	assert.Equal(t, "out", w.Body.String())
}

// TestStoresLargeTokens pins what gorilla's stores do with a session of
// about 5 KB (a 3 KB id_token, an access and a refresh token).
func TestStoresLargeTokens(t *testing.T) {
	values := stBigTokens(t)

	t.Run("CookieStore refuses to save it", func(t *testing.T) {
		store := sessions.NewCookieStore(stHashKey)
		r, w := stRequest(http.MethodGet, "/login"), httptest.NewRecorder()
		s, err := store.New(r, testSession)
		require.NoError(t, err)
		for k, v := range values {
			s.Values[k] = v
		}
		err = s.Save(r, w)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the value is too long")
		assert.Empty(t, w.Header().Values("Set-Cookie"), "nothing is sent: the login silently has no session")
	})

	t.Run("CookieStore without a length limit sends a cookie browsers drop", func(t *testing.T) {
		store := sessions.NewCookieStore(stHashKey)
		for _, c := range store.Codecs {
			c.(*securecookie.SecureCookie).MaxLength(0)
		}
		cookie := stLogin(t, store, testSession, values)
		// Browsers ignore cookies whose name and value exceed 4096 bytes.
		assert.Greater(t, len(cookie.Name)+len(cookie.Value), 4096)
	})

	t.Run("FilesystemStore with its default 4 KB limit refuses it", func(t *testing.T) {
		dir := t.TempDir()
		store := sessions.NewFilesystemStore(dir, stHashKey)
		r, w := stRequest(http.MethodGet, "/login"), httptest.NewRecorder()
		s, err := store.New(r, testSession)
		require.NoError(t, err)
		for k, v := range values {
			s.Values[k] = v
		}
		err = s.Save(r, w)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the value is too long")
		assert.Empty(t, sessionFiles(t, dir))
	})

	t.Run("FilesystemStore with MaxLength raised keeps it", func(t *testing.T) {
		store, _ := newFilesystemStore(t)
		cookie := stLogin(t, store, testSession, values)
		assert.Less(t, len(cookie.Value), 300, "only the signed id is in the cookie")
		s, err := store.New(stRequest(http.MethodGet, "/", cookie), testSession)
		require.NoError(t, err)
		assert.Equal(t, values, s.Values)
	})
}

// storeCase is a gorilla store the fixation tests run against.
type storeCase struct {
	name  string
	store sessions.Store
	files func(*testing.T) []string // server-side records; nil for a cookie store
}

func storeCases(t *testing.T) []storeCase {
	fs, dir := newFilesystemStore(t)
	return []storeCase{
		{name: "CookieStore", store: sessions.NewCookieStore(stHashKey)},
		{name: "FilesystemStore", store: fs, files: func(t *testing.T) []string { return sessionFiles(t, dir) }},
	}
}

// TestLogoutLeavesNothingReadableInTheRequest has an outer middleware read
// the session (so that the request's sessions.Registry caches it) before
// the logout, read it again after, and save every session of the request
// at the end, as apps do.
func TestLogoutLeavesNothingReadableInTheRequest(t *testing.T) {
	for _, tc := range storeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			cookie := stLogin(t, tc.store, testSession, stSmallTokens(t))
			var before, after *sessions.Session
			outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var err error
				before, err = tc.store.Get(r, testSession)
				require.NoError(t, err)
				require.NotEmpty(t, before.Values)
				stMiddleware(t, tc.store, nil).Wrap(http.NotFoundHandler()).ServeHTTP(w, r)
				after, err = tc.store.Get(r, testSession)
				require.NoError(t, err)
				require.NoError(t, sessions.Save(r, w))
			})
			w := httptest.NewRecorder()
			outer.ServeHTTP(w, stRequest(http.MethodGet, "/logout", cookie))

			require.Equal(t, http.StatusFound, w.Code)
			assert.Same(t, before, after, "the registry's session is the one cleared")
			assert.Empty(t, after.Values, "nothing of the old session is readable")
			for _, c := range w.Result().Cookies() {
				if c.Name == testSession {
					assert.Equal(t, -1, c.MaxAge, "every Set-Cookie of the session expires it")
				}
			}
			if tc.files != nil {
				assert.Empty(t, tc.files(t), "saving the registry again does not bring the record back")
			}
		})
	}
}

// TestLogoutTouchesOnlyItsCookies checks that a logout leaves the app's
// other sessions and cookies alone: it sets the session cookie and its own
// state cookie, nothing else.
func TestLogoutTouchesOnlyItsCookies(t *testing.T) {
	for _, tc := range storeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			session := stLogin(t, tc.store, testSession, stSmallTokens(t))
			cart := stLogin(t, tc.store, "cart", map[any]any{"items": "3"})
			prefs := &http.Cookie{Name: "prefs", Value: "dark"}

			w := httptest.NewRecorder()
			stMiddleware(t, tc.store, nil).Wrap(http.NotFoundHandler()).
				ServeHTTP(w, stRequest(http.MethodGet, "/logout", session, cart, prefs))

			require.Equal(t, http.StatusFound, w.Code)
			set := stSetCookies(t, w)
			assert.Len(t, set, 2)
			assert.Contains(t, set, testSession)
			assert.Contains(t, set, stateCookie)
			s, err := tc.store.New(stRequest(http.MethodGet, "/", cart), "cart")
			require.NoError(t, err)
			assert.Equal(t, "3", s.Values["items"], "the other session is intact")
			if tc.files != nil {
				assert.Len(t, tc.files(t), 1, "only the logged-out session's record is deleted")
			}
		})
	}
}

// TestFilesystemStoreSaveAfterLogoutGetsNewID: when the cleared session is
// saved again in the same request (here by an AfterLogout hook leaving a
// flash message), FilesystemStore writes it under a new id, because the
// middleware forgets the id of the record it deleted. A copy of the cookie
// taken before the logout therefore finds nothing.
func TestFilesystemStoreSaveAfterLogoutGetsNewID(t *testing.T) {
	store, dir := newFilesystemStore(t)
	cookie := stLogin(t, store, testSession, stSmallTokens(t))
	m := stMiddleware(t, store, func(c *logout.Config) {
		c.AfterLogout = func(r *http.Request, _ logout.Event) {
			s, err := store.Get(r, testSession)
			require.NoError(t, err)
			s.Options.MaxAge = 3600
			s.AddFlash("signed out")
			require.NoError(t, s.Save(r, httptest.NewRecorder()))
		}
	})
	w := httptest.NewRecorder()
	m.ServeHTTP(w, stRequest(http.MethodGet, "/logout", cookie))
	require.Equal(t, http.StatusFound, w.Code)
	require.Len(t, sessionFiles(t, dir), 1, "the flash session was saved")

	s, err := store.New(stRequest(http.MethodGet, "/", cookie), testSession)
	assert.Error(t, err, "the pre-logout cookie must not find the session saved after the logout")
	assert.True(t, s.IsNew)
	assert.Nil(t, s.Values["id_token"], "the old session's values are gone")
	assert.Empty(t, s.Flashes(), "the new session is reachable only through its new cookie")
}

// TestCookieStoreReplayAfterLogout shows the replay hole of stateless
// cookie stores and the session check that closes it.
func TestCookieStoreReplayAfterLogout(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check *logout.SessionCheckConfig
		want  string
	}{
		{"without the session check the old cookie still signs in", nil, "in"},
		{"with the session check the old cookie is signed out", &logout.SessionCheckConfig{
			Ledger: logout.NewMemoryLedger(logout.MemoryLedgerConfig{}),
		}, "out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := sessions.NewCookieStore(stHashKey)
			m := stMiddleware(t, store, func(c *logout.Config) { c.SessionCheck = tc.check })
			h := m.Wrap(stSignedIn(store))
			cookie := stLogin(t, store, testSession, stSmallTokens(t))

			w := httptest.NewRecorder()
			h.ServeHTTP(w, stRequest(http.MethodGet, "/", cookie))
			require.Equal(t, "in", w.Body.String())
			w = httptest.NewRecorder()
			h.ServeHTTP(w, stRequest(http.MethodGet, "/logout", cookie))
			require.Equal(t, http.StatusFound, w.Code)
			require.Equal(t, -1, stSetCookies(t, w)[testSession].MaxAge, "the browser's cookie is expired")

			w = httptest.NewRecorder()
			h.ServeHTTP(w, stRequest(http.MethodGet, "/", cookie))
			assert.Equal(t, tc.want, w.Body.String())
		})
	}
}

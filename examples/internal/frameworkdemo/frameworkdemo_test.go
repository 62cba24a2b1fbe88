package frameworkdemo

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSettingsFromEnv(t *testing.T) {
	t.Setenv("APP_BASE_URL", "")
	t.Setenv("OIDC_END_SESSION_ENDPOINT", "")
	t.Setenv("OIDC_CLIENT_ID", "")
	s, err := SettingsFromEnv()
	require.NoError(t, err)
	assert.Equal(t, Settings{
		BaseURL:            "http://127.0.0.1:8080",
		Addr:               "127.0.0.1:8080",
		EndSessionEndpoint: "http://127.0.0.1:8080" + StandInEndSessionPath,
		ClientID:           "example",
	}, s, "defaults: the stand-in provider")

	t.Setenv("APP_BASE_URL", "https://app.example.com:8443")
	t.Setenv("OIDC_END_SESSION_ENDPOINT", "https://idp.example.com/end")
	t.Setenv("OIDC_CLIENT_ID", "client")
	s, err = SettingsFromEnv()
	require.NoError(t, err)
	assert.Equal(t, Settings{
		BaseURL:            "https://app.example.com:8443",
		Addr:               "app.example.com:8443",
		EndSessionEndpoint: "https://idp.example.com/end",
		ClientID:           "client",
	}, s)
	app := New(s)
	assert.True(t, app.Store.Options.Secure, "https: secure cookies")
	assert.Equal(t, "https://app.example.com:8443/logout/callback", app.Config.Providers[0].PostLogoutRedirectURI)

	t.Setenv("APP_BASE_URL", "http://bad host/")
	_, err = SettingsFromEnv()
	assert.Error(t, err)
}

func TestStandInProvider(t *testing.T) {
	app := New(Settings{BaseURL: "http://127.0.0.1:8080"})
	assert.False(t, app.Store.Options.Secure)

	w := httptest.NewRecorder()
	app.StandInProvider(w, httptest.NewRequest(http.MethodGet,
		StandInEndSessionPath+"?post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Flogout%2Fcallback&state=s1&id_token_hint=x", nil))
	assert.Equal(t, http.StatusFound, w.Code)
	assert.Equal(t, "http://127.0.0.1:8080/logout/callback?state=s1", w.Header().Get("Location"))

	w = httptest.NewRecorder()
	app.StandInProvider(w, httptest.NewRequest(http.MethodGet,
		StandInEndSessionPath+"?post_logout_redirect_uri=https%3A%2F%2Fevil.example%2Felsewhere&state=s1", nil))
	assert.Equal(t, http.StatusBadRequest, w.Code, "only the logout callback is registered")
}

package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
	"github.com/oidc-logout/logout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/internal/frameworkdemo"
	"github.com/oidc-logout/logout/examples/internal/frameworktest"
)

var example = frameworktest.Example{
	Serve:   frameworktest.ServeHTTP(newRouter),
	Wrapped: "m.Wrap(r)",
	Mounted: "r.Handle",
}

func TestLogoutRoundTrip(t *testing.T)        { frameworktest.LogoutRoundTrip(t, example) }
func TestPassThroughAndRefusals(t *testing.T) { frameworktest.PassThroughAndRefusals(t, example) }

func TestRouterUseNeedsAMatchingRoute(t *testing.T) {
	// Why the example wraps the router instead of calling r.Use(m.Wrap):
	// gorilla/mux runs that middleware only for requests that match a route.
	demo := frameworkdemo.New(frameworkdemo.Settings{BaseURL: "http://example.com"})
	m, err := logout.New(logout.Config{
		Store: demo.Store, SessionName: frameworkdemo.SessionName,
		Providers: []logout.Provider{{EndSessionEndpoint: "https://op.example.com/end"}},
	})
	require.NoError(t, err)
	r := mux.NewRouter()
	r.Use(m.Wrap)
	r.Handle("/", demo.Home)

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/logout", nil))
	assert.Equal(t, http.StatusNotFound, w.Code, "r.Use(m.Wrap) does not see /logout")
	w = httptest.NewRecorder()
	m.Wrap(r).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/logout", nil))
	assert.Equal(t, http.StatusFound, w.Code, "m.Wrap(r) does")
}

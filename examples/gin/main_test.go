package main

import (
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/oidc-logout/logout/examples/internal/frameworktest"
)

var example = frameworktest.Example{
	Serve:   frameworktest.ServeHTTP(newEngine),
	Wrapped: "r.Use",
	Mounted: "r.Any",
}

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	m.Run()
}

func TestLogoutRoundTrip(t *testing.T)        { frameworktest.LogoutRoundTrip(t, example) }
func TestPassThroughAndRefusals(t *testing.T) { frameworktest.PassThroughAndRefusals(t, example) }

package main

import (
	"testing"

	"github.com/oidc-logout/logout/examples/internal/frameworktest"
)

var example = frameworktest.Example{
	Serve:   frameworktest.ServeHTTP(newServer),
	Wrapped: "e.Use",
	Mounted: "e.Any",
}

func TestLogoutRoundTrip(t *testing.T)        { frameworktest.LogoutRoundTrip(t, example) }
func TestPassThroughAndRefusals(t *testing.T) { frameworktest.PassThroughAndRefusals(t, example) }

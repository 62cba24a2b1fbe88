package main

import (
	"net"
	"testing"

	"github.com/gofiber/fiber/v3"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/examples/internal/frameworkdemo"
	"github.com/oidc-logout/logout/examples/internal/frameworktest"
)

var example = frameworktest.Example{
	Serve:   serve,
	Wrapped: "app.Use",
	Mounted: "app.All",
}

// serve serves the example app with fiber's own server.
func serve(t *testing.T, ln net.Listener, s frameworkdemo.Settings) {
	app, err := newApp(s)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true}) }()
	t.Cleanup(func() {
		assert.NoError(t, app.Shutdown())
		assert.NoError(t, <-done)
	})
}

func TestLogoutRoundTrip(t *testing.T)        { frameworktest.LogoutRoundTrip(t, example) }
func TestPassThroughAndRefusals(t *testing.T) { frameworktest.PassThroughAndRefusals(t, example) }

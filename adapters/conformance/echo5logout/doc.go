// Package echo5logout holds no code: its tests run the shared adapter suite
// (package fixture) and the echo5 adapter's own scenarios against
// github.com/oidc-logout/logout/adapters/echo/echo5.
package echo5logout

// Package echologout holds no code: its tests run the shared adapter suite
// (package fixture) and the echo adapter's own scenarios against
// github.com/oidc-logout/logout/adapters/echo.
package echologout

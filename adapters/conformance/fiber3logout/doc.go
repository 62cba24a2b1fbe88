// Package fiber3logout holds no code: its tests run the shared adapter suite
// (package fixture) and the fiber v3 adapter's own scenarios against
// github.com/oidc-logout/logout/adapters/fiber/fiber3.
package fiber3logout

// Package fiberlogout holds no code: its tests run the shared adapter suite
// (package fixture) and the fiber v2 adapter's own scenarios against
// github.com/oidc-logout/logout/adapters/fiber.
package fiberlogout

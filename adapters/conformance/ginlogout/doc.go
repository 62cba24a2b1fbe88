// Package ginlogout holds no code: its tests run the shared adapter suite
// (package fixture) and the gin adapter's own scenarios against
// github.com/oidc-logout/logout/adapters/gin.
package ginlogout

module github.com/oidc-logout/logout/e2e

go 1.25

replace github.com/oidc-logout/logout => ../

replace github.com/oidc-logout/logout/examples => ../examples

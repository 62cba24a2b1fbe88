module github.com/oidc-logout/logout/backchannel

go 1.25

require (
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/oidc-logout/logout v0.0.0
)

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/gorilla/sessions v1.4.0 // indirect
)

replace github.com/oidc-logout/logout => ../

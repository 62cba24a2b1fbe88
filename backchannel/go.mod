module github.com/oidc-logout/logout/backchannel

go 1.25

require (
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/gorilla/sessions v1.4.0
	github.com/oidc-logout/logout v0.0.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/oidc-logout/logout => ../

module github.com/oidc-logout/logout/adapters/internal

go 1.25

replace github.com/oidc-logout/logout => ../../

require (
	github.com/gorilla/sessions v1.4.0
	github.com/oidc-logout/logout v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

module github.com/oidc-logout/logout

go 1.25

require github.com/gorilla/sessions v1.4.0

require github.com/gorilla/securecookie v1.1.2 // indirect

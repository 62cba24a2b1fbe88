// Command echoapp is an echo v4 app behind the logout middleware.
package main

import (
	"log"

	"github.com/labstack/echo/v4"

	echologout "github.com/oidc-logout/logout/adapters/echo"

	"example.com/logoutuser/app"
)

func main() {
	store, m, err := app.New()
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.Use(echologout.Middleware(m))
	e.GET("/login", echo.WrapHandler(app.Login(store)))
	e.GET("/", echo.WrapHandler(app.Home(store)))
	log.Fatal(e.Start("127.0.0.1:8080"))
}

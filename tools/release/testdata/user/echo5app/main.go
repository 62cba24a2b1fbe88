// Command echo5app is an echo v5 app behind the logout middleware.
package main

import (
	"log"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"

	echo5logout "github.com/oidc-logout/logout/adapters/echo/echo5"

	"example.com/logoutuser/app"
)

func main() {
	store, m, err := app.New()
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.Use(echo5logout.Middleware(m))
	e.GET("/login", echo.WrapHandler(app.Login(store)))
	e.GET("/", echo.WrapHandler(app.Home(store)))
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: e, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

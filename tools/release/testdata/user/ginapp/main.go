// Command ginapp is a gin app behind the logout middleware.
package main

import (
	"log"

	"github.com/gin-gonic/gin"

	ginlogout "github.com/oidc-logout/logout/adapters/gin"

	"example.com/logoutuser/app"
)

func main() {
	store, m, err := app.New()
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(ginlogout.Middleware(m))
	r.GET("/login", gin.WrapF(app.Login(store)))
	r.GET("/", gin.WrapF(app.Home(store)))
	log.Fatal(r.Run("127.0.0.1:8080"))
}

// Command fiberapp is a fiber v2 app behind the logout middleware.
package main

import (
	"log"

	"github.com/gofiber/fiber/v2"

	fiberlogout "github.com/oidc-logout/logout/adapters/fiber"

	"example.com/logoutuser/app"
)

func main() {
	_, m, err := app.New()
	if err != nil {
		log.Fatal(err)
	}
	a := fiber.New()
	a.Use(fiberlogout.Middleware(m))
	a.Get("/", func(c *fiber.Ctx) error { return c.SendString("home") })
	log.Fatal(a.Listen("127.0.0.1:8080"))
}

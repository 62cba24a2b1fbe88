// Command fiber3app is a fiber v3 app behind the logout middleware.
package main

import (
	"log"

	"github.com/gofiber/fiber/v3"

	fiber3logout "github.com/oidc-logout/logout/adapters/fiber/fiber3"

	"example.com/logoutuser/app"
)

func main() {
	_, m, err := app.New()
	if err != nil {
		log.Fatal(err)
	}
	a := fiber.New()
	a.Use(fiber3logout.Middleware(m))
	a.Get("/", func(c fiber.Ctx) error { return c.SendString("home") })
	log.Fatal(a.Listen("127.0.0.1:8080"))
}

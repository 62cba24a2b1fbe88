package fiberlogout_test

import (
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/oidc-logout/logout/adapters/conformance/fixture"
	fiberlogout "github.com/oidc-logout/logout/adapters/fiber"
	"github.com/valyala/fasthttp"
)

// helloApp returns app with a route answering 204, and a function that
// serves one request to it straight through fasthttp, without a network
// connection.
func helloApp(app *fiber.App) func() {
	app.Get("/hello", func(c *fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) })
	h := app.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(http.MethodGet)
	ctx.Request.SetRequestURI("/hello")
	return func() {
		ctx.Response.Reset()
		h(&ctx)
	}
}

func newFiber() *fiber.App {
	return fiber.New(fiber.Config{DisableStartupMessage: true})
}

func wrappedFiber(tb testing.TB) *fiber.App {
	app := newFiber()
	app.Use(fiberlogout.Middleware(fixture.NewMiddleware(tb, fixture.NewStore(), "")))
	return app
}

// BenchmarkPassThroughBare measures a fiber route without the middleware.
func BenchmarkPassThroughBare(b *testing.B) {
	fixture.Benchmark(b, helloApp(newFiber()))
}

// BenchmarkPassThroughWrapped measures the same route behind the logout
// middleware: the difference is the cost of a request that is not a logout.
func BenchmarkPassThroughWrapped(b *testing.B) {
	fixture.Benchmark(b, helloApp(wrappedFiber(b)))
}

func TestPassThroughAddsNoAllocation(t *testing.T) {
	fixture.AssertNoExtraAllocs(t, helloApp(wrappedFiber(t)), helloApp(newFiber()), "bare fiber")
}

package ginlogout_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/oidc-logout/logout/adapters/conformance/fixture"
	ginlogout "github.com/oidc-logout/logout/adapters/gin"
)

// hello adds to r a route /hello answering 204 and returns a function
// that serves one request to it.
func hello(r *gin.Engine) func() {
	r.GET("/hello", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	return fixture.Hello(r)
}

func wrappedGin(tb testing.TB) *gin.Engine {
	r := gin.New()
	r.Use(ginlogout.Middleware(fixture.NewMiddleware(tb, fixture.NewStore(), "")))
	return r
}

// BenchmarkPassThroughBare measures a gin route without the middleware.
func BenchmarkPassThroughBare(b *testing.B) {
	fixture.Benchmark(b, hello(gin.New()))
}

// BenchmarkPassThroughWrapped measures the same route behind the logout
// middleware: the difference is the cost of a request that is not a logout.
func BenchmarkPassThroughWrapped(b *testing.B) {
	fixture.Benchmark(b, hello(wrappedGin(b)))
}

func TestPassThroughAddsNoAllocation(t *testing.T) {
	fixture.AssertNoExtraAllocs(t, hello(wrappedGin(t)), hello(gin.New()), "bare gin")
}

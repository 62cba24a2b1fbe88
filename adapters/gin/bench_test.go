package ginlogout_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	ginlogout "github.com/oidc-logout/logout/adapters/gin"
	"github.com/oidc-logout/logout/adapters/gin/internal/fixture"
)

func benchmarkPassThrough(b *testing.B, r *gin.Engine) {
	r.GET("/hello", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	req := httptest.NewRequest(http.MethodGet, "/hello", nil)
	w := &fixture.DiscardWriter{H: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		r.ServeHTTP(w, req)
	}
}

// BenchmarkPassThroughBare measures a gin route without the middleware.
func BenchmarkPassThroughBare(b *testing.B) {
	benchmarkPassThrough(b, gin.New())
}

// BenchmarkPassThroughWrapped measures the same route behind the logout
// middleware: the difference is the cost of a request that is not a logout.
func BenchmarkPassThroughWrapped(b *testing.B) {
	r := gin.New()
	r.Use(ginlogout.Middleware(fixture.NewMiddleware(b, fixture.NewStore(), "")))
	benchmarkPassThrough(b, r)
}

func TestPassThroughAddsNoAllocation(t *testing.T) {
	if fixture.RaceEnabled {
		t.Skip("the race detector changes allocations")
	}
	allocs := func(r *gin.Engine) float64 {
		r.GET("/hello", func(c *gin.Context) { c.Status(http.StatusNoContent) })
		req := httptest.NewRequest(http.MethodGet, "/hello", nil)
		w := &fixture.DiscardWriter{H: http.Header{}}
		return testing.AllocsPerRun(100, func() { r.ServeHTTP(w, req) })
	}
	wrapped := gin.New()
	wrapped.Use(ginlogout.Middleware(fixture.NewMiddleware(t, fixture.NewStore(), "")))
	if bare, got := allocs(gin.New()), allocs(wrapped); got > bare {
		t.Errorf("pass-through allocates %v times per request, bare gin %v", got, bare)
	}
}

package logout

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gorilla/sessions"
)

// benchWriter is a reusable ResponseWriter, so that benchmarks measure the
// handlers and not the recorder.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(status int)      { w.status = status }

func (w *benchWriter) reset() {
	clear(w.h)
	w.status = 0
}

func newBenchWriter() *benchWriter { return &benchWriter{h: make(http.Header)} }

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

func benchmarkHandler(b *testing.B, h http.Handler, r *http.Request) {
	w := newBenchWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
}

// BenchmarkPassThroughBare is the floor for BenchmarkPassThroughWrapped:
// the same handler without the middleware.
func BenchmarkPassThroughBare(b *testing.B) {
	benchmarkHandler(b, okHandler, httptest.NewRequest(http.MethodGet, "/dashboard", nil))
}

// BenchmarkPassThroughWrapped is a request that is not for the logout path.
func BenchmarkPassThroughWrapped(b *testing.B) {
	m := newTestMiddleware(b, newTestStore(), nil)
	benchmarkHandler(b, m.Wrap(okHandler), httptest.NewRequest(http.MethodGet, "/dashboard", nil))
}

// BenchmarkPassThroughBareStruct is the floor for
// BenchmarkPassThroughWrappedStruct: a handler that is a struct, not an
// http.HandlerFunc (a router, say).
func BenchmarkPassThroughBareStruct(b *testing.B) {
	benchmarkHandler(b, teapot{}, httptest.NewRequest(http.MethodGet, "/dashboard", nil))
}

// BenchmarkPassThroughWrappedStruct is the same handler behind Wrap, which
// then calls next through its ServeHTTP method.
func BenchmarkPassThroughWrappedStruct(b *testing.B) {
	m := newTestMiddleware(b, newTestStore(), nil)
	benchmarkHandler(b, m.Wrap(teapot{}), httptest.NewRequest(http.MethodGet, "/dashboard", nil))
}

// BenchmarkPassThroughAppPageCallback is a visit to the app's home page
// when "/" is also the post-logout callback: one scan of the query is
// added to the pass-through.
func BenchmarkPassThroughAppPageCallback(b *testing.B) {
	m := newTestMiddleware(b, newTestStore(), func(c *Config) { c.Providers[0].PostLogoutRedirectURI = testAppURL + "/" })
	benchmarkHandler(b, m.Wrap(okHandler), httptest.NewRequest(http.MethodGet, "/?tab=1&lang=de", nil))
}

// helloHandler is a small but real handler: a header and a short body.
var helloHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("hello"))
})

// BenchmarkPassThroughBareHello is the floor for
// BenchmarkPassThroughWrappedHello.
func BenchmarkPassThroughBareHello(b *testing.B) {
	benchmarkHandler(b, helloHandler, httptest.NewRequest(http.MethodGet, "/dashboard", nil))
}

// BenchmarkPassThroughWrappedHello is the same small handler behind the
// middleware: the wrapper's fixed cost against a handler that does work.
func BenchmarkPassThroughWrappedHello(b *testing.B) {
	m := newTestMiddleware(b, newTestStore(), nil)
	benchmarkHandler(b, m.Wrap(helloHandler), httptest.NewRequest(http.MethodGet, "/dashboard", nil))
}

// benchmarkLogout runs h on fresh copies of a logout request carrying a
// session cookie with an id_token. Each iteration needs a fresh request:
// gorilla caches decoded sessions in the request's context.
func benchmarkLogout(b *testing.B, store sessions.Store, h http.Handler) {
	proto := httptest.NewRequest(http.MethodGet, testAppURL+"/logout", nil)
	proto.Header.Set("Sec-Fetch-Site", "same-origin")
	proto.AddCookie(sessionCookie(b, store, map[any]any{"id_token": testIDToken, "name": "Ada Lovelace"}))
	w := newBenchWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		r := new(http.Request)
		*r = *proto
		h.ServeHTTP(w, r)
		if w.status != http.StatusFound {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkLogoutFloor is the least a hand-written logout handler does:
// load the session, expire it, save it, build the end-session query and
// redirect. It has no state cookie, no cross-site check, no return target.
func BenchmarkLogoutFloor(b *testing.B) {
	store := newTestStore()
	floor := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, testSessionName)
		idToken, _ := s.Values["id_token"].(string)
		s.Options.MaxAge = -1
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		q := url.Values{
			"id_token_hint":            {idToken},
			"post_logout_redirect_uri": {testPostLogout},
			"client_id":                {testClientID},
			"state":                    {"fixed-state"},
		}
		http.Redirect(w, r, testEndpoint+"&"+q.Encode(), http.StatusFound)
	})
	benchmarkLogout(b, store, floor)
}

// BenchmarkLogout is a full logout through the middleware.
func BenchmarkLogout(b *testing.B) {
	store := newTestStore()
	m := newTestMiddleware(b, store, nil)
	benchmarkLogout(b, store, m.Wrap(okHandler))
}

// BenchmarkBuildURL measures the end-session URL alone.
func BenchmarkBuildURL(b *testing.B) {
	p := Params{IDTokenHint: testIDToken, PostLogoutRedirectURI: testPostLogout, State: "0123456789abcdef0123456789abcdef0123456789a", ClientID: testClientID}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BuildURL(testEndpoint, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReturnToCheck measures the return-target policy on a typical path.
func BenchmarkReturnToCheck(b *testing.B) {
	p, err := newReturnToPolicy([]string{"https://trusted.com"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !p.allowed("/account/settings?tab=security") {
			b.Fatal("refused")
		}
	}
}

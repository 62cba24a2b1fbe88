// Package fiberlogout adapts the logout middleware of
// github.com/oidc-logout/logout to the fiber web framework (v2), which
// runs on fasthttp rather than net/http.
//
// Use Middleware on the app or on a group:
//
//	app := fiber.New()
//	app.Use(fiberlogout.Middleware(m))
//
// or mount Handler on routes:
//
//	app.All("/logout", fiberlogout.Handler(m))
//	app.Get("/logout/callback", fiberlogout.Handler(m))
//
// The paths in logout.Config are full request paths, group prefix
// included. Requests that are not a logout are passed on with c.Next
// after one comparison of c.Path(), without any conversion. A logout
// request is converted to an *http.Request for the session store, and
// the response, Set-Cookie headers included, is written back to fiber's
// response. The *http.Request handed to Config hooks carries
// c.UserContext() and must not be kept after the hook returns.
package fiberlogout

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/gofiber/fiber/v2"
	"github.com/oidc-logout/logout"
)

// Middleware returns a fiber middleware that serves the logout path and
// the callback path of m, and calls c.Next for every other request. Those
// are passed on unconverted after one path comparison, unless
// Config.SessionCheck is on and they carry the session cookie: then the
// session is checked, and a revoked one is expired and its cookie taken
// out of the request, so that the handlers after it see it signed out.
//
// A request to the callback path is served only when it is the
// provider's return (see logout.Middleware.Intercepts); any other, such as
// a visit to a callback that is also a page of the app, goes on with
// c.Next, after being converted once to find out.
func Middleware(m *logout.Middleware) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if m.Handles(c.Path()) {
			r, err := toHTTPRequest(c)
			if err != nil {
				return err
			}
			if m.Intercepts(r) {
				return serveRequest(m, c, r)
			}
		}
		if name := m.SessionCheckCookie(); name != "" && c.Cookies(name) != "" {
			if err := checkSession(m, c, name); err != nil {
				return err
			}
		}
		return c.Next()
	}
}

// Handler returns a fiber handler that serves m on a route: the callback
// when the request path is the callback path, a logout otherwise. Mount it
// with All on the logout route, so that methods other than GET and POST
// get 405 with an Allow header, and with Get on the callback route.
func Handler(m *logout.Middleware) fiber.Handler {
	return func(c *fiber.Ctx) error {
		return serve(m, c)
	}
}

// serve runs m on a net/http copy of the request and writes its response
// to fiber's response.
func serve(m *logout.Middleware, c *fiber.Ctx) error {
	r, err := toHTTPRequest(c)
	if err != nil {
		return err
	}
	return serveRequest(m, c, r)
}

// serveRequest runs m on r, the net/http copy of the request of c, and
// writes its response to fiber's response.
func serveRequest(m *logout.Middleware, c *fiber.Ctx, r *http.Request) error {
	w := &responseWriter{c: c, header: make(http.Header)}
	m.ServeHTTP(w, r)
	w.WriteHeader(http.StatusOK) // no-op unless nothing was written
	return nil
}

// checkSession runs m's session check on a net/http copy of the request.
// The check's Set-Cookie headers go to fiber's response; when the session
// was revoked, its cookie is deleted from fiber's request.
func checkSession(m *logout.Middleware, c *fiber.Ctx, name string) error {
	r, err := toHTTPRequest(c)
	if err != nil {
		return err
	}
	w := &responseWriter{c: c, header: make(http.Header)}
	if m.CheckSession(w, r) != r {
		c.Request().Header.DelCookie(name)
	}
	w.copyHeaders()
	return nil
}

// toHTTPRequest copies the request of c into a new *http.Request. Every
// string and the body are copied out of fasthttp's buffers, which are
// reused after the handler returns.
func toHTTPRequest(c *fiber.Ctx) (*http.Request, error) {
	fc := c.Context()
	requestURI := string(fc.RequestURI())
	u, err := url.ParseRequestURI(requestURI)
	if err != nil {
		return nil, fmt.Errorf("fiberlogout: request URI: %w", err)
	}
	body := bytes.Clone(fc.PostBody())
	r := &http.Request{
		Method:        string(fc.Method()),
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header),
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          string(fc.Host()),
		RemoteAddr:    fc.RemoteAddr().String(),
		RequestURI:    requestURI,
		TLS:           fc.TLSConnectionState(),
	}
	fc.Request.Header.VisitAll(func(k, v []byte) {
		switch key := string(k); key {
		case "Host", "Transfer-Encoding":
			// net/http keeps these out of Header.
		default:
			r.Header.Add(key, string(v))
		}
	})
	return r.WithContext(c.UserContext()), nil
}

// responseWriter is an http.ResponseWriter that writes to fiber's
// response. Headers are copied over at WriteHeader: each Set-Cookie is
// added, every other header replaces what earlier fiber handlers set, as
// it would on a net/http ResponseWriter.
type responseWriter struct {
	c           *fiber.Ctx
	header      http.Header
	wroteHeader bool
}

// Header returns the headers to send.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader sends the status and the headers; later calls do nothing.
func (w *responseWriter) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.copyHeaders()
	w.c.Status(status)
}

// copyHeaders copies the headers to fiber's response.
func (w *responseWriter) copyHeaders() {
	h := &w.c.Response().Header
	for k, vs := range w.header {
		for i, v := range vs {
			if i == 0 && k != "Set-Cookie" {
				h.Set(k, v)
			} else {
				h.Add(k, v)
			}
		}
	}
}

// Write appends b to the response body.
func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.c.Response().AppendBody(b)
	return len(b), nil
}

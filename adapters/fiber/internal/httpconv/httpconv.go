// Package httpconv holds what the fiber adapters (fiber v2 and v3, both
// on fasthttp) need of net/http: the copy of a request into an
// *http.Request for the logout middleware, an http.ResponseWriter that
// writes into the server's response, and the two calls of the middleware
// on them. It imports neither fiber nor fasthttp: each adapter hands over
// its request and response through the small interfaces below, which
// *fasthttp.RequestCtx and fasthttp's response types of every version
// satisfy.
//
// Each fiber adapter's module has its own copy of this package, so that
// neither module imports the other's internal packages; CI checks that the
// two copies are the same.
//
// Every string and the body are copied out of the server's buffers, which
// are reused once the handler returns: the middleware keeps some of them
// beyond the request (the sid of a front-channel logout, as a key in the
// ledger).
package httpconv

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"

	"github.com/oidc-logout/logout"
)

// Serve runs m on r, the net/http copy of a request, and writes its
// response with w.
func Serve(m *logout.Middleware, w *ResponseWriter, r *http.Request) {
	m.ServeHTTP(w, r)
	w.Finish()
}

// Dispatch runs m.Dispatch on r, the net/http copy of a request, and
// writes with w what it wrote: the whole response when m served r, or,
// for a request that goes on down the chain, the headers only (the
// Set-Cookie that expires an ended session). It reports whether m served
// r, and the names of the cookies of r that the rest of the chain must no
// longer see.
func Dispatch(m *logout.Middleware, w *ResponseWriter, r *http.Request) (served bool, dropped []string) {
	next := m.Dispatch(w, r)
	if next == nil {
		w.Finish()
		return true, nil
	}
	w.CopyHeaders()
	if next != r { // a copy without the cookie of a session that has ended
		for _, c := range r.Cookies() {
			if _, err := next.Cookie(c.Name); err != nil {
				dropped = append(dropped, c.Name)
			}
		}
	}
	return false, dropped
}

// Request is the request of a server that is not net/http, as
// *fasthttp.RequestCtx exposes it.
type Request interface {
	Method() []byte
	RequestURI() []byte
	Host() []byte
	PostBody() []byte
	RemoteAddr() net.Addr
	TLSConnectionState() *tls.ConnectionState
}

// NewRequest copies src, with the headers that headers yields, into a new
// *http.Request carrying ctx. Host and Transfer-Encoding are kept out of
// Header, as net/http does.
func NewRequest(ctx context.Context, src Request, headers iter.Seq2[[]byte, []byte]) (*http.Request, error) {
	requestURI := string(src.RequestURI())
	u, err := url.ParseRequestURI(requestURI)
	if err != nil {
		return nil, fmt.Errorf("logout: request URI: %w", err)
	}
	body := bytes.Clone(src.PostBody())
	r := &http.Request{
		Method:        string(src.Method()),
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header),
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          string(src.Host()),
		RemoteAddr:    src.RemoteAddr().String(),
		RequestURI:    requestURI,
		TLS:           src.TLSConnectionState(),
	}
	for k, v := range headers {
		switch key := string(k); key {
		case "Host", "Transfer-Encoding":
			// net/http keeps these out of Header.
		default:
			r.Header.Add(key, string(v))
		}
	}
	return r.WithContext(ctx), nil
}

// Response is the response of a server that is not net/http, as
// *fasthttp.Response exposes it.
type Response interface {
	SetStatusCode(status int)
	AppendBody(b []byte)
}

// Header is the header of Response, as *fasthttp.ResponseHeader exposes
// it.
type Header interface {
	Set(key, value string)
	Add(key, value string)
}

// ResponseWriter is an http.ResponseWriter that writes to a Response.
// Headers are copied over at WriteHeader: each Set-Cookie is added, every
// other header replaces what earlier handlers set, as it would on a
// net/http ResponseWriter.
type ResponseWriter struct {
	resp        Response
	dst         Header
	header      http.Header
	wroteHeader bool
}

// NewResponseWriter returns a ResponseWriter that writes to resp, whose
// header is h.
func NewResponseWriter(resp Response, h Header) *ResponseWriter {
	return &ResponseWriter{resp: resp, dst: h, header: make(http.Header)}
}

// Header returns the headers to send.
func (w *ResponseWriter) Header() http.Header { return w.header }

// WriteHeader sends the status and the headers; later calls do nothing.
func (w *ResponseWriter) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.CopyHeaders()
	w.resp.SetStatusCode(status)
}

// CopyHeaders copies the headers to the response without sending a
// status, for a handler that goes on down the chain.
func (w *ResponseWriter) CopyHeaders() {
	for k, vs := range w.header {
		for i, v := range vs {
			if i == 0 && k != "Set-Cookie" {
				w.dst.Set(k, v)
			} else {
				w.dst.Add(k, v)
			}
		}
	}
}

// Write appends b to the response body.
func (w *ResponseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.resp.AppendBody(b)
	return len(b), nil
}

// Finish sends 200 if nothing was written, as net/http does when a
// handler returns without writing.
func (w *ResponseWriter) Finish() { w.WriteHeader(http.StatusOK) }

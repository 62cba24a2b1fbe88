package logout

import (
	"fmt"
	"net/http"
	"strings"
)

// checkCrossSite refuses cross-site requests to the logout path, so that a
// third-party page cannot log users out. It follows the rules of Go's
// http.CrossOriginProtection, applied to every method, GET included:
// Sec-Fetch-Site "same-origin" or "none" passes; any other value is refused
// unless Origin is trusted; without Sec-Fetch-Site, an Origin whose host is
// not the request's host is refused unless trusted; a request with neither
// header (a non-browser client, or an old browser) passes.
func (m *Middleware) checkCrossSite(r *http.Request) error {
	if m.allowCrossSite {
		return nil
	}
	origin := r.Header.Get("Origin")
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return nil
	case "":
		if origin == "" || strings.EqualFold(originHost(origin), r.Host) {
			return nil
		}
	}
	if m.isTrusted(origin) {
		return nil
	}
	if isNavigation(r) {
		return fmt.Errorf("%w: %w", ErrCrossSite, ErrCrossSiteNavigation)
	}
	return ErrCrossSite
}

// isNavigation reports whether r is a top-level GET navigation: a link
// followed or a URL typed, as opposed to a form post, an image, a frame
// or a script's fetch.
func isNavigation(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Mode") == "navigate" &&
		r.Header.Get("Sec-Fetch-Dest") == "document"
}

func (m *Middleware) isTrusted(origin string) bool {
	_, ok := m.trusted[strings.ToLower(origin)]
	return ok
}

// originHost returns the host[:port] of an http or https Origin header
// value ("https://app.example.com:8443"), or "" for anything else: a
// missing or other scheme, "null", or a value with a path or userinfo.
func originHost(origin string) string {
	scheme, host, ok := strings.Cut(origin, "://")
	if !ok || !(strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http")) ||
		strings.ContainsAny(host, "/?#@") {
		return ""
	}
	return host
}

// isPrefetch reports whether r is a speculative prefetch or prerender
// (Sec-Purpose: prefetch, or the older Purpose and X-Moz headers). A
// browser that prefetches a logout link must not log the user out.
func isPrefetch(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Sec-Purpose"), "prefetch") ||
		r.Header.Get("Purpose") == "prefetch" || r.Header.Get("X-Moz") == "prefetch"
}

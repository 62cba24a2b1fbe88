package logout

import (
	"fmt"
	"net/http"
	"strings"
)

// checkCrossSite refuses cross-origin requests to the logout path with
// Config.CrossOriginProtection, so that a third-party page cannot log
// users out. A logout changes state whatever its method, so a GET or HEAD
// is checked as if it were a POST (http.CrossOriginProtection lets safe
// methods through). A refused top-level GET navigation wraps
// ErrCrossSiteNavigation too.
func (m *Middleware) checkCrossSite(r *http.Request) error {
	asUnsafe := r
	if r.Method != http.MethodPost {
		shallow := *r
		shallow.Method = http.MethodPost
		asUnsafe = &shallow
	}
	if m.crossOrigin.Check(asUnsafe) == nil {
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

// isPrefetch reports whether r is a speculative prefetch or prerender
// (Sec-Purpose: prefetch, or the older Purpose and X-Moz headers). A
// browser that prefetches a logout link must not log the user out.
func isPrefetch(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Sec-Purpose"), "prefetch") ||
		r.Header.Get("Purpose") == "prefetch" || r.Header.Get("X-Moz") == "prefetch"
}

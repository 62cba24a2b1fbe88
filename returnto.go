package logout

import (
	"fmt"
	"net/url"
	"strings"
)

// maxReturnToLen bounds the length of a return target.
const maxReturnToLen = 2048

// returnToPolicy decides which return targets the logout path accepts: paths
// on the same origin, and absolute URLs on an allowlisted origin.
type returnToPolicy struct {
	origins map[string]struct{} // "https://host[:port]", lower case
}

// newReturnToPolicy validates the allowlist of absolute origins.
func newReturnToPolicy(origins []string) (returnToPolicy, error) {
	p := returnToPolicy{origins: make(map[string]struct{}, len(origins))}
	for _, o := range origins {
		norm, err := normalizeOrigin(o)
		if err != nil {
			return p, err
		}
		p.origins[norm] = struct{}{}
	}
	return p, nil
}

// normalizeOrigin checks that o is "scheme://host[:port]" with an http(s)
// scheme, and returns it in lower case.
func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", fmt.Errorf("origin %q: %w", o, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "%") {
		return "", fmt.Errorf("origin %q: want scheme://host[:port]", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// allowed reports whether target is a safe place to send the browser: a
// path on the same origin ("/account?tab=1"), or an absolute http(s) URL on
// an allowlisted origin. Everything else is refused: scheme-relative
// ("//evil.com") and backslash forms, other schemes, userinfo, control
// characters, bytes outside printable ASCII, and percent-encoded variants of
// any of these.
func (p returnToPolicy) allowed(target string) bool {
	if target == "" || len(target) > maxReturnToLen || !printableASCII(target) {
		return false
	}
	decoded, ok := unescapeFully(target)
	if !ok {
		return false
	}
	switch {
	case target[0] == '/':
		return sameOriginPath(target) && !hasSchemeRelativePrefix(decoded)
	case strings.HasPrefix(target, "https://"), strings.HasPrefix(target, "http://"):
		return p.allowedAbsolute(target)
	default:
		return false
	}
}

// sameOriginPath reports whether s is a path that a browser resolves on the
// current origin: it starts with one slash, not "//" or "/\".
func sameOriginPath(s string) bool {
	if len(s) == 0 || s[0] != '/' || hasSchemeRelativePrefix(s) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}

// hasSchemeRelativePrefix reports whether s starts like a scheme-relative
// URL ("//host" or "/\host"), which browsers resolve on another host.
func hasSchemeRelativePrefix(s string) bool {
	return len(s) > 1 && (s[0] == '/' || s[0] == '\\') && (s[1] == '/' || s[1] == '\\')
}

func (p returnToPolicy) allowedAbsolute(target string) bool {
	u, err := url.Parse(target)
	if err != nil || u.User != nil || u.Host == "" || u.Opaque != "" || strings.Contains(u.Host, "%") {
		return false
	}
	_, ok := p.origins[strings.ToLower(u.Scheme+"://"+u.Host)]
	return ok
}

// printableASCII reports whether s holds only bytes from '!' to '~' other
// than the backslash: no spaces, controls or non-ASCII.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '\\' {
			return false
		}
	}
	return true
}

// unescapeFully percent-decodes s until it stops changing (at most a few
// rounds), refusing any round that is malformed or reveals a control
// character or a backslash. It returns the last decoded form.
func unescapeFully(s string) (string, bool) {
	for range 4 {
		if !strings.Contains(s, "%") {
			return s, true
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return "", false
		}
		for i := 0; i < len(d); i++ {
			if c := d[i]; c < ' ' || c == 0x7f || c == '\\' {
				return "", false
			}
		}
		if d == s {
			return s, true
		}
		s = d
	}
	return "", false // still encoded after several rounds: refuse
}

package logout

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"
)

// stateCookie issues and expires the cookie that carries a logout's state
// and return target from the logout path to the callback. Its value is
// "state.base64url(returnTo)". It needs no signature: the state is compared
// with the one the provider sends back, and the return target is checked
// against the return-target policy again at the callback.
type stateCookie struct {
	name, path, domain string
	maxAge             int // seconds
	secure             bool
}

func newStateCookie(cfg StateCookieConfig, secure bool) (stateCookie, error) {
	c := stateCookie{
		name:   orDefault(cfg.Name, "logout_state"),
		path:   orDefault(cfg.Path, "/"),
		domain: cfg.Domain,
		maxAge: int(cfg.MaxAge / time.Second),
		secure: secure,
	}
	if cfg.MaxAge == 0 {
		c.maxAge = int((10 * time.Minute) / time.Second)
	}
	if c.maxAge <= 0 {
		return c, errors.New("Config.StateCookie.MaxAge must be at least one second")
	}
	if !isCookieName(c.name) {
		return c, errors.New("Config.StateCookie.Name is not a valid cookie name")
	}
	if strings.HasPrefix(c.name, "__Host-") && (!secure || c.domain != "" || c.path != "/") {
		return c, errors.New("Config.StateCookie.Name: a __Host- cookie needs an https PostLogoutRedirectURI, no Domain and Path \"/\"")
	}
	return c, nil
}

func (c stateCookie) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     c.name,
		Value:    value,
		Path:     c.path,
		Domain:   c.domain,
		MaxAge:   maxAge,
		Secure:   c.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// issue returns the cookie for a new logout.
func (c stateCookie) issue(state, returnTo string) *http.Cookie {
	return c.cookie(state+"."+base64.RawURLEncoding.EncodeToString([]byte(returnTo)), c.maxAge)
}

// marker returns an empty cookie that lives one second, named after the
// state cookie with "_end" added, for a logout that sets no state cookie.
// Chromium keeps no-store pages in its back/forward cache and evicts them
// when a response sets a cookie they can see, but not when one only
// deletes a cookie (as the logout does with the session cookie): without
// it, Back would show the signed-in page again. Without a callback (c is
// then the zero value) it takes the default name and path, not Secure.
func (c stateCookie) marker() *http.Cookie {
	m := c.cookie("", 1)
	m.Name, m.Path = orDefault(c.name, "logout_state")+"_end", orDefault(c.path, "/")
	return m
}

// expire returns a cookie that deletes the state cookie.
func (c stateCookie) expire() *http.Cookie {
	return c.cookie("", -1)
}

// parseStateCookie splits a state cookie value into state and return target.
func parseStateCookie(v string) (state, returnTo string, ok bool) {
	state, enc, ok := strings.Cut(v, ".")
	if !ok || state == "" {
		return "", "", false
	}
	rt, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", "", false
	}
	return state, string(rt), true
}

// isCookieName reports whether s is a valid cookie name (an RFC 7230 token).
func isCookieName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

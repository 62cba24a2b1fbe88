package logout

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// stateCookie issues and expires the cookie that carries a logout's state
// and return target from the logout path to the callback. Its value is
// "state.base64url(returnTo)". It needs no signature: the state is compared
// with the one the provider sends back, and the return target is checked
// against the return-target policy again at the callback.
//
// It is host-only, on path "/" (its deletion at the callback must be
// visible to the app's signed-in pages: Chromium evicts a page from its
// back/forward cache when a cookie the page can see changes), HttpOnly,
// SameSite=Lax (the provider sends the browser back with a cross-site
// top-level navigation that must carry it), and lives 10 minutes. When
// every post-logout redirect URI is https it is Secure and named
// "__Host-logout_state", a name only a secure, host-only cookie on "/"
// can have; otherwise (local development over http) "logout_state".
type stateCookie struct {
	name   string
	maxAge int // seconds
	secure bool
}

// stateCookieMaxAge is how long a logout may take at the provider.
const stateCookieMaxAge = 10 * time.Minute

func newStateCookie(secure bool) stateCookie {
	c := stateCookie{name: "logout_state", maxAge: int(stateCookieMaxAge / time.Second), secure: secure}
	if secure {
		c.name = "__Host-logout_state"
	}
	return c
}

func (c stateCookie) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     c.name,
		Value:    value,
		Path:     "/",
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
// then the zero value) it takes the default name, and is not Secure.
func (c stateCookie) marker() *http.Cookie {
	m := c.cookie("", 1)
	m.Name = orDefault(c.name, "logout_state") + "_end"
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

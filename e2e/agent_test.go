package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// agent is a small stand-in for a browser: a cookie jar, redirects followed
// one hop at a time so that every hop can be inspected, and the Fetch
// metadata headers (Sec-Fetch-Site, Sec-Fetch-Mode, Origin) a browser sends
// on top-level navigations, which the logout path checks.
type agent struct {
	t      *testing.T
	jar    *cookiejar.Jar
	client *http.Client
}

// hop is one request of a navigation and the response it got.
type hop struct {
	Method   string
	URL      *url.URL
	SiteHdr  string // the Sec-Fetch-Site header sent
	Status   int
	Header   http.Header
	Location *url.URL // resolved Location of a redirect, nil otherwise
}

// page is where a navigation ended, and how it got there.
type page struct {
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
	Hops   []hop
}

// trace lists the hops of the navigation, one a line, without query
// strings (they may carry tokens).
func (p page) trace() string {
	var b strings.Builder
	for _, h := range p.Hops {
		fmt.Fprintf(&b, "%s %s [Sec-Fetch-Site: %s] -> %d\n", h.Method, where(h.URL), h.SiteHdr, h.Status)
	}
	return b.String()
}

// maxHops bounds a redirect chain, as browsers do.
const maxHops = 20

func newAgent(t *testing.T) *agent {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &agent{
		t:   t,
		jar: jar,
		client: &http.Client{
			Jar:     jar,
			Timeout: 15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// open navigates to target as if the user typed it (Sec-Fetch-Site: none).
func (a *agent) open(target string) page {
	a.t.Helper()
	return a.navigate(nav{Method: http.MethodGet, Target: target})
}

// nav describes a navigation.
type nav struct {
	// From is the URL of the page that starts the navigation (a link click
	// or a form submission); nil means the user typed Target.
	From   *url.URL
	Method string
	Target string
	Form   url.Values // POST body, form-encoded
	// StopAt, when set, ends the navigation at the first redirect whose
	// Location it accepts, without following it.
	StopAt func(*url.URL) bool
}

// navigate sends the request and follows redirects by hand.
func (a *agent) navigate(n nav) page {
	a.t.Helper()
	initiator, method, target, form := n.From, n.Method, n.Target, n.Form
	u, err := url.Parse(target)
	require.NoError(a.t, err, "navigation target")
	if initiator != nil {
		u = initiator.ResolveReference(u)
	}
	var hops []hop
	site := ""
	for range maxHops {
		site = fetchSite(site, initiator, u)
		resp := a.do(method, u, site, initiator, form)
		h := hop{Method: method, URL: u, SiteHdr: site, Status: resp.StatusCode, Header: resp.Header}
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || loc == "" {
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			require.NoError(a.t, err, "reading %s", where(u))
			require.NoError(a.t, resp.Body.Close())
			hops = append(hops, h)
			return page{URL: u, Status: resp.StatusCode, Header: resp.Header, Body: string(body), Hops: hops}
		}
		require.NoError(a.t, resp.Body.Close())
		next, err := u.Parse(loc)
		require.NoError(a.t, err, "Location of %s", where(u))
		h.Location = next
		hops = append(hops, h)
		if n.StopAt != nil && n.StopAt(next) {
			return page{URL: u, Status: resp.StatusCode, Header: resp.Header, Hops: hops}
		}
		if resp.StatusCode != http.StatusTemporaryRedirect && resp.StatusCode != http.StatusPermanentRedirect {
			method, form = http.MethodGet, nil
		}
		u = next
	}
	a.t.Fatalf("more than %d redirects from %s", maxHops, where(u))
	return page{}
}

func (a *agent) do(method string, u *url.URL, site string, initiator *url.URL, form url.Values) *http.Response {
	a.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u.String(), body)
	require.NoError(a.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost && initiator != nil {
		req.Header.Set("Origin", origin(initiator))
	}
	req.Header.Set("Sec-Fetch-Site", site)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := a.client.Do(req)
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // its text would repeat the URL, query and tokens included
	}
	require.NoError(a.t, err, "%s %s", method, where(u))
	return resp
}

// cookie returns the cookie named name that the jar would send to rawURL.
func (a *agent) cookie(rawURL, name string) (*http.Cookie, bool) {
	a.t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(a.t, err)
	for _, c := range a.jar.Cookies(u) {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// fetchSite returns the Sec-Fetch-Site value of the next hop of a
// navigation: "none" for one the user started, otherwise the weakest
// relation between the initiator and every URL of the chain so far.
func fetchSite(prev string, initiator, u *url.URL) string {
	if initiator == nil {
		return "none"
	}
	rel := "cross-site"
	switch {
	case origin(initiator) == origin(u):
		rel = "same-origin"
	case initiator.Scheme == u.Scheme && hostOnly(initiator) == hostOnly(u):
		rel = "same-site"
	}
	rank := map[string]int{"": 0, "same-origin": 1, "same-site": 2, "cross-site": 3}
	if rank[prev] > rank[rel] {
		return prev
	}
	return rel
}

// hostOnly returns the host of u without port. The test hosts are
// "localhost" and "127.0.0.1", each its own site.
func hostOnly(u *url.URL) string {
	host, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		return u.Host
	}
	return host
}

// where returns u without its query and fragment, for messages: the
// queries of the logout flow carry tokens, which are never logged.
func where(u *url.URL) string {
	return origin(u) + u.EscapedPath()
}

// origin returns scheme://host[:port] of u.
func origin(u *url.URL) string {
	return u.Scheme + "://" + u.Host
}

func TestFetchSite(t *testing.T) {
	parse := func(s string) *url.URL {
		u, err := url.Parse(s)
		require.NoError(t, err)
		return u
	}
	app := parse("http://127.0.0.1:8080/")
	tests := []struct {
		name      string
		prev      string
		initiator *url.URL
		target    string
		want      string
	}{
		{"typed URL", "", nil, "http://127.0.0.1:8080/logout", "none"},
		{"same origin", "", app, "http://127.0.0.1:8080/logout", "same-origin"},
		{"other port", "", app, "http://127.0.0.1:9090/", "same-site"},
		{"other host", "", app, "http://localhost:8080/", "cross-site"},
		{"other scheme", "", app, "https://127.0.0.1:8080/", "cross-site"},
		{"back from a cross-site hop", "cross-site", app, "http://127.0.0.1:8080/", "cross-site"},
		{"same-site hop taints", "same-site", app, "http://127.0.0.1:8080/", "same-site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, fetchSite(tt.prev, tt.initiator, parse(tt.target)))
		})
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// browser is what the flows that run in both Chromium and Firefox need of
// a browser: each engine drives it with its own protocol (the DevTools
// protocol for Chromium, WebDriver BiDi for Firefox).
type browser interface {
	// Name is the engine's name, for messages.
	Name() string
	// Open navigates the tab to rawURL and waits for the page to load.
	Open(rawURL string)
	// Eval evaluates a JavaScript expression in the page and decodes its
	// value into out (unless nil), trying again while a navigation
	// replaces the page.
	Eval(expr string, out any)
	// Cookie returns the value of the cookie called name that the browser
	// would send to rawURL (HttpOnly cookies included), and whether there
	// is one.
	Cookie(rawURL, name string) (string, bool)
	// GoBack goes back steps entries in the tab's history, as the Back
	// button (or its list of pages) does, without waiting.
	GoBack(steps int)
}

// pageshowRecorder is the tests' own instrumentation, added to every
// document before its scripts run (the app's pages have none): it records
// the persisted flag of each pageshow event, which is true when the
// browser restored the page from its back/forward cache.
const pageshowRecorder = `window.addEventListener("pageshow", e => { (window.__pageshows ||= []).push(e.persisted) })`

// browserEngine starts a browser for a test.
type browserEngine struct {
	name  string
	start func(t *testing.T) browser
}

// browserEngines returns Chromium and Firefox. Each skips the test when
// its browser is missing, or fails it when CI=true.
func browserEngines() []browserEngine {
	return []browserEngine{
		{"Chromium", func(t *testing.T) browser { return newChromeBrowser(t, startChromium(t, findChromium(t))) }},
		{"Firefox", func(t *testing.T) browser { return startFirefox(t, findFirefox(t)) }},
	}
}

// chromeBrowser drives Chromium through chromedp.
type chromeBrowser struct {
	t   *testing.T
	ctx context.Context
}

func newChromeBrowser(t *testing.T, ctx context.Context) *chromeBrowser {
	t.Helper()
	_, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument,
		cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: pageshowRecorder})
	require.NoError(t, err)
	return &chromeBrowser{t: t, ctx: ctx}
}

func (c *chromeBrowser) Name() string { return "Chromium" }

func (c *chromeBrowser) Open(rawURL string) {
	c.t.Helper()
	chromeDo(c.t, c.ctx, chromedp.Navigate(rawURL))
}

func (c *chromeBrowser) Eval(expr string, out any) {
	c.t.Helper()
	var err error
	for deadline := time.Now().Add(eventWait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var v json.RawMessage
		if v, err = chromedp.Run(c.ctx, chromedp.Evaluate[json.RawMessage](expr)); err != nil {
			continue
		}
		if out != nil {
			require.NoError(c.t, json.Unmarshal(v, out), "value of %q", expr)
		}
		return
	}
	c.t.Fatalf("evaluating %q: %v", expr, err)
}

func (c *chromeBrowser) Cookie(rawURL, name string) (string, bool) {
	c.t.Helper()
	return chromeCookie(c.t, c.ctx, rawURL, name)
}

func (c *chromeBrowser) GoBack(steps int) {
	c.t.Helper()
	hist, err := chromedp.Call(c.ctx, cdppage.GetNavigationHistory, cdp.Empty{})
	require.NoError(c.t, err)
	require.GreaterOrEqual(c.t, int(hist.CurrentIndex), steps)
	_, err = chromedp.Call(c.ctx, cdppage.NavigateToHistoryEntry,
		cdppage.NavigateToHistoryEntryParams{EntryID: hist.Entries[int(hist.CurrentIndex)-steps].ID})
	require.NoError(c.t, err)
}

func (f *firefox) Name() string { return "Firefox" }

func (f *firefox) Open(rawURL string) {
	f.t.Helper()
	f.call("browsingContext.navigate", map[string]any{"context": f.context, "url": rawURL, "wait": "complete"}, nil)
}

func (f *firefox) Eval(expr string, out any) {
	f.t.Helper()
	f.eval(expr, out)
}

func (f *firefox) Cookie(rawURL, name string) (string, bool) {
	f.t.Helper()
	return f.cookie(rawURL, name)
}

func (f *firefox) GoBack(steps int) {
	f.t.Helper()
	// Not awaited: a traversal that restores a page from the
	// back/forward cache and one that fetches it again end differently.
	go func() {
		_, _ = f.send("browsingContext.traverseHistory", map[string]any{"context": f.context, "delta": -steps})
	}()
}

// The helpers below drive any browser.

// waitPage waits until the tab shows a loaded page whose address until
// accepts, and returns that address. A navigation may go through several
// pages (a provider's page that redirects by script, say): it waits for
// the one it is told.
func waitPage(t *testing.T, b browser, until func(string) bool) string {
	t.Helper()
	var last string
	for deadline := time.Now().Add(eventWait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var st struct {
			Href  string `json:"href"`
			Ready string `json:"ready"`
		}
		b.Eval(`({href: location.href, ready: document.readyState})`, &st)
		last = st.Href
		if st.Ready == "complete" && until(st.Href) {
			return st.Href
		}
	}
	t.Fatalf("%s: the expected page did not load within %s; the tab shows %s", b.Name(), eventWait, redactQueries([]string{last}))
	return ""
}

// at returns a predicate accepting exactly want.
func at(want string) func(string) bool {
	return func(u string) bool { return u == want }
}

// onHost returns a predicate accepting any address on host (a host name
// with its port, as in a URL).
func onHost(hostport string) func(string) bool {
	return func(u string) bool {
		return strings.HasPrefix(u, "http://"+hostport+"/")
	}
}

// click clicks the element with the given id.
func click(t *testing.T, b browser, id string) {
	t.Helper()
	clickCSS(t, b, "[id="+jsString(id)+"]")
}

// clickCSS clicks the first element that the CSS selector matches.
func clickCSS(t *testing.T, b browser, selector string) {
	t.Helper()
	var ok bool
	b.Eval(`(() => { const e = document.querySelector(`+jsString(selector)+`); if (!e) return false; e.click(); return true })()`, &ok)
	require.True(t, ok, "%s: nothing matches %s on the page", b.Name(), selector)
}

// fill sets the value of the input with the given id.
func fill(t *testing.T, b browser, id, value string) {
	t.Helper()
	fillCSS(t, b, "[id="+jsString(id)+"]", value)
}

// fillCSS sets the value of the first input that the CSS selector matches.
func fillCSS(t *testing.T, b browser, selector, value string) {
	t.Helper()
	var ok bool
	b.Eval(`(() => { const e = document.querySelector(`+jsString(selector)+`); if (!e) return false; e.value = `+jsString(value)+`; return true })()`, &ok)
	require.True(t, ok, "%s: no input matches %s on the page", b.Name(), selector)
}

// textOf returns the trimmed text of the element with the given id, or ""
// when there is none.
func textOf(b browser, id string) string {
	var s string
	b.Eval(`(document.getElementById(`+jsString(id)+`)?.textContent ?? "").trim()`, &s)
	return s
}

// bodyHTML returns the HTML of the page's body.
func bodyHTML(b browser) string {
	var s string
	b.Eval(`document.body.outerHTML`, &s)
	return s
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// backResult is what Back did.
type backResult struct {
	// Restored: the page came back from the back/forward cache (its
	// latest pageshow event had persisted: true).
	Restored bool
	// Status is the text of the page's #status.
	Status string
}

// goBack goes back steps entries and waits for the page at want to show a
// status, restored or fetched again. A restored page has had two pageshow
// events, the last one persisted; a page fetched again has had one, not
// persisted, and is read twice, a moment apart, in case the restore's
// event was still to come.
func goBack(t *testing.T, b browser, steps int, want string) backResult {
	t.Helper()
	b.GoBack(steps)
	waitPage(t, b, at(want))
	stable := 0
	for deadline := time.Now().Add(eventWait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var st struct {
			Shows  []bool `json:"shows"`
			Status string `json:"status"`
		}
		b.Eval(`({shows: window.__pageshows ?? [], status: (document.getElementById("status")?.textContent ?? "").trim()})`, &st)
		if len(st.Shows) == 0 || st.Status == "" {
			continue
		}
		r := backResult{Restored: st.Shows[len(st.Shows)-1], Status: st.Status}
		if r.Restored {
			return r
		}
		if stable++; stable == 3 {
			return r
		}
	}
	t.Fatalf("%s: no pageshow after Back", b.Name())
	return backResult{}
}

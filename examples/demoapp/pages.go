package demoapp

import (
	"html/template"
	"log/slog"
	"net/http"
)

// homePage is what the home page shows.
type homePage struct {
	SignedIn         bool
	Name, Sub, Email string
	JustSignedOut    bool
	// MoreProviders numbers the providers after the first (2, 3, ...),
	// each signed in at /login?provider=N.
	MoreProviders []int
}

// home shows the signed-in or signed-out state. It is never cached: after
// logout, Back must not show the signed-in page.
func (a *App) home(w http.ResponseWriter, r *http.Request) {
	page := homePage{JustSignedOut: r.URL.Query().Get("signed_out") == "1"}
	for n := 2; n <= len(a.idps); n++ {
		page.MoreProviders = append(page.MoreProviders, n)
	}
	// A cookie that cannot be decoded means signed out.
	if sess, err := a.store.Get(r, SessionName); err == nil {
		idToken, _ := sess.Values[keyIDToken].(string)
		page.SignedIn = idToken != ""
		page.Sub, _ = sess.Values[keySubject].(string)
		page.Name, _ = sess.Values[keyName].(string)
		page.Email, _ = sess.Values[keyEmail].(string)
		if page.Name == "" {
			page.Name = page.Sub
		}
	}
	render(w, http.StatusOK, homeTmpl, page)
}

// fail logs err and shows it on an error page.
func (a *App) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	a.logger.LogAttrs(r.Context(), slog.LevelWarn, "demoapp: request failed",
		slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	render(w, status, errorTmpl, err.Error())
}

func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'")
	w.WriteHeader(status)
	_ = t.Execute(w, data)
}

// reloadScript reloads a page that the browser restored from its
// back/forward cache instead of fetching it: such a page can show a
// signed-in state that ended since.
const reloadScript = `window.addEventListener("pageshow", function (event) {
  if (event.persisted) {
    window.location.reload();
  }
});
`

func serveReloadScript(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(reloadScript))
}

const layoutStyle = `<style>
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; }
#status { font-size: 1.25rem; }
.notice { background: #e8f5e9; padding: .5rem 1rem; border-radius: .25rem; }
dt { font-weight: bold; }
button { font-size: 1rem; padding: .4rem 1rem; }
</style>`

var homeTmpl = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Logout demo</title>` + layoutStyle + `
{{if .SignedIn}}<script src="/assets/reload-on-restore.js"></script>{{end}}
</head>
<body>
<h1>OpenID Connect logout demo</h1>
{{if .JustSignedOut}}<p class="notice" id="notice">You have been signed out of this app and of the provider.</p>{{end}}
{{if .SignedIn}}
<p id="status">Signed in as <strong id="name">{{.Name}}</strong></p>
<dl>
<dt>Subject (sub)</dt><dd id="sub">{{.Sub}}</dd>
{{if .Email}}<dt>Email</dt><dd id="email">{{.Email}}</dd>{{end}}
</dl>
<form method="post" action="/logout">
<input type="hidden" name="return_to" value="/?signed_out=1">
<button id="logout" type="submit">Log out</button>
</form>
<p>Or log out with a plain link: <a id="logout-link" href="/logout">/logout</a>.</p>
{{else}}
<p id="status">Signed out</p>
<p><a id="login" href="/login">Log in</a></p>
{{range .MoreProviders}}<p><a id="login-{{.}}" href="/login?provider={{.}}">Log in with provider {{.}}</a></p>
{{end}}{{end}}
</body>
</html>
`))

var errorTmpl = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Error - logout demo</title>` + layoutStyle + `</head>
<body>
<h1>Something went wrong</h1>
<p id="error">{{.}}</p>
<p><a href="/">Back to the home page</a></p>
</body>
</html>
`))

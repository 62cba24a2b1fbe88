package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// htmlForm is a <form> of a page as a browser would submit it.
type htmlForm struct {
	ID     string
	Action *url.URL // resolved against the page URL
	Method string   // GET or POST
	Fields url.Values
	Types  map[string]string // input type by field name
	// Submitters are the named submit buttons of the form, including
	// buttons outside it that point at it with form="id".
	Submitters []submitter
}

// submitter is a named submit button.
type submitter struct {
	Name, Value, Label string
}

// submission returns the fields the form sends when submitted with the
// given values filled in, and the named submit button pressed (if any).
func (f htmlForm) submission(fill map[string]string, button string) (url.Values, error) {
	v := url.Values{}
	for k, vs := range f.Fields {
		v[k] = append([]string(nil), vs...)
	}
	for k, val := range fill {
		if _, ok := f.Types[k]; !ok {
			return nil, fmt.Errorf("form %q has no field %q", f.ID, k)
		}
		v.Set(k, val)
	}
	if button == "" {
		return v, nil
	}
	for _, s := range f.Submitters {
		if s.Name == button {
			v.Set(s.Name, s.Value)
			return v, nil
		}
	}
	return nil, fmt.Errorf("form %q has no submit button %q", f.ID, button)
}

// hasInputType reports whether the form has an input of the given type.
func (f htmlForm) hasInputType(typ string) bool {
	for _, t := range f.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// parseForms returns the forms of an HTML page at base.
func parseForms(body string, base *url.URL) ([]htmlForm, error) {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parsing HTML of %s: %w", where(base), err)
	}
	p := formParser{base: base, byID: map[string]int{}}
	p.walk(doc, -1)
	for _, o := range p.outside {
		if i, ok := p.byID[o.formID]; ok {
			p.forms[i].Submitters = append(p.forms[i].Submitters, o.submitter)
		}
	}
	return p.forms, nil
}

type formParser struct {
	base    *url.URL
	forms   []htmlForm
	byID    map[string]int
	outside []struct {
		formID string
		submitter
	}
}

// walk visits n; form is the index of the enclosing form, or -1.
func (p *formParser) walk(n *html.Node, form int) {
	if n.Type == html.ElementNode {
		switch n.Data {
		case "form":
			form = p.addForm(n)
		case "input", "button":
			p.addControl(n, form)
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		p.walk(c, form)
	}
}

func (p *formParser) addForm(n *html.Node) int {
	action, err := p.base.Parse(attr(n, "action"))
	if err != nil {
		action = p.base
	}
	method := strings.ToUpper(attr(n, "method"))
	if method != http.MethodPost {
		method = http.MethodGet
	}
	f := htmlForm{ID: attr(n, "id"), Action: action, Method: method, Fields: url.Values{}, Types: map[string]string{}}
	p.forms = append(p.forms, f)
	if f.ID != "" {
		p.byID[f.ID] = len(p.forms) - 1
	}
	return len(p.forms) - 1
}

func (p *formParser) addControl(n *html.Node, form int) {
	name := attr(n, "name")
	typ := strings.ToLower(attr(n, "type"))
	if n.Data == "button" && typ == "" {
		typ = "submit"
	}
	if typ == "" {
		typ = "text"
	}
	if owner := attr(n, "form"); owner != "" {
		if typ == "submit" && name != "" {
			p.outside = append(p.outside, struct {
				formID string
				submitter
			}{owner, submitter{Name: name, Value: attr(n, "value"), Label: text(n)}})
		}
		return
	}
	if form < 0 || name == "" {
		return
	}
	f := &p.forms[form]
	switch typ {
	case "submit", "image":
		f.Submitters = append(f.Submitters, submitter{Name: name, Value: attr(n, "value"), Label: text(n)})
	case "checkbox", "radio":
		f.Types[name] = typ
		if _, checked := attrOK(n, "checked"); checked {
			f.Fields.Add(name, orOn(attr(n, "value")))
		}
	default:
		f.Types[name] = typ
		f.Fields.Add(name, attr(n, "value"))
	}
}

func orOn(v string) string {
	if v == "" {
		return "on"
	}
	return v
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val, true
		}
	}
	return "", false
}

// text returns the text content of n, trimmed.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

func TestParseForms(t *testing.T) {
	base, err := url.Parse("http://localhost:8080/session/end?x=1")
	require.NoError(t, err)
	const body = `<!doctype html><html><body>
<form id="op.logoutForm" method="post" action="/session/end/confirm">
  <input type="hidden" name="xsrf" value="s3cr3t"/>
</form>
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
<form action="https://other.example/login">
  <input name="username" value="bob"><input type="password" name="password">
  <input type="checkbox" name="remember" checked><input type="checkbox" name="spam" value="yes">
  <button id="submit" type="submit">Sign in</button>
</form></body></html>`
	forms, err := parseForms(body, base)
	require.NoError(t, err)
	require.Len(t, forms, 2)

	logout := forms[0]
	assert.Equal(t, "op.logoutForm", logout.ID)
	assert.Equal(t, http.MethodPost, logout.Method)
	assert.Equal(t, "http://localhost:8080/session/end/confirm", logout.Action.String())
	assert.Equal(t, []submitter{{Name: "logout", Value: "yes", Label: "Yes, sign me out"}}, logout.Submitters)
	got, err := logout.submission(nil, "logout")
	require.NoError(t, err)
	assert.Equal(t, url.Values{"xsrf": {"s3cr3t"}, "logout": {"yes"}}, got)
	_, err = logout.submission(nil, "cancel")
	assert.Error(t, err, "unknown button")

	login := forms[1]
	assert.Equal(t, http.MethodGet, login.Method)
	assert.True(t, login.hasInputType("password"))
	assert.False(t, login.hasInputType("email"))
	got, err = login.submission(map[string]string{"password": "pw"}, "")
	require.NoError(t, err)
	assert.Equal(t, url.Values{"username": {"bob"}, "password": {"pw"}, "remember": {"on"}}, got)
	_, err = login.submission(map[string]string{"otp": "1"}, "")
	assert.Error(t, err, "unknown field")
}

package dropreturn

import (
	"go/parser"
	"go/token"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// findIn parses src, a file of package p, and returns its sites as
// "LINE FUNC: BRANCH".
func findIn(t *testing.T, src string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	require.NoError(t, err)
	var got []string
	for _, s := range Find(fset, f, "p.go") {
		got = append(got, s.String()[len("p.go:"):])
	}
	return got
}

func TestFindSelectsFailureReturns(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "error tested in the condition",
			src: `package p
func f() error {
	if err := g(); err != nil {
		return err
	}
	return nil
}`,
			want: []string{"4 f: if err := g(); err != nil"},
		},
		{
			name: "refusal by negation in a void function",
			src: `package p
func (m *M) serve(w W, r R) {
	if !m.allowMethod(w, r, "GET") {
		return
	}
	m.next(w, r)
}`,
			want: []string{"4 (*M).serve: if !m.allowMethod(w, r, \"GET\")"},
		},
		{
			name: "negation inside || and &&",
			src: `package p
func f(a, ok bool) int {
	if a || (a && !ok) {
		return 1
	}
	return 0
}`,
			want: []string{"4 f: if a || (a && !ok)"},
		},
		{
			name: "comparison with false",
			src: `package p
func f(ok bool) int {
	if ok == false {
		return 1
	}
	return 0
}`,
			want: []string{"4 f: if ok == false"},
		},
		{
			name: "the branch reports the failure",
			src: `package p
func (m *M) serve(w W, r R) {
	if isPrefetch(r) {
		m.fail(w, r, ErrPrefetch)
		return
	}
	if r.Method == "HEAD" {
		http.Error(w, "no", 405)
		return
	}
	if r.Host == "" {
		w.WriteHeader(400)
		return
	}
	m.next(w, r)
}`,
			want: []string{
				"5 (*M).serve: if isPrefetch(r)",
				"9 (*M).serve: if r.Method == \"HEAD\"",
				"13 (*M).serve: if r.Host == \"\"",
			},
		},
		{
			name: "a warning is logged",
			src: `package p
func (m *M) target(r R, t string) string {
	if m.bad(t) {
		m.logger.LogAttrs(r.Context(), slog.LevelWarn, "refused")
		return m.fallback
	}
	return t
}`,
			want: []string{"5 (*M).target: if m.bad(t)"},
		},
		{
			name: "returns false, an error value or a new error",
			src: `package p
func f(n int) (bool, error) {
	if n == 1 {
		return false, nil
	}
	if n == 2 {
		return true, ErrTwo
	}
	if n == 3 {
		return true, fmt.Errorf("three: %d", n)
	}
	return true, nil
}`,
			want: []string{"4 f: if n == 1", "7 f: if n == 2", "10 f: if n == 3"},
		},
		{
			name: "same text twice in a function is numbered",
			src: `package p
func f() (int, error) {
	a, err := g()
	if err != nil {
		return 0, err
	}
	b, err := h(a)
	if err != nil {
		return 0, err
	}
	return b, nil
}`,
			want: []string{"5 f: if err != nil", "9 f: if err != nil #2"},
		},
		{
			name: "inside a loop that ends the function",
			src: `package p
func f(xs []int) error {
	for _, x := range xs {
		if err := g(x); err != nil {
			return err
		}
	}
	return nil
}
func v(xs []int) {
	for _, x := range xs {
		if !ok(x) {
			return
		}
	}
}`,
			want: []string{"5 f: if err := g(x); err != nil", "13 v: if !ok(x)"},
		},
		{
			name: "else block",
			src: `package p
func f(ok bool) error {
	if ok {
		g()
	} else {
		return errBad
	}
	return nil
}`,
			want: []string{"6 f: else of if ok"},
		},
		{
			name: "nested if that something follows",
			src: `package p
func (m *M) f(w W) {
	if m.on {
		if err := m.g(); err != nil {
			return
		}
		m.h()
	}
}`,
			want: []string{"5 (*M).f: if err := m.g(); err != nil"},
		},
		{
			name: "else if chain",
			src: `package p
func f(a int) error {
	if a == 0 {
		g()
	} else if err := h(a); err != nil {
		return err
	}
	return nil
}`,
			want: []string{"6 f: if err := h(a); err != nil"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, findIn(t, tt.src))
		})
	}
}

func TestFindSelectsCaseClauses(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "tagless switch",
			src: `package p
func f(x int, err error) error {
	switch {
	case err != nil:
		return err
	case x < 0:
		return nil
	}
	return g(x)
}`,
			want: []string{"5 f: case err != nil"},
		},
		{
			name: "tagged switch and default",
			src: `package p
func f(k string) error {
	switch k {
	case "a", "b":
		return fmt.Errorf("reserved %q", k)
	default:
		m.fail(k)
		return nil
	}
	return nil
}`,
			want: []string{`5 f: switch k: case "a", "b"`, "8 f: switch k: default"},
		},
		{
			name: "type switch on an error",
			src: `package p
func f(err error) int {
	switch e := err.(type) {
	case *Timeout:
		return e.Code
	}
	return 0
}`,
			want: []string{"5 f: switch e := err.(type): case *Timeout"},
		},
		{
			name: "select",
			src: `package p
func f(ctx C, ch chan int) (int, error) {
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case v := <-ch:
		return v, nil
	default:
	}
	return g()
}`,
			want: []string{"5 f: select: case <-ctx.Done()"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, findIn(t, tt.src))
		})
	}
}

func TestFindLeavesOut(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{
			name: "a branch that handles no failure",
			src: `package p
func (m *M) f(r R) R {
	if m.check == nil {
		return r
	}
	return m.g(r)
}`,
		},
		{
			name: "routing in a switch",
			src: `package p
func (h *H) ServeHTTP(w W, r R) {
	switch p := r.URL.Path; {
	case p == h.path:
		h.serve(w, r)
		return
	}
	h.next(w, r)
}`,
		},
		{
			name: "the last if of a void function",
			src: `package p
func f(err error) {
	g()
	if err != nil {
		log(err)
		return
	}
}`,
		},
		{
			name: "an if and else that end the function",
			src: `package p
func f() error {
	if err := g(); err != nil {
		return err
	} else {
		return errOther
	}
}`,
		},
		{
			name: "a nested if that ends the function",
			src: `package p
func f(on bool) {
	if on {
		if err := g(); err != nil {
			fail(err)
			return
		}
	}
}`,
		},
		{
			name: "a switch that ends the function",
			src: `package p
func f(err error) error {
	switch {
	case err != nil:
		return err
	default:
		return nil
	}
}`,
		},
		{
			name: "a branch that does not end in a return",
			src: `package p
func f() error {
	if err := g(); err != nil {
		log(err)
	}
	return nil
}`,
		},
		{
			name: "an error named only inside a function literal",
			src: `package p
func f(m *M) int {
	if m.try(func() error { return errX }) {
		return 1
	}
	return 0
}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Empty(t, findIn(t, tt.src))
		})
	}
}

func TestFindNamesFunctions(t *testing.T) {
	src := `package p
var hook = func() error {
	if err := g(); err != nil {
		return err
	}
	return nil
}
func (c *Cache[K, V]) Get(k K) (V, bool) {
	v, ok := c.m[k]
	if !ok {
		return v, false
	}
	return v, true
}
func (s set) has(k string) bool {
	if s == nil {
		return false
	}
	return s[k]
}
func outer() {
	f := func() error {
		g := func() error {
			if err := h(); err != nil {
				return err
			}
			return nil
		}
		if err := g(); err != nil {
			return err
		}
		return nil
	}
	_ = f
}`
	assert.Equal(t, []string{
		"4 glob.func1: if err := g(); err != nil",
		"11 (*Cache).Get: if !ok",
		"17 set.has: if s == nil",
		"25 outer.func1.func1: if err := h(); err != nil",
		"30 outer.func1: if err := g(); err != nil",
	}, findIn(t, src))
}

func TestSiteKeyLeavesOutTheLine(t *testing.T) {
	s := Site{File: "a/b.go", Line: 12, Func: "(*M).f", Cond: "if err != nil #2"}
	assert.Equal(t, "a/b.go (*M).f: if err != nil #2", s.Key())
	assert.Equal(t, "a/b.go:12 (*M).f: if err != nil #2", s.String())
}

func TestNodeTextIsOneLine(t *testing.T) {
	src := `package p
func f(a, b bool) error {
	if a &&
		// why b
		b {
		return errX
	}
	return nil
}`
	assert.Equal(t, []string{"6 f: if a && b"}, findIn(t, src))
}

package dropreturn

import (
	"fmt"
	"go/ast"
	"go/token"
	"slices"
)

// Site is one early return that a mutant deletes.
type Site struct {
	// File is the path of the source file, slash-separated, as the
	// caller named it.
	File string
	// Line and Col are the line and column of the return statement.
	Line, Col int
	// Func names the enclosing function: name, Type.name or
	// (*Type).name, with .funcN appended for the Nth function literal.
	Func string
	// Cond is the normalised text of the branch that the return ends:
	// "if COND", "if INIT; COND", "else of if COND", "case X, Y",
	// "switch TAG: case X", "default", "select: case COMM", with " #N"
	// appended to the Nth site of the same text in the same function.
	Cond string
	// Start and End are the byte offsets of the return statement.
	Start, End int
}

// Key identifies s in an allowlist: its file, function and branch text,
// but not its line, which moves whenever code above it changes.
func (s Site) Key() string {
	return s.File + " " + s.Func + ": " + s.Cond
}

// String is the report form of s: the key with the line after the file.
func (s Site) String() string {
	return fmt.Sprintf("%s:%d %s: %s", s.File, s.Line, s.Func, s.Cond)
}

// Find returns the early returns of file that follow a failure or a
// refusal, in source order. name is the path recorded in each Site; fset
// must hold file. See the package documentation for the rule.
func Find(fset *token.FileSet, file *ast.File, name string) []Site {
	f := &finder{fset: fset, name: name}
	glob := 0
	for _, decl := range file.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok {
			ast.Inspect(decl, func(n ast.Node) bool {
				if lit, ok := n.(*ast.FuncLit); ok {
					glob++
					f.function(fmt.Sprintf("glob.func%d", glob), lit.Body)
					return false
				}
				return true
			})
			continue
		}
		if fd.Body != nil {
			f.function(funcName(fd), fd.Body)
		}
	}
	slices.SortFunc(f.sites, func(a, b Site) int { return a.Start - b.Start })
	return numberRepeats(f.sites)
}

// finder collects the sites of one file.
type finder struct {
	fset  *token.FileSet
	name  string
	sites []Site
}

// function walks the body of the function named name. Function literals
// inside it are walked as functions of their own, named name.funcN.
func (f *finder) function(name string, body *ast.BlockStmt) {
	lits := 0
	var stack []ast.Node
	ast.Inspect(body, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		if lit, ok := n.(*ast.FuncLit); ok {
			lits++
			f.function(fmt.Sprintf("%s.func%d", name, lits), lit.Body)
			return false
		}
		stack = append(stack, n)
		f.visit(name, stack)
		return true
	})
}

// visit records the sites that end the branches of the statement on top
// of stack, whose elements run from the function body down to it.
func (f *finder) visit(fn string, stack []ast.Node) {
	switch s := stack[len(stack)-1].(type) {
	case *ast.IfStmt:
		f.ifSites(fn, s, stack)
	case *ast.CaseClause:
		f.caseSite(fn, s, stack)
	case *ast.CommClause:
		f.commSite(fn, s, stack)
	}
}

// ifSites records the returns that end the body and the else block of s.
func (f *finder) ifSites(fn string, s *ast.IfStmt, stack []ast.Node) {
	text := "if " + ifText(s)
	cond := branchTest{tested: []ast.Node{s.Cond}}
	if ret := lastReturn(s.Body.List); ret != nil && cond.failure(s.Body.List, ret) && followed(stack) {
		f.add(fn, text, ret)
	}
	if els, ok := s.Else.(*ast.BlockStmt); ok {
		if ret := lastReturn(els.List); ret != nil && cond.failure(els.List, ret) && followed(stack) {
			f.add(fn, "else of "+text, ret)
		}
	}
}

// caseSite records the return that ends the case clause c of a switch.
func (f *finder) caseSite(fn string, c *ast.CaseClause, stack []ast.Node) {
	ret := lastReturn(c.Body)
	if ret == nil || len(stack) < 3 {
		return
	}
	sw := stack[len(stack)-3] // the switch, above its body block
	test := branchTest{}
	head := ""
	switch sw := sw.(type) {
	case *ast.SwitchStmt:
		if sw.Tag != nil {
			test.tested = append(test.tested, sw.Tag)
			head = "switch " + nodeText(sw.Tag) + ": "
		}
	case *ast.TypeSwitchStmt:
		test.tested = append(test.tested, sw.Assign)
		head = "switch " + nodeText(sw.Assign) + ": "
	}
	for _, e := range c.List {
		test.tested = append(test.tested, e)
	}
	if test.failure(c.Body, ret) && followed(stack[:len(stack)-2]) {
		f.add(fn, head+caseText(c), ret)
	}
}

// commSite records the return that ends the clause c of a select.
func (f *finder) commSite(fn string, c *ast.CommClause, stack []ast.Node) {
	ret := lastReturn(c.Body)
	if ret == nil {
		return
	}
	test := branchTest{}
	text := "select: default"
	if c.Comm != nil {
		test.tested = []ast.Node{c.Comm}
		text = "select: case " + nodeText(c.Comm)
	}
	if test.failure(c.Body, ret) && followed(stack[:len(stack)-2]) {
		f.add(fn, text, ret)
	}
}

// add records a site for ret in the function fn.
func (f *finder) add(fn, text string, ret *ast.ReturnStmt) {
	start, end := f.fset.Position(ret.Pos()), f.fset.Position(ret.End())
	f.sites = append(f.sites, Site{
		File: f.name, Line: start.Line, Col: start.Column, Func: fn, Cond: text,
		Start: start.Offset, End: end.Offset,
	})
}

// lastReturn returns the last statement of list when it is a return.
func lastReturn(list []ast.Stmt) *ast.ReturnStmt {
	if len(list) == 0 {
		return nil
	}
	ret, _ := list[len(list)-1].(*ast.ReturnStmt)
	return ret
}

// numberRepeats appends " #N" to the text of the Nth site whose function
// and text repeat an earlier one's, so that every key is unique.
func numberRepeats(sites []Site) []Site {
	seen := make(map[string]int, len(sites))
	for i := range sites {
		k := sites[i].Key()
		seen[k]++
		if n := seen[k]; n > 1 {
			sites[i].Cond = fmt.Sprintf("%s #%d", sites[i].Cond, n)
		}
	}
	return sites
}

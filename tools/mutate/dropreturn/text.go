package dropreturn

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/token"
	"strings"
)

// nodeText returns n as gofmt prints it, on one line: every run of
// spaces, tabs and newlines becomes one space, and comments are left out.
func nodeText(n ast.Node) string {
	var buf bytes.Buffer
	// A file set without n's file prints n without its line breaks.
	if err := format.Node(&buf, token.NewFileSet(), n); err != nil {
		return fmt.Sprintf("<%T>", n)
	}
	return strings.Join(strings.Fields(buf.String()), " ")
}

// ifText returns the head of s: "COND", or "INIT; COND".
func ifText(s *ast.IfStmt) string {
	if s.Init != nil {
		return nodeText(s.Init) + "; " + nodeText(s.Cond)
	}
	return nodeText(s.Cond)
}

// caseText returns the head of c: "default" or "case X, Y".
func caseText(c *ast.CaseClause) string {
	if c.List == nil {
		return "default"
	}
	parts := make([]string, len(c.List))
	for i, e := range c.List {
		parts[i] = nodeText(e)
	}
	return "case " + strings.Join(parts, ", ")
}

// funcName returns the name of fd as a stack trace spells it, without the
// package: name, Type.name or (*Type).name, type parameters left out.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	star, ok := t.(*ast.StarExpr)
	if ok {
		t = star.X
	}
	base := recvBase(t)
	if ok {
		return "(*" + base + ")." + fd.Name.Name
	}
	return base + "." + fd.Name.Name
}

// recvBase returns the name of a receiver's type, without its type
// parameters.
func recvBase(t ast.Expr) string {
	switch t := ast.Unparen(t).(type) {
	case *ast.Ident:
		return t.Name
	case *ast.IndexExpr:
		return recvBase(t.X)
	case *ast.IndexListExpr:
		return recvBase(t.X)
	}
	return nodeText(t)
}

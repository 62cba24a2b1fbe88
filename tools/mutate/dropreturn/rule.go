package dropreturn

import (
	"go/ast"
	"go/token"
	"strings"
)

// branchTest is what decides whether a branch handles a failure: the
// expressions it tests (an if's condition, or a switch's tag and a
// clause's expressions).
type branchTest struct {
	tested []ast.Node
}

// failure reports whether the branch whose statements are body, ending in
// ret, handles a failure or a refusal: it tests an error or a negation,
// reports something on the way, or returns an error or false.
func (t branchTest) failure(body []ast.Stmt, ret *ast.ReturnStmt) bool {
	for _, n := range t.tested {
		if mentionsError(n) || refuses(n) {
			return true
		}
	}
	return reportsFailure(body[:len(body)-1]) || returnsFailure(ret)
}

// followed reports whether a statement of the function can run after the
// statement on top of stack, the if, switch or select whose branch ends
// in the return: it is not the last statement of the function, or it is
// inside a loop. stack runs from the function body down to that
// statement. Deleting a return that nothing follows changes nothing, or
// does not compile.
func followed(stack []ast.Node) bool {
	for i := len(stack) - 1; i > 0; i-- {
		child, parent := stack[i], stack[i-1]
		switch p := parent.(type) {
		case *ast.BlockStmt:
			if isClause(child) {
				continue // the clauses of a switch or select: on to it
			}
			if !isLast(p.List, child) {
				return true
			}
		case *ast.CaseClause:
			if !isLast(p.Body, child) {
				return true
			}
		case *ast.CommClause:
			if !isLast(p.Body, child) {
				return true
			}
		case *ast.ForStmt, *ast.RangeStmt:
			return true
		}
	}
	return false
}

// isClause reports whether n is a clause of a switch or a select.
func isClause(n ast.Node) bool {
	switch n.(type) {
	case *ast.CaseClause, *ast.CommClause:
		return true
	}
	return false
}

// isLast reports whether n is the last statement of list.
func isLast(list []ast.Stmt, n ast.Node) bool {
	return len(list) > 0 && ast.Node(list[len(list)-1]) == n
}

// mentionsError reports whether n names an error: an identifier that
// begins with err or Err (err, errs, errors.Is, ErrClosed, ctx.Err) or
// ends with Err, err or Error (readErr, ProtocolError, error). Function
// literals inside n are not looked into.
func mentionsError(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.Ident:
			if isErrorName(n.Name) {
				found = true
			}
		}
		return !found
	})
	return found
}

// isErrorName reports whether an identifier so named stands for an error.
func isErrorName(name string) bool {
	return strings.HasPrefix(name, "err") || strings.HasPrefix(name, "Err") ||
		strings.HasSuffix(name, "err") || strings.HasSuffix(name, "Err") ||
		strings.HasSuffix(name, "Error")
}

// refuses reports whether the condition e is a negation (!ok,
// !m.allowed(r)) or a comparison with false, alone or as an operand of
// && and ||.
func refuses(n ast.Node) bool {
	e, ok := n.(ast.Expr)
	if !ok {
		return false
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.UnaryExpr:
		return e.Op == token.NOT
	case *ast.BinaryExpr:
		switch e.Op {
		case token.LAND, token.LOR:
			return refuses(e.X) || refuses(e.Y)
		case token.EQL:
			return isIdent(e.X, "false") || isIdent(e.Y, "false")
		}
	}
	return false
}

// isIdent reports whether e is the identifier name.
func isIdent(e ast.Expr, name string) bool {
	id, ok := ast.Unparen(e).(*ast.Ident)
	return ok && id.Name == name
}

// reportsFailure reports whether the statements list call something
// that reports a failure: see isReporter and logsTrouble.
func reportsFailure(list []ast.Stmt) bool {
	found := false
	for _, s := range list {
		ast.Inspect(s, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.CallExpr:
				if isReporter(calleeName(n.Fun)) || logsTrouble(n) {
					found = true
				}
			}
			return !found
		})
	}
	return found
}

// reporterWords are the parts of a function's name, in lower case, that
// make a call of it a report of a failure: m.fail, http.Error, onError,
// c.AbortWithStatus, t.reject...
var reporterWords = []string{
	"fail", "error", "reject", "refus", "deny", "denied", "abort",
	"forbid", "invalid", "unauthori",
}

// reporterNames are the whole names of functions whose call reports a
// failure.
var reporterNames = map[string]bool{
	"WriteHeader": true, "SendStatus": true, "NotFound": true,
	"Warn": true, "Warnf": true, "WarnContext": true,
}

// isReporter reports whether a call of the function named name reports a
// failure.
func isReporter(name string) bool {
	if reporterNames[name] {
		return true
	}
	lower := strings.ToLower(name)
	for _, w := range reporterWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// logsTrouble reports whether the call passes slog.LevelWarn or
// slog.LevelError, as a log call at those levels does.
func logsTrouble(call *ast.CallExpr) bool {
	for _, a := range call.Args {
		if name := calleeName(a); name == "LevelWarn" || name == "LevelError" {
			return true
		}
	}
	return false
}

// calleeName returns the name that e ends with: f for f and x.y.f, and
// the name of the generic function for f[T]; "" for anything else.
func calleeName(e ast.Expr) string {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.IndexExpr:
		return calleeName(e.X)
	case *ast.IndexListExpr:
		return calleeName(e.X)
	}
	return ""
}

// returnsFailure reports whether ret returns false, an error (a result
// that mentions one: err, fmt.Errorf(...), ErrClosed) or the result of a
// reporting call.
func returnsFailure(ret *ast.ReturnStmt) bool {
	for _, r := range ret.Results {
		if isIdent(r, "false") || mentionsError(r) {
			return true
		}
		if call, ok := ast.Unparen(r).(*ast.CallExpr); ok && isReporter(calleeName(call.Fun)) {
			return true
		}
	}
	return false
}

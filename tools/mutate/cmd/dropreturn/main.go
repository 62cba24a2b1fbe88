// Command dropreturn tests the tests of Go modules by deleting, one at a
// time, each early return that follows a failure or a refusal, and
// running the tests of the package with that mutant in place. A mutant
// whose tests still pass shows a failure path that no test checks.
//
// Usage:
//
//	dropreturn [flags] MODULE_DIR[=TESTS_DIR]...
//
// For each module directory, in turn, it lists the module's packages
// (go list ./..., so nested modules are left out, and only the files of
// the current build are read) and finds the sites in every Go file that
// is neither a test nor generated. It then runs each top-level test,
// example and fuzz target of the tested packages alone, once, from a
// test binary built with coverage of the mutated packages, to learn which
// tests reach which return; a package with a test that fails alone is
// run whole instead (and a failure there stops the module). Each mutant
// whose return a test reaches is then tested by running the tests that
// reach the return (-test.run=TESTS -test.failfast) in the test binaries
// of the tested packages they belong to: the mutated package, or with
// -importers every package of the module whose tests depend on it.
//
// Those binaries are built once per module, from mutant schemata: every
// site of the module wrapped in "if !dropreturnMutant(N) { ... }", and a
// file added to each mutated package that reads N from the environment
// variable DROPRETURN_MUTANT, so that one run deletes one return. When the
// schemata do not compile, each mutant is built on its own instead, with
//
//	go test -count=1 -failfast -vet=off -timeout=T -overlay=OVERLAY -run=TESTS PACKAGES
//
// in the module directory.
//
// MODULE_DIR=TESTS_DIR also tests the mutants of the module in
// MODULE_DIR with the tests of another module, in TESTS_DIR, that
// reaches it through a replace directive of its go.mod (a module that
// holds the tests of several others): every package of that module whose
// tests depend on the mutated package is a tested package too, indexed
// and run the same way, with go test run in TESTS_DIR. The overlay
// applies to the replaced module's files as well. The overlay (go build
// -overlay) maps each file to a temporary copy holding the schemata or
// the mutant: no file of the tree is ever written. In a mutant built on
// its own the return statement is wrapped in "if false { ... }". Either
// way the return never runs, as if deleted, but its operands stay in use,
// so that the mutant still compiles when the return held the last use of
// an import or a variable.
//
// It prints one line per mutant, in source order:
//
//	KILLED      handler.go:27 (*Middleware).serveLogout: if err := m.checkCrossSite(r); err != nil
//
// with KILLED (the tests failed), TIMED OUT (they ran past -timeout;
// counted as killed), SURVIVED (they passed), NOT COVERED (no test
// reaches the return, so the mutant is not run; a survivor too) or NOT
// VIABLE (the mutant does not compile), then a summary per module: the
// counts and the kill rate of the covered mutants that compile,
// killed / (killed + survived). File names are relative to the working
// directory.
//
// # The sites
//
// A site is a return statement that
//
//  1. is the last statement of the body or the else block of an if, or
//     of a case clause of a switch, type switch or select;
//  2. is early: some statement of the same function (a function literal
//     is a function of its own) can run after that if, switch or select
//     when the branch does not return, because the statement is not the
//     last one of the function, or it sits in a loop; deleting a return
//     that nothing follows would change nothing, or not compile;
//  3. follows a failure or a refusal, which is any of:
//     - the condition, or the switch tag or case expressions, names an
//     error: an identifier that begins with err or Err, or ends with
//     err, Err or Error (err != nil, errors.Is(err, ErrX), ctx.Err());
//     - the condition is a negation, or a comparison with false, alone
//     or as an operand of && or || (!ok, !m.allowMethod(w, r, ...));
//     - a statement of the branch before the return calls a function
//     whose name contains fail, error, reject, refus, deny, denied,
//     abort, forbid, invalid or unauthori in any case (m.fail,
//     http.Error, onError, c.AbortWithStatus), or is WriteHeader,
//     SendStatus, NotFound, Warn, Warnf or WarnContext, or passes
//     slog.LevelWarn or slog.LevelError (a log call at those levels);
//     - the return's results include false, an expression that names an
//     error (err, fmt.Errorf(...), ErrClosed), or a call of such a
//     reporting function.
//
// Function literals inside a condition, branch or result are not looked
// into for 3.
//
// # Allowlist
//
// -allow names a file of surviving mutants that are explained. Each line
// is a report line without its status, with " => " and the reason after
// it; the :LINE after the file may stay or go, it is ignored:
//
//	handler.go (*Middleware).serveLogout: if isPrefetch(r) => prefetches are refused before anything else is read
//
// The key is the file, the function and the branch text, so that an
// entry outlives edits above it; when the same branch text occurs twice
// in a function, the second is "... #2". Lines that are blank or begin
// with # are comments. An entry whose mutant is killed, or that matches
// no site of a file that was looked into (or names a file that is gone),
// gets a warning.
//
// dropreturn exits with 1 when a mutant survived or is not covered and
// the allowlist does not explain it, and with 2 on any other failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/oidc-logout/logout/tools/mutate/dropreturn"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run runs the command with args and returns its exit code.
func run(args []string) int {
	fs := flag.NewFlagSet("dropreturn", flag.ContinueOnError)
	var (
		opts  dropreturn.Options
		allow string
	)
	fs.IntVar(&opts.Parallel, "parallel", 2, "how many mutants to test at once")
	fs.DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "go test -timeout of each mutant")
	fs.BoolVar(&opts.Importers, "importers", false, "also run the tests of the module's packages that depend on the mutated one")
	fs.BoolVar(&opts.DryRun, "n", false, "list the mutants without testing them")
	fs.BoolVar(&opts.Verbose, "v", false, "print the go test output of survivors and of mutants that do not compile")
	fs.StringVar(&allow, "allow", "", "allowlist `file` of explained survivors")
	fs.Func("skip", "leave out the files whose names match `regexp`", func(s string) error {
		re, err := regexp.Compile(s)
		opts.Skip = re
		return err
	})
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: dropreturn [flags] MODULE_DIR[=TESTS_DIR]...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if allow != "" {
		a, err := dropreturn.LoadAllowlist(allow)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dropreturn:", err)
			return 2
		}
		opts.Allow = a
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := dropreturn.Run(ctx, fs.Args(), opts)
	switch {
	case errors.Is(err, dropreturn.ErrSurvivors):
		fmt.Fprintln(os.Stderr, "dropreturn:", err)
		return 1
	case err != nil:
		fmt.Fprintln(os.Stderr, "dropreturn:", err)
		return 2
	}
	return 0
}

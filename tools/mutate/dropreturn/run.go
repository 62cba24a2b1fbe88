package dropreturn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrSurvivors is returned by Run when a mutant survived that the
// allowlist does not explain.
var ErrSurvivors = errors.New("mutants survived that the allowlist does not explain")

// Options configure Run.
type Options struct {
	// Go is the go command; default "go".
	Go string
	// Parallel is how many mutants are tested at once; default 2.
	Parallel int
	// Timeout bounds the tests of one mutant (go test -timeout); the run
	// is stopped a minute after it, build included. Default 5 minutes.
	Timeout time.Duration
	// Importers tests each mutant with the tests of every package of the
	// module whose tests depend on the mutated package, not only with the
	// package's own.
	Importers bool
	// DryRun lists the mutants without testing them.
	DryRun bool
	// Verbose prints the go test output of the mutants that survive or
	// do not compile.
	Verbose bool
	// Skip leaves out the files whose names, as reports print them,
	// it matches; nil leaves out none.
	Skip *regexp.Regexp
	// Allow explains survivors; nil explains none.
	Allow *Allowlist
	// Root is the directory that file names in reports are relative to;
	// default the working directory.
	Root string
	// Out receives the report; Warn receives warnings. Default
	// os.Stdout and os.Stderr.
	Out, Warn io.Writer
}

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Warn == nil {
		o.Warn = os.Stderr
	}
	if o.Root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return o, fmt.Errorf("working directory: %w", err)
		}
		o.Root = wd
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return o, fmt.Errorf("root %s: %w", o.Root, err)
	}
	o.Root = root
	return o, nil
}

// mutant is one site to delete, with what testing it needs.
type mutant struct {
	site Site
	path string   // absolute path of the file
	src  []byte   // the file's source
	pkg  string   // the mutated package
	pkgs []string // the packages whose tests run
	id   int      // its number among the module's mutants, from 1
}

// result is the outcome of one mutant.
type result struct {
	status Status
	output []byte
}

// Run builds and tests the mutants of the modules in dirs, one module
// after the other, and writes a line for each mutant and a summary for
// each module. An entry of dirs may be DIR=TESTS: the mutants of the
// module in DIR are then also tested with the tests of the packages of
// the module in TESTS that depend on the mutated package (see
// ParseModuleArg). It returns the counts of all modules, and an error when a
// module could not be tested (the others are tested all the same), or
// else ErrSurvivors when a mutant survived or is not covered and
// opts.Allow does not explain it.
func Run(ctx context.Context, dirs []string, opts Options) (Tally, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Tally{}, err
	}
	r := &runner{opts: opts, scanned: map[string]bool{}, dirs: map[string]string{}, mods: map[string]string{}}
	var (
		total Tally
		errs  []error
	)
	mods, tests := make([]string, len(dirs)), make([]string, len(dirs))
	for i, arg := range dirs {
		if mods[i], tests[i], err = ParseModuleArg(arg); err != nil {
			return Tally{}, err
		}
	}
	for i, dir := range dirs {
		t, err := r.module(ctx, mods[i], tests[i])
		total.add(t)
		if err != nil {
			fmt.Fprintf(opts.Out, "module %s: %v\n", dir, err)
			errs = append(errs, fmt.Errorf("module %s: %w", dir, err))
		}
	}
	if len(dirs) > 1 {
		fmt.Fprintf(opts.Out, "all modules: %s\n", total)
	}
	if len(errs) > 0 {
		return total, errors.Join(errs...)
	}
	r.warnStale()
	if total.Survived+total.NotCovered > total.Allowed {
		return total, ErrSurvivors
	}
	return total, nil
}

// runner runs the mutants of one or more modules.
type runner struct {
	opts    Options
	scanned map[string]bool   // the files looked into, as named in sites
	dirs    map[string]string // the directory of each package, by import path
	mods    map[string]string // the directory of each package's module, by import path
	sch     *schemata         // the current module's mutants, compiled at once; nil: one build per mutant
}

// ParseModuleArg parses an argument of Run: a module directory, or
// DIR=TESTS, the directory of a module whose mutants are also tested
// with the tests of the module in the directory TESTS. That module
// reaches the one in DIR through its go.mod (a replace directive to the
// directory), so that the overlay of a mutant applies to its build.
func ParseModuleArg(arg string) (dir, tests string, err error) {
	dir, tests, found := strings.Cut(arg, "=")
	switch {
	case dir == "":
		return "", "", fmt.Errorf("module argument %q: no module directory", arg)
	case !found:
		return dir, "", nil
	case tests == "" || strings.Contains(tests, "="):
		return "", "", fmt.Errorf("module argument %q: want DIR or DIR=TESTS_DIR", arg)
	case filepath.Clean(tests) == filepath.Clean(dir):
		return "", "", fmt.Errorf("module argument %q: the module's own tests always run", arg)
	}
	return dir, tests, nil
}

// module tests the mutants of the module in dir, also with the tests of
// the module in tests unless it is "".
func (r *runner) module(ctx context.Context, dir, tests string) (Tally, error) {
	start := time.Now()
	muts, names, err := r.collect(ctx, dir, tests)
	if err != nil {
		return Tally{}, err
	}
	with := ""
	if tests != "" {
		with = ", tested also by " + tests
	}
	fmt.Fprintf(r.opts.Out, "==> %s: %d mutants%s\n", dir, len(muts), with)
	if r.opts.DryRun {
		for _, m := range muts {
			r.opts.Allow.Lookup(m.site.Key())
			fmt.Fprintf(r.opts.Out, "%-11s %s\n", "FOUND", m.site)
		}
		return Tally{}, nil
	}
	ix, err := r.index(ctx, dir, muts, names)
	if err != nil {
		return Tally{}, err
	}
	r.sch, err = r.buildSchemata(ctx, muts)
	switch {
	case errors.Is(err, errSchemataBuild):
		fmt.Fprintf(r.opts.Warn, "warning: %s: %v; one build per mutant instead\n", dir, errSchemataBuild)
		if r.opts.Verbose {
			fmt.Fprintln(r.opts.Warn, err)
		}
	case err != nil:
		return Tally{}, err
	}
	if r.sch != nil {
		defer func() {
			os.RemoveAll(r.sch.dir)
			r.sch = nil
		}()
	}
	var t Tally
	err = r.each(ctx, muts, ix, func(m mutant, res result) {
		t.count(res.status, r.report(m, res))
	})
	t.Elapsed = time.Since(start)
	if err != nil {
		return t, err
	}
	fmt.Fprintf(r.opts.Out, "module %s: %s\n", dir, t)
	return t, nil
}

// collect finds the sites of the module in dir, whose mutants the tests
// of the module in tests (unless "") test too. It also returns the
// absolute paths of the module's files by their names in coverage
// profiles, and records the directory of each package and of its module.
func (r *runner) collect(ctx context.Context, dir, tests string) ([]mutant, map[string]string, error) {
	pkgs, err := ListPackages(ctx, r.opts.Go, dir)
	if err != nil {
		return nil, nil, err
	}
	external := map[string][]string{}
	if tests != "" {
		paths := make([]string, len(pkgs))
		for i, p := range pkgs {
			paths[i] = p.ImportPath
		}
		var dirs map[string]string
		external, dirs, err = ListTesters(ctx, r.opts.Go, tests, paths)
		if err != nil {
			return nil, nil, err
		}
		for p, d := range dirs {
			r.dirs[p], r.mods[p] = d, tests
		}
	}
	var muts []mutant
	names := map[string]string{}
	for _, p := range pkgs {
		r.dirs[p.ImportPath], r.mods[p.ImportPath] = p.Dir, dir
		tested := []string{p.ImportPath}
		if r.opts.Importers && len(p.Testers) > 0 {
			tested = p.Testers
		}
		tested = append(slices.Clip(tested), external[p.ImportPath]...)
		for _, path := range p.Files {
			names[p.ImportPath+"/"+filepath.Base(path)] = path
			found, err := r.file(path, p.ImportPath, tested)
			if err != nil {
				return nil, nil, err
			}
			muts = append(muts, found...)
		}
	}
	for i := range muts {
		muts[i].id = i + 1
	}
	return muts, names, nil
}

// file finds the sites of the Go file at path, of the package pkg, whose
// mutants the tests of pkgs test; a generated file has none.
func (r *runner) file(path, pkg string, pkgs []string) ([]mutant, error) {
	name, err := filepath.Rel(r.opts.Root, path)
	if err != nil {
		return nil, fmt.Errorf("naming %s: %w", path, err)
	}
	name = filepath.ToSlash(name)
	if r.opts.Skip != nil && r.opts.Skip.MatchString(name) {
		return nil, nil
	}
	r.scanned[name] = true
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if ast.IsGenerated(f) {
		return nil, nil
	}
	var muts []mutant
	for _, s := range Find(fset, f, name) {
		muts = append(muts, mutant{site: s, path: path, src: src, pkg: pkg, pkgs: pkgs})
	}
	return muts, nil
}

// index runs, unmutated, each test that the mutants may run, alone and
// with coverage of the mutated packages (see TestIndex), and returns
// which tests reach which lines of the module's files named in names.
func (r *runner) index(ctx context.Context, dir string, muts []mutant, names map[string]string) (*TestIndex, error) {
	tested := map[string]string{}
	var covered []string
	for _, m := range muts {
		for _, p := range m.pkgs {
			tested[p] = r.dirs[p]
		}
		covered = append(covered, m.pkg)
	}
	ix, err := BuildIndex(ctx, dir, tested, unique(covered), names, r.opts)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(r.opts.Out, "    %s\n", ix)
	return ix, nil
}

// unique returns list sorted, without repeats.
func unique(list []string) []string {
	slices.Sort(list)
	return slices.Compact(list)
}

// each tests muts, opts.Parallel at a time (those whose return no test
// reaches are not run), and calls done for each in
// order as soon as it and the ones before it are done.
func (r *runner) each(ctx context.Context, muts []mutant, ix *TestIndex, done func(mutant, result)) error {
	results := make([]result, len(muts))
	errs := make([]error, len(muts))
	jobs, ready := make(chan int), make(chan int)
	var wg sync.WaitGroup
	for range r.opts.Parallel {
		wg.Go(func() {
			for i := range jobs {
				results[i], errs[i] = r.test(ctx, muts[i], ix)
				ready <- i
			}
		})
	}
	go func() {
		for i := range muts {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		close(ready)
	}()
	finished, next := make([]bool, len(muts)), 0
	var first error
	for i := range ready {
		finished[i] = true
		for ; next < len(muts) && finished[next]; next++ {
			if errs[next] != nil {
				first = cmp.Or(first, errs[next])
				continue
			}
			done(muts[next], results[next])
		}
	}
	return first
}

// test runs the tests of m that reach its return, as ix tells, with its
// mutant in place of its file.
func (r *runner) test(ctx context.Context, m mutant, ix *TestIndex) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	sel, ok := ix.Select(m.pkgs, m.path, m.site.Line, m.site.Col)
	if !ok {
		return result{status: NotCovered}, nil
	}
	if r.sch != nil {
		return r.runSchemata(ctx, r.sch, m.id, sel.Run, sel.Pkgs)
	}
	dir, err := os.MkdirTemp("", "dropreturn-")
	if err != nil {
		return result{}, fmt.Errorf("mutant of %s: %w", m.site, err)
	}
	defer os.RemoveAll(dir)
	src, err := Mutant(m.src, m.site)
	if err != nil {
		return result{}, err
	}
	ov, err := WriteOverlay(dir, m.path, src)
	if err != nil {
		return result{}, err
	}
	var res result
	for _, g := range groupByModule(sel.Pkgs, r.mods) {
		got, err := r.goTest(ctx, g.dir, ov, sel.Run, g.pkgs)
		if err != nil {
			return result{}, err
		}
		res = result{status: got.status, output: append(res.output, got.output...)}
		if res.status != Survived {
			break
		}
	}
	return res, nil
}

// goTest runs go test in the module in dir on pkgs, with the overlay ov
// and the -run pattern run ("" for all), and classifies the outcome.
func (r *runner) goTest(ctx context.Context, dir, ov, run string, pkgs []string) (result, error) {
	tctx, cancel := context.WithTimeout(ctx, r.opts.Timeout+time.Minute)
	defer cancel()
	args := []string{"test", "-count=1", "-failfast", "-vet=off",
		"-timeout=" + r.opts.Timeout.String(), "-overlay=" + ov}
	if run != "" {
		args = append(args, "-run="+run)
	}
	args = append(args, pkgs...)
	cmd := exec.CommandContext(tctx, r.opts.Go, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return result{}, ctx.Err()
	}
	deadline := errors.Is(tctx.Err(), context.DeadlineExceeded)
	return result{status: Classify(out, err, deadline), output: out}, nil
}

// pkgGroup is the tested packages of one module.
type pkgGroup struct {
	dir  string   // the module's directory
	pkgs []string // import paths
}

// groupByModule splits pkgs by the directory of their module in mods, in
// the order of their first package: one go test command runs in one
// module.
func groupByModule(pkgs []string, mods map[string]string) []pkgGroup {
	var groups []pkgGroup
	at := map[string]int{}
	for _, p := range pkgs {
		d := mods[p]
		i, ok := at[d]
		if !ok {
			i, at[d] = len(groups), len(groups)
			groups = append(groups, pkgGroup{dir: d})
		}
		groups[i].pkgs = append(groups[i].pkgs, p)
	}
	return groups
}

// report writes the line of m and reports whether the allowlist explains
// it.
func (r *runner) report(m mutant, res result) (allowed bool) {
	key := m.site.Key()
	e, listed := r.opts.Allow.Lookup(key)
	survived := res.status == Survived || res.status == NotCovered
	line := fmt.Sprintf("%-11s %s", res.status, m.site)
	switch {
	case listed && survived:
		line += "  [allowed: " + e.Reason + "]"
	case listed:
		fmt.Fprintf(r.opts.Warn, "warning: allowlist line %d: %s: the mutant is %s now; drop the entry\n",
			e.Line, key, res.status)
	}
	fmt.Fprintln(r.opts.Out, line)
	if r.opts.Verbose && (res.status == Survived || res.status == NotViable) {
		fmt.Fprintln(r.opts.Out, indent(res.output))
	}
	return listed && survived
}

// warnStale warns of the allowlist entries that matched no site, among
// those that name a file looked into or a file that is gone.
func (r *runner) warnStale() {
	for _, e := range r.opts.Allow.Unused() {
		_, err := os.Stat(filepath.Join(r.opts.Root, filepath.FromSlash(e.File)))
		if r.scanned[e.File] || errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(r.opts.Warn, "warning: allowlist line %d: no early return matches %s (stale)\n", e.Line, e.Key)
		}
	}
}

// indent returns out with every line indented by a tab.
func indent(out []byte) string {
	s := strings.TrimRight(string(out), "\n")
	return "\t" + strings.ReplaceAll(s, "\n", "\n\t")
}

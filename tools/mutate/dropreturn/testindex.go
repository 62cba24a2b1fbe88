package dropreturn

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// TestIndex tells which tests reach each line of the mutated packages,
// so that a mutant runs only those: each top-level test (and example and
// fuzz target) of the tested packages is run once, alone, with coverage.
// A package with a test that fails alone is run whole for every mutant
// whose return its tests reach.
type TestIndex struct {
	tests map[string]map[string]Coverage // tested package, test name: what the test reached
	whole map[string]Coverage            // tested package run whole: what its tests reached
}

// String sums ix up: how many tests it ran alone, in how many packages,
// and which packages it runs whole.
func (ix *TestIndex) String() string {
	n := 0
	for _, tests := range ix.tests {
		n += len(tests)
	}
	s := fmt.Sprintf("%d tests of %d packages run alone", n, len(ix.tests))
	if len(ix.whole) > 0 {
		whole := make([]string, 0, len(ix.whole))
		for p := range ix.whole {
			whole = append(whole, p)
		}
		slices.Sort(whole)
		s += "; run whole, as a test fails alone: " + strings.Join(whole, ", ")
	}
	return s
}

// Selection is what a mutant runs: the tested packages whose tests reach
// its return, and the go test -run pattern of those tests ("" for all).
type Selection struct {
	Pkgs []string
	Run  string
}

// Select returns what the mutant of the return at line:col of the file
// at path runs among the tests of pkgs, and false when none reaches it.
func (ix *TestIndex) Select(pkgs []string, path string, line, col int) (Selection, bool) {
	var (
		sel   Selection
		names []string
		whole bool
	)
	for _, p := range pkgs {
		if cov, ok := ix.whole[p]; ok {
			if cov.Covers(path, line, col) {
				sel.Pkgs, whole = append(sel.Pkgs, p), true
			}
			continue
		}
		n := len(names)
		for name, cov := range ix.tests[p] {
			if cov.Covers(path, line, col) {
				names = append(names, regexp.QuoteMeta(name))
			}
		}
		if len(names) > n {
			sel.Pkgs = append(sel.Pkgs, p)
		}
	}
	if len(sel.Pkgs) == 0 {
		return Selection{}, false
	}
	if !whole {
		sel.Run = "^(" + strings.Join(unique(names), "|") + ")$"
	}
	return sel, true
}

// indexer builds a TestIndex.
type indexer struct {
	opts     Options
	tmp      string            // where test binaries and profiles go
	coverpkg string            // -coverpkg: the mutated packages
	names    map[string]string // profile file names to absolute paths
}

// BuildIndex runs the tests of the tested packages pkgs (import path to
// directory), one at a time, with coverage of the packages in coverpkg
// of the module in dir. A tested package may belong to another module
// that reaches the one in dir through its go.mod: its tests are built in
// its own directory. names maps the file names of coverage profiles
// to absolute paths. It fails when a package's tests fail when run
// together.
func BuildIndex(ctx context.Context, dir string, pkgs map[string]string, coverpkg []string,
	names map[string]string, opts Options) (*TestIndex, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "dropreturn-index-")
	if err != nil {
		return nil, fmt.Errorf("indexing the tests of %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	ix := &TestIndex{tests: map[string]map[string]Coverage{}, whole: map[string]Coverage{}}
	in := &indexer{opts: opts, tmp: tmp, coverpkg: strings.Join(coverpkg, ","), names: names}
	paths := make([]string, 0, len(pkgs))
	for p := range pkgs {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for i, p := range paths {
		if err := in.pkg(ctx, ix, p, pkgs[p], i); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

// pkg indexes the tests of the package pkg, whose source is in pkgDir;
// n numbers its files.
func (in *indexer) pkg(ctx context.Context, ix *TestIndex, pkg, pkgDir string, n int) error {
	bin := filepath.Join(in.tmp, strconv.Itoa(n)+".test")
	build := exec.CommandContext(ctx, in.opts.Go, "test", "-c", "-vet=off", "-cover",
		"-coverpkg="+in.coverpkg, "-o", bin, pkg)
	build.Dir = pkgDir
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the tests of %s: %w\n%s", pkg, err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		return nil // no test files
	}
	names, err := listTests(ctx, bin, pkgDir)
	if err != nil {
		return fmt.Errorf("listing the tests of %s: %w", pkg, err)
	}
	tests, failed := in.eachTest(ctx, bin, pkgDir, n, names)
	if !failed {
		ix.tests[pkg] = tests
		return nil
	}
	cov, _, err := in.runTests(ctx, bin, pkgDir, filepath.Join(in.tmp, fmt.Sprintf("%d-all.out", n)), "")
	if err != nil {
		return fmt.Errorf("the tests fail without a mutant in %s: %w", pkg, err)
	}
	ix.whole[pkg] = cov
	return nil
}

// eachTest runs each test of names alone, opts.Parallel at a time, and
// returns what each reached; failed tells whether one of them failed.
func (in *indexer) eachTest(ctx context.Context, bin, pkgDir string, n int, names []string) (map[string]Coverage, bool) {
	var (
		mu     sync.Mutex
		tests  = make(map[string]Coverage, len(names))
		failed bool
		wg     sync.WaitGroup
		jobs   = make(chan int)
	)
	for range in.opts.Parallel {
		wg.Go(func() {
			for i := range jobs {
				profile := filepath.Join(in.tmp, fmt.Sprintf("%d-%d.out", n, i))
				cov, _, err := in.runTests(ctx, bin, pkgDir, profile, "^"+regexp.QuoteMeta(names[i])+"$")
				mu.Lock()
				tests[names[i]], failed = cov, failed || err != nil
				mu.Unlock()
			}
		})
	}
	for i := range names {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return tests, failed
}

// runTests runs the tests of bin that match run (all for "") in pkgDir,
// with a coverage profile written to profile, and returns what they
// reached and their output.
func (in *indexer) runTests(ctx context.Context, bin, pkgDir, profile, run string) (Coverage, []byte, error) {
	args := []string{"-test.count=1", "-test.timeout=" + in.opts.Timeout.String(), "-test.coverprofile=" + profile}
	if run != "" {
		args = append(args, "-test.run="+run)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = pkgDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, out, fmt.Errorf("%w\n%s", err, out)
	}
	f, err := os.Open(profile)
	if err != nil {
		return nil, out, fmt.Errorf("coverage of %s: %w", bin, err)
	}
	defer f.Close()
	cov, err := ParseProfile(f, in.names)
	return cov, out, err
}

// testName matches the names that -test.list prints.
var testName = regexp.MustCompile(`^(Test|Example|Fuzz)[\p{L}\p{N}_]*$`)

// listTests returns the top-level tests, examples and fuzz targets of the
// test binary bin, run in pkgDir.
func listTests(ctx context.Context, bin, pkgDir string) ([]string, error) {
	cmd := exec.CommandContext(ctx, bin, "-test.list=.*")
	cmd.Dir = pkgDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, stderr.String())
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimSpace(line); testName.MatchString(line) {
			names = append(names, line)
		}
	}
	return names, nil
}

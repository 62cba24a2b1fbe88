package dropreturn

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// moduleSource is a small module: Checked's failure is tested, Clamp's
// is reached but its result is not checked, no test reaches
// Unchecked's, and Parse's return holds the last use of v, which the
// mutant must keep to compile.
var moduleSource = map[string]string{
	"go.mod": "module example.com/m\n\ngo 1.25\n",
	"m.go": `package m

import (
	"errors"
	"strconv"
)

var errBig = errors.New("too big")

// Checked doubles n, up to 100.
func Checked(n int) (int, error) {
	if n > 100 {
		return 0, errBig
	}
	return n * 2, nil
}

// Unchecked returns n, up to 100.
func Unchecked(n int) (int, error) {
	if n > 100 {
		return 0, errBig
	}
	return n, nil
}

// Clamp returns n, at most 100.
func Clamp(n int) (int, error) {
	if n > 100 {
		return 100, errBig
	}
	return min(n, 100), nil
}

// Parse returns the length of a number.
func Parse(s string) (int, error) {
	if v, err := strconv.Atoi(s); err != nil {
		return v, err
	}
	return len(s), nil
}
`,
	"m_test.go": `package m

import "testing"

func TestChecked(t *testing.T) {
	if _, err := Checked(101); err == nil {
		t.Fatal("no error")
	}
}

func TestUnchecked(t *testing.T) {
	if n, _ := Unchecked(3); n != 3 {
		t.Fatal(n)
	}
}

func TestClamp(t *testing.T) {
	if n, _ := Clamp(101); n != 100 {
		t.Fatal(n)
	}
}

func TestParse(t *testing.T) {
	if n, _ := Parse("12"); n != 2 {
		t.Fatal(n)
	}
	if _, err := Parse("x"); err == nil {
		t.Fatal("no error")
	}
}
`,
	"skipped/skipped.go": `package skipped

import "errors"

// F fails on a negative n.
func F(n int) error {
	if n < 0 {
		return errors.New("negative")
	}
	return nil
}
`,
}

// writeModule writes files into a new directory and returns it.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	}
	return dir
}

// runOn runs Run on the module in dir with allow, and returns its
// report, its warnings, its tally and its error.
func runOn(t *testing.T, dir string, allow *Allowlist) (string, string, Tally, error) {
	t.Helper()
	var out, warn bytes.Buffer
	tally, err := Run(context.Background(), []string{dir}, Options{
		Root: dir, Out: &out, Warn: &warn, Allow: allow, Timeout: 2 * time.Minute,
		Skip: regexp.MustCompile(`^skipped/`),
	})
	return out.String(), warn.String(), tally, err
}

// mutantLines returns the lines of a report that tell a mutant's fate.
func mutantLines(report string) []string {
	var lines []string
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "KILLED") || strings.HasPrefix(l, "SURVIVED") || strings.HasPrefix(l, "NOT ") || strings.HasPrefix(l, "TIMED OUT") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestRunReportsEachMutant(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a module")
	}
	dir := writeModule(t, moduleSource)

	report, warnings, tally, err := runOn(t, dir, nil)

	require.ErrorIs(t, err, ErrSurvivors)
	assert.Equal(t, []string{
		"KILLED      m.go:13 Checked: if n > 100",
		"NOT COVERED m.go:21 Unchecked: if n > 100",
		"SURVIVED    m.go:29 Clamp: if n > 100",
		"KILLED      m.go:37 Parse: if v, err := strconv.Atoi(s); err != nil",
	}, mutantLines(report))
	assert.Equal(t, Tally{Killed: 2, Survived: 1, NotCovered: 1, Elapsed: tally.Elapsed}, tally)
	assert.Contains(t, report, "    4 tests of 1 packages run alone\n")
	assert.Contains(t, report, "4 mutants: 2 killed (0 timed out), 1 survived, 1 not covered (0 of those allowed), 0 not viable; kill rate 66.7%")
	assert.Empty(t, warnings)
	for name, src := range moduleSource {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		require.NoError(t, err)
		assert.Equal(t, src, string(got), "%s is untouched", name)
	}
}

func TestRunHonoursTheAllowlist(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a module")
	}
	dir := writeModule(t, moduleSource)
	allow, err := ParseAllowlist(strings.NewReader(`
m.go:21 Unchecked: if n > 100 => the limit is checked by the caller
m.go Clamp: if n > 100 => the result is the same
m.go Checked: if n > 100 => obsolete
m.go Gone: if err != nil => the function was removed
gone.go F: if err != nil => the file was removed
skipped/skipped.go F: if n < 0 => not looked into
`), "survivors.txt")
	require.NoError(t, err)

	report, warnings, tally, err := runOn(t, dir, allow)

	require.NoError(t, err)
	assert.Contains(t, report, "NOT COVERED m.go:21 Unchecked: if n > 100  [allowed: the limit is checked by the caller]")
	assert.Contains(t, report, "SURVIVED    m.go:29 Clamp: if n > 100  [allowed: the result is the same]")
	assert.Equal(t, 2, tally.Allowed)
	assert.Equal(t, "warning: allowlist line 4: m.go Checked: if n > 100: the mutant is KILLED now; drop the entry\n"+
		"warning: allowlist line 5: no early return matches m.go Gone: if err != nil (stale)\n"+
		"warning: allowlist line 6: no early return matches gone.go F: if err != nil (stale)\n", warnings)
}

func TestRunGoesOnPastAModuleWhoseTestsFail(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a module")
	}
	files := map[string]string{}
	for k, v := range moduleSource {
		files[k] = v
	}
	files["m_test.go"] += "\nfunc TestBroken(t *testing.T) { t.Fatal(\"broken\") }\n"
	root := t.TempDir()
	broken, good := filepath.Join(root, "broken"), filepath.Join(root, "good")
	for dir, files := range map[string]map[string]string{broken: files, good: moduleSource} {
		for name, src := range files {
			path := filepath.Join(dir, filepath.FromSlash(name))
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
		}
	}
	var out bytes.Buffer

	tally, err := Run(context.Background(), []string{broken, good}, Options{
		Root: root, Out: &out, Warn: &out, Skip: regexp.MustCompile(`(^|/)skipped/`),
	})

	require.ErrorContains(t, err, "module "+broken+": the tests fail without a mutant")
	assert.NotErrorIs(t, err, ErrSurvivors)
	lines := mutantLines(out.String())
	require.NotEmpty(t, lines)
	assert.Equal(t, "KILLED      good/m.go:13 Checked: if n > 100", lines[0], "the next module is tested")
	assert.Equal(t, 4, tally.Total())
}

func TestRunDryRunListsMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list on a module")
	}
	dir := writeModule(t, moduleSource)
	var out bytes.Buffer

	tally, err := Run(context.Background(), []string{dir}, Options{Root: dir, Out: &out, Warn: &out, DryRun: true})

	require.NoError(t, err)
	assert.Zero(t, tally.Total())
	assert.Contains(t, out.String(), "FOUND       m.go:21 Unchecked: if n > 100\n")
	assert.Contains(t, out.String(), "FOUND       skipped/skipped.go:8 F: if n < 0\n")
}

func TestParseModuleArg(t *testing.T) {
	tests := []struct {
		arg, dir, tests, err string
	}{
		{arg: "adapters/gin", dir: "adapters/gin"},
		{arg: ".", dir: "."},
		{arg: "adapters/gin=adapters/conformance", dir: "adapters/gin", tests: "adapters/conformance"},
		{arg: "/abs/m=../t", dir: "/abs/m", tests: "../t"},
		{arg: "=adapters/conformance", err: "no module directory"},
		{arg: "", err: "no module directory"},
		{arg: "adapters/gin=", err: "want DIR or DIR=TESTS_DIR"},
		{arg: "a=b=c", err: "want DIR or DIR=TESTS_DIR"},
		{arg: "adapters/gin=adapters/gin/", err: "own tests always run"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			dir, testsDir, err := ParseModuleArg(tt.arg)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.dir, dir)
			assert.Equal(t, tt.tests, testsDir)
		})
	}
}

func TestGroupByModule(t *testing.T) {
	mods := map[string]string{"m": "/m", "m/x": "/m", "t/a": "/t", "t/b": "/t"}
	tests := []struct {
		name string
		pkgs []string
		want []pkgGroup
	}{
		{"one module", []string{"m", "m/x"}, []pkgGroup{{dir: "/m", pkgs: []string{"m", "m/x"}}}},
		{"the other module only", []string{"t/b"}, []pkgGroup{{dir: "/t", pkgs: []string{"t/b"}}}},
		{"two modules, in the order of their first package", []string{"t/a", "m", "t/b", "m/x"},
			[]pkgGroup{{dir: "/t", pkgs: []string{"t/a", "t/b"}}, {dir: "/m", pkgs: []string{"m", "m/x"}}}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, groupByModule(tt.pkgs, mods))
		})
	}
}

func TestRunTestsWithAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on two modules")
	}
	root := t.TempDir()
	files := map[string]string{}
	for name, src := range moduleSource {
		files["m/"+name] = src
	}
	files["t/go.mod"] = "module example.com/t\n\ngo 1.25\n\nrequire example.com/m v0.0.0\n\nreplace example.com/m => ../m\n"
	files["t/uses/uses_test.go"] = `package uses

import (
	"testing"

	"example.com/m"
)

func TestUncheckedRefusesBig(t *testing.T) {
	if _, err := m.Unchecked(101); err == nil {
		t.Fatal("no error")
	}
}
`
	files["t/unrelated/unrelated_test.go"] = "package unrelated\n\nimport \"testing\"\n\nfunc TestNothing(t *testing.T) {}\n"
	for name, src := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	}
	var out, warn bytes.Buffer

	tally, err := Run(context.Background(), []string{filepath.Join(root, "m") + "=" + filepath.Join(root, "t")}, Options{
		Root: root, Out: &out, Warn: &warn, Timeout: 2 * time.Minute, Skip: regexp.MustCompile(`(^|/)skipped/`),
	})

	require.ErrorIs(t, err, ErrSurvivors)
	assert.Equal(t, []string{
		"KILLED      m/m.go:13 Checked: if n > 100",
		"KILLED      m/m.go:21 Unchecked: if n > 100",
		"SURVIVED    m/m.go:29 Clamp: if n > 100",
		"KILLED      m/m.go:37 Parse: if v, err := strconv.Atoi(s); err != nil",
	}, mutantLines(out.String()), "the other module's test kills Unchecked's mutant")
	assert.Contains(t, out.String(), "    5 tests of 2 packages run alone\n", "the unrelated package is left out")
	assert.Equal(t, Tally{Killed: 3, Survived: 1, Elapsed: tally.Elapsed}, tally)
	assert.Empty(t, warn.String())
	for name, src := range files {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		require.NoError(t, err)
		assert.Equal(t, src, string(got), "%s is untouched", name)
	}
}

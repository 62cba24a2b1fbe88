package main

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
)

var testMods = []mod{
	{Dir: ".", Path: rootPath, Published: true},
	{Dir: "backchannel", Path: rootPath + "/backchannel", Published: true},
	{Dir: "adapters/gin", Path: rootPath + "/adapters/gin", Published: true},
	{Dir: "adapters/fiber", Path: rootPath + "/adapters/fiber", Published: true},
	{Dir: "adapters/fiber/fiber3", Path: rootPath + "/adapters/fiber/fiber3", Published: true},
	{Dir: "examples", Path: rootPath + "/examples"},
}

func TestRewriteGoMod(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // "path version" of each require
		wantErr  string
	}{
		{
			name: "requires set, replaces into the repository dropped, others kept",
			in: `module ` + rootPath + `/adapters/gin

go 1.25.0

replace ` + rootPath + ` => ../../

replace example.com/x => example.com/y v1.2.3

require (
	github.com/gin-gonic/gin v1.12.0
	` + rootPath + ` v0.0.0-00010101000000-000000000000
	` + rootPath + `/backchannel v0.0.0
)
`,
			want: []string{"github.com/gin-gonic/gin v1.12.0", rootPath + " v0.4.0", rootPath + "/backchannel v0.4.0"},
		},
		{
			name: "an unpublished module required",
			in: `module ` + rootPath + `/adapters/gin

require ` + rootPath + `/examples v0.0.0
`,
			wantErr: "not published",
		},
		{
			name: "another module replaced by a directory",
			in: `module ` + rootPath + `/adapters/gin

replace example.com/x => ../x
`,
			wantErr: "a user does not have",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := rewriteGoMod("go.mod", []byte(tc.in), testMods, "v0.4.0")
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			f, err := modfile.Parse("go.mod", out, nil)
			require.NoError(t, err)
			var got []string
			for _, r := range f.Require {
				got = append(got, r.Mod.Path+" "+r.Mod.Version)
			}
			assert.Equal(t, tc.want, got)
			require.Len(t, f.Replace, 1, "only the replace of a module outside the repository stays")
			assert.Equal(t, "example.com/x", f.Replace[0].Old.Path)
		})
	}
}

func TestReleaseOrder(t *testing.T) {
	saved := published
	t.Cleanup(func() { published = saved })
	published = []string{"adapters/fiber/fiber3", "adapters/gin", "backchannel", "."}
	deps := map[string][]string{
		rootPath + "/adapters/gin":          {rootPath, rootPath + "/backchannel"},
		rootPath + "/adapters/fiber/fiber3": {rootPath},
		rootPath + "/backchannel":           {rootPath},
	}
	order, err := releaseOrder(testMods, deps)
	require.NoError(t, err)
	var dirs []string
	for _, m := range order {
		dirs = append(dirs, m.Dir)
	}
	assert.Equal(t, []string{".", "adapters/fiber/fiber3", "backchannel", "adapters/gin"}, dirs)
	assert.Equal(t, "adapters/fiber/fiber3/", order[1].TagPrefix())
	assert.Empty(t, order[0].TagPrefix())

	deps[rootPath] = []string{rootPath + "/backchannel"}
	_, err = releaseOrder(testMods, deps)
	assert.ErrorContains(t, err, "cycle")
}

func TestOwner(t *testing.T) {
	tests := []struct{ importPath, want string }{
		{rootPath, rootPath},
		{rootPath + "/internal/lru", rootPath},
		{rootPath + "/adapters/fiber/fiber3/internal/httpconv", rootPath + "/adapters/fiber/fiber3"},
		{rootPath + "/adapters/fiberx", rootPath},
		{"github.com/gin-gonic/gin", ""},
	}
	for _, tc := range tests {
		m, ok := owner(testMods, tc.importPath)
		assert.Equal(t, tc.want != "", ok, tc.importPath)
		assert.Equal(t, tc.want, m.Path, tc.importPath)
	}
}

const changelog = `# Changelog

Intro.

## [Unreleased]

### Added

- next thing

## [0.2.0] - 2026-12-01

### Fixed

- a bug

## [0.1.0] - 2026-11-01

- first

[Unreleased]: https://example.com/compare/v0.2.0...HEAD
[0.2.0]: https://example.com/compare/v0.1.0...v0.2.0
`

func TestReleaseNotes(t *testing.T) {
	tests := []struct {
		name, version string
		changelog     string // the one above when empty
		fallback      bool
		want          string
		wantFallback  bool
		wantErr       bool
	}{
		{name: "a version's section", version: "v0.2.0", want: "### Fixed\n\n- a bug"},
		{name: "the last section, without the links", version: "v0.1.0", want: "- first"},
		{name: "rehearsal falls back to Unreleased", version: "v0.99.0", fallback: true, want: "### Added\n\n- next thing", wantFallback: true},
		{name: "a release needs its section", version: "v0.3.0", wantErr: true},
		{name: "a rehearsal without an Unreleased section", version: "v0.3.0", fallback: true, wantFallback: true, changelog: "# Changelog\n\n## [0.1.0]\n\n- first\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.changelog
			if text == "" {
				text = changelog
			}
			got, fellBack, err := releaseNotes(text, tc.version, tc.fallback)
			if tc.wantErr {
				assert.ErrorContains(t, err, "## [0.3.0]")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantFallback, fellBack)
		})
	}
}

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"v0.1.0": true, "v1.2.3": true, "v0.1": false, "0.1.0": false,
		"v0.1.0-rc.1": false, "v2.0.0": false, "v0.1.0+build": false,
	} {
		assert.Equal(t, ok, checkVersion(v) == nil, v)
	}
	assert.Equal(t, "v0.4.1", nextPatch("v0.4.0"))
}

// TestCheckBoundaries builds a small repository of three modules and
// checks what the check reports of each kind of import.
func TestCheckBoundaries(t *testing.T) {
	root := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	saved := knownExceptions
	t.Cleanup(func() { knownExceptions = saved })
	knownExceptions = []boundaryImport{
		{Importer: rootPath + "/backchannel", Imported: rootPath + "/internal/lru"},
		{Importer: rootPath + "/backchannel", Imported: rootPath + "/internal/oidcdoc"},
	}
	mods := []mod{
		{Dir: ".", Path: rootPath, Published: true},
		{Dir: "backchannel", Path: rootPath + "/backchannel", Published: true},
		{Dir: "adapters/gin", Path: rootPath + "/adapters/gin", Published: true},
		{Dir: "examples", Path: rootPath + "/examples"},
		{Dir: "adapters/internal", Path: rootPath + "/adapters/internal", Published: true},
	}
	write("internal/lru/lru.go", "package lru\n")
	write("adapters/internal/httpconv/h.go", "package httpconv\n")
	write("adapters/gin/g.go", "package gin\n\nimport _ \""+rootPath+"/adapters/internal/httpconv\"\n")
	write("backchannel/b.go", "package backchannel\n\nimport _ \""+rootPath+"/internal/lru\"\n")
	write("adapters/gin/g_test.go", "//go:build ignore\n\npackage gin\n\nimport (\n\t_ \""+rootPath+"/examples/x\"\n\t_ \""+rootPath+"/internal/other\"\n)\n")
	write("adapters/gin/testdata/t.go", "package t\n\nimport _ \""+rootPath+"/internal/skipped\"\n")
	write("examples/e.go", "package examples\n\nimport _ \""+rootPath+"/internal/lru\"\n")
	write("adapters/fiber/internal/httpconv/httpconv.go", "package httpconv\n")
	write("adapters/fiber/fiber3/internal/httpconv/httpconv.go", "package httpconv // changed\n")

	rep, err := checkBoundaries(root, mods)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{
		"adapters/gin/g_test.go imports " + rootPath + "/examples/x of module " + rootPath + "/examples, which is not published",
		"adapters/gin/g_test.go imports " + rootPath + "/internal/other, an internal package of module " + rootPath,
		"examples/e.go imports " + rootPath + "/internal/lru, an internal package of module " + rootPath,
		"adapters/gin/g.go imports " + rootPath + "/adapters/internal/httpconv, an internal package of module " + rootPath + "/adapters/internal",
		"adapters/fiber/internal/httpconv/httpconv.go and adapters/fiber/fiber3/internal/httpconv/httpconv.go differ: they are copies, change both",
	}, rep.Violations, "build tags do not hide an import; testdata is left out")
	assert.Equal(t, []boundaryImport{{Importer: rootPath + "/backchannel", Imported: rootPath + "/internal/lru"}}, rep.Known)
	assert.Equal(t, []boundaryImport{{Importer: rootPath + "/backchannel", Imported: rootPath + "/internal/oidcdoc"}}, rep.Stale)
	assert.False(t, rep.print())
}

// TestRepositoryBoundaries runs the check on this repository.
func TestRepositoryBoundaries(t *testing.T) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	require.NoError(t, err)
	root := filepath.Clean(string(out[:len(out)-1]))
	mods, err := discover(root)
	require.NoError(t, err)
	rep, err := checkBoundaries(root, mods)
	require.NoError(t, err)
	assert.Empty(t, rep.Violations)
}

func TestCheckZip(t *testing.T) {
	build := func(names ...string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, n := range names {
			_, err := zw.Create(n)
			require.NoError(t, err)
		}
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}
	const p = "example.com/m@v0.1.0"
	assert.NoError(t, checkZip(build(p+"/go.mod", p+"/LICENSE", p+"/m.go"), p))
	assert.ErrorContains(t, checkZip(build(p+"/go.mod", p+"/m.go"), p), "LICENSE")
	assert.ErrorContains(t, checkZip(build(p+"/LICENSE", "other@v0.1.0/go.mod"), p), "go.mod")
}

func TestPreviousRelease(t *testing.T) {
	root := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@localhost",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@localhost")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
	git("init", "-q")
	git("commit", "-q", "--allow-empty", "-m", "one")
	for _, tag := range []string{"v0.1.0", "v0.2.0", "v0.10.0", "backchannel/v0.3.0", "v0.3.0-rc.1", "vnext"} {
		git("tag", tag)
	}
	tests := []struct{ version, want string }{
		{"v0.3.0", "v0.2.0"},
		{"v0.11.0", "v0.10.0"},
		{"v0.1.0", ""},
	}
	for _, tc := range tests {
		got, err := previousRelease(root, tc.version)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, tc.version)
	}
}

func TestWithProxy(t *testing.T) {
	env := withProxy([]string{"A=1", "GOPROXY=file:///p,https://proxy.golang.org"}, "/q")
	assert.Equal(t, []string{"A=1", "GOPROXY=file:///q,file:///p,https://proxy.golang.org"}, env)
}

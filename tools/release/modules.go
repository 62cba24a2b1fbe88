package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
)

// rootPath is the module path of the core; every module of the repository
// has a path under it.
const rootPath = "github.com/oidc-logout/logout"

// published are the directories of the modules a release tags, relative to
// the repository root. Every other module of the repository must be listed
// in unpublished, so that a new module is a decision, not an accident.
var published = []string{
	".",
	"backchannel",
	"redisstore",
	"adapters/gin",
	"adapters/echo",
	"adapters/fiber",
	"adapters/fiber/fiber3",
}

// unpublished are the modules that exist only inside the repository: they
// reach their neighbours through replace lines and are never tagged.
var unpublished = []string{
	"adapters/conformance", // the adapters' shared test suite and their tests
	"e2e",
	"e2e/hydra", // builds Ory Hydra for the e2e tests
	"examples",
	"tools/mutate",
	"tools/release",
}

// mod is one module of the repository.
type mod struct {
	Dir       string // relative to the repository root, "." for the core
	Path      string // module path
	Published bool
}

// TagPrefix is what comes before the version in the module's tags.
func (m mod) TagPrefix() string {
	if m.Dir == "." {
		return ""
	}
	return m.Dir + "/"
}

// discover lists the modules of the repository at root from the go.mod
// files git tracks, and checks that each is listed in published or
// unpublished and that its path matches its directory.
func discover(root string) ([]mod, error) {
	out, err := gitOutput(root, "ls-files", "go.mod", "*/go.mod")
	if err != nil {
		return nil, err
	}
	var mods []mod
	for _, line := range strings.Fields(out) {
		dir := path.Dir(line)
		data, err := os.ReadFile(filepath.Join(root, line))
		if err != nil {
			return nil, fmt.Errorf("release: %w", err)
		}
		modPath := modfile.ModulePath(data)
		want := rootPath
		if dir != "." {
			want += "/" + dir
		}
		if modPath != want {
			return nil, fmt.Errorf("release: %s declares module %q, want %q", line, modPath, want)
		}
		m := mod{Dir: dir, Path: modPath, Published: slices.Contains(published, dir)}
		if !m.Published && !slices.Contains(unpublished, dir) {
			return nil, fmt.Errorf("release: module %s is neither published nor unpublished: add it to one list in tools/release/modules.go", dir)
		}
		mods = append(mods, m)
	}
	for _, list := range [][]string{published, unpublished} {
		for _, dir := range list {
			if !slices.ContainsFunc(mods, func(m mod) bool { return m.Dir == dir }) {
				return nil, fmt.Errorf("release: module %s is listed in tools/release/modules.go but has no go.mod", dir)
			}
		}
	}
	return mods, nil
}

// owner returns the module of mods that holds the package importPath,
// the one with the longest path that is a prefix of it.
func owner(mods []mod, importPath string) (mod, bool) {
	var best mod
	found := false
	for _, m := range mods {
		if (importPath == m.Path || strings.HasPrefix(importPath, m.Path+"/")) && len(m.Path) > len(best.Path) {
			best, found = m, true
		}
	}
	return best, found
}

// rewriteGoMod returns the go.mod of a published module as the release
// publishes it: every require of a module of the repository set to
// version, and the replace lines of modules of the repository dropped. It
// refuses a require of an unpublished module and a replace by a local
// directory of any other module, which a user would not have.
func rewriteGoMod(name string, data []byte, mods []mod, version string) ([]byte, error) {
	f, err := modfile.Parse(name, data, nil)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	for _, r := range f.Require {
		m, ok := owner(mods, r.Mod.Path)
		if !ok || m.Path != r.Mod.Path {
			continue
		}
		if !m.Published {
			return nil, fmt.Errorf("release: %s requires %s, a module that is not published", name, m.Path)
		}
		if err := f.AddRequire(m.Path, version); err != nil {
			return nil, fmt.Errorf("release: %s: %w", name, err)
		}
	}
	for _, r := range slices.Clone(f.Replace) {
		if m, ok := owner(mods, r.Old.Path); ok && m.Path == r.Old.Path {
			if err := f.DropReplace(r.Old.Path, r.Old.Version); err != nil {
				return nil, fmt.Errorf("release: %s: %w", name, err)
			}
			continue
		}
		if r.New.Version == "" {
			return nil, fmt.Errorf("release: %s replaces %s with the directory %s, which a user does not have", name, r.Old.Path, r.New.Path)
		}
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return nil, fmt.Errorf("release: %s: %w", name, err)
	}
	return out, nil
}

// requires returns the modules of mods that the go.mod data requires.
func requires(data []byte, mods []mod) ([]string, error) {
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	var out []string
	for _, r := range f.Require {
		if m, ok := owner(mods, r.Mod.Path); ok && m.Path == r.Mod.Path {
			out = append(out, m.Path)
		}
	}
	return out, nil
}

// releaseOrder returns the published modules in the order their tags are
// created: each after every module it requires, the core first; modules
// with no order between them keep the order of the published list.
func releaseOrder(mods []mod, deps map[string][]string) ([]mod, error) {
	var pub []mod
	for _, dir := range published {
		i := slices.IndexFunc(mods, func(m mod) bool { return m.Dir == dir })
		if i < 0 {
			return nil, fmt.Errorf("release: no module in %s", dir)
		}
		pub = append(pub, mods[i])
	}
	var order []mod
	done := map[string]bool{}
	for len(order) < len(pub) {
		progress := false
		for _, m := range pub {
			if done[m.Path] {
				continue
			}
			ready := true
			for _, d := range deps[m.Path] {
				if !done[d] {
					ready = false
				}
			}
			if ready {
				order = append(order, m)
				done[m.Path] = true
				progress = true
			}
		}
		if !progress {
			return nil, fmt.Errorf("release: the published modules require each other in a cycle")
		}
	}
	return order, nil
}

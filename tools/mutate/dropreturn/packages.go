package dropreturn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Package is a package of the module under test.
type Package struct {
	// ImportPath is the package's import path.
	ImportPath string
	// Dir is the directory of its source.
	Dir string
	// Files are the absolute paths of its Go files in this build, test
	// files left out.
	Files []string
	// Testers are the import paths of the module's packages whose tests
	// exercise this one: the package itself when it has tests, and
	// every package whose test binary depends on it.
	Testers []string
}

// listed is what go list -json prints of a package; for a package listed
// with -test, ImportPath has a " [p.test]" suffix and ForTest is p, and
// its test binary is listed as "p.test".
type listed struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	ForTest    string
	Deps       []string
}

// ListPackages lists the packages of the module in dir, nested modules
// left out, with goCmd ("go").
func ListPackages(ctx context.Context, goCmd, dir string) ([]Package, error) {
	all, err := listModule(ctx, goCmd, dir)
	if err != nil {
		return nil, err
	}
	return packagesOf(all), nil
}

// ListTesters lists the packages of the module in dir (a module other
// than theirs) whose tests depend on any of pkgs, with goCmd ("go"). It
// returns the import paths of those packages for each of pkgs, and the
// directory of every package of the module by import path.
func ListTesters(ctx context.Context, goCmd, dir string, pkgs []string) (map[string][]string, map[string]string, error) {
	all, err := listModule(ctx, goCmd, dir)
	if err != nil {
		return nil, nil, err
	}
	byDep := testersOf(all)
	testers := map[string][]string{}
	for _, p := range pkgs {
		if t := byDep[p]; len(t) > 0 {
			testers[p] = t
		}
	}
	dirs := map[string]string{}
	for _, p := range packagesOf(all) {
		dirs[p.ImportPath] = p.Dir
	}
	return testers, dirs, nil
}

// listModule runs go list -test on the packages of the module in dir.
func listModule(ctx context.Context, goCmd, dir string) ([]listed, error) {
	cmd := exec.CommandContext(ctx, goCmd, "list", "-test",
		"-json=ImportPath,Dir,GoFiles,ForTest,Deps", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	all, err := decodeListed(out)
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %w", dir, err)
	}
	return all, nil
}

// decodeListed decodes the stream of JSON objects that go list prints.
func decodeListed(out []byte) ([]listed, error) {
	dec := json.NewDecoder(bytes.NewReader(out))
	var all []listed
	for {
		var p listed
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return all, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decoding: %w", err)
		}
		all = append(all, p)
	}
}

// packagesOf builds the packages of a go list -test listing, each with
// the packages whose test binaries depend on it.
func packagesOf(all []listed) []Package {
	var pkgs []Package
	for _, p := range all {
		if isPlain(p) {
			files := make([]string, len(p.GoFiles))
			for i, f := range p.GoFiles {
				files[i] = filepath.Join(p.Dir, f)
			}
			pkgs = append(pkgs, Package{ImportPath: p.ImportPath, Dir: p.Dir, Files: files})
		}
	}
	testers := testersOf(all)
	for i := range pkgs {
		pkgs[i].Testers = testers[pkgs[i].ImportPath]
	}
	return pkgs
}

// isPlain reports whether p is a package of a go list -test listing
// rather than a variant built for tests or a test binary.
func isPlain(p listed) bool {
	return p.ForTest == "" && !strings.Contains(p.ImportPath, " ") && !strings.HasSuffix(p.ImportPath, ".test")
}

// testersOf maps each package that a test binary of a go list -test
// listing depends on, whatever its module, to the sorted import paths of
// the listed packages whose test binaries those are.
func testersOf(all []listed) map[string][]string {
	plain := map[string]bool{}
	for _, p := range all {
		if isPlain(p) {
			plain[p.ImportPath] = true
		}
	}
	testers := map[string][]string{}
	for _, p := range all {
		tested, ok := strings.CutSuffix(p.ImportPath, ".test")
		if !ok || !plain[tested] {
			continue
		}
		for _, d := range p.Deps {
			d, _, _ = strings.Cut(d, " ")
			if !slices.Contains(testers[d], tested) {
				testers[d] = append(testers[d], tested)
			}
		}
	}
	for _, t := range testers {
		slices.Sort(t)
	}
	return testers
}

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
	return packagesOf(all), nil
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
	plain := map[string]bool{}
	for _, p := range all {
		if p.ForTest == "" && !strings.Contains(p.ImportPath, " ") && !strings.HasSuffix(p.ImportPath, ".test") {
			plain[p.ImportPath] = true
			files := make([]string, len(p.GoFiles))
			for i, f := range p.GoFiles {
				files[i] = filepath.Join(p.Dir, f)
			}
			pkgs = append(pkgs, Package{ImportPath: p.ImportPath, Dir: p.Dir, Files: files})
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
			if plain[d] && !slices.Contains(testers[d], tested) {
				testers[d] = append(testers[d], tested)
			}
		}
	}
	for i := range pkgs {
		pkgs[i].Testers = testers[pkgs[i].ImportPath]
		slices.Sort(pkgs[i].Testers)
	}
	return pkgs
}

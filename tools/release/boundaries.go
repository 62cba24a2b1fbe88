package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ---------------------------------------------------------------------
// KNOWN EXCEPTIONS to "no module imports another module's internal
// packages". The check reports each of them on every run without failing.
// Each is a debt: a release of the importer only builds with versions of
// the imported module whose internal package did not change. Delete the
// line when the import goes; the check says when a line is no longer
// needed.
var knownExceptions = []boundaryImport{}

// ---------------------------------------------------------------------

// sameFiles are files that are copies of each other, kept in modules of
// their own so that no module imports another's internal package: each
// pair must stay byte for byte the same.
var sameFiles = [][2]string{
	{"adapters/fiber/internal/httpconv/httpconv.go", "adapters/fiber/fiber3/internal/httpconv/httpconv.go"},
}

// boundaryImport is an import of a package of another module of the
// repository.
type boundaryImport struct {
	Importer string // module path of the importing module
	Imported string // import path
}

// boundaryReport is what checkBoundaries found.
type boundaryReport struct {
	Violations []string         // each a line naming the file and the import
	Known      []boundaryImport // known exceptions seen
	Stale      []boundaryImport // known exceptions no longer seen
}

// checkBoundaries reads the imports of every Go file of every module of
// the repository at root, whatever its build tags, and reports:
//   - an import of another module's internal package (a path with an
//     "internal" element beyond the imported module's path), unless it is
//     in knownExceptions;
//   - an import, by a published module, of a package of an unpublished
//     module, which a user cannot fetch (test files included: go mod tidy
//     loads the tests of a user's dependencies);
//   - files of sameFiles that differ.
func checkBoundaries(root string, mods []mod) (boundaryReport, error) {
	var rep boundaryReport
	seen := map[boundaryImport]bool{}
	dirs := map[string]bool{}
	for _, m := range mods {
		dirs[m.Dir] = true
	}
	for _, m := range mods {
		base := filepath.Join(root, m.Dir)
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				name := d.Name()
				if p != base && (dirs[rel] || name == "testdata" || name == "vendor" || name == "node_modules" || strings.HasPrefix(name, ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
			if err != nil {
				return fmt.Errorf("release: %w", err)
			}
			for _, spec := range f.Imports {
				ip, _ := strconv.Unquote(spec.Path.Value)
				to, ok := owner(mods, ip)
				if !ok || to.Path == m.Path {
					continue
				}
				if isInternal(ip) {
					bi := boundaryImport{Importer: m.Path, Imported: ip}
					if slices.Contains(knownExceptions, bi) {
						seen[bi] = true
					} else {
						rep.Violations = append(rep.Violations, fmt.Sprintf("%s imports %s, an internal package of module %s", rel, ip, to.Path))
					}
				}
				if m.Published && !to.Published {
					rep.Violations = append(rep.Violations, fmt.Sprintf("%s imports %s of module %s, which is not published", rel, ip, to.Path))
				}
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	for _, e := range knownExceptions {
		if seen[e] {
			rep.Known = append(rep.Known, e)
		} else {
			rep.Stale = append(rep.Stale, e)
		}
	}
	for _, pair := range sameFiles {
		a, errA := os.ReadFile(filepath.Join(root, pair[0]))
		b, errB := os.ReadFile(filepath.Join(root, pair[1]))
		if err := errors.Join(errA, errB); err != nil {
			rep.Violations = append(rep.Violations, fmt.Sprintf("%s and %s are copies: %v", pair[0], pair[1], err))
		} else if !bytes.Equal(a, b) {
			rep.Violations = append(rep.Violations, fmt.Sprintf("%s and %s differ: they are copies, change both", pair[0], pair[1]))
		}
	}
	return rep, nil
}

// isInternal reports whether importPath names an internal package: one
// with an "internal" element, in the imported module's path or below it
// (Go lets every package under the parent of that element import it,
// whatever module it is in).
func isInternal(importPath string) bool {
	return slices.Contains(strings.Split(importPath, "/"), "internal")
}

// print writes the report; it returns false when there are violations.
func (rep boundaryReport) print() bool {
	for _, e := range rep.Known {
		logf("known exception (listed in tools/release/boundaries.go): %s imports %s", e.Importer, e.Imported)
	}
	for _, e := range rep.Stale {
		logf("known exception no longer needed, delete its line in tools/release/boundaries.go: %s imports %s", e.Importer, e.Imported)
	}
	for _, v := range rep.Violations {
		logf("VIOLATION: %s", v)
	}
	return len(rep.Violations) == 0
}

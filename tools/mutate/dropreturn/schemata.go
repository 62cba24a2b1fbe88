package dropreturn

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Mutant schemata: rather than one build per mutant, every site of a
// module is compiled once, each return wrapped in
//
//	if !dropreturnMutant(N) { return ... }
//
// and each tested package gets one test binary. A mutant is then one run
// of the binaries that its tests belong to, with DROPRETURN_MUTANT=N in
// the environment: the return of site N is skipped, every other one
// runs. The wrapper keeps the return's operands in use and every byte of
// the line in place, as Mutant does.

// schemataEnv names the environment variable that selects the mutant.
const schemataEnv = "DROPRETURN_MUTANT"

// schemataFile is the file added to each mutated package's directory
// (through the overlay only): the function that tells whether site N is
// the active mutant.
const schemataFile = "zz_dropreturn_schemata.go"

// schemata is a module's mutants compiled at once.
type schemata struct {
	dir  string            // holds the binaries
	bins map[string]string // test binary of each tested package, by import path
}

// Schemata returns the sources of the files of muts with every site
// wrapped so that DROPRETURN_MUTANT=N skips the return of the mutant
// whose id is N, and, for each directory of a mutated package, the
// file that declares the switch, both by absolute path.
func Schemata(muts []mutant) (map[string][]byte, error) {
	type insert struct {
		at   int
		text string
	}
	edits := map[string][]insert{}
	srcs := map[string][]byte{}
	pkgNames := map[string]string{}
	for _, m := range muts {
		s := m.site
		if s.Start < 0 || s.End > len(m.src) || s.Start >= s.End {
			return nil, fmt.Errorf("return at %s:%d: offsets %d-%d outside the source", s.File, s.Line, s.Start, s.End)
		}
		srcs[m.path] = m.src
		edits[m.path] = append(edits[m.path],
			insert{s.Start, "if !dropreturnMutant(" + strconv.Itoa(m.id) + ") { "},
			insert{s.End, " }"})
		dir := filepath.Dir(m.path)
		if _, ok := pkgNames[dir]; !ok {
			f, err := parser.ParseFile(token.NewFileSet(), m.path, m.src, parser.PackageClauseOnly)
			if err != nil {
				return nil, fmt.Errorf("package of %s: %w", m.path, err)
			}
			pkgNames[dir] = f.Name.Name
		}
	}
	out := map[string][]byte{}
	for path, ins := range edits {
		// From the end, so that each offset still points into the
		// original; at one offset a closing brace goes before an opening
		// one, whose return starts where another one ended.
		slices.SortStableFunc(ins, func(a, b insert) int {
			if a.at != b.at {
				return b.at - a.at
			}
			return strings.Compare(a.text, b.text)
		})
		src := slices.Clone(srcs[path])
		for _, in := range ins {
			src = slices.Insert(src, in.at, []byte(in.text)...)
		}
		out[path] = src
	}
	for dir, name := range pkgNames {
		out[filepath.Join(dir, schemataFile)] = []byte("package " + name + `

import (
	"os"
	"strconv"
)

var dropreturnActive, _ = strconv.Atoi(os.Getenv("` + schemataEnv + `"))

func dropreturnMutant(n int) bool { return n == dropreturnActive }
`)
	}
	return out, nil
}

// buildSchemata compiles the schemata of muts and a test binary of each
// package that tests them. A build that fails returns an error wrapping
// errSchemataBuild, and the caller falls back to one build per mutant.
func (r *runner) buildSchemata(ctx context.Context, muts []mutant) (*schemata, error) {
	files, err := Schemata(muts)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dropreturn-schemata-")
	if err != nil {
		return nil, fmt.Errorf("schemata: %w", err)
	}
	ov, err := writeOverlay(dir, files)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var pkgs []string
	for _, m := range muts {
		pkgs = append(pkgs, m.pkgs...)
	}
	sch := &schemata{dir: dir, bins: map[string]string{}}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, r.opts.Parallel)
	)
	for i, p := range unique(pkgs) {
		bin := filepath.Join(dir, "pkg"+strconv.Itoa(i)+".test")
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.CommandContext(ctx, r.opts.Go, "test", "-c", "-vet=off", "-overlay="+ov, "-o", bin, p)
			cmd.Dir = r.mods[p]
			out, err := cmd.CombinedOutput()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%w: %s: %v\n%s", errSchemataBuild, p, err, out))
			default:
				if _, err := os.Stat(bin); err == nil {
					sch.bins[p] = bin // a package without tests gets none
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		os.RemoveAll(dir)
		return nil, errors.Join(errs...)
	}
	return sch, nil
}

// errSchemataBuild reports that the schemata did not compile.
var errSchemataBuild = errors.New("the mutant schemata do not compile")

// runSchemata runs the test binaries of pkgs with mutant id active and
// the -run pattern run ("" for all), each in its package's directory,
// and classifies the outcome as goTest does.
func (r *runner) runSchemata(ctx context.Context, sch *schemata, id int, run string, pkgs []string) (result, error) {
	var res result
	for _, p := range pkgs {
		bin, ok := sch.bins[p]
		if !ok {
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, r.opts.Timeout+time.Minute)
		args := []string{"-test.count=1", "-test.failfast", "-test.timeout=" + r.opts.Timeout.String()}
		if run != "" {
			args = append(args, "-test.run="+run)
		}
		cmd := exec.CommandContext(tctx, bin, args...)
		cmd.Dir = r.dirs[p]
		cmd.Env = append(os.Environ(), schemataEnv+"="+strconv.Itoa(id))
		cmd.WaitDelay = 10 * time.Second
		out, err := cmd.CombinedOutput()
		deadline := errors.Is(tctx.Err(), context.DeadlineExceeded)
		cancel()
		if ctx.Err() != nil {
			return result{}, ctx.Err()
		}
		res = result{status: Classify(out, err, deadline), output: append(res.output, out...)}
		if res.status != Survived {
			break
		}
	}
	return res, nil
}

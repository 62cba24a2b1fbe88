// Command release tags every published module of this repository at one
// version, or rehearses it.
//
//	release [-dry-run] [-skip-ci] [-keep] [-out DIR] [-remote NAME] VERSION
//	release -check-boundaries
//
// It checks that no module imports another module's internal packages
// (see knownExceptions in boundaries.go) and that published modules import
// no unpublished one, that the tree is clean, and that CI passes (-skip-ci
// leaves that out, for CI itself). Then, in a throwaway clone of HEAD, it
// makes the release commit: in each published module's go.mod every
// require of a module of the repository set to VERSION and the replace
// lines that point into the repository dropped, go.sum completed by go mod
// tidy. It tags that commit in dependency order (VERSION for the core,
// then backchannel/VERSION, redisstore/VERSION, adapters/gin/VERSION, ...),
// the core's tag annotated with the release notes, which are the section
// of docs/CHANGELOG.md for VERSION.
//
// It writes every published module, zipped by golang.org/x/mod/zip from
// the release commit as the Go module proxy would, into a file-based
// module proxy (GOPROXY=file://DIR), and uses it as a user would, in a
// fresh module outside the repository with no replace line: go get of
// every published module, go mod tidy, go build, go vet and go test of the
// README's programs, of one program per adapter and one for redisstore,
// and of a logout test. Then it publishes a next version of the core alone
// (a trivial change) in a second proxy and checks that the user's module
// still compiles (go vet) and passes its test with only the core upgraded.
// When the repository has an earlier release, it also serves that
// release's modules from their tags and checks that a user's module at
// that release still compiles and passes its test once only the core is
// upgraded to
// VERSION (-breaking makes a failure there a warning, for a release that
// says it breaks them).
//
// Without -dry-run it then fetches the tags into the repository and
// pushes them to the remote one by one, in dependency order. With
// -dry-run nothing leaves the throwaway clone; the rehearsal uses the
// Unreleased section of the changelog when VERSION has none.
package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

var start = time.Now()

// logf prints a progress line with the time since the start.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

type options struct {
	repo, version, remote, out string
	dryRun, skipCI, keep       bool
	breaking                   bool
	boundariesOnly             bool
}

func main() {
	var o options
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.StringVar(&o.repo, "repo", ".", "the repository's root `directory`")
	fs.BoolVar(&o.dryRun, "dry-run", false, "do everything but push: the tags stay in a throwaway clone")
	fs.BoolVar(&o.skipCI, "skip-ci", false, "do not run .ci/run first (for CI, which runs the dry run itself)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (clone, proxy, user module)")
	fs.StringVar(&o.out, "out", "", "write the module proxy and RELEASE_NOTES.md into `directory` (kept)")
	fs.StringVar(&o.remote, "remote", "origin", "the remote to push the tags to")
	fs.BoolVar(&o.breaking, "breaking", false, "go on when a user of the previous release who upgrades only the core breaks")
	fs.BoolVar(&o.boundariesOnly, "check-boundaries", false, "only check the module boundaries")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: release [flags] VERSION | release -check-boundaries")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if !o.boundariesOnly {
		if fs.NArg() != 1 {
			fs.Usage()
			os.Exit(2)
		}
		o.version = fs.Arg(0)
	}
	if err := run(o); err != nil {
		logf("%v", err)
		os.Exit(1)
	}
}

func run(o options) error {
	root, err := filepath.Abs(o.repo)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if top, err := gitOutput(root, "rev-parse", "--show-toplevel"); err != nil || strings.TrimSpace(top) != root {
		return fmt.Errorf("release: %s is not the root of a git repository", root)
	}
	mods, err := discover(root)
	if err != nil {
		return err
	}
	logf("module boundaries")
	rep, err := checkBoundaries(root, mods)
	if err != nil {
		return err
	}
	if !rep.print() {
		return errors.New("release: module boundaries violated")
	}
	if o.boundariesOnly {
		return nil
	}
	if err := checkVersion(o.version); err != nil {
		return err
	}

	for _, m := range mods {
		t := m.TagPrefix() + o.version
		if _, err := gitOutput(root, "rev-parse", "-q", "--verify", "refs/tags/"+t); m.Published && err == nil {
			return fmt.Errorf("release: the tag %s exists already", t)
		}
	}
	status, err := gitOutput(root, "status", "--porcelain")
	if err != nil {
		return err
	}
	if status != "" {
		if !o.dryRun {
			return fmt.Errorf("release: the tree has changes that are not committed:\n%s", status)
		}
		logf("warning: the tree has uncommitted changes; the dry run uses HEAD without them")
	}
	changelog, err := os.ReadFile(filepath.Join(root, "docs", "CHANGELOG.md"))
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	notes, fellBack, err := releaseNotes(string(changelog), o.version, o.dryRun)
	if err != nil {
		return err
	}
	if fellBack {
		logf("docs/CHANGELOG.md has no section for %s: the rehearsal's notes are the Unreleased section", o.version)
		if notes == "" {
			logf("warning: the Unreleased section of docs/CHANGELOG.md is empty")
		}
	}
	if !o.skipCI {
		logf("CI (.ci/run)")
		cmd := exec.Command("bash", ".ci/run")
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
		cmd.Env = append(os.Environ(), "CI=true")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("release: CI failed: %w", err)
		}
	}

	work, err := os.MkdirTemp("", "logout-release-")
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	w := &workspace{root: root, dir: work, mods: mods, version: o.version}
	defer w.cleanup(o.keep)
	w.proxy = filepath.Join(work, "proxy")
	if o.out != "" {
		if w.proxy, err = filepath.Abs(filepath.Join(o.out, "proxy")); err != nil {
			return fmt.Errorf("release: %w", err)
		}
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return fmt.Errorf("release: %w", err)
		}
		if err := os.WriteFile(filepath.Join(o.out, "RELEASE_NOTES.md"), []byte(notes+"\n"), 0o644); err != nil {
			return fmt.Errorf("release: %w", err)
		}
	}
	if err := w.init(); err != nil {
		return err
	}
	logf("release commit at %s in a throwaway clone", o.version)
	if err := w.releaseCommit(); err != nil {
		return err
	}
	if err := w.tag(notes); err != nil {
		return err
	}
	logf("module proxy: %s", w.proxy)
	if err := w.userModule(); err != nil {
		return err
	}
	if err := w.coreOnlyUpgrade(); err != nil {
		return err
	}
	if err := w.upgradeFromPrevious(o.breaking); err != nil {
		return err
	}
	logf("release notes:\n%s", notes)
	if o.dryRun {
		logf("dry run passed: tags %s made in the clone only", strings.Join(w.tags, " "))
		return nil
	}
	return w.push(o.remote)
}

// checkVersion accepts vMAJOR.MINOR.PATCH with major 0 or 1: the modules'
// paths have no /vN suffix.
func checkVersion(v string) error {
	if !semver.IsValid(v) || semver.Canonical(v) != v || semver.Prerelease(v) != "" {
		return fmt.Errorf("release: version %q is not of the form v0.x.y", v)
	}
	if m := semver.Major(v); m != "v0" && m != "v1" {
		return fmt.Errorf("release: version %s needs module paths ending in /%s", v, m)
	}
	return nil
}

// workspace is the throwaway clone, the proxy, the module cache and the
// user's module of one run.
type workspace struct {
	root, dir, version string
	prev               string // the previous release, "" when there is none
	mods               []mod
	clone, proxy       string
	modcache, user     string
	lock               *os.File // held on the module cache while the run uses it
	order              []mod
	commit             string
	tags               []string
	env                []string // the environment of a user's go commands
}

func (w *workspace) init() error {
	w.clone = filepath.Join(w.dir, "repo")
	w.modcache = filepath.Join(w.dir, "modcache")
	w.user = filepath.Join(w.dir, "user")
	head, err := gitOutput(w.root, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	if err := runCmd(w.dir, nil, "git", "clone", "-q", "--no-checkout", w.root, w.clone); err != nil {
		return err
	}
	if err := runCmd(w.clone, nil, "git", "checkout", "-q", "--detach", strings.TrimSpace(head)); err != nil {
		return err
	}
	goenv := map[string]string{}
	out, err := exec.Command("go", "env", "-json", "GOPROXY", "GOMODCACHE", "GOFLAGS").Output()
	if err != nil {
		return fmt.Errorf("release: go env: %w", err)
	}
	if err := json.Unmarshal(out, &goenv); err != nil {
		return fmt.Errorf("release: go env: %w", err)
	}
	// Our modules come from the file proxy, never checked against the
	// checksum database (they are not in it); every other module comes
	// from the user's own proxy. The module cache is the machine's own,
	// so that what CI compiled before is not compiled again; the
	// release's versions of our modules are taken out of it before and
	// after, so that no earlier run's copy stands in for this one's. The
	// go command's index of the module cache (in the build cache) takes a
	// module version's files as fixed, and a rehearsal makes the same
	// version again from another tree: GODEBUG=goindex=0 turns it off.
	w.modcache = goenv["GOMODCACHE"]
	if w.prev, err = previousRelease(w.root, w.version); err != nil {
		return err
	}
	w.env = append(os.Environ(),
		"GOPROXY=file://"+w.proxy+","+goenv["GOPROXY"],
		"GONOSUMDB="+rootPath,
		"GOPRIVATE=", "GONOPROXY=",
		"GOFLAGS="+strings.TrimSpace(goenv["GOFLAGS"]+" -mod=mod"),
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GODEBUG="+strings.TrimPrefix(os.Getenv("GODEBUG")+",goindex=0", ","),
	)
	if err := w.lockCache(); err != nil {
		return err
	}
	return w.purgeCache()
}

// releaseCommit rewrites the published modules' go.mod files in the
// clone, then, for each module in dependency order, completes its go.sum
// with go mod tidy (its dependencies of the repository already in the
// proxy) and zips it into the proxy; then it commits, and checks that the
// zips made from the commit with git are the same.
func (w *workspace) releaseCommit() error {
	deps := map[string][]string{}
	for _, m := range w.mods {
		if !m.Published {
			continue
		}
		name := filepath.Join(w.clone, m.Dir, "go.mod")
		data, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		out, err := rewriteGoMod(filepath.Join(m.Dir, "go.mod"), data, w.mods, w.version)
		if err != nil {
			return err
		}
		if deps[m.Path], err = requires(out, w.mods); err != nil {
			return err
		}
		if err := os.WriteFile(name, out, 0o644); err != nil {
			return fmt.Errorf("release: %w", err)
		}
	}
	var err error
	if w.order, err = releaseOrder(w.mods, deps); err != nil {
		return err
	}
	var names []string
	for _, m := range w.order {
		names = append(names, m.Dir)
	}
	logf("order: %s", strings.Join(names, ", "))
	dirHashes := map[string]string{}
	for _, m := range w.order {
		dir := filepath.Join(w.clone, m.Dir)
		before, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err := runCmd(dir, w.env, "go", "mod", "tidy"); err != nil {
			return fmt.Errorf("release: go mod tidy in %s, as published: %w", m.Dir, err)
		}
		after, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
		if !bytes.Equal(before, after) {
			return fmt.Errorf("release: go mod tidy changes %s/go.mod as published: run go mod tidy in the repository", m.Dir)
		}
		var buf bytes.Buffer
		if err := modzip.CreateFromDir(&buf, module.Version{Path: m.Path, Version: w.version}, dir); err != nil {
			return fmt.Errorf("release: zip of %s: %w", m.Dir, err)
		}
		h, err := w.addToProxy(w.proxy, m, w.version, after, buf.Bytes(), time.Now())
		if err != nil {
			return err
		}
		dirHashes[m.Path] = h
		logf("  %s %s: go.mod as published, tidy; zip %d KiB", m.Path, w.version, buf.Len()/1024)
	}
	if err := runCmd(w.clone, nil, "git", "add", "-A"); err != nil {
		return err
	}
	if err := runCmd(w.clone, gitIdentity(w.root), "git", "commit", "-q", "-m", "Release "+w.version+"\n\nEvery published module requires the others at "+w.version+"; no replace line points into the repository."); err != nil {
		return err
	}
	commit, err := gitOutput(w.clone, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	w.commit = strings.TrimSpace(commit)
	ct, err := gitOutput(w.clone, "show", "-s", "--format=%cI", w.commit)
	if err != nil {
		return err
	}
	when, err := time.Parse(time.RFC3339, strings.TrimSpace(ct))
	if err != nil {
		return fmt.Errorf("release: commit time: %w", err)
	}
	// The zips the proxy serves are made from the commit, as the Go module
	// proxy makes them from a tag; they must hold what tidy saw.
	if err := os.RemoveAll(w.proxy); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	for _, m := range w.order {
		var buf bytes.Buffer
		subdir := m.Dir
		if subdir == "." {
			subdir = ""
		}
		if err := modzip.CreateFromVCS(&buf, module.Version{Path: m.Path, Version: w.version}, w.clone, w.commit, subdir); err != nil {
			return fmt.Errorf("release: zip of %s from the commit: %w", m.Dir, err)
		}
		gomod, err := gitOutput(w.clone, "show", w.commit+":"+filepath.ToSlash(filepath.Join(m.Dir, "go.mod")))
		if err != nil {
			return err
		}
		if err := checkZip(buf.Bytes(), m.Path+"@"+w.version); err != nil {
			return fmt.Errorf("release: zip of %s: %w", m.Dir, err)
		}
		h, err := w.addToProxy(w.proxy, m, w.version, []byte(gomod), buf.Bytes(), when)
		if err != nil {
			return err
		}
		if h != dirHashes[m.Path] {
			return fmt.Errorf("release: %s: the zip of the commit (%s) differs from the zip of the tree (%s)", m.Dir, h, dirHashes[m.Path])
		}
	}
	return nil
}

// checkZip checks that a module zip holds what a user and pkg.go.dev
// need besides the code: go.mod and the LICENSE.
func checkZip(data []byte, prefix string) error {
	r, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	need := map[string]bool{prefix + "/go.mod": false, prefix + "/LICENSE": false}
	for _, f := range r.File {
		if _, ok := need[f.Name]; ok {
			need[f.Name] = true
		}
	}
	for name, found := range need {
		if !found {
			return fmt.Errorf("no %s", name)
		}
	}
	return nil
}

// tag creates the tags of the release commit in the clone, in dependency
// order.
func (w *workspace) tag(notes string) error {
	for _, m := range w.order {
		t := m.TagPrefix() + w.version
		msg := m.Path + " " + w.version
		if m.Dir == "." {
			msg += "\n\n" + notes
		}
		if err := runCmd(w.clone, gitIdentity(w.root), "git", "tag", "-a", "--cleanup=verbatim", t, "-m", msg, w.commit); err != nil {
			return err
		}
		w.tags = append(w.tags, t)
	}
	logf("tags: %s", strings.Join(w.tags, " "))
	return nil
}

// addToProxy writes m at version into the file proxy at dir and returns
// the h1: hash of its zip, the one go.sum records.
func (w *workspace) addToProxy(dir string, m mod, version string, gomod, zip []byte, when time.Time) (string, error) {
	esc, err := module.EscapePath(m.Path)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	at := filepath.Join(dir, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	info, _ := json.Marshal(struct {
		Version string
		Time    string
	}{version, when.UTC().Format(time.RFC3339)})
	for name, data := range map[string][]byte{ev + ".info": info, ev + ".mod": gomod, ev + ".zip": zip} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			return "", fmt.Errorf("release: %w", err)
		}
	}
	list, err := os.OpenFile(filepath.Join(at, "list"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	if _, err := fmt.Fprintln(list, version); err != nil {
		list.Close()
		return "", fmt.Errorf("release: %w", err)
	}
	if err := list.Close(); err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	return hashZip(filepath.Join(at, ev+".zip"))
}

// push fetches the tags from the clone into the repository and pushes
// them to remote one at a time, in dependency order.
func (w *workspace) push(remote string) error {
	args := []string{"fetch", "-q", w.clone}
	for _, t := range w.tags {
		args = append(args, "refs/tags/"+t+":refs/tags/"+t)
	}
	if err := runCmd(w.root, nil, "git", args...); err != nil {
		return err
	}
	for _, t := range w.tags {
		logf("push %s", t)
		if err := runCmd(w.root, nil, "git", "push", "-q", remote, "refs/tags/"+t); err != nil {
			return err
		}
	}
	logf("released %s; the notes above go on the release page", w.version)
	return nil
}

// cleanup removes the release's versions of our modules from the module
// cache, then the work directory unless keep.
func (w *workspace) cleanup(keep bool) {
	if err := w.purgeCache(); err != nil {
		logf("warning: %v", err)
	}
	w.unlockCache()
	if keep {
		logf("work directory kept: %s", w.dir)
		return
	}
	if err := os.RemoveAll(w.dir); err != nil {
		logf("warning: %v", err)
	}
}

// gitOutput runs git in dir and returns its output.
func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("release: git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// runCmd runs name in dir with env (the process's own when nil), its
// output shown only when it fails.
func runCmd(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("release: %s %s in %s: %w\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return nil
}

// gitIdentity returns the environment of a git commit or tag: the
// releaser's identity, or a stand-in where git has none (CI).
func gitIdentity(root string) []string {
	env := os.Environ()
	if name, err := gitOutput(root, "config", "user.name"); err != nil || strings.TrimSpace(name) == "" {
		env = append(env, "GIT_AUTHOR_NAME=release rehearsal", "GIT_COMMITTER_NAME=release rehearsal",
			"GIT_AUTHOR_EMAIL=release@localhost", "GIT_COMMITTER_EMAIL=release@localhost")
	}
	return env
}

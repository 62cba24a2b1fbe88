package main

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// userFiles are the programs and the test of a user's module: one program
// per adapter, one for redisstore and one for backchannel, sharing package
// app, whose test logs out through net/http, gin and echo.
//
//go:embed testdata/user
var userFiles embed.FS

// user is a user's module outside the repository, and the environment of
// its go commands.
type user struct {
	dir string
	env []string
}

// goCmd runs the go command in the user's module and logs its duration.
func (u user) goCmd(args ...string) error {
	t := time.Now()
	if err := runCmd(u.dir, u.env, "go", args...); err != nil {
		return err
	}
	shown := strings.Join(args, " ")
	if args[0] == "get" {
		shown = fmt.Sprintf("get of %d modules", len(args)-1)
	}
	logf("  go %s: %.1fs", shown, time.Since(t).Seconds())
	return nil
}

// check vets and tests the user's module; with link, it builds it first,
// linking every program. go vet alone compiles every package the user's
// imports and type-checks the user's own: what an upgrade can break.
func (u user) check(link bool) error {
	steps := [][]string{{"vet", "./..."}, {"test", "-race", "-count=1", "./app"}}
	if link {
		steps = append([][]string{{"build", "./..."}}, steps...)
	}
	for _, args := range steps {
		if err := u.goCmd(args...); err != nil {
			return err
		}
	}
	return nil
}

// buildList returns the modules of the repository in the user's build
// list, with their versions, and an error if one of them is not
// published.
func (u user) buildList(mods []mod) (map[string]string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Version}}", "all")
	cmd.Dir, cmd.Env = u.dir, u.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("release: go list -m all: %w\n%s", err, stderr.String())
	}
	list := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, version, _ := strings.Cut(line, " ")
		m, ok := owner(mods, path)
		if !ok || m.Path != path {
			continue
		}
		if !m.Published {
			return nil, fmt.Errorf("release: a user's build list holds %s, which is not published", path)
		}
		list[path] = version
	}
	return list, nil
}

// newUser makes a user's module in dir, with no replace line: go get of
// mods at version, the files of userFiles and, with readme, the README's
// programs, then go mod tidy.
func (w *workspace) newUser(dir string, env []string, mods []mod, version string, readme bool) (user, error) {
	u := user{dir: dir, env: env}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return u, fmt.Errorf("release: %w", err)
	}
	if err := runCmd(dir, env, "go", "mod", "init", "example.com/logoutuser"); err != nil {
		return u, err
	}
	get := []string{"get"}
	for _, m := range mods {
		get = append(get, m.Path+"@"+version)
	}
	if err := u.goCmd(get...); err != nil {
		return u, err
	}
	sub, err := fs.Sub(userFiles, "testdata/user")
	if err != nil {
		return u, fmt.Errorf("release: %w", err)
	}
	if err := os.CopyFS(dir, sub); err != nil {
		return u, fmt.Errorf("release: %w", err)
	}
	if readme {
		if err := runCmd(w.clone, nil, "bash", "scripts/check-readme.sh", "--extract", filepath.Join(dir, "readme")); err != nil {
			return u, err
		}
	}
	return u, u.goCmd("mod", "tidy")
}

// userModule makes a fresh module outside the repository, as a user
// would: go get of every published module from the proxy, the README's
// programs and the files of userFiles, go mod tidy, go build, go vet and
// go test. It checks that the only modules of the repository in the
// user's build list are published ones, at the release's version, and
// that its go.mod has no replace line.
func (w *workspace) userModule() error {
	logf("a user's module (%s): go get, go mod tidy, build, vet, test", w.user)
	u, err := w.newUser(w.user, w.env, w.order, w.version, true)
	if err != nil {
		return err
	}
	if err := u.check(true); err != nil {
		return err
	}
	if err := w.checkVersions(u, nil); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(w.user, "go.mod"))
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if bytes.Contains(gomod, []byte("replace")) {
		return fmt.Errorf("release: the user's go.mod has a replace line")
	}
	return nil
}

// checkVersions checks that every published module is in u's build list
// at the release's version, or at the version that want gives it.
func (w *workspace) checkVersions(u user, want map[string]string) error {
	list, err := u.buildList(w.mods)
	if err != nil {
		return err
	}
	for _, m := range w.order {
		v := w.version
		if want[m.Path] != "" {
			v = want[m.Path]
		}
		if list[m.Path] != v {
			return fmt.Errorf("release: a user's build list holds %s at %q, want %s", m.Path, list[m.Path], v)
		}
	}
	return nil
}

// coreOnlyUpgrade publishes a next version of the core alone, with a
// trivial change, in a second proxy before the first, and checks that
// the user's module, upgrading only the core, still compiles, vets and
// passes its test with every other module at the release's version.
func (w *workspace) coreOnlyUpgrade() error {
	next := nextPatch(w.version) + "-rehearsal"
	logf("a user who upgrades only the core, to %s", next)
	core := w.order[0]
	doc := filepath.Join(w.clone, "doc.go")
	data, err := os.ReadFile(doc)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	data = append(data, []byte("\n// A trivial change, for the rehearsal of the next version.\n")...)
	if err := os.WriteFile(doc, data, 0o644); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := runCmd(w.clone, gitIdentity(w.root), "git", "commit", "-q", "-am", "The core's next version, for the rehearsal"); err != nil {
		return err
	}
	nextProxy := filepath.Join(w.dir, "proxy-next")
	if err := w.addFromGit(nextProxy, core, next, "HEAD"); err != nil {
		return err
	}
	u := user{dir: w.user, env: withProxy(w.env, nextProxy)}
	if err := u.goCmd("get", core.Path+"@"+next); err != nil {
		return err
	}
	if err := u.check(false); err != nil {
		return fmt.Errorf("release: with only the core upgraded: %w", err)
	}
	return w.checkVersions(u, map[string]string{core.Path: next})
}

// upgradeFromPrevious checks, when the repository has an earlier release
// (w.prev), that a user's module at that release still compiles, vets and
// passes its test once only the core is upgraded to this one: the case of
// a user who runs go get of the core alone. The earlier release's modules
// come from their tags, in a third proxy. A user's module that does not
// build at the earlier release to start with (the programs of userFiles
// use something it did not have) is reported and not checked further.
func (w *workspace) upgradeFromPrevious(breaking bool) error {
	if w.prev == "" {
		logf("no earlier release tag: the upgrade of the core alone from it is not checked")
		return nil
	}
	logf("a user of %s who upgrades only the core, to %s", w.prev, w.version)
	prevProxy := filepath.Join(w.dir, "proxy-prev")
	var mods []mod
	for _, m := range w.order {
		tag := "refs/tags/" + m.TagPrefix() + w.prev
		if _, err := gitOutput(w.clone, "rev-parse", "-q", "--verify", tag); err != nil {
			logf("  %s has no tag at %s", m.Path, w.prev)
			continue
		}
		if err := w.addFromGit(prevProxy, m, w.prev, tag); err != nil {
			return err
		}
		mods = append(mods, m)
	}
	u, err := w.newUser(filepath.Join(w.dir, "user-prev"), withProxy(w.env, prevProxy), mods, w.prev, false)
	if err == nil {
		err = u.check(false)
	}
	if err != nil {
		logf("warning: the rehearsal's user module does not build at %s, so the upgrade from it is not checked: %v", w.prev, err)
		return nil
	}
	core := w.order[0]
	err = u.goCmd("get", core.Path+"@"+w.version)
	if err == nil {
		err = u.check(false)
	}
	if err != nil {
		err = fmt.Errorf("release: a user who upgrades only the core from %s to %s breaks (say so in docs/CHANGELOG.md and pass -breaking to go on): %w", w.prev, w.version, err)
		if !breaking {
			return err
		}
		logf("warning (-breaking): %v", err)
	}
	return nil
}

// addFromGit zips m at revision of the clone, as the Go module proxy
// would from a tag, and adds it to the proxy at dir as version.
func (w *workspace) addFromGit(dir string, m mod, version, revision string) error {
	subdir := m.Dir
	if subdir == "." {
		subdir = ""
	}
	var buf bytes.Buffer
	if err := modzip.CreateFromVCS(&buf, module.Version{Path: m.Path, Version: version}, w.clone, revision, subdir); err != nil {
		return fmt.Errorf("release: zip of %s at %s: %w", m.Dir, revision, err)
	}
	gomod, err := gitOutput(w.clone, "show", revision+":"+filepath.ToSlash(filepath.Join(m.Dir, "go.mod")))
	if err != nil {
		return err
	}
	ct, err := gitOutput(w.clone, "log", "-1", "--format=%cI", revision)
	if err != nil {
		return err
	}
	when, err := time.Parse(time.RFC3339, strings.TrimSpace(ct))
	if err != nil {
		return fmt.Errorf("release: commit time: %w", err)
	}
	_, err = w.addToProxy(dir, m, version, []byte(gomod), buf.Bytes(), when)
	return err
}

// withProxy returns env with dir as the first module proxy.
func withProxy(env []string, dir string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GOPROXY="); ok {
			kv = "GOPROXY=file://" + dir + "," + v
		}
		out = append(out, kv)
	}
	return out
}

// previousRelease returns the highest core tag of the repository at root
// below version, or "" when there is none.
func previousRelease(root, version string) (string, error) {
	out, err := gitOutput(root, "tag", "-l", "v*")
	if err != nil {
		return "", err
	}
	best := ""
	for _, t := range strings.Fields(out) {
		if checkVersion(t) == nil && semver.Compare(t, version) < 0 && (best == "" || semver.Compare(t, best) > 0) {
			best = t
		}
	}
	return best, nil
}

// nextPatch returns v with its patch number one higher.
func nextPatch(v string) string {
	var major, minor, patch int
	_, _ = fmt.Sscanf(semver.Canonical(v), "v%d.%d.%d", &major, &minor, &patch)
	return fmt.Sprintf("v%d.%d.%d", major, minor, patch+1)
}

// hashZip returns the h1: hash of a module zip, as go.sum records it.
func hashZip(name string) (string, error) {
	h, err := dirhash.HashZip(name, dirhash.Hash1)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	return h, nil
}

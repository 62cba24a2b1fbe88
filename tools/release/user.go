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
// per adapter and one for redisstore, sharing package app, whose test logs
// out through net/http, gin and echo.
//
//go:embed testdata/user
var userFiles embed.FS

// userModule makes a fresh module outside the repository, as a user
// would: go get of every published module from the proxy, the README's
// programs and the files of userFiles, go mod tidy, go build, go vet and
// go test. It checks that the only modules of the repository in the
// user's build list are published ones, at the release's version.
func (w *workspace) userModule() error {
	logf("a user's module (%s): go get, go mod tidy, build, vet, test", w.user)
	if err := os.MkdirAll(w.user, 0o755); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := w.goUser("mod", "init", "example.com/logoutuser"); err != nil {
		return err
	}
	get := []string{"get"}
	for _, m := range w.order {
		get = append(get, m.Path+"@"+w.version)
	}
	t := time.Now()
	if err := w.goUser(get...); err != nil {
		return err
	}
	logf("  go get of the %d modules: %.1fs", len(w.order), time.Since(t).Seconds())
	sub, err := fs.Sub(userFiles, "testdata/user")
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := os.CopyFS(w.user, sub); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := runCmd(w.clone, nil, "bash", "scripts/check-readme.sh", "--extract", filepath.Join(w.user, "readme")); err != nil {
		return err
	}
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "./..."}, {"vet", "./..."}, {"test", "-race", "-count=1", "./app"}} {
		t := time.Now()
		if err := w.goUser(args...); err != nil {
			return err
		}
		logf("  go %s: %.1fs", strings.Join(args, " "), time.Since(t).Seconds())
	}
	if err := w.checkBuildList(map[string]string{}); err != nil {
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

// checkBuildList checks the modules of the repository in the user's build
// list: published ones only, each at the release's version or at the
// version want gives it.
func (w *workspace) checkBuildList(want map[string]string) error {
	out, err := w.goUserOutput("list", "-m", "-f", "{{.Path}} {{.Version}}", "all")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		path, version, _ := strings.Cut(line, " ")
		m, ok := owner(w.mods, path)
		if !ok || m.Path != path {
			continue
		}
		if !m.Published {
			return fmt.Errorf("release: a user's build list holds %s, which is not published", path)
		}
		v := w.version
		if want[path] != "" {
			v = want[path]
		}
		if version != v {
			return fmt.Errorf("release: a user's build list holds %s %s, want %s", path, version, v)
		}
	}
	return nil
}

// coreOnlyUpgrade publishes a next version of the core alone, with a
// trivial change, in a second proxy before the first, and checks that
// the user's module, upgrading only the core, still builds, vets and
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
	var buf bytes.Buffer
	if err := modzip.CreateFromVCS(&buf, module.Version{Path: core.Path, Version: next}, w.clone, "HEAD", ""); err != nil {
		return fmt.Errorf("release: zip of the core at %s: %w", next, err)
	}
	gomod, err := gitOutput(w.clone, "show", "HEAD:go.mod")
	if err != nil {
		return err
	}
	nextProxy := filepath.Join(w.dir, "proxy-next")
	if _, err := w.addToProxy(nextProxy, core, next, []byte(gomod), buf.Bytes(), time.Now()); err != nil {
		return err
	}
	env := make([]string, 0, len(w.env))
	for _, kv := range w.env {
		if v, ok := strings.CutPrefix(kv, "GOPROXY="); ok {
			kv = "GOPROXY=file://" + nextProxy + "," + v
		}
		env = append(env, kv)
	}
	saved := w.env
	w.env = env
	defer func() { w.env = saved }()
	for _, args := range [][]string{{"get", core.Path + "@" + next}, {"build", "./..."}, {"vet", "./..."}, {"test", "-race", "-count=1", "./app"}} {
		t := time.Now()
		if err := w.goUser(args...); err != nil {
			return fmt.Errorf("release: with only the core upgraded: %w", err)
		}
		logf("  go %s: %.1fs", strings.Join(args, " "), time.Since(t).Seconds())
	}
	return w.checkBuildList(map[string]string{core.Path: next})
}

// nextPatch returns v with its patch number one higher.
func nextPatch(v string) string {
	var major, minor, patch int
	fmt.Sscanf(semver.Canonical(v), "v%d.%d.%d", &major, &minor, &patch)
	return fmt.Sprintf("v%d.%d.%d", major, minor, patch+1)
}

// goUser runs the go command in the user's module.
func (w *workspace) goUser(args ...string) error {
	return runCmd(w.user, w.env, "go", args...)
}

// goUserOutput runs the go command in the user's module and returns its
// standard output.
func (w *workspace) goUserOutput(args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = w.user, w.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("release: go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// hashZip returns the h1: hash of a module zip, as go.sum records it.
func hashZip(name string) (string, error) {
	h, err := dirhash.HashZip(name, dirhash.Hash1)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	return h, nil
}

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/mod/module"
)

// lockCache takes a lock on the module cache's directory of our modules,
// so that two runs on one machine do not take each other's versions out
// of it.
func (w *workspace) lockCache() error {
	dir := filepath.Join(w.modcache, "cache", "download", filepath.FromSlash(rootPath))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".release-lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return fmt.Errorf("release: lock %s: %w", f.Name(), err)
	}
	w.lock = f
	return nil
}

func (w *workspace) unlockCache() {
	if w.lock != nil {
		_ = w.lock.Close() // closing releases the lock
		w.lock = nil
	}
}

// purgeCache removes from the module cache the published modules at the
// release's version and at the rehearsal's next version of the core:
// what was extracted, what was downloaded, and the version lists.
func (w *workspace) purgeCache() error {
	if w.modcache == "" || w.lock == nil {
		return nil
	}
	versions := []string{w.version, nextPatch(w.version) + "-rehearsal"}
	if w.prev != "" {
		versions = append(versions, w.prev)
	}
	var errs []error
	for _, m := range w.mods {
		if !m.Published {
			continue
		}
		esc, err := module.EscapePath(m.Path)
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		dl := filepath.Join(w.modcache, "cache", "download", filepath.FromSlash(esc), "@v")
		errs = append(errs, removeAll(filepath.Join(dl, "list")))
		for _, v := range versions {
			ev, err := module.EscapeVersion(v)
			if err != nil {
				return fmt.Errorf("release: %w", err)
			}
			errs = append(errs, removeAll(filepath.Join(w.modcache, filepath.FromSlash(esc)+"@"+ev)))
			for _, ext := range []string{".info", ".mod", ".zip", ".ziphash", ".lock", ".partial"} {
				errs = append(errs, removeAll(filepath.Join(dl, ev+ext)))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("release: module cache: %w", err)
	}
	return nil
}

// removeAll removes name and what it holds, read-only directories of the
// module cache included.
func removeAll(name string) error {
	_ = filepath.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(name)
}

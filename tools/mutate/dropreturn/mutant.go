package dropreturn

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Mutant returns src, the source of s.File, with the return statement of
// s taken out of the program: it becomes the body of an if false, so
// that it never runs but its operands are still used, and the mutant
// compiles even when the return held the last use of an import or a
// variable. Every other byte stays in place, so line numbers in the
// mutant's messages match the original's.
func Mutant(src []byte, s Site) ([]byte, error) {
	if s.Start < 0 || s.End > len(src) || s.Start >= s.End {
		return nil, fmt.Errorf("return at %s:%d: offsets %d-%d outside a source of %d bytes",
			s.File, s.Line, s.Start, s.End, len(src))
	}
	out := make([]byte, 0, len(src)+len(disableOpen)+len(disableClose))
	out = append(out, src[:s.Start]...)
	out = append(out, disableOpen...)
	out = append(out, src[s.Start:s.End]...)
	out = append(out, disableClose...)
	return append(out, src[s.End:]...), nil
}

// disableOpen and disableClose enclose a statement that must not run.
const (
	disableOpen  = "if false { "
	disableClose = " }"
)

// overlay is the file that go's -overlay flag reads: the files it names
// are read from their replacements, and the tree is left untouched.
type overlay struct {
	Replace map[string]string
}

// WriteOverlay writes src into dir as the replacement of the file at
// path, and an overlay file that maps path to it, and returns the
// overlay's path, for go test -overlay. path must be absolute.
func WriteOverlay(dir, path string, src []byte) (string, error) {
	return writeOverlay(dir, map[string][]byte{path: src})
}

// writeOverlay writes each of files into dir as the replacement of the
// file at its path, and an overlay file that maps each path to its
// replacement, and returns the overlay's path. Every path must be
// absolute.
func writeOverlay(dir string, files map[string][]byte) (string, error) {
	ov := overlay{Replace: map[string]string{}}
	i := 0
	for path, src := range files {
		if !filepath.IsAbs(path) {
			return "", fmt.Errorf("overlay of %s: the path must be absolute", path)
		}
		i++
		replacement := filepath.Join(dir, strconv.Itoa(i)+"_"+filepath.Base(path))
		if err := os.WriteFile(replacement, src, 0o600); err != nil {
			return "", fmt.Errorf("writing the replacement of %s: %w", path, err)
		}
		ov.Replace[path] = replacement
	}
	data, err := json.Marshal(ov)
	if err != nil {
		return "", fmt.Errorf("encoding the overlay: %w", err)
	}
	file := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return "", fmt.Errorf("writing the overlay: %w", err)
	}
	return file, nil
}

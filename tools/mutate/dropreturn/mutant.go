package dropreturn

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("overlay of %s: the path must be absolute", path)
	}
	replacement := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(replacement, src, 0o600); err != nil {
		return "", fmt.Errorf("writing the mutant of %s: %w", path, err)
	}
	data, err := json.Marshal(overlay{Replace: map[string]string{path: replacement}})
	if err != nil {
		return "", fmt.Errorf("encoding the overlay of %s: %w", path, err)
	}
	file := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return "", fmt.Errorf("writing the overlay of %s: %w", path, err)
	}
	return file, nil
}

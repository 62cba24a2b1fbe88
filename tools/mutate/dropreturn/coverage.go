package dropreturn

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// block is a block of a coverage profile that ran: from its start line
// and column to its end line and column.
type block struct {
	startLine, startCol, endLine, endCol int
}

// Coverage holds the blocks of code that ran, by absolute file path.
type Coverage map[string][]block

// ParseProfile reads a coverage profile (go test -coverprofile). files
// maps the file names of the profile, import path and base name, to
// absolute paths; the blocks of other files are left out.
func ParseProfile(r io.Reader, files map[string]string) (Coverage, error) {
	c := Coverage{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n == 1 && strings.HasPrefix(line, "mode:") || line == "" {
			continue
		}
		name, b, count, err := parseProfileLine(line)
		if err != nil {
			return nil, fmt.Errorf("coverage profile line %d: %w", n, err)
		}
		if path, ok := files[name]; ok && count > 0 {
			c[path] = append(c[path], b)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the coverage profile: %w", err)
	}
	return c, nil
}

// parseProfileLine parses "NAME:L1.C1,L2.C2 STATEMENTS COUNT".
func parseProfileLine(line string) (string, block, int, error) {
	fields := strings.Fields(line)
	if len(fields) != 3 {
		return "", block{}, 0, fmt.Errorf("want NAME:L1.C1,L2.C2 STATEMENTS COUNT, got %q", line)
	}
	i := strings.LastIndexByte(fields[0], ':')
	count, err := strconv.Atoi(fields[2])
	if i < 0 || err != nil {
		return "", block{}, 0, fmt.Errorf("want NAME:L1.C1,L2.C2 STATEMENTS COUNT, got %q", line)
	}
	var b block
	if _, err := fmt.Sscanf(fields[0][i+1:], "%d.%d,%d.%d", &b.startLine, &b.startCol, &b.endLine, &b.endCol); err != nil {
		return "", block{}, 0, fmt.Errorf("range of %q: %w", line, err)
	}
	return fields[0][:i], b, count, nil
}

// Covers reports whether a block that ran holds the position line:col
// of the file at path.
func (c Coverage) Covers(path string, line, col int) bool {
	for _, b := range c[path] {
		after := line > b.startLine || line == b.startLine && col >= b.startCol
		before := line < b.endLine || line == b.endLine && col < b.endCol
		if after && before {
			return true
		}
	}
	return false
}

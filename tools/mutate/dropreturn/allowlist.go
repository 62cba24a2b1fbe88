package dropreturn

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Allowlist holds the surviving mutants that are explained, each with a
// reason. A line of its file reads
//
//	FILE FUNC: BRANCH => REASON
//
// with FILE, FUNC and BRANCH as a report line prints them (a :LINE after
// FILE is allowed and ignored). Lines that are blank or begin with # are
// skipped.
type Allowlist struct {
	entries []*Entry
	byKey   map[string]*Entry
}

// Entry is one line of an allowlist.
type Entry struct {
	// Key is the site's key: FILE FUNC: BRANCH.
	Key string
	// File is the FILE part of the key.
	File string
	// Reason says why the mutant survives.
	Reason string
	// Line is the entry's line in its file.
	Line int

	matched bool
}

// separator parts an entry's key from its reason; it is not Go syntax.
const separator = " => "

// lineSuffix matches the :LINE that may follow FILE in an entry.
var lineSuffix = regexp.MustCompile(`:[0-9]+$`)

// LoadAllowlist reads the allowlist file at path.
func LoadAllowlist(path string) (*Allowlist, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("allowlist: %w", err)
	}
	defer f.Close()
	return ParseAllowlist(f, path)
}

// ParseAllowlist reads an allowlist from r; name names it in errors.
func ParseAllowlist(r io.Reader, name string) (*Allowlist, error) {
	a := &Allowlist{byKey: map[string]*Entry{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseEntry(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if prev, dup := a.byKey[e.Key]; dup {
			return nil, fmt.Errorf("%s:%d: %q repeats line %d", name, n, e.Key, prev.Line)
		}
		e.Line = n
		a.entries = append(a.entries, e)
		a.byKey[e.Key] = e
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return a, nil
}

// parseEntry parses one entry line.
func parseEntry(line string) (*Entry, error) {
	key, reason, ok := strings.Cut(line, separator)
	reason = strings.TrimSpace(reason)
	if !ok || reason == "" {
		return nil, fmt.Errorf("want FILE FUNC: BRANCH%sREASON, got %q", separator, line)
	}
	file, rest, ok := strings.Cut(strings.TrimSpace(key), " ")
	fn, branch, ok2 := strings.Cut(rest, ": ")
	if !ok || !ok2 || strings.TrimSpace(fn) == "" || strings.TrimSpace(branch) == "" {
		return nil, fmt.Errorf("want FILE FUNC: BRANCH%sREASON, got %q", separator, line)
	}
	file = lineSuffix.ReplaceAllString(file, "")
	key = file + " " + strings.TrimSpace(fn) + ": " + strings.Join(strings.Fields(branch), " ")
	return &Entry{Key: key, File: file, Reason: reason}, nil
}

// Lookup returns the entry for the site whose key is key, if any, and
// marks it used.
func (a *Allowlist) Lookup(key string) (*Entry, bool) {
	if a == nil {
		return nil, false
	}
	e, ok := a.byKey[key]
	if ok {
		e.matched = true
	}
	return e, ok
}

// Unused returns the entries that no Lookup matched, in file order.
func (a *Allowlist) Unused() []*Entry {
	if a == nil {
		return nil
	}
	var out []*Entry
	for _, e := range a.entries {
		if !e.matched {
			out = append(out, e)
		}
	}
	return out
}

// Len returns the number of entries.
func (a *Allowlist) Len() int {
	if a == nil {
		return 0
	}
	return len(a.entries)
}

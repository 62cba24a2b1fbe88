package main

import (
	"fmt"
	"regexp"
	"strings"
)

// headingRe matches a version heading of a Keep a Changelog file:
// "## [0.2.0] - 2026-12-03", "## [v0.2.0]" or "## [Unreleased]".
var headingRe = regexp.MustCompile(`^## \[v?([^\]]+)\]`)

// releaseNotes returns the body of the section of changelog for version
// (with or without its leading v). When there is none and fallback is
// true, it returns the Unreleased section instead (empty when there is
// none), as a rehearsal at a made-up version does; usedFallback says so.
func releaseNotes(changelog, version string, fallback bool) (notes string, usedFallback bool, err error) {
	want := strings.TrimPrefix(version, "v")
	sections := map[string]string{}
	var name string
	var body []string
	flush := func() {
		if name != "" {
			sections[name] = strings.TrimSpace(strings.Join(body, "\n"))
		}
	}
	for _, line := range strings.Split(changelog, "\n") {
		if m := headingRe.FindStringSubmatch(line); m != nil {
			flush()
			name, body = strings.ToLower(m[1]), nil
			continue
		}
		if strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "[") && strings.Contains(line, "]: ") {
			// Another level-2 heading, or the link references at the end.
			flush()
			name, body = "", nil
			continue
		}
		if name != "" {
			body = append(body, line)
		}
	}
	flush()
	if s, ok := sections[want]; ok && s != "" {
		return s, false, nil
	}
	if fallback {
		return sections["unreleased"], true, nil
	}
	return "", false, fmt.Errorf("release: docs/CHANGELOG.md has no section \"## [%s] - YYYY-MM-DD\": move the Unreleased entries under it first", want)
}

package dropreturn

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCoverageCovers(t *testing.T) {
	profile := `mode: set
example.com/m/a.go:10.20,12.3 2 1
example.com/m/a.go:12.3,14.3 1 0
example.com/m/a.go:20.5,20.30 1 1
example.com/m/b.go:1.1,9.1 4 1
example.com/other/c.go:1.1,9.1 4 1
`
	cov, err := ParseProfile(strings.NewReader(profile), map[string]string{
		"example.com/m/a.go": "/m/a.go",
		"example.com/m/b.go": "/m/b.go",
	})
	require.NoError(t, err)

	tests := []struct {
		path      string
		line, col int
		want      bool
	}{
		{"/m/a.go", 10, 20, true},  // the start of a block
		{"/m/a.go", 11, 1, true},   // inside
		{"/m/a.go", 12, 2, true},   // before the end
		{"/m/a.go", 12, 3, false},  // the end belongs to the next block, which did not run
		{"/m/a.go", 13, 5, false},  // a block that did not run
		{"/m/a.go", 10, 19, false}, // before the block
		{"/m/a.go", 20, 29, true},
		{"/m/a.go", 20, 30, false},
		{"/m/b.go", 5, 1, true},
		{"/other/c.go", 5, 1, false}, // not a file of the module
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, cov.Covers(tt.path, tt.line, tt.col), "%s:%d:%d", tt.path, tt.line, tt.col)
	}
}

func TestParseProfileRefusesBadLines(t *testing.T) {
	for _, line := range []string{
		"example.com/m/a.go:10.20,12.3 2",
		"example.com/m/a.go 2 1",
		"example.com/m/a.go:10.20,12.3 2 x",
		"example.com/m/a.go:10-20 2 1",
	} {
		_, err := ParseProfile(strings.NewReader("mode: set\n"+line+"\n"), nil)
		assert.ErrorContains(t, err, "line 2", line)
	}
}

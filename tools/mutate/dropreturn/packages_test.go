package dropreturn

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPackagesOfFindsTesters(t *testing.T) {
	const (
		core = "example.com/m"
		lru  = "example.com/m/internal/lru"
		doc  = "example.com/m/internal/doc" // no tests of its own
	)
	out := []byte(`
{"ImportPath": "example.com/m", "Dir": "/m", "GoFiles": ["a.go", "b.go"], "Deps": ["example.com/m/internal/doc", "example.com/m/internal/lru", "fmt"]}
{"ImportPath": "example.com/m/internal/doc", "Dir": "/m/internal/doc", "GoFiles": ["doc.go"]}
{"ImportPath": "example.com/m/internal/lru", "Dir": "/m/internal/lru", "GoFiles": ["lru.go"]}
{"ImportPath": "example.com/m.test", "Dir": "/m", "GoFiles": ["_testmain.go"], "Deps": ["example.com/m [example.com/m.test]", "example.com/m/internal/doc", "example.com/m/internal/lru", "example.com/other", "fmt"]}
{"ImportPath": "example.com/m [example.com/m.test]", "ForTest": "example.com/m", "Dir": "/m", "GoFiles": ["a.go", "b.go"]}
{"ImportPath": "example.com/m/internal/lru.test", "Dir": "/m/internal/lru", "Deps": ["example.com/m/internal/lru [example.com/m/internal/lru.test]"]}
{"ImportPath": "example.com/m/internal/lru [example.com/m/internal/lru.test]", "ForTest": "example.com/m/internal/lru", "Dir": "/m/internal/lru", "GoFiles": ["lru.go"]}
`)
	all, err := decodeListed(out)
	require.NoError(t, err)
	pkgs := packagesOf(all)

	want := []Package{
		{ImportPath: core, Dir: "/m", Files: []string{filepath.Join("/m", "a.go"), filepath.Join("/m", "b.go")}, Testers: []string{core}},
		{ImportPath: doc, Dir: "/m/internal/doc", Files: []string{filepath.Join("/m/internal/doc", "doc.go")}, Testers: []string{core}},
		{ImportPath: lru, Dir: "/m/internal/lru", Files: []string{filepath.Join("/m/internal/lru", "lru.go")}, Testers: []string{core, lru}},
	}
	assert.Equal(t, want, pkgs)
}

func TestDecodeListedRefusesGarbage(t *testing.T) {
	_, err := decodeListed([]byte(`{"ImportPath": "a"} {`))
	assert.ErrorContains(t, err, "decoding")
}

func TestTestersOf(t *testing.T) {
	out := []byte(`
{"ImportPath": "example.com/t/a", "Dir": "/t/a", "GoFiles": ["a.go"]}
{"ImportPath": "example.com/t/b", "Dir": "/t/b", "GoFiles": ["b.go"]}
{"ImportPath": "example.com/t/c", "Dir": "/t/c", "GoFiles": ["c.go"]}
{"ImportPath": "example.com/t/a.test", "Dir": "/t/a", "Deps": ["example.com/m", "example.com/m/internal/x", "example.com/t/a [example.com/t/a.test]", "fmt"]}
{"ImportPath": "example.com/t/a [example.com/t/a.test]", "ForTest": "example.com/t/a", "Dir": "/t/a", "GoFiles": ["a.go"]}
{"ImportPath": "example.com/t/b.test", "Dir": "/t/b", "Deps": ["example.com/m", "example.com/t/b [example.com/t/b.test]", "fmt"]}
{"ImportPath": "example.com/t/b [example.com/t/b.test]", "ForTest": "example.com/t/b", "Dir": "/t/b", "GoFiles": ["b.go"]}
{"ImportPath": "example.com/other.test", "Dir": "/o", "Deps": ["example.com/m/internal/y"]}
`)
	all, err := decodeListed(out)
	require.NoError(t, err)
	testers := testersOf(all)

	tests := []struct {
		name string
		pkg  string
		want []string
	}{
		{"a package of another module that two tests depend on", "example.com/m", []string{"example.com/t/a", "example.com/t/b"}},
		{"one that one test depends on", "example.com/m/internal/x", []string{"example.com/t/a"}},
		{"one reached only by a test binary of a package not listed", "example.com/m/internal/y", nil},
		{"a package of the listing, by its own tests", "example.com/t/a", []string{"example.com/t/a"}},
		{"a package without tests that nothing depends on", "example.com/t/c", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, testers[tt.pkg])
		})
	}
}

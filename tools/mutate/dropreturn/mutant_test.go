package dropreturn

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMutantDisablesTheReturnOnly(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{
			name: "bare return",
			src:  "package p\n\nfunc f(ok bool) {\n\tif !ok {\n\t\tfail()\n\t\treturn\n\t}\n\tg()\n}\n",
			want: "package p\n\nfunc f(ok bool) {\n\tif !ok {\n\t\tfail()\n\t\tif false { return }\n\t}\n\tg()\n}\n",
		},
		{
			name: "return with results and a comment",
			src:  "package p\n\nfunc f() error {\n\tif err := g(); err != nil {\n\t\treturn err // why\n\t}\n\treturn nil\n}\n",
			want: "package p\n\nfunc f() error {\n\tif err := g(); err != nil {\n\t\tif false { return err } // why\n\t}\n\treturn nil\n}\n",
		},
		{
			name: "return that holds the last use of a variable",
			src:  "package p\n\nfunc f() (int, error) {\n\tif v, err := g(); err != nil {\n\t\treturn v, fmt.Errorf(\"g: %w\", err)\n\t}\n\treturn 1, nil\n}\n",
			want: "package p\n\nfunc f() (int, error) {\n\tif v, err := g(); err != nil {\n\t\tif false { return v, fmt.Errorf(\"g: %w\", err) }\n\t}\n\treturn 1, nil\n}\n",
		},
		{
			name: "return on the line of the brace",
			src:  "package p\n\nfunc f() error {\n\tif err := g(); err != nil { return err }\n\treturn nil\n}\n",
			want: "package p\n\nfunc f() error {\n\tif err := g(); err != nil { if false { return err } }\n\treturn nil\n}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "p.go", tt.src, 0)
			require.NoError(t, err)
			sites := Find(fset, f, "p.go")
			require.Len(t, sites, 1)

			got, err := Mutant([]byte(tt.src), sites[0])
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			assert.Equal(t, strings.Count(tt.src, "\n"), strings.Count(string(got), "\n"), "lines keep their numbers")
			_, err = parser.ParseFile(token.NewFileSet(), "p.go", got, 0)
			assert.NoError(t, err, "the mutant parses")
		})
	}
}

func TestMutantRefusesOffsetsOutsideTheSource(t *testing.T) {
	for _, s := range []Site{{Start: -1, End: 2}, {Start: 2, End: 20}, {Start: 3, End: 3}} {
		_, err := Mutant([]byte("0123456789"), s)
		assert.Error(t, err, "%d-%d", s.Start, s.End)
	}
}

func TestWriteOverlayMapsTheFileToTheMutant(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(t.TempDir(), "pkg", "handler.go")

	file, err := WriteOverlay(dir, path, []byte("package mutant\n"))
	require.NoError(t, err)

	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var ov struct{ Replace map[string]string }
	require.NoError(t, json.Unmarshal(data, &ov))
	require.Len(t, ov.Replace, 1)
	replacement := ov.Replace[path]
	require.NotEmpty(t, replacement, "the overlay maps %s", path)
	assert.Equal(t, dir, filepath.Dir(replacement), "the mutant lives in the overlay's directory")
	got, err := os.ReadFile(replacement)
	require.NoError(t, err)
	assert.Equal(t, "package mutant\n", string(got))
	assert.NoFileExists(t, path, "the original path is not written")
}

func TestWriteOverlayWantsAnAbsolutePath(t *testing.T) {
	_, err := WriteOverlay(t.TempDir(), "handler.go", []byte("package p\n"))
	assert.ErrorContains(t, err, "absolute")
}

func TestSchemataWrapsEverySite(t *testing.T) {
	src := "package p\n\nfunc f(ok bool) error {\n\tif !ok {\n\t\treturn errA\n\t}\n\tif err := g(); err != nil { return err }\n\treturn nil\n}\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	require.NoError(t, err)
	sites := Find(fset, f, "p.go")
	require.Len(t, sites, 2)
	path := filepath.Join(t.TempDir(), "p.go")
	muts := []mutant{{site: sites[0], path: path, src: []byte(src), id: 1}, {site: sites[1], path: path, src: []byte(src), id: 2}}

	files, err := Schemata(muts)
	require.NoError(t, err)
	require.Len(t, files, 2, "the file and the switch")
	got := string(files[path])
	assert.Contains(t, got, "\tif !ok {\n\t\tif !dropreturnMutant(1) { return errA }\n\t}\n")
	assert.Contains(t, got, "if err := g(); err != nil { if !dropreturnMutant(2) { return err } }\n")
	assert.Equal(t, strings.Count(src, "\n"), strings.Count(got, "\n"), "lines keep their numbers")
	_, err = parser.ParseFile(token.NewFileSet(), "p.go", got, 0)
	assert.NoError(t, err)
	sw := string(files[filepath.Join(filepath.Dir(path), schemataFile)])
	assert.True(t, strings.HasPrefix(sw, "package p\n"), sw)
	assert.Contains(t, sw, schemataEnv)
}

package dropreturn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAllowlist(t *testing.T) {
	src := `# explained survivors
handler.go (*Middleware).serveLogout: if isPrefetch(r) => prefetches are refused before anything is read

backchannel/verify.go:305 checkLogoutClaims: if   err != nil   #2 => the decoder fails first
`
	a, err := ParseAllowlist(strings.NewReader(src), "survivors.txt")
	require.NoError(t, err)
	require.Equal(t, 2, a.Len())

	tests := []struct {
		key    string
		reason string
		line   int
	}{
		{"handler.go (*Middleware).serveLogout: if isPrefetch(r)", "prefetches are refused before anything is read", 2},
		{"backchannel/verify.go checkLogoutClaims: if err != nil #2", "the decoder fails first", 4},
	}
	for _, tt := range tests {
		e, ok := a.Lookup(tt.key)
		require.True(t, ok, tt.key)
		assert.Equal(t, tt.reason, e.Reason)
		assert.Equal(t, tt.line, e.Line)
	}
	assert.Empty(t, a.Unused(), "both entries were looked up")
}

func TestParseAllowlistRefusesBadLines(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"no reason", "a.go f: if err != nil\n", "survivors.txt:1: want FILE FUNC: BRANCH => REASON"},
		{"empty reason", "a.go f: if err != nil =>   \n", "survivors.txt:1: want"},
		{"no function", "a.go if err != nil => why\n", "survivors.txt:1: want"},
		{"no branch", "a.go f: => why\n", "survivors.txt:1: want"},
		{"repeated key", "# c\na.go f: if !ok => one\na.go:9 f: if  !ok => two\n", `survivors.txt:3: "a.go f: if !ok" repeats line 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAllowlist(strings.NewReader(tt.src), "survivors.txt")
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestAllowlistLookupAndUnused(t *testing.T) {
	a, err := ParseAllowlist(strings.NewReader("a.go f: if !ok => one\nb.go g: case err != nil => two\n"), "x")
	require.NoError(t, err)

	_, ok := a.Lookup("a.go f: if ok")
	assert.False(t, ok, "the branch text must match")
	_, ok = a.Lookup("c.go f: if !ok")
	assert.False(t, ok, "the file must match")
	_, ok = a.Lookup("a.go f: if !ok")
	assert.True(t, ok)

	unused := a.Unused()
	require.Len(t, unused, 1)
	assert.Equal(t, "b.go g: case err != nil", unused[0].Key)
	assert.Equal(t, "b.go", unused[0].File)
}

func TestNilAllowlistExplainsNothing(t *testing.T) {
	var a *Allowlist
	_, ok := a.Lookup("a.go f: if !ok")
	assert.False(t, ok)
	assert.Empty(t, a.Unused())
	assert.Zero(t, a.Len())
}

func TestLoadAllowlist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "survivors.txt")
	require.NoError(t, os.WriteFile(path, []byte("# none yet\n"), 0o600))
	a, err := LoadAllowlist(path)
	require.NoError(t, err)
	assert.Zero(t, a.Len())

	_, err = LoadAllowlist(filepath.Join(t.TempDir(), "missing.txt"))
	assert.ErrorContains(t, err, "allowlist")
}

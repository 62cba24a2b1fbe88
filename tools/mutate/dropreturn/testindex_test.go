package dropreturn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTestIndexSelect(t *testing.T) {
	reach := func(line int) Coverage { return Coverage{"/m/a.go": {{line, 1, line, 80}}} }
	ix := &TestIndex{
		tests: map[string]map[string]Coverage{
			"m":       {"TestA": reach(10), "TestB": reach(10), "TestC": reach(20), "ExampleD": reach(30)},
			"m/other": {"TestE": reach(10), "TestF": reach(40)},
		},
		whole: map[string]Coverage{"m/flaky": reach(20)},
	}
	tests := []struct {
		name string
		pkgs []string
		line int
		want Selection
		ok   bool
	}{
		{"tests of one package", []string{"m"}, 10, Selection{Pkgs: []string{"m"}, Run: "^(TestA|TestB)$"}, true},
		{"tests of two packages", []string{"m", "m/other"}, 10, Selection{Pkgs: []string{"m", "m/other"}, Run: "^(TestA|TestB|TestE)$"}, true},
		{"an example", []string{"m"}, 30, Selection{Pkgs: []string{"m"}, Run: "^(ExampleD)$"}, true},
		{"only the packages that reach it", []string{"m", "m/other"}, 40, Selection{Pkgs: []string{"m/other"}, Run: "^(TestF)$"}, true},
		{"a package run whole runs everything", []string{"m", "m/flaky"}, 20, Selection{Pkgs: []string{"m", "m/flaky"}}, true},
		{"a package run whole that does not reach it", []string{"m", "m/flaky"}, 10, Selection{Pkgs: []string{"m"}, Run: "^(TestA|TestB)$"}, true},
		{"no test reaches it", []string{"m", "m/other", "m/flaky"}, 50, Selection{}, false},
		{"a package without tests", []string{"m/none"}, 10, Selection{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ix.Select(tt.pkgs, "/m/a.go", tt.line, 5)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.Equal(t, "6 tests of 2 packages run alone; run whole, as a test fails alone: m/flaky", ix.String())
}

func TestRunFallsBackToWholePackagesWhenATestFailsAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a module")
	}
	files := map[string]string{}
	for k, v := range moduleSource {
		files[k] = v
	}
	files["order_test.go"] = `package m

import "testing"

var ready bool

func TestFirst(t *testing.T) { ready = true }

func TestSecond(t *testing.T) {
	if !ready {
		t.Fatal("TestFirst must run first")
	}
}
`
	dir := writeModule(t, files)

	report, _, tally, err := runOn(t, dir, nil)

	require.ErrorIs(t, err, ErrSurvivors)
	assert.Contains(t, report, "run whole, as a test fails alone: example.com/m")
	assert.Equal(t, []string{
		"KILLED      m.go:13 Checked: if n > 100",
		"NOT COVERED m.go:21 Unchecked: if n > 100",
		"SURVIVED    m.go:29 Clamp: if n > 100",
		"KILLED      m.go:37 Parse: if v, err := strconv.Atoi(s); err != nil",
	}, mutantLines(report))
	assert.Equal(t, 4, tally.Total())
}

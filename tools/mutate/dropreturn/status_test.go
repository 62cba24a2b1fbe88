package dropreturn

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestClassify(t *testing.T) {
	failed := errors.New("exit status 1")
	tests := []struct {
		name     string
		out      string
		err      error
		deadline bool
		want     Status
	}{
		{"tests pass", "ok  \tpkg\t0.2s\n", nil, false, Survived},
		{"a test fails", "--- FAIL: TestX (0.00s)\nFAIL\tpkg\t0.1s\n", failed, false, Killed},
		{"a test panics", "panic: runtime error: invalid memory address\nFAIL\tpkg\t0.1s\n", failed, false, Killed},
		{"does not compile", "# pkg\n./a.go:3:2: declared and not used: v\nFAIL\tpkg [build failed]\n", failed, false, NotViable},
		{"setup fails", "FAIL\tpkg [setup failed]\n", failed, false, NotViable},
		{"go test -timeout", "panic: test timed out after 5m0s\n", failed, false, TimedOut},
		{"stopped at the deadline", "", errors.New("signal: killed"), true, TimedOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Classify([]byte(tt.out), tt.err, tt.deadline))
		})
	}
}

func TestStatusString(t *testing.T) {
	assert.Equal(t, "KILLED", Killed.String())
	assert.Equal(t, "TIMED OUT", TimedOut.String())
	assert.Equal(t, "SURVIVED", Survived.String())
	assert.Equal(t, "NOT VIABLE", NotViable.String())
	assert.Equal(t, "NOT COVERED", NotCovered.String())
	assert.Equal(t, "UNKNOWN", Status(99).String())
}

func TestTally(t *testing.T) {
	tests := []struct {
		name     string
		statuses []Status
		allowed  int // how many of the survivors are allowed
		rate     float64
		rated    bool
		text     string
	}{
		{"none", nil, 0, 0, false, "0 mutants: 0 killed (0 timed out), 0 survived, 0 not covered (0 of those allowed), 0 not viable; kill rate n/a; 0s"},
		{"not viable or not covered", []Status{NotViable, NotCovered}, 0, 0, false,
			"2 mutants: 0 killed (0 timed out), 0 survived, 1 not covered (0 of those allowed), 1 not viable; kill rate n/a; 0s"},
		{"mixed", []Status{Killed, Killed, TimedOut, Survived, Survived, NotCovered, NotViable}, 2, 60, true,
			"7 mutants: 3 killed (1 timed out), 2 survived, 1 not covered (2 of those allowed), 1 not viable; kill rate 60.0%; 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl Tally
			allowed := tt.allowed
			for _, s := range tt.statuses {
				survivor := s == Survived || s == NotCovered
				tl.count(s, survivor && allowed > 0)
				if survivor && allowed > 0 {
					allowed--
				}
			}
			rate, ok := tl.KillRate()
			assert.Equal(t, tt.rated, ok)
			assert.InDelta(t, tt.rate, rate, 0.001)
			assert.Equal(t, tt.text, tl.String())
		})
	}
}

func TestTallyAdd(t *testing.T) {
	a := Tally{Killed: 1, TimedOut: 2, Survived: 3, NotCovered: 5, Allowed: 1, NotViable: 4, Elapsed: time.Second}
	a.add(Tally{Killed: 10, TimedOut: 20, Survived: 30, NotCovered: 50, Allowed: 10, NotViable: 40, Elapsed: time.Minute})
	assert.Equal(t, Tally{Killed: 11, TimedOut: 22, Survived: 33, NotCovered: 55, Allowed: 11, NotViable: 44, Elapsed: 61 * time.Second}, a)
	assert.Equal(t, 165, a.Total())
}

package dropreturn

import (
	"fmt"
	"time"
)

// Tally counts the outcomes of mutants.
type Tally struct {
	// Killed counts the mutants whose tests failed, TimedOut those whose
	// tests ran out of time (they count as killed too).
	Killed, TimedOut int
	// Survived counts the mutants whose tests passed, NotCovered those
	// that no test reaches, Allowed those of both that the allowlist
	// explains.
	Survived, NotCovered, Allowed int
	// NotViable counts the mutants that do not compile.
	NotViable int
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
}

// count adds one mutant of status s; allowed tells whether the allowlist
// explains it.
func (t *Tally) count(s Status, allowed bool) {
	switch s {
	case Killed:
		t.Killed++
	case TimedOut:
		t.TimedOut++
	case Survived:
		t.Survived++
		if allowed {
			t.Allowed++
		}
	case NotCovered:
		t.NotCovered++
		if allowed {
			t.Allowed++
		}
	case NotViable:
		t.NotViable++
	}
}

// add adds the counts and the time of u to t.
func (t *Tally) add(u Tally) {
	t.Killed += u.Killed
	t.TimedOut += u.TimedOut
	t.Survived += u.Survived
	t.NotCovered += u.NotCovered
	t.Allowed += u.Allowed
	t.NotViable += u.NotViable
	t.Elapsed += u.Elapsed
}

// Total returns the number of mutants.
func (t Tally) Total() int {
	return t.Killed + t.TimedOut + t.Survived + t.NotCovered + t.NotViable
}

// KillRate returns the percentage of the covered mutants that compile
// whose tests failed or timed out, and false when there is none.
func (t Tally) KillRate() (float64, bool) {
	n := t.Killed + t.TimedOut + t.Survived
	if n == 0 {
		return 0, false
	}
	return 100 * float64(t.Killed+t.TimedOut) / float64(n), true
}

// String returns the summary of t on one line.
func (t Tally) String() string {
	rate := "kill rate n/a"
	if r, ok := t.KillRate(); ok {
		rate = fmt.Sprintf("kill rate %.1f%%", r)
	}
	return fmt.Sprintf("%d mutants: %d killed (%d timed out), %d survived, %d not covered (%d of those allowed), %d not viable; %s; %s",
		t.Total(), t.Killed+t.TimedOut, t.TimedOut, t.Survived, t.NotCovered, t.Allowed, t.NotViable, rate,
		t.Elapsed.Round(time.Second))
}

package dropreturn

import (
	"bytes"
)

// Status is the outcome of one mutant.
type Status int

// The outcomes of a mutant.
const (
	// Killed: the tests failed.
	Killed Status = iota
	// TimedOut: the tests did not finish in time; it counts as killed.
	TimedOut
	// Survived: the tests passed.
	Survived
	// NotViable: the mutant does not compile.
	NotViable
	// NotCovered: no test reaches the return, so the mutant is not
	// tested; it counts as a survivor.
	NotCovered
)

// String returns the status as a report line prints it.
func (s Status) String() string {
	switch s {
	case Killed:
		return "KILLED"
	case TimedOut:
		return "TIMED OUT"
	case Survived:
		return "SURVIVED"
	case NotViable:
		return "NOT VIABLE"
	case NotCovered:
		return "NOT COVERED"
	}
	return "UNKNOWN"
}

// Classify returns the status of a mutant whose go test run printed out
// and ended with err; deadline tells whether the run was stopped at its
// deadline.
func Classify(out []byte, err error, deadline bool) Status {
	switch {
	case deadline || bytes.Contains(out, []byte("panic: test timed out after")):
		return TimedOut
	case err == nil:
		return Survived
	case bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]")):
		return NotViable
	}
	return Killed
}

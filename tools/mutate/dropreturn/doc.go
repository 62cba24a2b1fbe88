// Package dropreturn finds the early returns of Go code that follow a
// failure or a refusal, builds the mutants that take them out one at a
// time, and tests each mutant through go test -overlay, so that the
// tree is never written. Find holds the selection rule; the dropreturn
// command documents it in full, with the report and the allowlist.
package dropreturn

//go:build !linux

package redistest

import "os/exec"

// dieWithParent does nothing outside Linux: a server outlives a test
// process that dies without stopping it.
func dieWithParent(*exec.Cmd) {}

package redistest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the server when the test process
// dies without stopping it (a panic in a goroutine, a go test timeout),
// which runs no Cleanup. The kernel sends the signal when the thread
// that started the server ends, which the Go runtime does only for a
// goroutine that ends locked to its thread: no test here does that.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

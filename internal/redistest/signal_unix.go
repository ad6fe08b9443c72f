//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// pauseSignal and resumeSignal freeze and thaw a server, which then holds connections open without
// answering: the hung-server case that a stopped server (connection refused) does not cover.
var pauseSignal, resumeSignal os.Signal = syscall.SIGSTOP, syscall.SIGCONT

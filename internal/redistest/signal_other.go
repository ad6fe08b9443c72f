//go:build !unix

package redistest

import "os"

// pauseSignal and resumeSignal are unavailable here, so Server.Pause skips the test.
var pauseSignal, resumeSignal os.Signal

package redistest

import "syscall"

// procAttr has the kernel kill redis-server if the test binary dies, so a killed test run does not leave
// a server running forever.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package main

import "syscall"

// procAttr has the kernel kill a child if the harness dies, so that an interrupted run leaves no server
// or generator behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

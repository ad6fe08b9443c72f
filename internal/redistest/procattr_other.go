//go:build !linux

package redistest

import "syscall"

// procAttr has no parent-death signal outside Linux: a killed test binary may leave its redis-server
// running until the machine reboots.
func procAttr() *syscall.SysProcAttr { return nil }

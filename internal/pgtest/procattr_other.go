//go:build !linux

package pgtest

import (
	"errors"
	"syscall"
)

// procAttr has no parent-death signal outside Linux; dropping root is only implemented on Linux.
func procAttr(acct *account) (*syscall.SysProcAttr, error) {
	if acct != nil {
		return nil, errors.New("running as root is only supported on Linux; run tests as a regular user")
	}
	return nil, nil
}

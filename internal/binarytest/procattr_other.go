//go:build !linux

package binarytest

import (
	"errors"
	"syscall"
)

// ProcAttr has no parent-death signal outside Linux, so a killed test binary may leave its children
// running; running a child as another account is only implemented on Linux.
func ProcAttr(acct *Account) (*syscall.SysProcAttr, error) {
	if acct != nil {
		return nil, errors.New("binarytest: running a child as another account is only implemented on Linux; run the tests as a regular user")
	}
	return nil, nil
}

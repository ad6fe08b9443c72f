package binarytest

import "syscall"

// ProcAttr is what Start gives a child, for commands run another way (initdb through CombinedOutput): the
// kernel kills the child if the test binary dies, so a killed test run leaves no server running forever,
// and the child runs as acct unless acct is nil. Go sets the parent-death signal after changing
// credentials, which would otherwise clear it.
func ProcAttr(acct *Account) (*syscall.SysProcAttr, error) {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if acct != nil {
		attr.Credential = &syscall.Credential{Uid: acct.UID, Gid: acct.GID}
	}
	return attr, nil
}

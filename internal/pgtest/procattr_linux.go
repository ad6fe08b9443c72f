package pgtest

import "syscall"

// procAttr drops root to acct (when set) and has the kernel kill the child if the test binary dies, so a
// killed test run does not leave a postgres running forever. Go sets the parent-death signal after
// changing credentials, which would otherwise clear it.
func procAttr(acct *account) (*syscall.SysProcAttr, error) {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if acct != nil {
		attr.Credential = &syscall.Credential{Uid: acct.uid, Gid: acct.gid}
	}
	return attr, nil
}

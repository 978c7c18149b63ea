package bench

import "syscall"

// childAttr makes the kernel kill the IMS process if the bench dies first
// (a crash, kill -9), so no orphan keeps delivering or holding its port.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

//go:build windows

package forwarder

import "syscall"

// Process creation flags.
const (
	createNewProcessGroup = 0x00000200
	detachedProcess       = 0x00000008
)

// detachAttr starts a child without a console, in a process group of its
// own.
func detachAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: createNewProcessGroup | detachedProcess, HideWindow: true}
}

//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package forwarder

import "syscall"

// detachAttr leaves the child as it is on this system: its standard
// streams are closed, which is what the CLI waits for.
func detachAttr() *syscall.SysProcAttr { return nil }

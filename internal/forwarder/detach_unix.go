//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package forwarder

import "syscall"

// detachAttr puts a child in a session of its own.
func detachAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

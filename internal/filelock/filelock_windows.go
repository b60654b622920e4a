//go:build windows

package filelock

import (
	"errors"
	"syscall"
)

// IsReal says that TryLock excludes other processes, and that the
// operating system releases a lock whose holder died.
const IsReal = true

// errSharingViolation is ERROR_SHARING_VIOLATION: another handle has the
// file open without sharing.
const errSharingViolation syscall.Errno = 32

// Lock is a handle of a file opened without sharing: no other open
// succeeds until it is closed, by unlock or by the process's end.
type Lock struct{ h syscall.Handle }

// TryLock takes the lock on path without waiting; ok is false when another
// process (or another open of the file in this one) holds it.
func TryLock(path string) (l *Lock, ok bool, err error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, false, err
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ|syscall.GENERIC_WRITE, 0, nil,
		syscall.OPEN_ALWAYS, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		if errors.Is(err, errSharingViolation) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return &Lock{h: h}, true, nil
}

// unlock releases the lock.
func (l *Lock) Unlock() {
	if l != nil && l.h != syscall.InvalidHandle && l.h != 0 {
		_ = syscall.CloseHandle(l.h)
		l.h = syscall.InvalidHandle
	}
}

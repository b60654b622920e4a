//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package filelock

// IsReal is false: on this system TryLock always succeeds, and excludes
// nothing. Its users say what that costs them.
const IsReal = false

// Lock is a lock that excludes nothing.
type Lock struct{}

// TryLock always succeeds.
func TryLock(string) (*Lock, bool, error) { return &Lock{}, true, nil }

// Unlock does nothing.
func (*Lock) Unlock() {}

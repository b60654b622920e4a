//go:build unix

package session

import (
	"os"

	"golang.org/x/sys/unix"
)

// openRead opens a transcript to read, as os.Open does but without
// offering it to the runtime's poller: a regular file cannot be polled,
// and os.Open learns that with an epoll_ctl that fails and four fcntl
// calls setting and clearing non-blocking mode, six system calls of the
// eleven a backlog's transcript costs. os.NewFile asks one fcntl.
func openRead(path string) (*os.File, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}

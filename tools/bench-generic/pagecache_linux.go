package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropFromPageCache asks the kernel to let go of path's cached pages
// (POSIX_FADV_DONTNEED; written pages are flushed first), so that a
// process mapping it next reads them from disk as it touches them. How a
// binary's pages entered the page cache decides how many of them a fault
// maps (large folios after `go build` writes it): without this, the peak
// RSS of the same binary moves by tens of megabytes between runs.
func dropFromPageCache(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	if err := fh.Sync(); err != nil {
		return err
	}
	return unix.Fadvise(int(fh.Fd()), 0, 0, unix.FADV_DONTNEED)
}

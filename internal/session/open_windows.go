//go:build windows

package session

import (
	"os"
	"syscall"
)

// openRead opens a transcript to read, as os.Open does, but lets other
// programs delete and rename it while it is open. os.Open shares a file
// for reading and writing only: while a read was under way, the CLI could
// not delete or rename the transcript (cleaning up old sessions), and
// failed with a sharing violation. A deleted transcript stays readable
// through this handle until it is closed, as on Unix.
func openRead(path string) (*os.File, error) {
	if len(path) >= 248 {
		// A long path needs the \\?\ form os.Open makes of it (not
		// exported); such a path keeps os.Open's sharing.
		return os.Open(path)
	}
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	// What syscall.Open asks for os.Open (not inherited; a directory opens,
	// for the caller's check of the file's type to refuse), with
	// FILE_SHARE_DELETE.
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ,
		syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE|syscall.FILE_SHARE_DELETE,
		nil, syscall.OPEN_EXISTING, syscall.FILE_ATTRIBUTE_NORMAL|syscall.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

//go:build !unix && !windows

package session

import "os"

// openRead opens a transcript to read (see open_unix.go).
func openRead(path string) (*os.File, error) { return os.Open(path) }

//go:build !linux

package main

// dropFromPageCache does nothing where the tool does not measure memory
// (it reads /proc).
func dropFromPageCache(string) error { return nil }

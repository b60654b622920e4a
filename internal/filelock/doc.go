// Package filelock takes exclusive locks on files, without waiting: flock on
// Unix, a file opened without sharing on Windows. The operating system
// releases a lock when its holder ends, killed or not, and a second open of
// the same file in one process is excluded as another process is. Its
// users are the hook forwarder's spool (one replay at a time) and the
// usage ledger exporter (one writer of a collector's files).
package filelock // import "github.com/otelcol-copilot/otelcol-copilot/internal/filelock"

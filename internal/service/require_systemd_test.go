//go:build systemd

package service

// requireSystemd: built with -tags systemd (as .ci/run does, after
// installing the Debian package systemd), a missing systemd-analyze fails
// the test.
const requireSystemd = true

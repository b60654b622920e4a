//go:build unix

package copilotreceiver

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used: what a
// benchmark quotes beside wall time on a machine shared with other work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

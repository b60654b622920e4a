//go:build race

package transcript

// raceEnabled: the race detector's instrumentation makes values escape
// that do not otherwise, so allocation counts are not the program's.
const raceEnabled = true

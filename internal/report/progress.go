package report

import (
	"fmt"
	"io"
	"time"
)

// ProgressPrinter returns a Progress callback that redraws one line on w
// (a terminal) at most every 100 ms: files and bytes done, the rate and
// the time left. Call the returned done func at the end to clear it.
func ProgressPrinter(w io.Writer, now func() time.Time) (func(Progress), func()) {
	start, last := now(), time.Time{}
	shown := false
	update := func(p Progress) {
		t := now()
		if t.Sub(last) < 100*time.Millisecond && p.FilesDone < p.Files {
			return
		}
		last = t
		el := t.Sub(start).Seconds()
		rate := 0.0
		if el > 0 {
			rate = float64(p.BytesDone) / el
		}
		left := "?"
		if rate > 0 {
			left = (time.Duration(float64(p.Bytes-p.BytesDone) / rate * float64(time.Second))).Round(time.Second).String()
		}
		fmt.Fprintf(w, "\r\x1b[Kreading transcripts: %d/%d files, %.1f/%.1f MB, %.1f MB/s, %s left",
			p.FilesDone, p.Files, float64(p.BytesDone)/1e6, float64(p.Bytes)/1e6, rate/1e6, left)
		shown = true
	}
	done := func() {
		if shown {
			fmt.Fprint(w, "\r\x1b[K")
		}
	}
	return update, done
}

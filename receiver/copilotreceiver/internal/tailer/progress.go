package tailer

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// backlog follows the reading of what was already written when the tailer
// started (the history of a first start, or what was written while the
// collector was down), for a person watching the collector's log: a start
// line, progress lines at most every ProgressInterval, and a caught-up
// line once it is all read and delivered. Only the tailer's goroutine uses
// it.
type backlog struct {
	// reading: the first full step, which reads the backlog, is under way.
	reading bool
	start   time.Time
	// last is when progress was last reported.
	last time.Time

	// pending are the backlog's files not read to the size they had at
	// the first scan, with that size; read is how far each was read.
	pending map[*file]int64
	read    map[*file]int64

	sessions, sessionsDone int
	bytes, bytesDone       int64

	// What was delivered while reading it.
	usageRecords int64
	nanoAIU      int64
}

func newBacklog(now time.Time) *backlog {
	return &backlog{reading: true, start: now, last: now, pending: map[*file]int64{}, read: map[*file]int64{}}
}

// add counts a file found at the first scan, of size bytes of which from
// were read before (its checkpoint).
func (b *backlog) add(f *file, from, size int64) {
	if size <= from {
		return
	}
	b.pending[f] = size
	b.read[f] = from
	b.sessions++
	b.bytes += size - from
}

// committed counts what a committed round read of the backlog.
func (b *backlog) committed(r *round) {
	if !b.reading {
		return
	}
	for f := range r.files {
		size, ok := b.pending[f]
		if !ok {
			continue
		}
		to := min(f.committed, size)
		if to > b.read[f] {
			b.bytesDone += to - b.read[f]
			b.read[f] = to
		}
		if to >= size {
			delete(b.pending, f)
			delete(b.read, f)
			b.sessionsDone++
		}
	}
	for i := range r.facts.Usage {
		u := &r.facts.Usage[i]
		if u.Source == session.SourceRecord {
			b.usageRecords++
		}
		b.nanoAIU += u.Usage.NanoAIU
	}
}

// startLine logs what the tailer follows, once the first scan found what
// is there. A glob whose directory does not exist yet (the CLI never ran
// for this user) is waited for: its sessions are read when it appears.
func (t *Tailer) startLine() {
	b := t.backlog
	var missing []string
	for _, root := range t.find.roots {
		if !isDir(root) {
			missing = append(missing, root)
		}
	}
	note := ""
	if t.cfg.IncludeNote != "" {
		note = " (" + t.cfg.IncludeNote + ")"
	}
	follows := strings.Join(t.cfg.Include, ", ") + note
	fields := []zap.Field{zap.Strings("include", t.cfg.Include), zap.Int("files", len(t.files))}
	switch {
	case len(missing) == len(t.find.roots) && len(t.files) == 0:
		what := "the directory does not exist yet"
		if len(missing) > 1 {
			what = "the directories do not exist yet"
		}
		t.log.Info(fmt.Sprintf("Waiting for the Copilot CLI's first session in %s%s: %s; sessions are read as soon as the CLI writes them there",
			strings.Join(missing, ", "), note, what), fields...)
	case b.sessions == 0:
		what := "no sessions yet"
		if n := len(t.files); n > 0 {
			what = plural(n, "session") + ", all read before"
		}
		t.log.Info(fmt.Sprintf("Following Copilot CLI sessions in %s: %s", follows, what), fields...)
	default:
		what := fmt.Sprintf("%s, %s to read (%s)", plural(len(t.files), "session"), plural(b.sessions, "session"), humanBytes(b.bytes))
		if b.sessions == len(t.files) {
			what = fmt.Sprintf("%s to read (%s)", plural(b.sessions, "session"), humanBytes(b.bytes))
		}
		t.log.Info(fmt.Sprintf("Following Copilot CLI sessions in %s: %s", follows, what), fields...)
	}
}

// progress logs how far the backlog was read, at most every
// ProgressInterval, while it is read.
func (t *Tailer) progress() {
	b := t.backlog
	if !b.reading || t.cfg.ProgressInterval <= 0 || b.sessions == 0 {
		return
	}
	now := t.now()
	if now.Sub(b.last) < t.cfg.ProgressInterval {
		return
	}
	b.last = now
	msg := fmt.Sprintf("Reading the sessions already written: %d of %s, %s of %s",
		b.sessionsDone, plural(b.sessions, "session"), humanBytes(b.bytesDone), humanBytes(b.bytes))
	if el := now.Sub(b.start); el > 0 {
		msg += fmt.Sprintf(", %s/s", humanBytes(int64(float64(b.bytesDone)/el.Seconds())))
	}
	t.log.Info(msg, zap.Int("sessions_done", b.sessionsDone), zap.Int("sessions", b.sessions),
		zap.Int64("bytes_done", b.bytesDone), zap.Int64("bytes", b.bytes))
}

// caughtUp ends the backlog once the first full step read and delivered
// it, and says so when there was one.
func (t *Tailer) caughtUp() {
	b := t.backlog
	if !b.reading {
		return
	}
	b.reading = false
	// Files left (a last line not complete yet) are no longer followed here.
	b.pending, b.read = nil, nil
	if b.sessions == 0 {
		return
	}
	fields := []zap.Field{zap.Int("sessions", b.sessions), zap.Int64("usage_records", b.usageRecords),
		zap.Int64("nano_aiu", b.nanoAIU), zap.Int64("bytes", b.bytes)}
	took := t.now().Sub(b.start).Round(time.Millisecond)
	if t.cfg.StartAtEnd {
		t.log.Info(fmt.Sprintf("Caught up: %s read in %v without exporting their history (start_at: end); new usage is exported as it is written",
			plural(b.sessions, "session"), took), fields...)
		return
	}
	t.log.Info(fmt.Sprintf("Caught up: %s, %s, %s AI credits (%s in %v); new usage is exported as it is written",
		plural(b.sessions, "session"), plural(int(b.usageRecords), "usage record"), credits(b.nanoAIU), humanBytes(b.bytes), took), fields...)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// humanBytes writes n bytes in B, kB, MB or GB (powers of 1000), with one
// decimal above bytes.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 2 {
		v /= unit
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + [...]string{"kB", "MB", "GB"}[i]
}

// credits writes nano-AIU as AI credits exactly: 15087007500 is
// 15.0870075.
func credits(nano int64) string {
	sign := ""
	u := uint64(nano)
	if nano < 0 {
		sign, u = "-", uint64(-nano)
	}
	whole, frac := u/1e9, u%1e9
	if frac == 0 {
		return sign + strconv.FormatUint(whole, 10)
	}
	return sign + strconv.FormatUint(whole, 10) + "." + strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
}

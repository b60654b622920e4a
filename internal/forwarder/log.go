package forwarder

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Log levels, in increasing order of importance.
const (
	LevelDebug = iota
	LevelInfo
	LevelWarn
	LevelError
)

var levelNames = [...]string{"debug", "info", "warn", "error"}

// ParseLevel reads a level name (debug, info, warn, error).
func ParseLevel(s string) (int, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("log level %q is not one of debug, info, warn, error", s)
}

// DefaultLogMaxBytes is the size at which the log file is rotated.
const DefaultLogMaxBytes = 1 << 20

// Logger writes one line per message to a file that is rotated when it
// grows past MaxBytes (the previous file is kept as <path>.1). The file is
// opened for each message, so that a process that logs nothing touches
// nothing, and lines from concurrent processes do not interleave (each is
// one append). With no Path, or when the file cannot be written, messages
// go to Fallback (nil: they are lost). A nil *Logger logs nothing.
type Logger struct {
	Path     string
	MaxBytes int64
	Level    int
	Fallback io.Writer
	// Prefix starts every line after the time, e.g. "pid=123 forward".
	Prefix string

	mu sync.Mutex
}

// Debugf logs at debug level.
func (l *Logger) Debugf(format string, args ...any) { l.logf(LevelDebug, format, args...) }

// Infof logs at info level.
func (l *Logger) Infof(format string, args ...any) { l.logf(LevelInfo, format, args...) }

// Warnf logs at warn level.
func (l *Logger) Warnf(format string, args ...any) { l.logf(LevelWarn, format, args...) }

// Errorf logs at error level.
func (l *Logger) Errorf(format string, args ...any) { l.logf(LevelError, format, args...) }

func (l *Logger) logf(level int, format string, args ...any) {
	if l == nil || level < l.Level {
		return
	}
	msg := fmt.Sprintf(format, args...)
	msg = strings.ReplaceAll(msg, "\n", `\n`)
	line := time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00") + " " + levelNames[level] + " "
	if l.Prefix != "" {
		line += l.Prefix + " "
	}
	line += msg + "\n"

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Path != "" && l.write(line) == nil {
		return
	}
	if l.Fallback != nil {
		_, _ = io.WriteString(l.Fallback, line)
	}
}

func (l *Logger) write(line string) error {
	limit := l.MaxBytes
	if limit <= 0 {
		limit = DefaultLogMaxBytes
	}
	if st, err := os.Stat(l.Path); err == nil && st.Size()+int64(len(line)) > limit {
		// Two processes may rotate at once: one rename wins, the other
		// fails or renames the fresh file; either way the log stays bounded.
		_ = os.Rename(l.Path, l.Path+".1")
	}
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if mkErr := os.MkdirAll(filepath.Dir(l.Path), 0o700); mkErr != nil {
			return mkErr
		}
		f, err = os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	}
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

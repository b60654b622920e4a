package copilotreceiver

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/decodeonly"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/tailer"
)

// BenchmarkTranscriptPath reads a corpus of about 100 MB of generated
// sessions (internal/testsupport/transcriptgen, one file each) from disk
// two ways, so that their ratio can be quoted:
//
//   - receiver: the receiver's transcript path: the tailer finds the files,
//     reads their complete lines, decodes what the accounting needs,
//     accounts, builds metrics, spans and logs for a consumer that drops
//     them, and commits checkpoints (to storage in memory).
//   - decode: the transcript decoder alone over the same files, as the
//     tailer configures it (one reader, reset per file), with nothing
//     after it: no finding, fingerprinting, accounting, signals or
//     commits. It bounds the receiver's path from above: the path cannot
//     run faster than its decoder does.
//   - linescan: a plain Go line scan of the same files, one buffer,
//     bytes.IndexByte for the newlines.
//
// Besides MB/s (wall time), each reports MB per CPU-second of the whole
// process (garbage collection included), which other work on a shared
// machine disturbs less. Run:
//
//	go test ./receiver/copilotreceiver -run '^$' -bench TranscriptPath -benchmem -count 5
func BenchmarkTranscriptPath(b *testing.B) {
	root := filepath.Join(b.TempDir(), "session-state")
	cs, err := transcriptgen.Corpus(root, 3, 100e6)
	require.NoError(b, err)
	var paths []string
	for _, s := range cs.Sessions {
		paths = append(paths, s.Path)
	}
	b.Run("receiver", func(b *testing.B) {
		b.SetBytes(cs.Bytes)
		b.ReportAllocs()
		cpu := cpuTime()
		for range b.N {
			runTailer(b, root, cs.Bytes)
		}
		reportCPU(b, cs.Bytes, cpuTime()-cpu)
		b.ReportMetric(float64(cs.Events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(cs.Bytes)
		b.ReportAllocs()
		rd := decodeonly.NewReader()
		cpu := cpuTime()
		defer func() { reportCPU(b, cs.Bytes, cpuTime()-cpu) }()
		for range b.N {
			events := 0
			for _, p := range paths {
				n, err := decodeonly.File(rd, p)
				require.NoError(b, err)
				events += n
			}
			if events != cs.Events {
				b.Fatalf("%d events decoded, %d written", events, cs.Events)
			}
		}
	})
	b.Run("linescan", func(b *testing.B) {
		b.SetBytes(cs.Bytes)
		b.ReportAllocs()
		buf := make([]byte, 1<<20)
		cpu := cpuTime()
		defer func() { reportCPU(b, cs.Bytes, cpuTime()-cpu) }()
		for range b.N {
			lines := 0
			for _, p := range paths {
				n, err := scanLines(p, &buf)
				require.NoError(b, err)
				lines += n
			}
			if lines != cs.Events {
				b.Fatalf("%d lines, %d events", lines, cs.Events)
			}
		}
	})
}

// reportCPU reports MB per CPU-second, when the CPU time is known.
func reportCPU(b *testing.B, bytes int64, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
	}
}

// runTailer reads every transcript under root with the receiver's tailer
// and builders until total bytes were read and committed.
func runTailer(b *testing.B, root string, total int64) {
	mb, tb, lb := builders(testConfig())
	signals := []pipeline.Signal{
		{Name: signalMetrics, Consume: func(_ context.Context, f *session.Facts) error { _ = mb.build(f, time.Now()); return nil }},
		{Name: "logs", Consume: func(_ context.Context, f *session.Facts) error { _ = lb.build(f); return nil }},
		{Name: "traces", Consume: func(_ context.Context, f *session.Facts) error { _ = tb.build(f); return nil }},
	}
	obs := &doneObserver{total: total, done: make(chan struct{})}
	tl := tailer.New(tailer.Config{
		Include:      []string{filepath.Join(root, "*", "events.jsonl")},
		PollInterval: time.Hour, RescanInterval: time.Hour, IdleTimeout: time.Hour,
		RetryInitial: time.Millisecond, RetryMax: time.Millisecond,
	}, storageclient.NewMemory(), signals, obs, zap.NewNop())
	require.NoError(b, tl.Start(context.Background()))
	select {
	case <-obs.done:
	case <-time.After(time.Minute):
		b.Fatal("the corpus was not read within a minute")
	}
	require.NoError(b, tl.Stop(context.Background()))
}

// doneObserver closes done once total bytes were read and committed.
type doneObserver struct {
	mu    sync.Mutex
	read  int64
	total int64
	done  chan struct{}
}

func (o *doneObserver) Read(_ int, n int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.read += n
	if o.read == o.total {
		close(o.done)
	}
}
func (*doneObserver) LineSkipped(string)     {}
func (*doneObserver) LineRepaired()          {}
func (*doneObserver) DuplicateRecords(int64) {}
func (*doneObserver) AccountingExcess(int64) {}
func (*doneObserver) Retry(string)           {}
func (*doneObserver) Dropped(string)         {}
func (*doneObserver) FilesTracked(int)       {}
func (*doneObserver) SnapshotEvicted()       {}

// scanLines counts the lines of the file at path with one buffer, grown
// for a line longer than it.
func scanLines(path string, bufp *[]byte) (int, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	buf := *bufp
	lines, have := 0, 0
	for {
		if have == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
			*bufp = buf
		}
		n, err := fh.Read(buf[have:])
		have += n
		start := 0
		for {
			i := bytes.IndexByte(buf[start:have], '\n')
			if i < 0 {
				break
			}
			lines++
			start += i + 1
		}
		have = copy(buf, buf[start:have])
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
	}
}

package copilotreceiver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcriptgen"
)

var (
	benchOnce  sync.Once
	benchData  []byte
	benchStats transcriptgen.Stats
)

// benchTranscript is one large realistic session (about 200 MB: big system
// prompts and tool output, subagents, billed, resumed), generated once.
func benchTranscript(b *testing.B) ([]byte, transcriptgen.Stats) {
	benchOnce.Do(func() {
		var buf bytes.Buffer
		st, err := transcriptgen.Write(&buf, transcriptgen.Options{
			Seed: 1, Interactions: 400, ToolOutputKB: 16, Billed: true, Subagents: true, Resume: true,
		})
		require.NoError(b, err)
		benchData, benchStats = buf.Bytes(), st
	})
	return benchData, benchStats
}

// BenchmarkIngest measures what the receiver does with a transcript:
// reading complete lines, decoding what the accounting needs, accounting,
// and converting the facts to metrics, spans and logs in rounds the size
// the tailer uses. Run:
//
//	go test ./receiver/copilotreceiver -run '^$' -bench 'Ingest|LineScan|FullDecode' -benchmem
func BenchmarkIngest(b *testing.B) {
	data, st := benchTranscript(b)
	mb, tb, lb := builders(testConfig())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	var events int
	for range b.N {
		r := transcript.NewReader(bytes.NewReader(data), 0, 0, transcript.Options{})
		r.Final = true
		tr := session.New(st.SessionID, session.Options{})
		facts := &session.Facts{}
		n := 0
		flush := func() {
			_ = mb.build(facts, time.Time{})
			_ = tb.build(facts)
			_ = lb.build(facts)
			facts.Reset()
		}
		for {
			it, err := r.Next()
			if err == io.EOF {
				break
			}
			if it.Event == nil {
				b.Fatalf("skipped a generated line: %v", it.Skip)
			}
			tr.Apply(it.Event, facts)
			n++
			if n%8192 == 0 {
				flush()
			}
		}
		flush()
		events += n
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkLineScan is the floor: splitting the same bytes into lines.
func BenchmarkLineScan(b *testing.B) {
	data, _ := benchTranscript(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		for sc.Scan() {
		}
	}
}

// BenchmarkFullDecode is the naive route: decoding every line whole with
// encoding/json, as a generic JSON log pipeline does.
func BenchmarkFullDecode(b *testing.B) {
	data, _ := benchTranscript(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		for sc.Scan() {
			var v map[string]any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				b.Fatal(err)
			}
		}
	}
}

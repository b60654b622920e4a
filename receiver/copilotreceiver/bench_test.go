package copilotreceiver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
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

// BenchmarkReceiverCorpus runs the receiver, tailer and file-backed
// checkpoints included, over a corpus of about 200 MB of generated sessions
// until every event was read, with consumers that accept everything. Run:
//
//	go test ./receiver/copilotreceiver -run '^$' -bench ReceiverCorpus -benchtime 3x
func BenchmarkReceiverCorpus(b *testing.B) {
	dir := b.TempDir()
	cs, err := transcriptgen.Corpus(filepath.Join(dir, "session-state"), 2, 200e6)
	require.NoError(b, err)
	b.SetBytes(cs.Bytes)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		h := &harness{t: &testing.T{}, root: filepath.Join(dir, "session-state"), storage: b.TempDir()}
		h.cfg = testConfig()
		h.cfg.SessionState.Include = []string{filepath.Join(h.root, "*", "events.jsonl")}
		id := storagetest.NewStorageID("checkpoints")
		h.cfg.SessionState.Storage = &id
		s := &sink{}
		s.discard = true
		b.StartTimer()
		stop := h.run(s)
		for eventsRead(h) < int64(cs.Events) {
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(cs.Events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// eventsRead is the receiver's count of transcript events read.
func eventsRead(h *harness) int64 {
	rm, err := h.tel.GetMetric("otelcol_receiver_copilot_events_read")
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range rm.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

package copilotreceiver

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

var (
	roundsOnce sync.Once
	rounds     []*session.Facts
	roundsErr  error
)

// corpusRounds is a generated corpus of about 1,000 sessions (70 MB, the
// mean session size of a real 14,000-session corpus of 963 MB), read
// session after session into rounds of at most 2048 events, the tailer's
// bound while it reads history.
func corpusRounds(b *testing.B) []*session.Facts {
	roundsOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "copilotreceiver-bench-corpus")
		defer os.RemoveAll(dir)
		cs, err := transcriptgen.Corpus(dir, 3, 70e6)
		if roundsErr = err; err != nil {
			return
		}
		cur, n := &session.Facts{}, 0
		for _, s := range cs.Sessions {
			fh, err := os.Open(s.Path)
			if roundsErr = err; err != nil {
				return
			}
			r := transcript.NewReader(fh, 0, 0, transcript.Options{})
			r.Final = true
			tr := session.New(filepath.Base(filepath.Dir(s.Path)), session.Options{})
			for {
				it, err := r.Next()
				if err == io.EOF {
					break
				}
				if it.Event == nil {
					continue
				}
				tr.Apply(it.Event, cur)
				if n++; n%2048 == 0 {
					rounds = append(rounds, cur)
					cur = &session.Facts{}
				}
			}
			tr.Idle(cur)
			fh.Close()
		}
		rounds = append(rounds, cur)
	})
	require.NoError(b, roundsErr)
	return rounds
}

// BenchmarkCorpusPoints converts a corpus of about 1,000 generated sessions,
// in the rounds the tailer delivers, to metrics with their points combined
// and one per event, and encodes them as the file exporter does
// (pmetric.JSONMarshaler): how many points, how many bytes, and what the
// encoding costs. Run:
//
//	go test ./receiver/copilotreceiver -run '^$' -bench CorpusPoints -benchtime 5x
func BenchmarkCorpusPoints(b *testing.B) {
	rs := corpusRounds(b)
	for _, mode := range []string{PointsPerEvent, PointsCombined} {
		cfg := testConfig()
		cfg.MetricPoints = mode
		mb, _, _ := builders(cfg)
		build := func() []pmetric.Metrics {
			out := make([]pmetric.Metrics, len(rs))
			for i, f := range rs {
				out[i] = mb.build(f, time.Time{})
			}
			return out
		}
		mds := build()
		points := 0
		for _, md := range mds {
			points += md.DataPointCount()
		}
		b.Run(mode+"/build", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				build()
			}
			b.ReportMetric(float64(points), "points")
		})
		b.Run(mode+"/encode", func(b *testing.B) {
			var m pmetric.JSONMarshaler
			var size int
			b.ReportAllocs()
			for range b.N {
				size = 0
				for _, md := range mds {
					buf, err := m.MarshalMetrics(md)
					if err != nil {
						b.Fatal(err)
					}
					size += len(buf)
				}
			}
			b.ReportMetric(float64(points), "points")
			b.ReportMetric(float64(size)/1e6, "JSON-MB")
		})
	}
}

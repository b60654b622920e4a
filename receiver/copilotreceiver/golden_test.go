package copilotreceiver

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/tailer"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden from the current output")

// transcripts are the real CLI transcripts in the repository's testdata.
func transcripts(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../../testdata/copilot-cli/*/session-state/*/events.jsonl")
	require.NoError(t, err)
	recorded, err := filepath.Glob("../../testdata/copilot-cli/recorded/*/session-state/*/events.jsonl")
	require.NoError(t, err)
	files = append(files, recorded...)
	require.NotEmpty(t, files, "no transcripts under testdata/copilot-cli")
	return files
}

// caseName is "<set>/<session id>" for a transcript path.
func caseName(path string) string {
	dir := filepath.Dir(path)                             // .../<set>/session-state/<id>
	set := filepath.Base(filepath.Dir(filepath.Dir(dir))) // <set>
	return filepath.ToSlash(filepath.Join(set, filepath.Base(dir)))
}

// readFacts applies a whole transcript to a tracker, as the receiver does,
// and returns the facts, the idle close-out of a session left open
// included.
func readFacts(t testing.TB, path string, capture bool) *session.Facts {
	t.Helper()
	fh, err := os.Open(path)
	require.NoError(t, err)
	defer fh.Close()
	r := transcript.NewReader(fh, 0, 0, transcript.Options{CaptureContent: capture})
	r.Final = true
	tr := session.New(filepath.Base(filepath.Dir(path)), session.Options{CaptureContent: capture})
	facts := &session.Facts{}
	for {
		it, err := r.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Nil(t, it.Skip, "%s: a real transcript line was skipped", path)
		tr.Apply(it.Event, facts)
	}
	tr.Idle(facts)
	return facts
}

func testConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.SessionState.User = "dev"
	return cfg
}

func builders(cfg *Config) (*metricsBuilder, *tracesBuilder, *logsBuilder) {
	res := &resourceBuilder{cfg: cfg.ResourceAttributes, user: cfg.SessionState.User}
	return newMetricsBuilder(cfg, res, "test", &tailer.WindowClock{}),
		&tracesBuilder{resources: res, version: "test", capture: cfg.CaptureContent},
		&logsBuilder{resources: res, version: "test", events: cfg.Events}
}

// TestGolden pins the telemetry of every real transcript, read as one
// batch: metrics.yaml with the default configuration (the points of each
// series combined), metrics_per_event.yaml with metric_points: per_event.
// Refresh with `go test ./receiver/copilotreceiver -run TestGolden -update`
// and review the diff.
func TestGolden(t *testing.T) {
	for _, path := range transcripts(t) {
		name := caseName(path)
		t.Run(name, func(t *testing.T) {
			mb, tb, lb := builders(testConfig())
			perEvent := testConfig()
			perEvent.MetricPoints = PointsPerEvent
			mbPerEvent, _, _ := builders(perEvent)
			facts := readFacts(t, path, false)
			md := mb.build(facts, time.Time{})
			mdPerEvent := mbPerEvent.build(facts, time.Time{})
			td := tb.build(facts)
			ld := lb.build(facts)
			dir := filepath.Join("testdata", "golden", filepath.FromSlash(name))
			if *update {
				require.NoError(t, os.MkdirAll(dir, 0o755))
				require.NoError(t, golden.WriteMetrics(t, filepath.Join(dir, "metrics.yaml"), md, golden.SkipMetricTimestampNormalization()))
				require.NoError(t, golden.WriteMetrics(t, filepath.Join(dir, "metrics_per_event.yaml"), mdPerEvent, golden.SkipMetricTimestampNormalization()))
				require.NoError(t, golden.WriteTraces(t, filepath.Join(dir, "traces.yaml"), td))
				require.NoError(t, golden.WriteLogs(t, filepath.Join(dir, "logs.yaml"), ld))
			}
			wantM, err := golden.ReadMetrics(filepath.Join(dir, "metrics.yaml"))
			require.NoError(t, err)
			require.NoError(t, pmetrictest.CompareMetrics(wantM, md, pmetrictest.IgnoreMetricDataPointsOrder()))
			wantM, err = golden.ReadMetrics(filepath.Join(dir, "metrics_per_event.yaml"))
			require.NoError(t, err)
			require.NoError(t, pmetrictest.CompareMetrics(wantM, mdPerEvent, pmetrictest.IgnoreMetricDataPointsOrder()))
			wantT, err := golden.ReadTraces(filepath.Join(dir, "traces.yaml"))
			require.NoError(t, err)
			require.NoError(t, ptracetest.CompareTraces(wantT, td, ptracetest.IgnoreSpansOrder()))
			wantL, err := golden.ReadLogs(filepath.Join(dir, "logs.yaml"))
			require.NoError(t, err)
			require.NoError(t, plogtest.CompareLogs(wantL, ld, plogtest.IgnoreLogRecordsOrder()))
		})
	}
}

// TestNoContentWithoutCapture checks that prompts, responses and tool
// arguments and output never reach the telemetry unless capture is on.
func TestNoContentWithoutCapture(t *testing.T) {
	for _, capture := range []bool{false, true} {
		cfg := testConfig()
		cfg.CaptureContent = capture
		mb, tb, lb := builders(cfg)
		var out strings.Builder
		for _, path := range transcripts(t) {
			facts := readFacts(t, path, capture)
			b, err := golden.MarshalMetricsYAML(mb.build(facts, time.Time{}))
			require.NoError(t, err)
			out.Write(b)
			td := tb.build(facts)
			ld := lb.build(facts)
			out.WriteString(tracesText(td))
			out.WriteString(logsText(ld))
		}
		// Text that appears only in prompts, tool arguments and tool output
		// of the recorded sessions.
		for _, secret := range []string{"[scenario:", "echo hello > out.txt", "completed with exit code", "subagent-task-marker"} {
			if capture {
				require.Contains(t, out.String(), secret, "capture_content: true should keep %q", secret)
			} else {
				require.NotContains(t, out.String(), secret, "content leaked with capture_content: false")
			}
		}
	}
}

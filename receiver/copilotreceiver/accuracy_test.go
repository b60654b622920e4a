package copilotreceiver

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/cliaccounting"
)

// modelTotals is a session's accounting of one model.
type modelTotals struct {
	Requests                                   int64
	Cost                                       float64
	Input, Output, CacheRead, CacheWrite, Reas int64
	NanoAIU                                    int64
}

// cliAccounting returns the CLI's own final accounting of the transcript
// at path by model (package cliaccounting, which reads the file with plain
// encoding/json, independently of package transcript). perLeg says which
// shutdowns (by position) were written by a CLI before 1.0.66, which
// reports per leg; for the shared 1.0.102 sessions there are none.
func cliAccounting(t *testing.T, path string, perLeg func(i int) bool) map[string]modelTotals {
	t.Helper()
	a, err := cliaccounting.File(path, perLeg)
	require.NoError(t, err)
	out := map[string]modelTotals{}
	for name, m := range a.Models {
		out[name] = modelTotals{
			Requests: m.Requests, Cost: m.PremiumCost,
			Input: m.InputTokens, Output: m.OutputTokens,
			CacheRead: m.CacheReadTokens, CacheWrite: m.CacheWriteTokens, Reas: m.ReasoningTokens,
			NanoAIU: m.NanoAIU,
		}
	}
	return out
}

// exported sums the exported metrics by model.
func exported(md pmetric.Metrics) map[string]modelTotals {
	out := map[string]modelTotals{}
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Type() != pmetric.MetricTypeSum {
					continue
				}
				for _, dp := range m.Sum().DataPoints().All() {
					model, _ := dp.Attributes().Get(aModel)
					o := out[model.Str()]
					switch m.Name() {
					case mAPIRequests:
						o.Requests += dp.IntValue()
					case mPremium:
						o.Cost += dp.DoubleValue()
					case mNanoAIU:
						o.NanoAIU += dp.IntValue()
					case mTokens:
						tt, _ := dp.Attributes().Get(aTokenType)
						switch tt.Str() {
						case "input":
							o.Input += dp.IntValue()
						case "output":
							o.Output += dp.IntValue()
						case "cache_read":
							o.CacheRead += dp.IntValue()
						case "cache_write":
							o.CacheWrite += dp.IntValue()
						case "reasoning":
							o.Reas += dp.IntValue()
						}
					default:
						continue
					}
					out[model.Str()] = o
				}
			}
		}
	}
	for k, v := range out {
		if v == (modelTotals{}) {
			delete(out, k)
		}
	}
	return out
}

// TestAccuracy checks that the exported totals of every real transcript,
// per model and token type, nano-AIU, premium requests and request count,
// equal the CLI's own final accounting in the file, exactly.
func TestAccuracy(t *testing.T) {
	legs := recordedLegs(t)
	for _, path := range transcripts(t) {
		name := caseName(path)
		t.Run(name, func(t *testing.T) {
			perLeg := func(int) bool { return false }
			if l, ok := legs[name]; ok {
				perLeg = l.perLeg
			}
			want := cliAccounting(t, path, perLeg)
			mb, _, _ := builders(testConfig())
			got := exported(mb.build(readFacts(t, path, false), time.Time{}))
			for model := range want {
				if want[model] == (modelTotals{}) {
					delete(want, model)
				}
			}
			assert.Equal(t, want, got)
		})
	}
}

func tracesText(td ptrace.Traces) string {
	b, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	return string(b)
}

func logsText(ld plog.Logs) string {
	b, _ := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	return string(b)
}

// legWriters says which CLI version wrote each shutdown of a recorded
// session, as the recording program ran them (the recording.json of each
// case under testdata/copilot-cli/recorded).
type legWriters struct{ versions []string }

// perLeg reports whether shutdown i was written by a CLI that reports its
// leg only: before 1.0.66, as measured by running each version.
func (l legWriters) perLeg(i int) bool {
	if i >= len(l.versions) {
		return false
	}
	return versionBefore(l.versions[i], 1, 0, 66)
}

func recordedLegs(t *testing.T) map[string]legWriters {
	t.Helper()
	files, err := filepath.Glob("../../testdata/copilot-cli/recorded/*/recording.json")
	require.NoError(t, err)
	out := map[string]legWriters{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var rec struct {
			Case     string   `json:"case"`
			Sessions []string `json:"sessions"`
			Legs     []struct {
				Version string `json:"version"`
				Exit    string `json:"exit"`
			} `json:"legs"`
		}
		require.NoError(t, json.Unmarshal(b, &rec))
		var w legWriters
		for _, l := range rec.Legs {
			// A leg killed with SIGKILL writes no shutdown.
			if !strings.Contains(l.Exit, "SIGKILL") {
				w.versions = append(w.versions, l.Version)
			}
		}
		for _, s := range rec.Sessions {
			out[filepath.Base(filepath.Dir(f))+"/"+s] = w
		}
	}
	return out
}

// versionBefore compares "1.0.65" or "1.0.66-2" with major.minor.patch; a
// pre-release comes before its release.
func versionBefore(v string, major, minor, patch int) bool {
	var a, b, c int
	var pre string
	n, _ := fmt.Sscanf(v, "%d.%d.%d-%s", &a, &b, &c, &pre)
	if n < 3 {
		return false
	}
	for _, p := range [][2]int{{a, major}, {b, minor}, {c, patch}} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return pre != ""
}

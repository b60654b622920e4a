package copilotreceiver

import (
	"bytes"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// skippedLines is otelcol_receiver_copilot_lines_skipped by reason.
func (h *harness) skippedLines() map[string]int64 {
	out := map[string]int64{}
	m, err := h.tel.GetMetric("otelcol_receiver_copilot_lines_skipped")
	if err != nil {
		return out
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value("reason")
		out[r.AsString()] += dp.Value
	}
	return out
}

// outOfRange lists the exported sum points that no usage can be: below 0
// or above 2^53.
func outOfRange(md pmetric.Metrics) []string {
	var bad []string
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Type() != pmetric.MetricTypeSum {
					continue
				}
				for _, dp := range m.Sum().DataPoints().All() {
					v := float64(dp.IntValue())
					if dp.ValueType() == pmetric.NumberDataPointValueTypeDouble {
						v = dp.DoubleValue()
					}
					if v < 0 || v > transcript.MaxCount {
						bad = append(bad, m.Name())
					}
				}
			}
		}
	}
	return bad
}

// replaceIn rewrites the n-th line (from 1) of the given type with re
// replaced by repl, once.
func replaceIn(t *testing.T, content []byte, typ string, n int, re, repl string) []byte {
	t.Helper()
	rx := regexp.MustCompile(re)
	lines := bytes.SplitAfter(content, []byte("\n"))
	seen := 0
	for i, l := range lines {
		if !bytes.Contains(l, []byte(`"type":"`+typ+`"`)) {
			continue
		}
		if seen++; seen != n {
			continue
		}
		loc := rx.FindIndex(l)
		require.NotNil(t, loc, "%s #%d has no %s", typ, n, re)
		lines[i] = append(append(append([]byte{}, l[:loc[0]]...), repl...), l[loc[1]:]...)
		return bytes.Join(lines, nil)
	}
	t.Fatalf("no %s #%d", typ, n)
	return nil
}

// TestInvalidUsageNumbersAreSkipped: a transcript line whose usage numbers
// break the rule (negative, not whole, above 2^53) is a counted skip, and
// no money is lost with it: a session's usage records count when its
// shutdown's totals are invalid, and a valid shutdown makes up for a
// record that was skipped. Nothing negative or beyond 2^53 is exported
// (issue 8: -5 tokens became negative points on monotonic sums, 9.3e18
// tokens 9223372036854775807).
func TestInvalidUsageNumbersAreSkipped(t *testing.T) {
	const src = "1.0.102-billed/session-state/0b1e1ed0-5a1e-4c0d-9b11-000000000001/events.jsonl"
	content := readTestdata(t, src)
	want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", src), func(int) bool { return false })
	require.NotEmpty(t, want)

	for name, c := range map[string]struct {
		content   []byte
		skipped   int64
		summaries int // shutdowns read
	}{
		"shutdown totals invalid": {
			content: replaceIn(t, replaceIn(t, content,
				"session.shutdown", 1, `"totalNanoAiu":\d+`, `"totalNanoAiu":9.3e18`),
				"session.shutdown", 1, `"inputTokens":\d+`, `"inputTokens":-5`),
			skipped: 1,
		},
		"records invalid": {
			content: replaceIn(t, replaceIn(t, replaceIn(t, content,
				"session.usage_record", 1, `"inputTokens":\d+`, `"inputTokens":-5`),
				"session.usage_record", 2, `"totalNanoAiu":\d+`, `"totalNanoAiu":9.3e18`),
				"session.usage_record", 3, `"outputTokens":\d+`, `"outputTokens":12.5`),
			skipped:   3,
			summaries: 1,
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.write("0b1e1ed0-5a1e-4c0d-9b11-000000000001", c.content)
			s := &sink{}
			stop := h.run(s)
			defer stop()
			require.Eventually(t, func() bool {
				return h.skippedLines()[transcript.ReasonInvalidUsage] == c.skipped && s.summaries() == c.summaries && assert.ObjectsAreEqual(want, totalsOf(s))
			}, 10*time.Second, 10*time.Millisecond, "skipped %v, totals %v, want %v", h.skippedLines(), totalsOf(s), want)
			assert.Equal(t, map[string]int64{transcript.ReasonInvalidUsage: c.skipped}, h.skippedLines())
			assert.Empty(t, outOfRange(s.allMetrics()))
		})
	}
}

// TestHookInvalidUsageRefused: a hook payload whose usage object breaks
// the usage rule is answered 400 naming the number, counted as
// invalid_usage, and none of it reaches the pipelines.
func TestHookInvalidUsageRefused(t *testing.T) {
	h := newHarness(t)
	s := &sink{}
	url, stop := h.startHooks(s, func(c *HooksConfig) { c.Accounting = AccountingHooks })
	defer stop()
	end := func(usage string) []byte {
		return []byte(`{"sessionId":"0b1e1ed0-5a1e-4c0d-9b11-00000000bad0","timestamp":1795363646917,"reason":"complete","usage":` + usage + `}`)
	}
	for usage, field := range map[string]string{
		`{"modelMetrics":{"gpt-5":{"requests":{"count":1},"usage":{"inputTokens":-5}}}}`:         `usage.modelMetrics["gpt-5"].usage.inputTokens`,
		`{"modelMetrics":{"gpt-5":{"requests":{"count":1},"usage":{"inputTokens":9.3e18}}}}`:     `usage.modelMetrics["gpt-5"].usage.inputTokens`,
		`{"modelMetrics":{"gpt-5":{"requests":{"count":1},"totalNanoAiu":9000000000000000000}}}`: `usage.modelMetrics["gpt-5"].totalNanoAiu`,
		`{"totalNanoAiu":-5,"modelMetrics":{}}`:                                                  "usage.totalNanoAiu",
		`{"modelMetrics":{"gpt-5":{"requests":{"count":1,"premiumCost":-50}}}}`:                  `usage.modelMetrics["gpt-5"].requests.premiumCost`,
	} {
		a := post(t, url+hooksPath+"/sessionEnd", end(usage))
		assert.Equal(t, http.StatusBadRequest, a.Code, usage)
		assert.Contains(t, a.Error, field, usage)
	}
	assert.Zero(t, s.calls.Load(), "a payload with invalid usage reached the pipelines")
	assert.Equal(t, map[string]int64{rejectInvalidUsage: 5}, h.rejectedReasons())

	// The number forms transcripts use are taken.
	a := post(t, url+hooksPath+"/sessionEnd", end(`{"modelMetrics":{"gpt-5":{"requests":{"count":2.0},"usage":{"inputTokens":1000.0},"totalNanoAiu":4.73739e9}}}`))
	require.Equal(t, http.StatusAccepted, a.Code, a.Error)
	assert.Equal(t, int64(4737390000), sumWhere(s.allMetrics(), mNanoAIU))
	assert.Empty(t, outOfRange(s.allMetrics()))
}

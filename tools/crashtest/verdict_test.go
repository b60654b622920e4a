package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/cliaccounting"
)

// usageRequest is a metrics request of one session's usage, as the agent
// sends it: calls API calls of model with tokens input tokens each.
func usageRequest(t *testing.T, sid, model string, calls, tokens int64, ts int) []byte {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("session.id", sid)
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	add := func(name string, v int64, attrs ...string) {
		m := ms.AppendEmpty()
		m.SetName(name)
		dp := m.SetEmptySum().DataPoints().AppendEmpty()
		dp.SetIntValue(v)
		dp.SetTimestamp(pcommon.Timestamp(ts))
		dp.Attributes().PutStr("gen_ai.request.model", model)
		for i := 0; i+1 < len(attrs); i += 2 {
			dp.Attributes().PutStr(attrs[i], attrs[i+1])
		}
	}
	add("copilot.api.requests", calls)
	add("copilot.usage.tokens", calls*tokens, "gen_ai.token.type", "input")
	b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
	return b
}

// merge returns one metrics request with the resources of both.
func merge(t *testing.T, a, b []byte) []byte {
	var u pmetric.JSONUnmarshaler
	ma, err := u.UnmarshalMetrics(a)
	require.NoError(t, err)
	mb, err := u.UnmarshalMetrics(b)
	require.NoError(t, err)
	mb.ResourceMetrics().MoveAndAppendTo(ma.ResourceMetrics())
	out, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(ma)
	require.NoError(t, err)
	return out
}

func spanRequest(t *testing.T, sid string, spans ...byte) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("session.id", sid)
	ss := rs.ScopeSpans().AppendEmpty().Spans()
	for _, id := range spans {
		s := ss.AppendEmpty()
		s.SetTraceID(pcommon.TraceID{1})
		s.SetSpanID(pcommon.SpanID{id})
	}
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return b
}

func summaryRequest(t *testing.T, sid string, n int) []byte {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("session.id", sid)
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := 0; i < n; i++ {
		lrs.AppendEmpty().SetEventName("copilot.session.summary")
	}
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return b
}

// gatewayFile writes the requests one per line, as the file exporter does,
// and returns the offsets after each.
func gatewayFile(t *testing.T, dir, signal string, reqs ...[]byte) []int64 {
	var b []byte
	var ends []int64
	for _, r := range reqs {
		b = append(append(b, r...), '\n')
		ends = append(ends, int64(len(b)))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, signal+".jsonl"), b, 0o644))
	return ends
}

func TestJudge(t *testing.T) {
	dir := t.TempDir()
	// s1 made 3 calls; a request with 2 of them arrives, the third never
	// does. The agent was killed after it and sent it again byte for byte:
	// an idempotent sink drops the copy. s2 made 3 calls, which arrive
	// twice, the second time in a request that also holds s3's call (as when
	// a round is read again after a kill and holds more than before): counted
	// twice.
	a1 := usageRequest(t, "s1", "m", 2, 100, 1)
	b1 := usageRequest(t, "s2", "m", 3, 10, 3)
	b1again := merge(t, b1, usageRequest(t, "s3", "m", 1, 5, 5))
	ends := gatewayFile(t, dir, "metrics", a1, a1, b1, b1again)
	spanEnds := gatewayFile(t, dir, "traces", spanRequest(t, "s1", 1, 2), spanRequest(t, "s1", 2, 3))
	gatewayFile(t, dir, "logs", summaryRequest(t, "s1", 2), summaryRequest(t, "s2", 1))
	want := map[string]cliaccounting.Accounting{
		"s1": {Shutdowns: 1, Models: map[string]cliaccounting.ModelTotals{"m": {Requests: 3, InputTokens: 300}}},
		"s2": {Shutdowns: 2, Models: map[string]cliaccounting.ModelTotals{"m": {Requests: 3, InputTokens: 30}}},
		"s3": {Models: map[string]cliaccounting.ModelTotals{"m": {Requests: 1, InputTokens: 5}}},
	}
	faults := []fault{
		{Kind: faultKill, Offsets: map[string]int64{"metrics": ends[0], "traces": spanEnds[0], "logs": 0}},
		{Kind: faultKill, Offsets: map[string]int64{"metrics": ends[2], "traces": spanEnds[1], "logs": 0}},
	}
	v, err := judge(dir, want, faults)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"metrics": 4, "traces": 2, "logs": 2}, v.Requests)
	assert.Equal(t, dupCounts{Total: 1, Kill: 1}, v.Dups)
	assert.Equal(t, int64(1), v.LostRecords, "s1's third call never arrived")
	assert.Equal(t, int64(100), v.LostTokens)
	assert.Equal(t, int64(3), v.DupRecords, "b1's calls arrived twice in different requests")
	assert.Equal(t, int64(30), v.ExtraTokens)
	assert.Equal(t, byCause{Kill: 3}, v.RepeatedByCause)
	assert.Equal(t, 2, v.SessionsOff)
	assert.Equal(t, 1, v.DupSpans, "span 2 is in two requests")
	assert.Equal(t, 3, v.Spans)
	assert.Equal(t, 1, v.ExtraSummaries)
	assert.Equal(t, 1, v.MissingSummaries)
	assert.Len(t, v.exactFailures(2), 5)
	assert.Empty(t, (&verdict{Dups: dupCounts{Total: 2, Kill: 2}}).exactFailures(2))
	assert.Len(t, (&verdict{Dups: dupCounts{Total: 3, Kill: 3}}).exactFailures(2), 1, "more re-sent requests than kills")
}

// TestAttribute checks which fault an identical copy is counted against.
func TestAttribute(t *testing.T) {
	reqs := []request{{offset: 0}, {offset: 10}, {offset: 20}, {offset: 30}}
	at := func(kind string, off int64) fault {
		return fault{Kind: kind, Offsets: map[string]int64{"metrics": off}}
	}
	for _, c := range []struct {
		name   string
		faults []fault
		j, i   int
		want   dupCounts
	}{
		{"no fault before", []fault{at(faultKill, 25)}, 0, 1, dupCounts{None: 1}},
		{"after a kill", []fault{at(faultTerm, 5), at(faultKill, 15)}, 1, 2, dupCounts{Kill: 1}},
		{"after a graceful stop", []fault{at(faultKill, 5), at(faultTerm, 15)}, 1, 2, dupCounts{Term: 1}},
		{"timed out graceful stop", []fault{{Kind: faultTerm, Timeout: true, Offsets: map[string]int64{"metrics": 15}}}, 1, 2, dupCounts{Kill: 1}},
		{"the request the gateway died on", []fault{at(faultGatewayKill, 20)}, 1, 2, dupCounts{GatewayInFlight: 1}},
		{"an older request after a gateway outage", []fault{at(faultGatewayKill, 20)}, 0, 3, dupCounts{Gateway: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d dupCounts
			d.attribute("metrics", reqs, c.j, c.i, c.faults)
			assert.Equal(t, c.want, d)
		})
	}
}

// TestReadRequestsTorn checks that a request written without its newline
// (the gateway was killed in between) is still read, and a torn one is
// counted.
func TestReadRequestsTorn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(`{"a":1}{"b":2}`+"\n"+`{"c":`+"\n"+`{"d":4}`+"\n"), 0o644))
	reqs, bad, err := readRequests(path)
	require.NoError(t, err)
	assert.Equal(t, 1, bad)
	require.Len(t, reqs, 3)
	assert.Equal(t, []int64{0, 7, 21}, []int64{reqs[0].offset, reqs[1].offset, reqs[2].offset})
	assert.Equal(t, `{"d":4}`, string(reqs[2].raw))
}

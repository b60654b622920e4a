package main

import (
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// A line as the file exporter writes it (format: json), by hand: the
// generic route's metric names.
const genericLine = `{"resourceMetrics":[{"resource":{"attributes":[{"key":"signal_to_metrics.service.instance.id","value":{"stringValue":"x"}}]},"scopeMetrics":[{"scope":{"name":"github.com/open-telemetry/opentelemetry-collector-contrib/connector/signaltometricsconnector"},"metrics":[` +
	`{"name":"copilot.api.requests","sum":{"dataPoints":[{"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4.1"}}],"asInt":"3"},{"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"claude-opus-4.6"}}],"asInt":"1"}],"aggregationTemporality":1,"isMonotonic":true}},` +
	`{"name":"copilot.usage.input_tokens","sum":{"dataPoints":[{"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4.1"}}],"asInt":"1000"}],"aggregationTemporality":1,"isMonotonic":true}},` +
	`{"name":"copilot.usage.cache_read_tokens","sum":{"dataPoints":[{"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4.1"}}],"asInt":"400"}],"aggregationTemporality":1,"isMonotonic":true}},` +
	`{"name":"copilot.usage.nano_aiu","sum":{"dataPoints":[{"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"claude-opus-4.6"}}],"asInt":"123456789012"}],"aggregationTemporality":1,"isMonotonic":true}},` +
	`{"name":"something.else","gauge":{"dataPoints":[{"asDouble":1.5}]}}` +
	`]}]}]}`

// oursLine builds a request with the copilot receiver's names: one token
// metric by gen_ai.token.type.
func oursLine(t *testing.T, model string, tokens map[string]int64, requests int64) string {
	t.Helper()
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	sum := func(name string) pmetric.NumberDataPointSlice {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetEmptySum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		return m.Sum().DataPoints()
	}
	dp := sum("copilot.api.requests").AppendEmpty()
	dp.Attributes().PutStr("gen_ai.request.model", model)
	dp.SetIntValue(requests)
	tok := sum("copilot.usage.tokens")
	for typ, n := range tokens {
		dp := tok.AppendEmpty()
		dp.Attributes().PutStr("gen_ai.request.model", model)
		dp.Attributes().PutStr("gen_ai.token.type", typ)
		dp.SetIntValue(n)
	}
	b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadFileTotals(t *testing.T) {
	in := genericLine + "\n" + genericLine + "\n" +
		oursLine(t, "gpt-4.1", map[string]int64{"output": 7, "cache_write": 2, "reasoning": 99}, 2) + "\n"
	got, err := ReadFileTotals(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Totals{
		"gpt-4.1":         {Requests: 8, InputTokens: 2000, CacheReadTokens: 800, OutputTokens: 7, CacheWriteTokens: 2},
		"claude-opus-4.6": {Requests: 2, NanoAIU: 246913578024},
	}
	if !got.Equal(want) {
		t.Fatalf("totals differ:\n%s", Diff(got, want))
	}
}

func TestReadFileTotalsRejects(t *testing.T) {
	for name, line := range map[string]string{
		"cumulative": strings.Replace(genericLine, `"aggregationTemporality":1`, `"aggregationTemporality":2`, 1),
		"double":     strings.Replace(genericLine, `"asInt":"3"`, `"asDouble":3`, 1),
		"no model":   strings.Replace(genericLine, `"key":"gen_ai.request.model"`, `"key":"model"`, 1),
		"not json":   `{"resourceMetrics":[`,
	} {
		if _, err := ReadFileTotals(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestFileTailPartialLines(t *testing.T) {
	path := t.TempDir() + "/metrics.jsonl"
	ft := newFileTail(path)
	defer ft.Close()
	if got, err := ft.Totals(); err != nil || len(got) != 0 {
		t.Fatalf("before the file exists: %v, %v", got, err)
	}
	write := func(s string) {
		f, err := openAppend(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write(genericLine[:100])
	if got, err := ft.Totals(); err != nil || len(got) != 0 {
		t.Fatalf("with half a line: %v, %v", got, err)
	}
	write(genericLine[100:] + "\n")
	got, err := ft.Totals()
	if err != nil {
		t.Fatal(err)
	}
	if got["gpt-4.1"].Requests != 3 {
		t.Fatalf("after the line: %+v", got)
	}
}

func TestEqualOverDiff(t *testing.T) {
	want := Totals{"a": {Requests: 2, NanoAIU: 10}}
	if !(Totals{"a": {Requests: 2, NanoAIU: 10}, "b": {}}).Equal(want) {
		t.Error("an empty model should not count")
	}
	short := Totals{"a": {Requests: 2, NanoAIU: 9}}
	if short.Equal(want) || short.Over(want) {
		t.Error("short is neither equal nor over")
	}
	over := Totals{"a": {Requests: 2, NanoAIU: 9}, "c": {Requests: 1}}
	if !over.Over(want) {
		t.Error("a model the transcripts do not have is over")
	}
	if d := Diff(over, want); !strings.Contains(d, "a nano-AIU: exported 9, transcripts 10 (-1)") || !strings.Contains(d, "c requests: exported 1, transcripts 0 (+1)") {
		t.Errorf("diff:\n%s", d)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1GB": 1e9, "200MB": 200e6, "0.5GB": 5e8, "12345": 12345} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("%s: %d, %v", in, got, err)
		}
	}
	if _, err := parseSize("-1GB"); err == nil {
		t.Error("-1GB parsed")
	}
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

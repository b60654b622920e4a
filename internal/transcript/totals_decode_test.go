package transcript

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The totals as maps by model and by agent, decoded by encoding/json: the
// shape Totals had before its lists, and the reference they are held to.
type (
	mapAgent struct {
		AgentName        string                 `json:"agentName"`
		AgentDisplayName string                 `json:"agentDisplayName"`
		TotalAPIDuration Int                    `json:"totalApiDurationMs"`
		TotalNanoAIU     Int                    `json:"totalNanoAiu"`
		ModelMetrics     map[string]ModelMetric `json:"modelMetrics"`
	}
	mapTotals struct {
		ModelMetrics map[string]ModelMetric `json:"modelMetrics"`
		AgentMetrics map[string]mapAgent    `json:"agentMetrics"`
	}
	mapData struct {
		mapTotals
		Snapshot *mapTotals `json:"accountingSnapshot"`
	}
)

// requireSameModels fails unless got lists exactly the models of want,
// each once, with its figures.
func requireSameModels(t *testing.T, want map[string]ModelMetric, got []ModelMetric, where string) {
	t.Helper()
	require.Equal(t, want == nil, got == nil, "%s: absent and empty differ", where)
	require.Len(t, got, len(want), where)
	seen := map[string]bool{}
	for _, g := range got {
		require.False(t, seen[g.Model], "%s: model %q listed twice", where, g.Model)
		seen[g.Model] = true
		w, ok := want[g.Model]
		require.True(t, ok, "%s: model %q is not in the JSON", where, g.Model)
		w.Model = g.Model
		require.Equal(t, w, g, "%s: model %q", where, g.Model)
	}
}

// requireSameTotals fails unless got lists exactly the models and agents
// of want, each once, with its figures.
func requireSameTotals(t *testing.T, want *mapTotals, got *Totals, where string) {
	t.Helper()
	require.Equal(t, want == nil, got == nil, where)
	if want == nil {
		return
	}
	requireSameModels(t, want.ModelMetrics, got.ModelMetrics, where+" modelMetrics")
	require.Equal(t, want.AgentMetrics == nil, got.AgentMetrics == nil, "%s: absent and empty agentMetrics differ", where)
	require.Len(t, got.AgentMetrics, len(want.AgentMetrics), where)
	seen := map[string]bool{}
	for _, g := range got.AgentMetrics {
		require.False(t, seen[g.Agent], "%s: agent %q listed twice", where, g.Agent)
		seen[g.Agent] = true
		w, ok := want.AgentMetrics[g.Agent]
		require.True(t, ok, "%s: agent %q is not in the JSON", where, g.Agent)
		at := fmt.Sprintf("%s agent %q", where, g.Agent)
		require.Equal(t, w.AgentName, g.AgentName, at)
		require.Equal(t, w.AgentDisplayName, g.AgentDisplayName, at)
		require.Equal(t, w.TotalAPIDuration, g.TotalAPIDuration, at)
		require.Equal(t, w.TotalNanoAIU, g.TotalNanoAIU, at)
		requireSameModels(t, w.ModelMetrics, g.ModelMetrics, at+" modelMetrics")
	}
}

// testdataTranscripts returns every transcript under the repository's
// testdata directories.
func testdataTranscripts(t *testing.T) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".jsonl") && strings.Contains(filepath.ToSlash(path), "/testdata/") {
			paths = append(paths, path)
		}
		return nil
	})
	require.NoError(t, err)
	return paths
}

// TestTotalsMatchMaps: the totals by model and by agent of every shutdown
// and checkpoint in the repository's testdata are the maps encoding/json
// decodes from them, entry for entry.
func TestTotalsMatchMaps(t *testing.T) {
	var events, withAgents, withSubagents int
	for _, path := range testdataTranscripts(t) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for i, line := range bytes.Split(data, []byte("\n")) {
			where := fmt.Sprintf("%s:%d", path, i+1)
			var env envelope
			if json.Unmarshal(line, &env) != nil || (env.Type != TypeSessionShutdown && env.Type != TypeUsageCheckpoint) {
				continue
			}
			ev, err := Decode(line, Options{})
			if ev.Data == nil {
				continue // not an event (the hazards): nothing to compare
			}
			require.True(t, err == nil || timeless(&ev, err), "%s: %v", where, err)
			var want mapData
			require.NoError(t, json.Unmarshal(env.Data, &want), where)
			events++
			switch d := ev.Data.(type) {
			case *ShutdownData:
				requireSameTotals(t, want.Snapshot, d.Snapshot, where+" accountingSnapshot")
				if d.Snapshot != nil {
					// The flat totals beside a snapshot are not decoded.
					require.Nil(t, d.Flat, where)
				} else {
					requireSameTotals(t, &want.mapTotals, d.Flat, where+" flat")
				}
				if n := len(d.Totals().AgentMetrics); n > 0 {
					withAgents++
					if n > 1 {
						withSubagents++
					}
				}
			case *CheckpointData:
				requireSameTotals(t, want.Snapshot, d.Snapshot, where+" accountingSnapshot")
			default:
				t.Fatalf("%s: %T", where, ev.Data)
			}
		}
	}
	// Not a vacuous comparison: the shutdowns of every CLI recorded, with
	// agents and subagents.
	require.GreaterOrEqual(t, events, 70)
	require.GreaterOrEqual(t, withAgents, 40)
	require.GreaterOrEqual(t, withSubagents, 5)
}

// TestTotalsLists: the lists by model and by agent hold what a map decoded
// from the same JSON holds, in the order the keys first appear.
func TestTotalsLists(t *testing.T) {
	m := func(n int) string {
		return fmt.Sprintf(`{"requests":{"count":%d,"cost":%d.5},"usage":{"inputTokens":%d,"outputTokens":1,"cacheReadTokens":2,"cacheWriteTokens":3,"reasoningTokens":4},"totalNanoAiu":%d}`, n, n, 10*n, 100*n)
	}
	var many strings.Builder
	many.WriteString("{")
	for i := range 40 {
		fmt.Fprintf(&many, `"m%02d":%s,`, i, m(i))
	}
	// Written again past the first keys, and near the start.
	fmt.Fprintf(&many, `"m25":%s,"m03":%s,"m39":null}`, m(77), m(78))
	manyOrder := make([]string, 40)
	for i := range manyOrder {
		manyOrder[i] = fmt.Sprintf("m%02d", i)
	}

	for _, tc := range []struct {
		name   string
		models string // the value of modelMetrics
		agents string // the value of agentMetrics
		order  []string
	}{
		{name: "one", models: `{"gpt-4.1":` + m(4) + `}`, order: []string{"gpt-4.1"}},
		{name: "written twice, the last wins", models: `{"a":` + m(1) + `,"b":` + m(2) + `,"a":` + m(3) + `}`, order: []string{"a", "b"}},
		{name: "null entry", models: `{"a":null,"b":` + m(2) + `}`, order: []string{"a", "b"}},
		{name: "empty", models: `{}`, agents: `{}`, order: []string{}},
		{name: "null", models: `null`, agents: `null`},
		{name: "escaped key, the same model", models: `{"gpt\u002d4.1":` + m(1) + `,"gpt-4.1":` + m(2) + `,"\u00e9":` + m(3) + `}`, order: []string{"gpt-4.1", "é"}},
		{name: "many, written twice past the index", models: many.String(), order: manyOrder},
		{
			name:   "agents written twice, and their models",
			models: `{"a":` + m(9) + `}`,
			agents: `{"main":{"totalApiDurationMs":5,"modelMetrics":{"a":` + m(1) + `,"a":` + m(2) + `}},` +
				`"sub":{"agentName":"explore","agentDisplayName":"Explore","totalNanoAiu":3,"modelMetrics":{"a":` + m(3) + `,"b":null}},` +
				`"main":{"totalApiDurationMs":6,"modelMetrics":{"b":` + m(4) + `,"a":` + m(5) + `}}}`,
			order: []string{"a"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var data bytes.Buffer
			data.WriteString(`{"shutdownType":"routine","modelMetrics":` + tc.models)
			if tc.agents != "" {
				data.WriteString(`,"agentMetrics":` + tc.agents)
			}
			data.WriteString(`}`)
			var want mapTotals
			require.NoError(t, json.Unmarshal(data.Bytes(), &want))
			for _, line := range [][]byte{
				// The data after the type, decoded with the envelope, and
				// before it, decoded on its own.
				fmt.Appendf(nil, `{"type":"session.shutdown","timestamp":"2026-11-22T16:07:26.714Z","data":%s}`, data.Bytes()),
				fmt.Appendf(nil, `{"data":%s,"type":"session.shutdown","timestamp":"2026-11-22T16:07:26.714Z"}`, data.Bytes()),
			} {
				ev, err := Decode(line, Options{})
				require.NoError(t, err)
				got := ev.Data.(*ShutdownData).Flat
				requireSameTotals(t, &want, got, tc.name)
				var order []string
				if got.ModelMetrics != nil {
					order = []string{}
				}
				for _, mm := range got.ModelMetrics {
					order = append(order, mm.Model)
				}
				require.Equal(t, tc.order, order, "the order the models are first written in")
			}
		})
	}
}

// TestTotalsMemberWrittenTwice: a modelMetrics or agentMetrics member
// written twice is replaced by the second, and kept if the second is null,
// as the fast decoder always did (encoding/json would merge the maps, and
// forget them for a null).
func TestTotalsMemberWrittenTwice(t *testing.T) {
	line := []byte(`{"type":"session.shutdown","timestamp":"2026-11-22T16:07:26.714Z","data":{` +
		`"modelMetrics":{"a":{"totalNanoAiu":1},"b":{"totalNanoAiu":2}},"modelMetrics":{"b":{"totalNanoAiu":3}},` +
		`"agentMetrics":{"main":{"totalNanoAiu":4}},"agentMetrics":null}}`)
	ev, err := Decode(line, Options{})
	require.NoError(t, err)
	got := ev.Data.(*ShutdownData).Flat
	require.Equal(t, []ModelMetric{{Model: "b", TotalNanoAIU: Int{V: 3, Set: true}}}, got.ModelMetrics)
	require.Equal(t, []AgentMetric{{Agent: "main", TotalNanoAIU: Int{V: 4, Set: true}}}, got.AgentMetrics)
}

// TestShutdownFlatBesideSnapshot: beside an accountingSnapshot the flat
// totals are not decoded, whichever comes first, and a flat member the
// fast decoder would refuse after the snapshot does not cost the
// shutdown its totals.
func TestShutdownFlatBesideSnapshot(t *testing.T) {
	const snap = `"accountingSnapshot":{"totalNanoAiu":7,"modelMetrics":{"m":{"requests":{"count":2,"cost":1},"totalNanoAiu":7}}}`
	for name, tc := range map[string]struct {
		data    string
		wantErr bool
	}{
		"snapshot first":               {data: snap + `,"totalNanoAiu":7,"modelMetrics":{"m":{"requests":{"count":2,"cost":1},"totalNanoAiu":7}}`},
		"flat first":                   {data: `"totalNanoAiu":7,"modelMetrics":{"m":{"totalNanoAiu":7}},` + snap},
		"bad flat after the snapshot":  {data: snap + `,"totalNanoAiu":"seven","modelMetrics":[1]`},
		"bad flat before the snapshot": {data: `"totalNanoAiu":"seven",` + snap, wantErr: true},
		"broken JSON after snapshot":   {data: snap + `,"modelMetrics":{"m":}`, wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			line := []byte(`{"type":"session.shutdown","timestamp":"2026-11-22T16:07:26.714Z","data":{` + tc.data + `}}`)
			ev, err := Decode(line, Options{})
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			d := ev.Data.(*ShutdownData)
			require.Nil(t, d.Flat)
			require.True(t, d.Cumulative)
			tot := d.Totals()
			require.Equal(t, int64(7), tot.NanoAIU.V)
			require.Equal(t, []ModelMetric{{Model: "m", Requests: struct {
				Count Int     `json:"count"`
				Cost  float64 `json:"cost"`
			}{Count: Int{V: 2, Set: true}, Cost: 1}, TotalNanoAIU: Int{V: 7, Set: true}}}, tot.ModelMetrics)
		})
	}
}

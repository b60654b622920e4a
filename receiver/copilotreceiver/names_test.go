package copilotreceiver

import (
	"maps"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// Short names of the telemetry the tests look for, from package semconv.
const (
	mAPIRequests  = semconv.MetricCopilotAPIRequests
	mErrors       = semconv.MetricCopilotErrors
	mHooks        = semconv.MetricCopilotHookInvocations
	mNanoAIU      = semconv.MetricCopilotUsageNanoAIU
	mPremium      = semconv.MetricCopilotUsagePremiumRequests
	mSessions     = semconv.MetricCopilotSessions
	mSubagentRuns = semconv.MetricCopilotSubagentRuns
	mTokens       = semconv.MetricCopilotUsageTokens
	mToolCalls    = semconv.MetricCopilotToolCalls

	aErrorCtx   = semconv.AttrCopilotErrorContext
	aHookReason = semconv.AttrCopilotHookReason
	aHookType   = semconv.AttrCopilotHookType
	aModel      = semconv.AttrGenAIRequestModel
	aState      = semconv.AttrCopilotSessionState
	aTokenType  = semconv.AttrGenAITokenType

	eventEnd     = semconv.EventCopilotSessionEnd
	eventSummary = semconv.EventCopilotSessionSummary
)

// declared is what metadata.yaml and histograms.yaml declare: each metric
// and event with its attributes, and the resource attributes.
type declared struct {
	Metrics map[string]struct {
		Attributes []string `yaml:"attributes"`
	} `yaml:"metrics"`
	Histograms map[string]struct {
		Attributes []string `yaml:"attributes"`
	} `yaml:"histograms"`
	Events map[string]struct {
		Attributes []string `yaml:"attributes"`
	} `yaml:"events"`
	ResourceAttributes map[string]any `yaml:"resource_attributes"`
}

func readDeclared(t *testing.T) declared {
	t.Helper()
	var d declared
	for _, f := range []string{"metadata.yaml", "histograms.yaml"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(b, &d), f)
	}
	for name, h := range d.Histograms {
		d.Metrics[name] = h
	}
	return d
}

// everyFact is one fact of every kind with every field set, so that every
// metric, attribute and event the builders can make is made.
func everyFact() *session.Facts {
	ctx := &session.Context{
		SessionID: "0b1e1ed0-5a1e-4c0d-9b11-000000000001", CLIVersion: "1.0.102", Cwd: "/src/payments-api", GitRoot: "/src/payments-api",
		Repository: "acme/payments-api", RepositoryHost: "github.com", Branch: "feature/PAY-1", HeadCommit: "abc",
	}
	t0 := time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Second)
	main := session.Agent{ID: session.MainAgent, Name: session.MainAgent}
	exit := int64(1)
	usage := session.Usage{InputTokens: 10, OutputTokens: 5, CacheReadTokens: 4, CacheWriteTokens: 3, ReasoningTokens: 2, NanoAIU: 7, PremiumCost: 1, Requests: 1, UserRequests: 1, APIDurationMs: 100}
	summary := session.UsageSummary{TotalNanoAIU: 7, ModelMetrics: map[string]session.ModelSummary{"gpt-4.1": {TotalNanoAIU: 7}}}
	return &session.Facts{
		Usage:        []session.UsageFact{{Ctx: ctx, Source: session.SourceRecord, Start: t0, Time: t1, Agent: main, Model: "gpt-4.1", Initiator: session.InitiatorUser, Usage: usage, TTFTMs: 50, HasTTFT: true, APICallID: "c", SourceSessionID: ctx.SessionID, Sequence: 1, InteractionID: "i", FinishReason: "stop"}},
		Lifecycle:    []session.LifecycleFact{{Ctx: ctx, Time: t0, State: session.StateStarted}, {Ctx: ctx, Time: t1, State: session.StateEnded, ShutdownType: "routine"}},
		Tools:        []session.ToolFact{{Ctx: ctx, Start: t0, End: t1, Name: "bash", CallID: "t", MCPServer: "m", Agent: main, Outcome: session.OutcomeFailure, ErrorCode: "e", ExitCode: &exit}},
		Subagents:    []session.SubagentFact{{Ctx: ctx, Start: t0, End: t1, Agent: session.Agent{ID: "a", Name: "explore"}, ToolCallID: "t", Model: "gpt-4.1", Outcome: session.OutcomeCompleted, ToolCalls: 1, TotalTokens: 9}},
		Interactions: []session.InteractionFact{{Ctx: ctx, Start: t0, End: t1, ID: "i", Turns: 1, AbortReason: "user"}},
		Legs:         []session.LegFact{{Ctx: ctx, Start: t0, End: t1, EndReason: session.LegEndShutdown, ShutdownType: "error", Model: "gpt-4.1"}},
		Errors:       []session.ErrorFact{{Ctx: ctx, Time: t1, Agent: main, Type: "rate_limit", Code: "429", Message: "slow down", StatusCode: 429, Context: session.ErrorContextSession}},
		CodeChanges:  []session.CodeChangeFact{{Ctx: ctx, Start: t0, Time: t1, LinesAdded: 1, LinesRemoved: 1, FilesModified: 1}},
		Compactions:  []session.CompactionFact{{Ctx: ctx, Time: t1, Success: true}, {Ctx: ctx, Time: t1, Success: false}},
		Summaries:    []session.SummaryFact{{Ctx: ctx, Time: t1, ShutdownType: "routine", Usage: summary}},
		Hooks:        []session.HookFact{{Ctx: ctx, Time: t1, Type: "sessionEnd", Reason: "complete"}},
		Ends:         []session.EndFact{{Ctx: ctx, Time: t1, Reason: "complete", Usage: &summary}},
	}
}

// TestTelemetryNamesAreDeclared: every metric, data point attribute,
// resource attribute, event and log record attribute the receiver makes is
// declared in metadata.yaml (or histograms.yaml), for the metric or event
// it is on; and every metric and event declared is made. A name written in
// code and not declared there fails here.
func TestTelemetryNamesAreDeclared(t *testing.T) {
	d := readDeclared(t)
	cfg := testConfig()
	cfg.ResourceAttributes.SessionID.Enabled = true
	cfg.ResourceAttributes.CopilotCwd.Enabled = true
	cfg.Histograms.ServerTimeToFirstToken.Enabled = true
	cfg.Histograms.ServerTimePerOutputToken.Enabled = true
	mb, _, lb := builders(cfg)
	facts := []*session.Facts{everyFact()}
	for _, path := range transcripts(t) {
		facts = append(facts, readFacts(t, path, false))
	}
	madeMetrics, madeEvents := map[string]bool{}, map[string]bool{}
	checkResource := func(res pcommon.Map) {
		for k := range res.All() {
			assert.Contains(t, d.ResourceAttributes, k, "resource attribute %s is not in metadata.yaml", k)
		}
	}
	checkAttrs := func(what, name string, declared []string, attrs pcommon.Map) {
		for k := range attrs.All() {
			assert.Contains(t, declared, k, "%s %s: attribute %s is not declared for it", what, name, k)
		}
	}
	var made []pmetric.Metrics
	for _, f := range facts {
		made = append(made, mb.build(f, time.Time{}))
	}
	// the per-call metrics of the session store (store_calls.go)
	made = append(made, mb.buildCalls([]storeCall{everyStoreCall()}, func(string) *session.Context { return everyFact().Usage[0].Ctx }, time.Time{}))
	for _, md := range made {
		for _, rm := range md.ResourceMetrics().All() {
			checkResource(rm.Resource().Attributes())
			for _, sm := range rm.ScopeMetrics().All() {
				assert.Equal(t, semconv.ReceiverScope, sm.Scope().Name())
				for _, m := range sm.Metrics().All() {
					decl, ok := d.Metrics[m.Name()]
					if !assert.True(t, ok, "metric %s is not in metadata.yaml or histograms.yaml", m.Name()) {
						continue
					}
					madeMetrics[m.Name()] = true
					forEachPoint(m, func(attrs pcommon.Map) { checkAttrs("metric", m.Name(), decl.Attributes, attrs) })
				}
			}
		}
	}
	for _, f := range facts {
		for _, rl := range lb.build(f).ResourceLogs().All() {
			checkResource(rl.Resource().Attributes())
			for _, sl := range rl.ScopeLogs().All() {
				assert.Equal(t, semconv.ReceiverScope, sl.Scope().Name())
				for _, lr := range sl.LogRecords().All() {
					decl, ok := d.Events[lr.EventName()]
					if !assert.True(t, ok, "event %s is not in metadata.yaml", lr.EventName()) {
						continue
					}
					madeEvents[lr.EventName()] = true
					checkAttrs("event", lr.EventName(), decl.Attributes, lr.Attributes())
				}
			}
		}
	}
	assert.ElementsMatch(t, slices.Collect(maps.Keys(d.Metrics)), slices.Collect(maps.Keys(madeMetrics)), "metrics declared and made")
	assert.ElementsMatch(t, slices.Collect(maps.Keys(d.Events)), slices.Collect(maps.Keys(madeEvents)), "events declared and made")

	// The configuration is keyed by the same names.
	assert.ElementsMatch(t, slices.Collect(maps.Keys(d.Metrics)), append(slices.Collect(maps.Keys(metricConfigs(&cfg.Metrics))), slices.Collect(maps.Keys(cfg.Histograms.byName()))...))
	ht := reflect.TypeFor[HistogramsConfig]()
	for i := range ht.NumField() {
		assert.Contains(t, cfg.Histograms.byName(), ht.Field(i).Tag.Get("mapstructure"), "histograms::%s", ht.Field(i).Tag.Get("mapstructure"))
	}
	assert.Equal(t, metadata.ScopeName, semconv.ReceiverScope)
}

// forEachPoint calls fn with the attributes of every data point of the
// kinds the receiver makes.
func forEachPoint(m pmetric.Metric, fn func(pcommon.Map)) {
	switch m.Type() {
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			fn(dp.Attributes())
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			fn(dp.Attributes())
		}
	default:
		panic("the receiver makes sums and histograms only, not " + m.Type().String())
	}
}

package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/tailer"
)

// Metric and attribute names. The metrics are declared in metadata.yaml;
// the names are repeated here only to route facts to them, and a test
// checks that every one of them exists there.
const (
	mTokens       = "copilot.usage.tokens"
	mNanoAIU      = "copilot.usage.nano_aiu"
	mPremium      = "copilot.usage.premium_requests"
	mAPIRequests  = "copilot.api.requests"
	mUserRequests = "copilot.user.requests"
	mLinesAdded   = "copilot.code.lines_added"
	mLinesRemoved = "copilot.code.lines_removed"
	mFiles        = "copilot.code.files_modified"
	mSessions     = "copilot.sessions"
	mToolCalls    = "copilot.tool.calls"
	mSubagentRuns = "copilot.subagent.runs"
	mErrors       = "copilot.errors"
	mCompactions  = "copilot.compactions"
	mHooks        = "copilot.hook.invocations"

	// The histograms, documented in the README: the metadata generator of
	// collector v0.159.0 writes histogram code that does not compile.
	mAPIDuration = "copilot.api.duration"
	mTTFT        = "copilot.api.time_to_first_token"

	aModel      = "gen_ai.request.model"
	aTokenType  = "gen_ai.token.type"
	aInitiator  = "copilot.initiator"
	aAgentName  = "gen_ai.agent.name"
	aToolName   = "gen_ai.tool.name"
	aToolOut    = "copilot.tool.outcome"
	aSubOut     = "copilot.subagent.outcome"
	aState      = "copilot.session.state"
	aErrorType  = "error.type"
	aCompaction = "copilot.compaction.outcome"
	aErrorCtx   = "copilot.error.context"
	aHookType   = "copilot.hook.type"
	aHookReason = "copilot.hook.reason"
)

// metricConfig is what the generated configuration says of one metric.
type metricConfig struct {
	Enabled             bool
	AggregationStrategy string
	Attributes          []string
}

func keys[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// metricSpec ties a metric name to its generated configuration.
type metricSpec struct {
	name   string
	config func(*metadata.MetricsConfig) metricConfig
}

var metricSpecs = []metricSpec{
	{mAPIRequests, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotAPIRequests
		return metricConfig{c.Enabled, c.AggregationStrategy, keys(c.EnabledAttributes)}
	}},
	{mFiles, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotCodeFilesModified
		return metricConfig{c.Enabled, metadata.AggregationStrategySum, nil}
	}},
	{mLinesAdded, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotCodeLinesAdded
		return metricConfig{c.Enabled, metadata.AggregationStrategySum, nil}
	}},
	{mLinesRemoved, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotCodeLinesRemoved
		return metricConfig{c.Enabled, metadata.AggregationStrategySum, nil}
	}},
	{mCompactions, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotCompactions
		return metricConfig{c.Enabled, c.AggregationStrategy, keys(c.EnabledAttributes)}
	}},
	{mErrors, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotErrors
		return metricConfig{c.Enabled, c.AggregationStrategy, keys(c.EnabledAttributes)}
	}},
	{mHooks, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotHookInvocations
		return metricConfig{c.Enabled, c.AggregationStrategy, keys(c.EnabledAttributes)}
	}},
	{mSessions, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotSessions
		return metricConfig{c.Enabled, c.AggregationStrategy, keys(c.EnabledAttributes)}
	}},
	{mSubagentRuns, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotSubagentRuns
		return metricConfig{c.Enabled, c.AggregationStrategy, keys(c.EnabledAttributes)}
	}},
	{mToolCalls, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotToolCalls
		return metricConfig{c.Enabled, c.AggregationStrategy, keys(c.EnabledAttributes)}
	}},
	{mNanoAIU, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotUsageNanoAiu
		return metricConfig{c.Enabled, c.AggregationStrategy, keys(c.EnabledAttributes)}
	}},
	{mPremium, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotUsagePremiumRequests
		return metricConfig{c.Enabled, c.AggregationStrategy, keys(c.EnabledAttributes)}
	}},
	{mTokens, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotUsageTokens
		return metricConfig{c.Enabled, c.AggregationStrategy, keys(c.EnabledAttributes)}
	}},
	{mUserRequests, func(m *metadata.MetricsConfig) metricConfig {
		c := m.CopilotUserRequests
		return metricConfig{c.Enabled, c.AggregationStrategy, keys(c.EnabledAttributes)}
	}},
}

// metricShells returns every metric of metadata.yaml without data points:
// name, description, unit, type and temporality exactly as the generated
// builder writes them.
func metricShells() map[string]pmetric.Metric {
	set := receiver.Settings{
		ID:                component.NewID(metadata.Type),
		TelemetrySettings: component.TelemetrySettings{Logger: zap.NewNop()},
		BuildInfo:         component.NewDefaultBuildInfo(),
	}
	mb := metadata.NewMetricsBuilder(metadata.NewDefaultMetricsBuilderConfig(), set)
	mb.RecordCopilotAPIRequestsDataPoint(0, 0, "", "", "")
	mb.RecordCopilotCodeFilesModifiedDataPoint(0, 0)
	mb.RecordCopilotCodeLinesAddedDataPoint(0, 0)
	mb.RecordCopilotCodeLinesRemovedDataPoint(0, 0)
	mb.RecordCopilotCompactionsDataPoint(0, 0, metadata.AttributeCopilotCompactionOutcomeSuccess)
	mb.RecordCopilotErrorsDataPoint(0, 0, "", "")
	mb.RecordCopilotHookInvocationsDataPoint(0, 0, "", "")
	mb.RecordCopilotSessionsDataPoint(0, 0, metadata.AttributeCopilotSessionStateStarted)
	mb.RecordCopilotSubagentRunsDataPoint(0, 0, "", metadata.AttributeCopilotSubagentOutcomeCompleted)
	mb.RecordCopilotToolCallsDataPoint(0, 0, "", metadata.AttributeCopilotToolOutcomeSuccess, "")
	mb.RecordCopilotUsageNanoAiuDataPoint(0, 0, "", "", "")
	mb.RecordCopilotUsagePremiumRequestsDataPoint(0, 0, "", "", "")
	mb.RecordCopilotUsageTokensDataPoint(0, 0, "", metadata.AttributeGenAiTokenTypeInput, "", "")
	mb.RecordCopilotUserRequestsDataPoint(0, 0, "")
	shells := map[string]pmetric.Metric{}
	md := mb.Emit()
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		m := pmetric.NewMetric()
		ms.At(i).CopyTo(m)
		m.Sum().DataPoints().RemoveIf(func(pmetric.NumberDataPoint) bool { return true })
		shells[m.Name()] = m
	}
	return shells
}

// Default histogram boundaries, in seconds. Model calls take from well
// under a second to minutes.
var (
	defaultDurationBuckets = []float64{0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300}
	defaultTTFTBuckets     = []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30}
)

type histSpec struct {
	name, description string
	cfg               HistogramConfig
}

// metricsBuilder turns facts into metrics. It is not safe for concurrent
// use.
type metricsBuilder struct {
	enabled   map[string]bool
	attrs     map[string]map[string]bool
	shells    map[string]pmetric.Metric
	hists     map[string]histSpec
	received  bool
	resources *resourceBuilder
	version   string
	// clock gives the strictly increasing stamps of received mode, so
	// that each stream's points follow one another even when batches come
	// faster than the clock moves. The tailer's and the hook endpoint's
	// builders share one, since their points may fall into the same stream.
	clock tailer.Clock
}

func newMetricsBuilder(cfg *Config, res *resourceBuilder, version string, clock tailer.Clock) *metricsBuilder {
	b := &metricsBuilder{
		clock:     clock,
		enabled:   map[string]bool{},
		attrs:     map[string]map[string]bool{},
		shells:    metricShells(),
		received:  cfg.MetricTimestamps == TimestampsReceived,
		resources: res,
		version:   version,
		hists: map[string]histSpec{
			mAPIDuration: {mAPIDuration, "Duration of model API calls, as the CLI measured them.", cfg.Histograms.APIDuration},
			mTTFT:        {mTTFT, "Time from sending a model API call to its first token.", cfg.Histograms.TimeToFirstToken},
		},
	}
	for _, s := range metricSpecs {
		c := s.config(&cfg.Metrics)
		b.enabled[s.name] = c.Enabled
		b.attrs[s.name] = map[string]bool{}
		for _, a := range c.Attributes {
			b.attrs[s.name][a] = true
		}
	}
	for name, h := range b.hists {
		b.enabled[name] = h.cfg.Enabled
	}
	return b
}

// point is one data point being built.
type point struct {
	attrs      []string // name, value pairs
	start, ts  pcommon.Timestamp
	ival       int64
	dval       float64
	count, sum float64
	buckets    []uint64
}

type metricAcc struct {
	points map[string]*point
	order  []*point
}

// resourceAcc is the metrics of one resource being built.
type resourceAcc struct {
	ctx     *session.Context
	metrics map[string]*metricAcc
}

type metricsBatch struct {
	b      *metricsBuilder
	byCtx  map[*session.Context]*resourceAcc
	order  []*resourceAcc
	key    []byte
	start  pcommon.Timestamp
	stamp  pcommon.Timestamp
	filter []string
}

// build converts the facts of one batch. now is the receive time, used in
// received mode.
func (b *metricsBuilder) build(f *session.Facts, now time.Time) pmetric.Metrics {
	mb := &metricsBatch{b: b, byCtx: map[*session.Context]*resourceAcc{}}
	if b.received {
		start, end := f.ReadStart, f.ReadEnd
		if end.IsZero() {
			start, end = b.clock.Next(now)
		}
		mb.start, mb.stamp = pcommon.NewTimestampFromTime(start), pcommon.NewTimestampFromTime(end)
	}
	for i := range f.Usage {
		mb.usage(&f.Usage[i])
	}
	for _, l := range f.Lifecycle {
		mb.sum(l.Ctx, mSessions, l.Time, l.Time, 1, aState, l.State)
	}
	for _, t := range f.Tools {
		mb.sum(t.Ctx, mToolCalls, t.Start, t.End, 1, aToolName, t.Name, aToolOut, t.Outcome, aAgentName, t.Agent.Name)
	}
	for _, s := range f.Subagents {
		mb.sum(s.Ctx, mSubagentRuns, s.Start, s.End, 1, aAgentName, s.Agent.Name, aSubOut, s.Outcome)
	}
	for _, e := range f.Errors {
		mb.sum(e.Ctx, mErrors, e.Time, e.Time, 1, aErrorType, e.Type, aErrorCtx, e.Context)
	}
	for _, h := range f.Hooks {
		mb.sum(h.Ctx, mHooks, h.Time, h.Time, 1, aHookType, h.Type, aHookReason, h.Reason)
	}
	for _, c := range f.CodeChanges {
		mb.sum(c.Ctx, mLinesAdded, c.Start, c.Time, c.LinesAdded)
		mb.sum(c.Ctx, mLinesRemoved, c.Start, c.Time, c.LinesRemoved)
		mb.sum(c.Ctx, mFiles, c.Start, c.Time, c.FilesModified)
	}
	for _, c := range f.Compactions {
		outcome := "success"
		if !c.Success {
			outcome = "failure"
		}
		mb.sum(c.Ctx, mCompactions, c.Time, c.Time, 1, aCompaction, outcome)
	}
	return mb.emit()
}

func (mb *metricsBatch) usage(u *session.UsageFact) {
	attrs := []string{aModel, u.Model, aInitiator, u.Initiator, aAgentName, u.Agent.Name}
	for _, tt := range []struct {
		typ string
		v   int64
	}{
		{"input", u.Usage.InputTokens},
		{"output", u.Usage.OutputTokens},
		{"cache_read", u.Usage.CacheReadTokens},
		{"cache_write", u.Usage.CacheWriteTokens},
		{"reasoning", u.Usage.ReasoningTokens},
	} {
		mb.sum(u.Ctx, mTokens, u.Start, u.Time, tt.v, aModel, u.Model, aTokenType, tt.typ, aInitiator, u.Initiator, aAgentName, u.Agent.Name)
	}
	mb.sum(u.Ctx, mNanoAIU, u.Start, u.Time, u.Usage.NanoAIU, attrs...)
	mb.sumDouble(u.Ctx, mPremium, u.Start, u.Time, u.Usage.PremiumCost, attrs...)
	mb.sum(u.Ctx, mAPIRequests, u.Start, u.Time, u.Usage.Requests, attrs...)
	mb.sum(u.Ctx, mUserRequests, u.Start, u.Time, u.Usage.UserRequests, aModel, u.Model)
	// A histogram observation per call; usage known only from totals is
	// spread over its calls at their mean duration, so that count and sum
	// stay exact.
	if u.Usage.Requests > 0 && u.Usage.APIDurationMs > 0 {
		mean := float64(u.Usage.APIDurationMs) / 1000 / float64(u.Usage.Requests)
		mb.hist(u.Ctx, mAPIDuration, u.Start, u.Time, mean, u.Usage.Requests, attrs...)
	}
	if u.HasTTFT {
		mb.hist(u.Ctx, mTTFT, u.Start, u.Time, u.TTFTMs/1000, 1, aModel, u.Model, aAgentName, u.Agent.Name)
	}
}

// acc finds or makes the point of a metric with the given attributes and
// times. Attributes the configuration turned off are dropped, and the
// points that become alike are summed.
func (mb *metricsBatch) acc(ctx *session.Context, metric string, start, ts time.Time, attrs []string) *point {
	if !mb.b.enabled[metric] {
		return nil
	}
	r := mb.byCtx[ctx]
	if r == nil {
		r = &resourceAcc{ctx: ctx, metrics: map[string]*metricAcc{}}
		mb.byCtx[ctx] = r
		mb.order = append(mb.order, r)
	}
	m := r.metrics[metric]
	if m == nil {
		m = &metricAcc{points: map[string]*point{}}
		r.metrics[metric] = m
	}
	mb.filter = mb.filter[:0]
	on := mb.b.attrs[metric]
	for i := 0; i+1 < len(attrs); i += 2 {
		if on == nil || on[attrs[i]] {
			mb.filter = append(mb.filter, attrs[i], attrs[i+1])
		}
	}
	var s, t pcommon.Timestamp
	if mb.stamp != 0 {
		s, t = mb.start, mb.stamp
	} else {
		s, t = pcommon.NewTimestampFromTime(start), pcommon.NewTimestampFromTime(ts)
	}
	k := mb.key[:0]
	k = strconv.AppendUint(k, uint64(s), 36)
	k = append(k, 0)
	k = strconv.AppendUint(k, uint64(t), 36)
	for _, a := range mb.filter {
		k = append(k, 0)
		k = append(k, a...)
	}
	mb.key = k
	if p := m.points[string(k)]; p != nil {
		return p
	}
	p := &point{attrs: slices.Clone(mb.filter), start: s, ts: t}
	m.points[string(k)] = p
	m.order = append(m.order, p)
	return p
}

func (mb *metricsBatch) sum(ctx *session.Context, metric string, start, ts time.Time, v int64, attrs ...string) {
	if v == 0 {
		return
	}
	if p := mb.acc(ctx, metric, start, ts, attrs); p != nil {
		p.ival += v
	}
}

func (mb *metricsBatch) sumDouble(ctx *session.Context, metric string, start, ts time.Time, v float64, attrs ...string) {
	if v == 0 {
		return
	}
	if p := mb.acc(ctx, metric, start, ts, attrs); p != nil {
		p.dval += v
	}
}

func (mb *metricsBatch) hist(ctx *session.Context, metric string, start, ts time.Time, v float64, n int64, attrs ...string) {
	p := mb.acc(ctx, metric, start, ts, attrs)
	if p == nil {
		return
	}
	bounds := mb.b.hists[metric].cfg.Buckets
	if p.buckets == nil {
		p.buckets = make([]uint64, len(bounds)+1)
	}
	i, _ := slices.BinarySearch(bounds, v) // bucket i holds (bounds[i-1], bounds[i]]
	p.buckets[i] += uint64(n)
	p.count += float64(n)
	p.sum += v * float64(n)
}

func (mb *metricsBatch) emit() pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, r := range mb.order {
		rm := md.ResourceMetrics().AppendEmpty()
		mb.b.resources.fill(rm.Resource(), r.ctx, false)
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(metadata.ScopeName)
		sm.Scope().SetVersion(mb.b.version)
		names := make([]string, 0, len(r.metrics))
		for n := range r.metrics {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			mb.emitMetric(sm.Metrics(), n, r.metrics[n])
		}
	}
	return md
}

func (mb *metricsBatch) emitMetric(ms pmetric.MetricSlice, name string, acc *metricAcc) {
	if h, ok := mb.b.hists[name]; ok {
		m := ms.AppendEmpty()
		m.SetName(h.name)
		m.SetDescription(h.description)
		m.SetUnit("s")
		hist := m.SetEmptyHistogram()
		hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		for _, p := range acc.order {
			dp := hist.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(p.start)
			dp.SetTimestamp(p.ts)
			dp.SetCount(uint64(p.count))
			dp.SetSum(p.sum)
			dp.ExplicitBounds().FromRaw(h.cfg.Buckets)
			dp.BucketCounts().FromRaw(p.buckets)
			putAttrs(dp.Attributes(), p.attrs)
		}
		return
	}
	m := ms.AppendEmpty()
	mb.b.shells[name].CopyTo(m)
	double := name == mPremium
	dps := m.Sum().DataPoints()
	dps.EnsureCapacity(len(acc.order))
	for _, p := range acc.order {
		dp := dps.AppendEmpty()
		dp.SetStartTimestamp(p.start)
		dp.SetTimestamp(p.ts)
		if double {
			dp.SetDoubleValue(p.dval)
		} else {
			dp.SetIntValue(p.ival)
		}
		putAttrs(dp.Attributes(), p.attrs)
	}
}

func putAttrs(m pcommon.Map, kv []string) {
	m.EnsureCapacity(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		m.PutStr(kv[i], kv[i+1])
	}
}

// resourceBuilder makes the resource of a session's telemetry.
type resourceBuilder struct {
	cfg  metadata.ResourceAttributesConfig
	user string
}

// fill sets the session's resource attributes on res. Spans and logs
// always carry session.id (alwaysSessionID); metrics only when configured.
func (b *resourceBuilder) fill(res pcommon.Resource, c *session.Context, alwaysSessionID bool) {
	rb := metadata.NewResourceBuilder(b.cfg)
	rb.SetServiceName("github-copilot")
	rb.SetSessionID(c.SessionID)
	if b.user != "" {
		rb.SetUserName(b.user)
	}
	if c.CLIVersion != "" {
		rb.SetCopilotCliVersion(c.CLIVersion)
	}
	if c.Cwd != "" {
		rb.SetCopilotCwd(c.Cwd)
	}
	if c.GitRoot != "" {
		rb.SetCopilotGitRoot(c.GitRoot)
	}
	if c.Branch != "" {
		rb.SetVcsRefHeadName(c.Branch)
	}
	if c.HeadCommit != "" {
		rb.SetVcsRefHeadRevision(c.HeadCommit)
	}
	if owner, name, ok := strings.Cut(c.Repository, "/"); ok && owner != "" && name != "" {
		rb.SetVcsOwnerName(owner)
		rb.SetVcsRepositoryName(name)
		if c.RepositoryHost != "" {
			rb.SetVcsRepositoryURLFull("https://" + c.RepositoryHost + "/" + c.Repository)
		}
	} else if c.Repository != "" {
		rb.SetVcsRepositoryName(c.Repository)
	}
	rb.Emit().MoveTo(res)
	if alwaysSessionID && c.SessionID != "" {
		res.Attributes().PutStr("session.id", c.SessionID)
	}
}

package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"hash/maphash"
	"maps"
	"math/bits"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/tailer"
)

// metricConfig is what the generated configuration says of one metric.
type metricConfig struct {
	Enabled             bool
	AggregationStrategy string
	Attributes          []string
}

// metricConfigs reads the generated configuration of every metric of
// metadata.yaml, by the metric's name (the key of its configuration, and
// of its field in metadata.MetricsConfig). A metric without attributes
// has no aggregation strategy or attribute list of its own.
func metricConfigs(m *metadata.MetricsConfig) map[string]metricConfig {
	v := reflect.ValueOf(m).Elem()
	out := make(map[string]metricConfig, v.NumField())
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("mapstructure"), ",")
		f := v.Field(i)
		c := metricConfig{Enabled: f.FieldByName("Enabled").Bool(), AggregationStrategy: metadata.AggregationStrategySum}
		if s := f.FieldByName("AggregationStrategy"); s.IsValid() {
			c.AggregationStrategy = s.String()
		}
		if a := f.FieldByName("EnabledAttributes"); a.IsValid() {
			c.Attributes = make([]string, a.Len())
			for j := range a.Len() {
				c.Attributes[j] = a.Index(j).String()
			}
		}
		out[name] = c
	}
	return out
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
	mb.RecordCopilotAPIContentFilterHitsDataPoint(0, 0, "", "", "", "", "")
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
	semconv.Histogram
	cfg HistogramConfig
}

// metricsBuilder turns facts into metrics. Its build may be called from
// several goroutines at once (the hook endpoint's requests): each call has
// a batch of its own.
type metricsBuilder struct {
	// specs is every metric by its number (metricID), in the order of
	// their names: the order a resource's metrics are emitted in. ids
	// numbers them by name; id holds the numbers facts convert to.
	specs    []metricSpec
	ids      map[string]metricID
	id       metricIDs
	received bool
	// combine: in event mode, the points of a series in one batch are
	// combined (metric_points: combined).
	combine   bool
	resources *resourceBuilder
	version   string
	// clock gives the strictly increasing stamps of received mode, so
	// that each stream's points follow one another even when batches come
	// faster than the clock moves. The tailer's and the hook endpoint's
	// builders share one, since their points may fall into the same stream.
	clock tailer.Clock
	// spare is the batch the last build finished with, for the next to
	// reuse: its points, attributes and index keep their room, and its
	// resources serve the sessions read again.
	mu    sync.Mutex
	spare *metricsBatch
}

// metricID numbers a metric of a builder; noMetric is none.
type metricID int32

const noMetric metricID = -1

// metricSpec is what a builder knows of one metric.
type metricSpec struct {
	name    string
	enabled bool
	// keepAll: the metric has no attribute configuration (a histogram)
	// and keeps every attribute; otherwise it keeps those of keep.
	keepAll bool
	keep    []string
	hist    *histSpec // nil for a sum
	shell   pmetric.Metric
	double  bool
}

// metricIDs are the numbers of the metrics facts convert to, looked up
// once per builder rather than by name per point.
type metricIDs struct {
	sessions, toolCalls, subagentRuns, errors, hookInvocations  metricID
	linesAdded, linesRemoved, filesModified, compactions        metricID
	tokens, nanoAIU, premiumRequests, apiRequests, userRequests metricID
	apiDuration, timeToFirstToken                               metricID
}

func newMetricsBuilder(cfg *Config, res *resourceBuilder, version string, clock tailer.Clock) *metricsBuilder {
	b := &metricsBuilder{
		clock:     clock,
		ids:       map[string]metricID{},
		received:  cfg.MetricTimestamps == TimestampsReceived,
		combine:   cfg.MetricTimestamps == TimestampsEvent && cfg.MetricPoints == PointsCombined,
		resources: res,
		version:   version,
	}
	configs := metricConfigs(&cfg.Metrics)
	hists := cfg.Histograms.byName()
	names := slices.Collect(maps.Keys(configs))
	for _, h := range semconv.Histograms() {
		if _, ok := configs[h.Name]; !ok {
			names = append(names, h.Name)
		}
	}
	slices.Sort(names)
	shells := metricShells()
	b.specs = make([]metricSpec, len(names))
	for i, name := range names {
		b.ids[name] = metricID(i)
		s := &b.specs[i]
		s.name, s.shell = name, shells[name]
		s.double = name == semconv.MetricCopilotUsagePremiumRequests
		if c, ok := configs[name]; ok {
			s.enabled, s.keep = c.Enabled, c.Attributes
		} else {
			s.keepAll = true
		}
	}
	for _, h := range semconv.Histograms() {
		s := &b.specs[b.ids[h.Name]]
		s.hist = &histSpec{h, hists[h.Name]}
		s.enabled = hists[h.Name].Enabled
	}
	b.id = metricIDs{
		sessions:         b.metricID(semconv.MetricCopilotSessions),
		toolCalls:        b.metricID(semconv.MetricCopilotToolCalls),
		subagentRuns:     b.metricID(semconv.MetricCopilotSubagentRuns),
		errors:           b.metricID(semconv.MetricCopilotErrors),
		hookInvocations:  b.metricID(semconv.MetricCopilotHookInvocations),
		linesAdded:       b.metricID(semconv.MetricCopilotCodeLinesAdded),
		linesRemoved:     b.metricID(semconv.MetricCopilotCodeLinesRemoved),
		filesModified:    b.metricID(semconv.MetricCopilotCodeFilesModified),
		compactions:      b.metricID(semconv.MetricCopilotCompactions),
		tokens:           b.metricID(semconv.MetricCopilotUsageTokens),
		nanoAIU:          b.metricID(semconv.MetricCopilotUsageNanoAIU),
		premiumRequests:  b.metricID(semconv.MetricCopilotUsagePremiumRequests),
		apiRequests:      b.metricID(semconv.MetricCopilotAPIRequests),
		userRequests:     b.metricID(semconv.MetricCopilotUserRequests),
		apiDuration:      b.metricID(semconv.MetricCopilotAPIDuration),
		timeToFirstToken: b.metricID(semconv.MetricCopilotAPITimeToFirstToken),
	}
	return b
}

// metricID returns the number of the metric named name, or noMetric.
func (b *metricsBuilder) metricID(name string) metricID {
	if id, ok := b.ids[name]; ok {
		return id
	}
	return noMetric
}

// kept returns the attributes of attrs (name, value pairs) the metric
// keeps: attrs itself when it keeps them all, else a copy in *buf.
func (s *metricSpec) kept(buf *[]string, attrs []string) []string {
	if len(attrs)%2 == 0 {
		all := true
		for i := 0; i < len(attrs) && all && !s.keepAll; i += 2 {
			all = slices.Contains(s.keep, attrs[i])
		}
		if all {
			return attrs
		}
	}
	f := (*buf)[:0]
	for i := 0; i+1 < len(attrs); i += 2 {
		if s.keepAll || slices.Contains(s.keep, attrs[i]) {
			f = append(f, attrs[i], attrs[i+1])
		}
	}
	*buf = f
	return f
}

// point is one data point being built, in a batch's points.
type point struct {
	attrs      []string // name, value pairs
	start, ts  pcommon.Timestamp
	ival       int64
	dval       float64
	count, sum float64
	buckets    []uint64
	// res and metric are the point's series, with attrs: res is the
	// number of its resourceAcc in the batch.
	res    int32
	metric metricID
	// next links the points of a series in the order they were made;
	// same the points whose keys hash alike (pointHash). Both are 1 +
	// an index in the batch's points, 0 for none.
	next, same int32
}

// series is the points of one metric of a resource: 1 + the index in the
// batch's points of the first and of the last, 0 when none; and how many.
type series struct {
	first, last, n int32
}

// resourceAcc is the metrics of one resource being built.
type resourceAcc struct {
	ctx *session.Context
	n   int32 // its place in the batch's order
	// series is its points by metric (metricID).
	series []series
	// merged is set when the points were added to an alike resource's.
	merged bool
}

type metricsBatch struct {
	b      *metricsBuilder
	byCtx  map[*session.Context]*resourceAcc
	order  []*resourceAcc
	start  pcommon.Timestamp
	stamp  pcommon.Timestamp
	filter []string
	// last is the resourceAcc of the last point: a context's facts tend
	// to come together.
	last *resourceAcc

	// points are the batch's points. index finds them by their key's hash
	// (pointHash), as 1 + the index of the last point made with it; the
	// points keep their attributes in attrs and their bucket counts in
	// buckets, one after another.
	points  []point
	index   map[uint64]int32
	attrs   []string
	buckets []uint64

	// resNow are the resources of the contexts of this batch, resLast
	// those of the batch this one's memory served last: a session's next
	// batch copies its resource and reuses its key instead of making them
	// again. reset keeps them.
	resNow, resLast map[*session.Context]*cachedResource
	keyBuf          []byte

	// Combined mode. A first pass over the facts (collecting) finds the
	// window of each group of points (collect), and notes in seq which
	// group each point or usage fact fell in; the second builds the
	// points, each with its group's window (nextWindow), so that the
	// points of a group fall together.
	combine    bool
	collecting bool
	windows    []window
	windex     map[uint64]int32 // by the hash of their key, as index does points
	seq        []int32
	seqAt      int
	// group is what groups the points of the usage fact being collected.
	group []string
	// groupWindow is the window of the usage fact being converted, looked
	// up once per fact (every point of the fact has it); nil for other
	// facts, whose points are grouped by series.
	groupWindow *window
	// resOf numbers the contexts of the batch by their resource's
	// attributes (metricsBatch.resourceKey), which resIDs numbers.
	resIDs map[string]int32
	resOf  map[*session.Context]int32
}

// reset empties the batch for the next build, keeping the room of its
// points, attributes and index. The resourceAccs of order are kept past
// its length, to be used again.
func (mb *metricsBatch) reset() {
	clear(mb.byCtx)
	clear(mb.index)
	clear(mb.points)
	clear(mb.attrs)
	mb.order, mb.points, mb.attrs, mb.buckets = mb.order[:0], mb.points[:0], mb.attrs[:0], mb.buckets[:0]
	mb.last, mb.start, mb.stamp = nil, 0, 0
	mb.combine, mb.collecting, mb.groupWindow = false, false, nil
	clear(mb.windows)
	clear(mb.windex)
	clear(mb.resIDs)
	clear(mb.resOf)
	mb.windows, mb.seq, mb.seqAt = mb.windows[:0], mb.seq[:0], 0
}

// cachedResource is a context's resource, as made of the context ctx, and
// its key (filledKey) once asked for. res, when hasRes, is the resource
// made for the key in this batch (fresh), to be moved into the output, or
// kept from one batch to the next, to be copied into it.
type cachedResource struct {
	ctx    session.Context
	res    pcommon.Resource
	hasRes bool
	fresh  bool
	key    string
	hasKey bool
}

// resource returns ctx's cached resource: the one of this batch or, when
// the context is still what it was, the last batch's; else a new one.
func (mb *metricsBatch) resource(ctx *session.Context) *cachedResource {
	if c := mb.resNow[ctx]; c != nil {
		return c
	}
	c := mb.resLast[ctx]
	if c == nil || c.ctx != *ctx {
		c = &cachedResource{ctx: *ctx, fresh: true}
	} else {
		c.fresh = false
	}
	if mb.resNow == nil {
		mb.resNow = map[*session.Context]*cachedResource{}
	}
	mb.resNow[ctx] = c
	return c
}

// resourceKey returns ctx's resource key (filledKey), computed once.
func (mb *metricsBatch) resourceKey(ctx *session.Context) string {
	c := mb.resource(ctx)
	if !c.hasKey {
		if !c.hasRes {
			c.res, c.hasRes = pcommon.NewResource(), true
			mb.b.resources.fill(c.res, ctx, false)
		}
		mb.keyBuf = filledKey(mb.keyBuf[:0], c.res)
		c.key, c.hasKey = string(mb.keyBuf), true
	}
	return c.key
}

// filledKey appends a key of res, a resource fill made, to dst: its
// attributes in their order. fill sets them in one order, so two such
// resources with the same attributes have the same key, as resourceKey
// gives (which sorts them, for resources of any origin) without a string
// per attribute.
func filledKey(dst []byte, res pcommon.Resource) []byte {
	for k, v := range res.Attributes().All() {
		dst = append(dst, k...)
		dst = append(dst, 0)
		dst = append(dst, v.AsString()...)
		dst = append(dst, 1)
	}
	return dst
}

// emitResource sets ctx's resource on out. A session read in one batch
// has its resource made once, as before the cache; one read in more keeps
// a copy from its second batch on.
func (mb *metricsBatch) emitResource(ctx *session.Context, out pcommon.Resource) {
	c := mb.resource(ctx)
	switch {
	case c.hasRes && c.fresh:
		c.res.MoveTo(out)
		c.res, c.hasRes = pcommon.Resource{}, false
	case c.hasRes:
		c.res.CopyTo(out)
	case !c.fresh:
		c.res, c.hasRes = pcommon.NewResource(), true
		mb.b.resources.fill(c.res, ctx, false)
		c.res.CopyTo(out)
	default:
		mb.b.resources.fill(out, ctx, false)
	}
}

// endBatch keeps the resources of the batch's contexts for the next batch,
// and forgets those of the last.
func (mb *metricsBatch) endBatch() {
	mb.resLast, mb.resNow = mb.resNow, mb.resLast
	clear(mb.resNow)
}

// window is the times of a group of combined points: the earliest start
// and the latest time of what they count; and the group's key (collect).
type window struct {
	start, ts time.Time
	res       int32
	qs, qt    int64
	name      string
	key       []string
	same      int32 // as point.same
}

// Combining adds points up: the receiver's sums and histograms are all
// delta, so a combined point covers its points' windows and nothing is
// kept from one batch to the next. A cumulative sum or a gauge would have
// to keep its last point instead (TestCombinedKeepsTotals fails on one).
//
// combineSpan bounds a combined point: the points combined have their
// start times in one quarter hour (UTC), and their times in one, so that
// usage by hour or by day, in any time zone, is what it is per event (a
// day of the ledger and a billing month go by the start; backends and
// budgets by the time).
const combineSpan = 15 * time.Minute

// build converts the facts of one batch. now is the receive time, used in
// received mode.
func (b *metricsBuilder) build(f *session.Facts, now time.Time) pmetric.Metrics {
	b.mu.Lock()
	mb := b.spare
	b.spare = nil
	b.mu.Unlock()
	if mb == nil {
		mb = &metricsBatch{b: b, byCtx: map[*session.Context]*resourceAcc{}}
	} else {
		mb.reset()
	}
	defer func() {
		b.mu.Lock()
		b.spare = mb
		b.mu.Unlock()
	}()
	if b.received {
		start, end := f.ReadStart, f.ReadEnd
		if end.IsZero() {
			start, end = b.clock.Next(now)
		}
		mb.start, mb.stamp = pcommon.NewTimestampFromTime(start), pcommon.NewTimestampFromTime(end)
	}
	if b.combine {
		mb.combine, mb.collecting = true, true
		mb.add(f)
		mb.collecting = false
	}
	mb.add(f)
	return mb.emit()
}

// add converts the facts into points (or, collecting, finds the windows
// of the combined points).
func (mb *metricsBatch) add(f *session.Facts) {
	id := &mb.b.id
	for i := range f.Usage {
		mb.usage(&f.Usage[i])
	}
	for _, l := range f.Lifecycle {
		mb.sumID(l.Ctx, id.sessions, l.Time, l.Time, 1, semconv.AttrCopilotSessionState, l.State)
	}
	for _, t := range f.Tools {
		mb.sumID(t.Ctx, id.toolCalls, t.Start, t.End, 1, semconv.AttrGenAIToolName, t.Name, semconv.AttrCopilotToolOutcome, t.Outcome, semconv.AttrGenAIAgentName, t.Agent.Name)
	}
	for _, s := range f.Subagents {
		mb.sumID(s.Ctx, id.subagentRuns, s.Start, s.End, 1, semconv.AttrGenAIAgentName, s.Agent.Name, semconv.AttrCopilotSubagentOutcome, s.Outcome)
	}
	for _, e := range f.Errors {
		mb.sumID(e.Ctx, id.errors, e.Time, e.Time, 1, semconv.AttrErrorType, e.Type, semconv.AttrCopilotErrorContext, e.Context)
	}
	for _, h := range f.Hooks {
		mb.sumID(h.Ctx, id.hookInvocations, h.Time, h.Time, 1, semconv.AttrCopilotHookType, h.Type, semconv.AttrCopilotHookReason, h.Reason)
	}
	for _, c := range f.CodeChanges {
		mb.sumID(c.Ctx, id.linesAdded, c.Start, c.Time, c.LinesAdded)
		mb.sumID(c.Ctx, id.linesRemoved, c.Start, c.Time, c.LinesRemoved)
		mb.sumID(c.Ctx, id.filesModified, c.Start, c.Time, c.FilesModified)
	}
	for _, c := range f.Compactions {
		outcome := semconv.CopilotCompactionOutcomeSuccess
		if !c.Success {
			outcome = semconv.CopilotCompactionOutcomeFailure
		}
		mb.sumID(c.Ctx, id.compactions, c.Time, c.Time, 1, semconv.AttrCopilotCompactionOutcome, outcome)
	}
}

// usageGroup is what groups the combined points of a usage fact: its
// model, initiator and agent, and whether it is billed in AI credits and
// in premium requests. Every point of the fact gets the group's window,
// so that a consumer that puts a model call's tokens, nano-AIU and premium
// requests together by their attributes and times (the chargeback
// processor, the usage ledger) finds them together combined too; and a
// call billed one way is never combined with one billed another, so that
// such a consumer prices the combined usage as it prices each call (by AI
// credits, else by tokens).
func usageGroup(dst []string, u *session.UsageFact) []string {
	billed := "none"
	switch {
	case u.Usage.NanoAIU != 0 && u.Usage.PremiumCost != 0:
		billed = "nano_aiu+premium"
	case u.Usage.NanoAIU != 0:
		billed = "nano_aiu"
	case u.Usage.PremiumCost != 0:
		billed = "premium"
	}
	return append(dst[:0], "\x01usage", u.Model, u.Initiator, u.Agent.Name, billed)
}

// collect finds the window of a group of combined points, made on first
// use, and widens it to cover start to ts. A group is identified by the
// resource's attributes (sessions alike on metrics share their series),
// the quarter hours of start and ts, and the group (a usage group, or a
// metric and the point's attributes). It notes the window in seq, for
// nextWindow.
func (mb *metricsBatch) collect(ctx *session.Context, start, ts time.Time, name string, attrs []string) {
	res := mb.resID(ctx)
	qs, qt := start.UnixNano()/int64(combineSpan), ts.UnixNano()/int64(combineSpan)
	hash := mix(mix(uint64(uint32(res)), uint64(qs)), uint64(qt))
	hash = mix(hash, maphash.String(hashSeed, name))
	for _, a := range attrs {
		hash = mix(hash, maphash.String(hashSeed, a))
	}
	if mb.windex == nil {
		mb.windex = map[uint64]int32{}
	}
	i := mb.windex[hash]
	for i != 0 {
		w := &mb.windows[i-1]
		if w.res == res && w.qs == qs && w.qt == qt && w.name == name && slices.Equal(w.key, attrs) {
			break
		}
		i = w.same
	}
	if i == 0 {
		// The windows' keys are kept with the points' attributes: the
		// first pass makes no points.
		off := len(mb.attrs)
		mb.attrs = append(mb.attrs, attrs...)
		mb.windows = append(mb.windows, window{
			start: start, ts: ts, res: res, qs: qs, qt: qt, name: name,
			key: mb.attrs[off:len(mb.attrs):len(mb.attrs)], same: mb.windex[hash],
		})
		i = int32(len(mb.windows))
		mb.windex[hash] = i
	} else {
		w := &mb.windows[i-1]
		if start.Before(w.start) {
			w.start = start
		}
		if ts.After(w.ts) {
			w.ts = ts
		}
	}
	mb.seq = append(mb.seq, i)
}

// nextWindow returns the window collect found for the next point or usage
// fact: the second pass meets them in the order the first did.
func (mb *metricsBatch) nextWindow() *window {
	i := mb.seq[mb.seqAt]
	mb.seqAt++
	return &mb.windows[i-1]
}

// resID returns the number of ctx's resource by its attributes.
func (mb *metricsBatch) resID(ctx *session.Context) int32 {
	id, ok := mb.resOf[ctx]
	if !ok {
		if mb.resOf == nil {
			mb.resIDs, mb.resOf = map[string]int32{}, map[*session.Context]int32{}
		}
		rk := mb.resourceKey(ctx)
		if id, ok = mb.resIDs[rk]; !ok {
			id = int32(len(mb.resIDs))
			mb.resIDs[rk] = id
		}
		mb.resOf[ctx] = id
	}
	return id
}

func (mb *metricsBatch) usage(u *session.UsageFact) {
	if mb.combine {
		if mb.collecting {
			mb.group = usageGroup(mb.group, u)
			mb.collect(u.Ctx, u.Start, u.Time, "", mb.group)
			return
		}
		mb.groupWindow = mb.nextWindow()
	}
	id := &mb.b.id
	attrs := []string{semconv.AttrGenAIRequestModel, u.Model, semconv.AttrCopilotInitiator, u.Initiator, semconv.AttrGenAIAgentName, u.Agent.Name}
	for _, tt := range []struct {
		typ string
		v   int64
	}{
		{semconv.GenAITokenTypeInput, u.Usage.InputTokens},
		{semconv.GenAITokenTypeOutput, u.Usage.OutputTokens},
		{semconv.GenAITokenTypeCacheRead, u.Usage.CacheReadTokens},
		{semconv.GenAITokenTypeCacheWrite, u.Usage.CacheWriteTokens},
		{semconv.GenAITokenTypeReasoning, u.Usage.ReasoningTokens},
	} {
		mb.sumID(u.Ctx, id.tokens, u.Start, u.Time, tt.v, semconv.AttrGenAIRequestModel, u.Model, semconv.AttrGenAITokenType, tt.typ, semconv.AttrCopilotInitiator, u.Initiator, semconv.AttrGenAIAgentName, u.Agent.Name)
	}
	mb.sumID(u.Ctx, id.nanoAIU, u.Start, u.Time, u.Usage.NanoAIU, attrs...)
	mb.sumDoubleID(u.Ctx, id.premiumRequests, u.Start, u.Time, u.Usage.PremiumCost, attrs...)
	mb.sumID(u.Ctx, id.apiRequests, u.Start, u.Time, u.Usage.Requests, attrs...)
	mb.sumID(u.Ctx, id.userRequests, u.Start, u.Time, u.Usage.UserRequests, semconv.AttrGenAIRequestModel, u.Model)
	// A histogram observation per call; usage known only from totals is
	// spread over its calls at their mean duration, so that count and sum
	// stay exact.
	if u.Usage.Requests > 0 && u.Usage.APIDurationMs > 0 {
		mean := float64(u.Usage.APIDurationMs) / 1000 / float64(u.Usage.Requests)
		mb.histID(u.Ctx, id.apiDuration, u.Start, u.Time, mean, u.Usage.Requests, attrs...)
	}
	if u.HasTTFT {
		mb.histID(u.Ctx, id.timeToFirstToken, u.Start, u.Time, u.TTFTMs/1000, 1, semconv.AttrGenAIRequestModel, u.Model, semconv.AttrGenAIAgentName, u.Agent.Name)
	}
	mb.groupWindow = nil
}

// acc finds or makes the point of a metric with the given attributes and
// times. Attributes the configuration turned off are dropped, and the
// points that become alike are summed.
func (mb *metricsBatch) acc(ctx *session.Context, id metricID, start, ts time.Time, attrs []string) *point {
	if id == noMetric || !mb.b.specs[id].enabled {
		return nil
	}
	spec := &mb.b.specs[id]
	kept := spec.kept(&mb.filter, attrs)
	var s, t pcommon.Timestamp
	switch {
	case mb.stamp != 0:
		s, t = mb.start, mb.stamp
	case mb.combine:
		w := mb.groupWindow
		if w == nil {
			if mb.collecting {
				mb.collect(ctx, start, ts, spec.name, kept)
				return nil
			}
			w = mb.nextWindow()
		}
		s, t = pcommon.NewTimestampFromTime(w.start), pcommon.NewTimestampFromTime(w.ts)
	default:
		s, t = pcommon.NewTimestampFromTime(start), pcommon.NewTimestampFromTime(ts)
	}
	r := mb.resourceAcc(ctx)
	h := pointHash(r.n, id, s, t, kept)
	if p := mb.find(h, r.n, id, s, t, kept); p != nil {
		return p
	}
	off := len(mb.attrs)
	mb.attrs = append(mb.attrs, kept...)
	mb.points = append(mb.points, point{attrs: mb.attrs[off:len(mb.attrs):len(mb.attrs)], start: s, ts: t, res: r.n, metric: id})
	i := int32(len(mb.points))
	mb.insert(h, i)
	mb.link(r, id, i)
	return &mb.points[i-1]
}

// resourceAcc returns ctx's resourceAcc, made on first use (from one the
// last batch left, when there is one).
func (mb *metricsBatch) resourceAcc(ctx *session.Context) *resourceAcc {
	if r := mb.last; r != nil && r.ctx == ctx {
		return r
	}
	r := mb.byCtx[ctx]
	if r == nil {
		n := len(mb.order)
		if n < cap(mb.order) {
			r = mb.order[:n+1][n]
		}
		if r == nil {
			r = &resourceAcc{}
		}
		s := r.series
		if cap(s) < len(mb.b.specs) {
			s = make([]series, len(mb.b.specs))
		} else {
			s = s[:len(mb.b.specs)]
			clear(s)
		}
		*r = resourceAcc{ctx: ctx, n: int32(n), series: s}
		mb.order = append(mb.order, r)
		mb.byCtx[ctx] = r
	}
	mb.last = r
	return r
}

// pointHash hashes what identifies a point in a batch: its resource's
// number, its metric's, its times and its attributes' values (find
// compares their names too).
func pointHash(res int32, id metricID, s, t pcommon.Timestamp, attrs []string) uint64 {
	h := mix(uint64(uint32(res))<<32|uint64(uint32(id)), uint64(s))
	h = mix(h, uint64(t))
	for i := 1; i < len(attrs); i += 2 {
		h = mix(h, maphash.String(hashSeed, attrs[i]))
	}
	return h
}

// hashSeed seeds the hashes of the batches' keys.
var hashSeed = maphash.MakeSeed()

// mix folds v into the hash h (a multiply-and-fold step, as wyhash's).
func mix(h, v uint64) uint64 {
	hi, lo := bits.Mul64(h^0xa0761d6478bd642f, v^0xe7037ed1a0b428db)
	return hi ^ lo
}

// find returns the point of the series, whose key hashes to h, or nil.
func (mb *metricsBatch) find(h uint64, res int32, id metricID, s, t pcommon.Timestamp, attrs []string) *point {
	for i := mb.index[h]; i != 0; {
		p := &mb.points[i-1]
		if p.res == res && p.metric == id && p.start == s && p.ts == t && slices.Equal(p.attrs, attrs) {
			return p
		}
		i = p.same
	}
	return nil
}

// insert indexes point i (1 + its index), whose key hashes to h.
func (mb *metricsBatch) insert(h uint64, i int32) {
	if mb.index == nil {
		mb.index = map[uint64]int32{}
	}
	mb.points[i-1].same = mb.index[h]
	mb.index[h] = i
}

// link appends point i (1 + its index) to r's series of metric id.
func (mb *metricsBatch) link(r *resourceAcc, id metricID, i int32) {
	s := &r.series[id]
	if s.last != 0 {
		mb.points[s.last-1].next = i
	} else {
		s.first = i
	}
	s.last = i
	s.n++
}

// sum adds v to the point of the metric named metric.
func (mb *metricsBatch) sum(ctx *session.Context, metric string, start, ts time.Time, v int64, attrs ...string) {
	mb.sumID(ctx, mb.b.metricID(metric), start, ts, v, attrs...)
}

func (mb *metricsBatch) sumID(ctx *session.Context, id metricID, start, ts time.Time, v int64, attrs ...string) {
	if v == 0 {
		return
	}
	if p := mb.acc(ctx, id, start, ts, attrs); p != nil {
		p.ival += v
	}
}

func (mb *metricsBatch) sumDoubleID(ctx *session.Context, id metricID, start, ts time.Time, v float64, attrs ...string) {
	if v == 0 {
		return
	}
	if p := mb.acc(ctx, id, start, ts, attrs); p != nil {
		p.dval += v
	}
}

// hist records n observations of v in the histogram named metric.
func (mb *metricsBatch) hist(ctx *session.Context, metric string, start, ts time.Time, v float64, n int64, attrs ...string) {
	mb.histID(ctx, mb.b.metricID(metric), start, ts, v, n, attrs...)
}

func (mb *metricsBatch) histID(ctx *session.Context, id metricID, start, ts time.Time, v float64, n int64, attrs ...string) {
	p := mb.acc(ctx, id, start, ts, attrs)
	if p == nil {
		return
	}
	var bounds []float64
	if h := mb.b.specs[id].hist; h != nil {
		bounds = h.cfg.Buckets
	}
	if p.buckets == nil {
		off := len(mb.buckets)
		mb.buckets = append(mb.buckets, make([]uint64, len(bounds)+1)...)
		p.buckets = mb.buckets[off:len(mb.buckets):len(mb.buckets)]
	}
	i, _ := slices.BinarySearch(bounds, v) // bucket i holds (bounds[i-1], bounds[i]]
	p.buckets[i] += uint64(n)
	p.count += float64(n)
	p.sum += v * float64(n)
}

func (mb *metricsBatch) emit() pmetric.Metrics {
	md := pmetric.NewMetrics()
	// In received mode every point of the batch has the same times, so two
	// sessions whose resources are alike on metrics (session.id is off
	// there by default: two sessions on the same branch and commit) would
	// give a stream two points with one timestamp, and delta_to_cumulative
	// keeps only the first. Their points are summed into one resource. In
	// combined mode the points of alike sessions have their groups'
	// windows, which collect made by resource: those that fall together
	// are summed the same way.
	var seen map[string]*resourceAcc
	if mb.stamp != 0 || mb.combine {
		seen = map[string]*resourceAcc{}
	}
	if seen != nil {
		for _, r := range mb.order {
			k := mb.resourceKey(r.ctx)
			if first := seen[k]; first != nil {
				mb.merge(first, r)
				continue
			}
			seen[k] = r
		}
	}
	n := 0
	for _, r := range mb.order {
		if !r.merged {
			n++
		}
	}
	md.ResourceMetrics().EnsureCapacity(n)
	for _, r := range mb.order {
		if r.merged {
			continue
		}
		rm := md.ResourceMetrics().AppendEmpty()
		mb.emitResource(r.ctx, rm.Resource())
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(metadata.ScopeName)
		sm.Scope().SetVersion(mb.b.version)
		n := 0
		for _, s := range r.series {
			if s.first != 0 {
				n++
			}
		}
		sm.Metrics().EnsureCapacity(n)
		for id, s := range r.series {
			if s.first != 0 {
				mb.emitMetric(sm.Metrics(), metricID(id), s)
			}
		}
	}
	mb.endBatch()
	return md
}

// resourceKey identifies a resource by its attributes.
func resourceKey(res pcommon.Resource) string {
	kv := make([]string, 0, res.Attributes().Len())
	for k, v := range res.Attributes().All() {
		kv = append(kv, k+"\x00"+v.AsString())
	}
	slices.Sort(kv)
	return strings.Join(kv, "\x01")
}

// merge adds the points of o, a resource alike to r whose points have the
// same times, to r's, and marks o merged.
func (mb *metricsBatch) merge(r, o *resourceAcc) {
	o.merged = true
	for id, s := range o.series {
		for i := s.first; i != 0; {
			op := &mb.points[i-1]
			next := op.next
			h := pointHash(r.n, metricID(id), op.start, op.ts, op.attrs)
			p := mb.find(h, r.n, metricID(id), op.start, op.ts, op.attrs)
			if p == nil {
				op.res, op.next = r.n, 0
				mb.insert(h, i)
				mb.link(r, metricID(id), i)
				i = next
				continue
			}
			p.ival += op.ival
			p.dval += op.dval
			p.count += op.count
			p.sum += op.sum
			for i := range op.buckets {
				if i < len(p.buckets) {
					p.buckets[i] += op.buckets[i]
				}
			}
			i = next
		}
	}
}

func (mb *metricsBatch) emitMetric(ms pmetric.MetricSlice, id metricID, s series) {
	spec := &mb.b.specs[id]
	if h := spec.hist; h != nil {
		m := ms.AppendEmpty()
		m.SetName(h.Name)
		m.SetDescription(h.Description)
		m.SetUnit(h.Unit)
		hist := m.SetEmptyHistogram()
		hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		hist.DataPoints().EnsureCapacity(int(s.n))
		for i := s.first; i != 0; {
			p := &mb.points[i-1]
			dp := hist.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(p.start)
			dp.SetTimestamp(p.ts)
			dp.SetCount(uint64(p.count))
			dp.SetSum(p.sum)
			dp.ExplicitBounds().FromRaw(h.cfg.Buckets)
			dp.BucketCounts().FromRaw(p.buckets)
			putAttrs(dp.Attributes(), p.attrs)
			i = p.next
		}
		return
	}
	m := ms.AppendEmpty()
	spec.shell.CopyTo(m)
	dps := m.Sum().DataPoints()
	dps.EnsureCapacity(int(s.n))
	for i := s.first; i != 0; {
		p := &mb.points[i-1]
		dp := dps.AppendEmpty()
		dp.SetStartTimestamp(p.start)
		dp.SetTimestamp(p.ts)
		if spec.double {
			dp.SetDoubleValue(p.dval)
		} else {
			dp.SetIntValue(p.ival)
		}
		putAttrs(dp.Attributes(), p.attrs)
		i = p.next
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
	rb.SetServiceName(semconv.ServiceName)
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
		res.Attributes().PutStr(semconv.AttrSessionID, c.SessionID)
	}
}

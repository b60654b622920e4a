package chargebackprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	conventions "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/budget"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
)

// attrConversation is the session id on the spans of the CLI's own
// telemetry (and the copilot receiver's), in the GenAI conventions of the
// semantic conventions version the receiver declares.
const attrConversation = string(conventions.GenAIConversationIDKey)

// contextAttrs are the resource attributes of a session that the CLI's own
// spans get when they are joined to it.
var contextAttrs = []string{semconv.AttrUserName, semconv.AttrCopilotGitRoot, semconv.AttrVCSOwnerName, semconv.AttrVCSRepositoryName, semconv.AttrVCSRepositoryURLFull, semconv.AttrVCSRefHeadName, semconv.AttrVCSRefHeadRevision}

var bg = context.Background()

// chargeback is the processor shared by the pipelines of one
// configuration.
type chargeback struct {
	cfg      *Config
	set      processor.Settings
	onClose  func()
	now      func() time.Time
	resolver *attribution.Resolver
	pricer   *pricing.Pricer
	limiter  *limiter
	tel      *metadata.TelemetryBuilder

	mu sync.Mutex
	// logs is where budget crossings go: the next consumer of every logs
	// pipeline the processor is in, in the order they were built (none:
	// the collector's own log). Each pipeline decides what to do with
	// them (a filter keeps them out of one, an exporter sends them).
	logs      []consumer.Logs
	inMetrics bool // in a metrics pipeline
	running   int  // started signals
	started   bool
	client    storage.Client
	budgets   *budget.Tracker
	join      *joinCache
	budgetMu  sync.Mutex // one batch's spend and crossings at a time
	// upstreamPriced warns once of usage priced before this processor.
	upstreamPriced sync.Once
	// uncounted is spend the budgets could not count because their store
	// could not be read (budget.Tracker.Add counts nothing then): counted
	// first with the next batch, so that it is late, not lost.
	uncounted []budget.Spend
}

func newChargeback(set processor.Settings, cfg *Config, now func() time.Time, onClose func()) (*chargeback, error) {
	pr, err := pricing.New(cfg.Pricing)
	if err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	return &chargeback{cfg: cfg, set: set, now: now, onClose: onClose, pricer: pr, limiter: newLimiter(cfg.Metrics.MaxValues)}, nil
}

// setLogs adds a logs pipeline's next consumer to those crossings go to.
// Crossings go to every logs pipeline the processor is in: which pipeline
// the collector builds first is not for the configuration to rely on, and
// a pipeline that wants no crossings filters them out.
func (p *chargeback) setLogs(c consumer.Logs) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.logs = append(p.logs, c)
}

// start starts the shared parts once, whichever pipeline starts first. A
// start that fails part way stops the parts it had started (the mapping
// file's reloads, the storage client, the telemetry), so that nothing is
// left running whether or not Shutdown follows.
func (p *chargeback) start(ctx context.Context, host component.Host) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running++
	if p.started {
		return nil
	}
	p.started = true
	if err := p.startParts(ctx, host); err != nil {
		err = errors.Join(err, p.stopParts(ctx))
		p.tel, p.resolver, p.client, p.budgets, p.join = nil, nil, nil, nil, nil
		p.running--
		p.started = false
		return err
	}
	return nil
}

func (p *chargeback) startParts(ctx context.Context, host component.Host) error {
	tel, err := metadata.NewTelemetryBuilder(p.set.TelemetrySettings)
	if err != nil {
		return err
	}
	p.tel = tel
	p.limiter.overflow = func(key string) {
		tel.ProcessorChargebackCardinalityOverflow.Add(bg, 1, metric.WithAttributes(attribute.String("attribute", key)))
	}
	res, err := attribution.New(p.cfg.Attribution, p.set.Logger)
	if err != nil {
		return fmt.Errorf("attribution: %w", err)
	}
	p.resolver = res
	p.resolver.Start(context.Background())
	if p.cfg.Storage != nil {
		c, err := storageclient.Get(ctx, host, "storage", *p.cfg.Storage, component.KindProcessor, p.set.ID)
		if err != nil {
			return err
		}
		p.client = c
	}
	if len(p.cfg.Budgets) > 0 {
		var store budget.Store
		if p.client != nil {
			store = p.client
		} else {
			p.set.Logger.Warn("storage is not set: budget spend and the crossings already emitted are kept in memory only, and a restart starts every window from zero")
		}
		t, err := budget.New(p.cfg.Budgets, store, p.now)
		if err != nil {
			return err
		}
		p.budgets = t
		if !p.inMetrics {
			p.set.Logger.Warn("budgets are configured but the processor is in no metrics pipeline: spend is counted from the copilot receiver's usage metrics; add it to the metrics pipeline")
		}
		if len(p.logs) == 0 {
			p.set.Logger.Warn("budgets are configured but the processor is in no logs pipeline: crossings are written to the collector's log only; add it to a logs pipeline to route them")
		}
	}
	p.join = newJoinCache(p.cfg.Join, tel, p.releaseHeld)
	p.join.now = p.now
	p.join.start()
	return nil
}

// shutdown stops the shared parts when the last pipeline stops.
func (p *chargeback) shutdown(ctx context.Context) error {
	p.mu.Lock()
	if p.running > 0 {
		p.running--
	}
	last := p.running == 0
	p.mu.Unlock()
	if !last {
		return nil
	}
	err := p.stopParts(ctx)
	if p.onClose != nil {
		p.onClose()
	}
	return err
}

// stopParts stops the shared parts that were started: held spans are
// passed on unattributed first.
func (p *chargeback) stopParts(ctx context.Context) error {
	var errs []error
	if p.join != nil {
		p.join.stop(ctx)
	}
	if p.resolver != nil {
		p.resolver.Shutdown()
	}
	if p.budgets != nil {
		p.budgetMu.Lock()
		if n := len(p.uncounted); n > 0 {
			p.set.Logger.Error("Stopping with spend the budgets could not count (their store could not be read): it is not in their windows", zap.Int("spends", n))
		}
		p.budgetMu.Unlock()
		errs = append(errs, p.budgets.Commit(ctx))
	}
	if p.client != nil {
		errs = append(errs, p.client.Close(ctx))
	}
	if p.tel != nil {
		p.tel.Shutdown()
	}
	return errors.Join(errs...)
}

// sessionInfo is what the processor knows of a session: where it ran, for
// the attribution, and the context attributes to lend the CLI's own spans.
type sessionInfo struct {
	input   attribution.Input
	context map[string]string
}

// infoOf reads the session context from a resource of the copilot
// receiver.
func infoOf(attrs pcommon.Map) sessionInfo {
	get := func(k string) string {
		if v, ok := attrs.Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	in := attribution.Input{Branch: get(semconv.AttrVCSRefHeadName), GitRoot: get(semconv.AttrCopilotGitRoot), User: get(semconv.AttrUserName)}
	switch owner, repo := get(semconv.AttrVCSOwnerName), get(semconv.AttrVCSRepositoryName); {
	case owner != "" && repo != "":
		in.Repository = owner + "/" + repo
	default:
		in.Repository = repo
	}
	ctx := map[string]string{}
	for _, k := range contextAttrs {
		if v := get(k); v != "" {
			ctx[k] = v
		}
	}
	return sessionInfo{input: in, context: ctx}
}

// resolve attributes spend of an agent in a session.
func (p *chargeback) resolve(in attribution.Input, agent string) attribution.Result {
	in.Agent = agent
	return p.resolver.Resolve(in)
}

// resolver resolves the attribution of one session's agents, once each.
type resolver struct {
	p     *chargeback
	info  *sessionInfo
	cache map[string]attribution.Result
}

func (r *resolver) resolve(agent string) attribution.Result {
	if res, ok := r.cache[agent]; ok {
		return res
	}
	if r.cache == nil {
		r.cache = map[string]attribution.Result{}
	}
	res := r.p.resolve(r.info.input, agent)
	r.cache[agent] = res
	return res
}

// values are the attribution's values in the order of attributionKeys.
func values(r attribution.Result) [4]string {
	return [4]string{r.Team, r.Project, r.CostCenter, r.Ticket}
}

// putAttribution sets the attribution on an item's attributes: all of it,
// or for metrics the allowed keys through the cardinality limits.
func (p *chargeback) putAttribution(m pcommon.Map, r attribution.Result, forMetrics bool) {
	v := values(r)
	m.EnsureCapacity(m.Len() + len(attributionKeys))
	for i, k := range attributionKeys {
		if forMetrics {
			if !slices.Contains(p.cfg.Metrics.Attributes, k) {
				continue
			}
			value := v[i]
			if p.cfg.Mode != ModeAttribute {
				// The routing tier leaves the cap to the gateways: its
				// load balancer routes on these values, and a cap, first
				// come first kept in each replica, would send one team's
				// points to two gateways as it and as other.
				value = p.limiter.admit(k, value)
			}
			m.PutStr(p.cfg.attrName(k), value)
			continue
		}
		m.PutStr(p.cfg.attrName(k), v[i])
	}
}

// strAttr reads a string attribute.
func strAttr(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok {
		return v.AsString()
	}
	return ""
}

// isCopilot reports whether a resource is Copilot's: the receiver's
// sessions and the CLI's own telemetry are both service github-copilot.
func isCopilot(attrs pcommon.Map) bool {
	return strings.HasPrefix(strAttr(attrs, semconv.AttrServiceName), semconv.ServiceName)
}

// isReceiverResource reports whether a resource of spans or logs is one of
// the copilot receiver's sessions: the receiver always puts session.id on
// them, the CLI never does.
func isReceiverResource(attrs pcommon.Map) (string, bool) {
	sid := strAttr(attrs, semconv.AttrSessionID)
	return sid, sid != "" && isCopilot(attrs)
}

// joined returns a session's context from the cache, counting n lookups as
// hits or, unknown, passed on unattributed.
func (p *chargeback) joined(sid string, n int) (sessionInfo, bool) {
	info, ok := p.join.lookup(sid)
	if ok {
		p.join.count(outcomeHit, n)
	} else {
		p.join.count(outcomePassed, n)
	}
	return info, ok
}

func (p *chargeback) logger() *zap.Logger { return p.set.Logger }

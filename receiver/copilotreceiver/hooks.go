package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
)

// Paths of the hook endpoint.
const (
	hooksPath    = "/v1/hooks"
	healthPath   = "/v1/health"
	sessionsPath = "/v1/sessions"
)

// Request headers the forwarder sends.
const (
	// HeaderHookID identifies a payload across retries, so that one sent
	// again is counted once.
	HeaderHookID = "X-Copilot-Hook-Id"
	// HeaderHookHost names the machine the hook ran on: payloads from this
	// machine belong to sessions whose transcripts the receiver can read.
	HeaderHookHost = "X-Copilot-Hook-Host"
	// HeaderHookDroppedTotal is how many payloads the sending machine's
	// spool has dropped over its bounds, ever.
	HeaderHookDroppedTotal = "X-Copilot-Hook-Dropped-Total"
	// HeaderHookSpool identifies the spool whose drops
	// HeaderHookDroppedTotal counts: one machine may have several (one per
	// user, or per spool directory), each with its own total.
	HeaderHookSpool = "X-Copilot-Hook-Spool"
)

// Reasons of receiver_copilot_hooks_rejected.
const (
	rejectMalformed   = "malformed"
	rejectUnknownType = "unknown_type"
	rejectTooLarge    = "too_large"
	rejectMethod      = "method"
	rejectNotFound    = "not_found"
	rejectTimeout     = "timeout"
	// A number of the payload's usage object breaks the usage rule
	// (negative, not whole, above 2^53).
	rejectInvalidUsage = "invalid_usage"
)

// hookServer is the hook endpoint of one receiver.
type hookServer struct {
	cfg   *HooksConfig
	r     *copilotReceiver
	tel   *metadata.TelemetryBuilder
	log   *zap.Logger
	index *transcriptIndex

	srv  *http.Server
	addr string // where it listens
	done chan struct{}

	// peers is the tier this endpoint is a replica of (hooks::peers), or
	// nil.
	peers *peerRing

	// locks orders the payloads of each session: a session's facts are
	// built and delivered in the order its payloads arrive, while other
	// sessions' payloads are handled at the same time.
	locks    sessionLocks
	dedup    *lru.Cache[string, *delivery] // by session and payload id
	sessions *lru.Cache[string, *hookSession]
	hooks    *hookFacts
	signals  []pipeline.Signal
	hostname string
	// metricsOrder, in received mode (metric_timestamps), holds the metrics
	// of one payload from taking their read window to their delivery, so
	// that each series gets its points in the order of their stamps (a
	// delta_to_cumulative drops a point older than the last).
	metricsOrder *sync.Mutex

	droppedMu sync.Mutex
	dropped   map[string]int64 // drop totals forwarders reported, by storage key (droppedKey)

	// resolver and pricer attribute and price the usage query's answers
	// as the chargeback processor does.
	resolver *attribution.Resolver
	pricer   *pricing.Pricer
}

// delivery is what became of one payload: its facts, and which signals
// have accepted them. A payload refused by one pipeline is answered 503;
// when it comes again only the signals that did not take it are offered
// it, so that nothing is counted twice. Which signals took it is also
// kept in storage with its session (session.HookTracker.Record), for a
// payload sent again after a restart. Used with its session's lock held.
type delivery struct {
	facts *session.Facts
	done  map[string]bool
}

func newHookServer(r *copilotReceiver, tel *metadata.TelemetryBuilder) (*hookServer, error) {
	cfg := r.cfg.Hooks.Get()
	dedup, err := lru.New[string, *delivery](cfg.DedupEntries)
	if err != nil {
		return nil, err
	}
	sessions, err := lru.New[string, *hookSession](cfg.MaxSessions)
	if err != nil {
		return nil, err
	}
	h := &hookServer{
		cfg: cfg, r: r, tel: tel, log: r.set.Logger,
		index:    newTranscriptIndex(r.cfg.SessionState.Include, r.cfg.SessionState.Exclude, r.tail.Sessions()),
		dedup:    dedup,
		sessions: sessions,
		signals:  r.signals(newMetricsBuilder(r.cfg, r.metricsB.resources, r.set.BuildInfo.Version, r.metricsB.clock)),
	}
	agents, err := lru.New[string, string](cfg.MaxSessions)
	if err != nil {
		return nil, err
	}
	h.hooks = &hookFacts{
		sessions: sessions, agents: agents,
		transcripts: indexedTranscripts{index: h.index},
		mode:        cfg.Accounting,
		opts: session.HookOptions{
			Options: session.Options{CaptureContent: r.cfg.CaptureContent},
			Store:   r.client,
			Unreadable: func(id string, err error) {
				h.log.Warn("Stored hook usage is not readable; counting the session's usage from its next payload on", zap.String("session", id), zap.Error(err))
			},
		},
	}
	h.hostname, _ = os.Hostname()
	if h.resolver, err = attribution.New(cfg.Chargeback.Attribution, r.set.Logger); err != nil {
		return nil, fmt.Errorf("hooks::chargeback::attribution: %w", err)
	}
	if h.pricer, err = pricing.New(cfg.Chargeback.Pricing); err != nil {
		return nil, fmt.Errorf("hooks::chargeback::pricing: %w", err)
	}
	h.dropped = map[string]int64{}
	if r.cfg.MetricTimestamps == TimestampsReceived {
		h.metricsOrder = &sync.Mutex{}
	}
	return h, nil
}

func (h *hookServer) start(ctx context.Context, host component.Host) error {
	if h.cfg.Peers != nil {
		ring, err := newPeerRing(ctx, h.cfg.Peers)
		if err != nil {
			return err
		}
		h.peers = ring
	}
	ln, err := h.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("hooks::endpoint: cannot listen on %q: %w", h.cfg.NetAddr.Endpoint, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(hooksPath, h.handleHook)
	mux.HandleFunc(hooksPath+"/{type}", h.handleHook)
	mux.HandleFunc(healthPath, h.handleHealth)
	if h.cfg.UsageQuery {
		mux.HandleFunc(sessionsPath, h.handleSessions)
		mux.HandleFunc(sessionsPath+"/{id}/usage", h.handleUsage)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		h.reject(w, http.StatusNotFound, rejectNotFound, "no such path; hook payloads go to POST "+hooksPath+"/{hookType}")
	})
	guard := newSiteGuard(h.cfg, ln.Addr().String())
	h.srv, err = h.cfg.ToServer(ctx, host.GetExtensions(), h.r.set.TelemetrySettings, h.guard(guard, mux))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("hooks::endpoint: %w", err)
	}
	h.addr = ln.Addr().String()
	h.done = make(chan struct{})
	go h.serve(host, ln)
	h.resolver.Start(ctx) // reloads the mapping file, as the processor does
	h.log.Info("Hook endpoint listening", zap.String("endpoint", ln.Addr().String()))
	return nil
}

// serve serves ln until shutdown. An endpoint that stops serving for any
// other reason is a fatal error of the component, reported to the host as
// the otlp receiver reports its own: hooks would otherwise go unanswered
// while the collector looks healthy.
func (h *hookServer) serve(host component.Host, ln net.Listener) {
	defer close(h.done)
	if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(fmt.Errorf("hook endpoint %s: %w", h.addr, err)))
	}
}

func (h *hookServer) shutdown(ctx context.Context) error {
	if h.resolver != nil {
		h.resolver.Shutdown()
	}
	if h.srv == nil {
		return nil
	}
	err := h.srv.Shutdown(ctx)
	<-h.done
	if h.peers != nil {
		h.peers.close()
	}
	return err
}

// response is the JSON body of every answer.
type response struct {
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *hookServer) reject(w http.ResponseWriter, status int, reason, msg string) {
	h.tel.ReceiverCopilotHooksRejected.Add(bg, 1, metric.WithAttributes(attribute.String(semconv.AttrReason, reason)))
	writeJSON(w, status, response{Error: msg})
}

func (h *hookServer) handleHealth(w http.ResponseWriter, r *http.Request) {
	if !h.queryMethod(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, response{Status: "ok"})
}

func (h *hookServer) handleHook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.reject(w, http.StatusMethodNotAllowed, rejectMethod, "hook payloads are sent with POST")
		return
	}
	typeHint := r.PathValue("type")
	if typeHint != "" {
		if _, ok := hook.Canonical(typeHint); !ok {
			h.reject(w, http.StatusBadRequest, rejectUnknownType, fmt.Sprintf("%q in the URL is not a hook type; use one of %s", typeHint, strings.Join(hook.Types, ", ")))
			return
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.reject(w, http.StatusRequestEntityTooLarge, rejectTooLarge, fmt.Sprintf("the payload is larger than hooks.max_request_body_size (%d bytes)", tooLarge.Limit))
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// hooks.read_timeout passed: the server closes the
			// connection after this answer.
			h.reject(w, http.StatusRequestTimeout, rejectTimeout, fmt.Sprintf("the payload did not arrive within hooks.read_timeout (%v)", h.cfg.ReadTimeout))
			return
		}
		h.reject(w, http.StatusBadRequest, rejectMalformed, "the payload could not be read: "+err.Error())
		return
	}
	p, err := hook.Decode(body, typeHint, hook.Options{CaptureContent: h.r.cfg.CaptureContent})
	if err != nil {
		reason := rejectMalformed
		switch {
		case errors.Is(err, hook.ErrUnknownType):
			reason = rejectUnknownType
		case errors.Is(err, hook.ErrInvalidUsage):
			reason = rejectInvalidUsage
		}
		h.reject(w, http.StatusBadRequest, reason, err.Error())
		return
	}
	if h.passToOwner(w, r, body, p.OwnerSessionID(nil)) {
		return
	}
	host := r.Header.Get(HeaderHookHost)
	if n, err := strconv.ParseInt(r.Header.Get(HeaderHookDroppedTotal), 10, 64); err == nil && n > 0 {
		h.forwarderDropped(host, r.Header.Get(HeaderHookSpool), n)
	}
	id := payloadID(r.Header.Get(HeaderHookID), p.Type, body)

	status, err := h.process(r.Context(), id, &p, host != "" && host == h.hostname)
	switch {
	case err == nil:
		h.tel.ReceiverCopilotHooksAccepted.Add(bg, 1, metric.WithAttributes(attribute.String(semconv.AttrCopilotHookType, p.Type)))
		writeJSON(w, http.StatusAccepted, response{Status: status})
	default:
		w.Header().Set("Retry-After", strconv.Itoa(int(h.cfg.RetryAfter/time.Second)))
		writeJSON(w, http.StatusServiceUnavailable, response{Error: "the pipeline refused the data for now; send it again later: " + err.Error()})
	}
}

// forwarderDropped counts the payloads a forwarder reports it dropped, as
// the increase of its spool's running total (kept in storage, so a
// restart does not count them again). A total is its spool's (host and
// spool id); one without a spool id, from a forwarder older than the
// header, is its host's, as such forwarders' totals were always kept.
//
// The first total of a spool on a host that has a host-wide total stored
// (counted before its forwarder sent spool ids) counts only what it has
// beyond that total: the host-wide total is the highest any of the host's
// spools reported, so a drop counted then is never counted again; a
// spool whose total was below it counts its drops from its first total
// on.
func (h *hookServer) forwarderDropped(host, spool string, total int64) {
	h.droppedMu.Lock()
	defer h.droppedMu.Unlock()
	if len(host) > 256 {
		host = host[:256]
	}
	if !hook.ValidForwarderID(spool) {
		spool = ""
	}
	key := droppedKey(host, spool)
	prev, known := h.loadDropped(key)
	if !known && spool != "" {
		if hostTotal, ok := h.loadDropped(droppedKey(host, "")); ok {
			prev = min(hostTotal, total)
		}
	}
	if total > prev {
		h.tel.ReceiverCopilotHooksForwarderDropped.Add(bg, total-prev)
		h.log.Warn("A hook forwarder dropped payloads from its full spool while the collector was unreachable", zap.String("host", host), zap.String("spool", spool), zap.Int64("dropped", total-prev), zap.Int64("total", total))
		prev = total
	} else if known {
		return
	}
	// A new total, or a spool's first, whose starting point must survive a
	// restart.
	h.cacheDropped(key, prev)
	if h.r.client != nil {
		if err := h.r.client.Set(context.Background(), key, []byte(strconv.FormatInt(prev, 10))); err != nil {
			h.log.Warn("Could not save the forwarder's drop count", zap.Error(err))
		}
	}
}

// droppedKey is the storage key of a drop total: a host's (a forwarder
// without a spool id) or a spool's.
func droppedKey(host, spool string) string {
	if spool == "" {
		return "hooks:dropped:" + host
	}
	return "hooks:spool-dropped:" + spool + ":" + host
}

// loadDropped returns the drop total last counted under key, from memory
// or storage; ok is false when there is none. Called with droppedMu held.
func (h *hookServer) loadDropped(key string) (int64, bool) {
	if n, ok := h.dropped[key]; ok {
		return n, true
	}
	if h.r.client == nil {
		return 0, false
	}
	b, err := h.r.client.Get(context.Background(), key)
	if err != nil || b == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	h.cacheDropped(key, n)
	return n, true
}

// maxDropTotalsInMemory bounds the drop totals kept in memory: one per
// forwarder's spool that reported drops, and a spool id is whatever a
// client sends. Past it an arbitrary one is let go; with storage it is
// read again when its spool reports, without storage its spool's next
// report counts its whole total again, as after a restart.
var maxDropTotalsInMemory = 16384

// cacheDropped keeps a drop total in memory. Called with droppedMu held.
func (h *hookServer) cacheDropped(key string, n int64) {
	if _, ok := h.dropped[key]; !ok && len(h.dropped) >= maxDropTotalsInMemory {
		for k := range h.dropped {
			delete(h.dropped, k)
			break
		}
	}
	h.dropped[key] = n
}

// payloadID is the id a payload is deduplicated by: the forwarder's id, or
// a hash of the payload's bytes for clients that send none (the CLI's
// payloads carry millisecond timestamps, so equal bytes are the same
// payload).
func payloadID(header, typ string, body []byte) string {
	if header != "" && len(header) <= 128 {
		return "id:" + header
	}
	sum := sha256.Sum256(body)
	return "sha256:" + typ + ":" + hex.EncodeToString(sum[:])
}

// process turns a payload into facts once and offers them to every
// pipeline that has not accepted them yet. Usage is worked out again at
// each attempt, from the usage accepted so far (see
// session.HookTracker.Usage). Payloads of one session are processed one at
// a time, in the order they take its lock; payloads of different sessions
// at the same time.
func (h *hookServer) process(ctx context.Context, id string, p *hook.Payload, local bool) (string, error) {
	h.hooks.own(p)
	unlock := h.locks.lock(p.SessionID)
	defer unlock()
	if p.Time.IsZero() {
		p.Time = time.Now() // on every attempt: usage is worked out at each
	}
	s := h.hooks.session(p.SessionID)
	key := p.SessionID + "\x00" + id
	d, seen := h.dedup.Get(key)
	if !seen {
		// Not in memory: delivered before a restart (or an eviction) to
		// the signals the session's storage says.
		pending, found, err := s.acct.Delivered(ctx, id)
		if err != nil {
			return "", err
		}
		d = &delivery{done: map[string]bool{}}
		if found {
			for _, sig := range h.signals {
				d.done[sig.Name] = !slices.Contains(pending, sig.Name)
			}
		}
	}
	if pipeline.Complete(h.signals, d.done) {
		h.tel.ReceiverCopilotHooksDuplicate.Add(bg, 1)
		return "duplicate", nil
	}
	if !seen {
		d.facts = h.hooks.facts(s, p, local)
		h.dedup.Add(key, d)
	}
	uf, next, err := h.hooks.usage(s, p)
	if err != nil {
		return "", err
	}
	facts := d.facts
	if uf != nil {
		merged := *d.facts
		merged.Usage = uf.Usage
		merged.CodeChanges = uf.CodeChanges
		merged.Summaries = uf.Summaries
		facts = &merged
	}
	empty := facts.Len() == 0
	// record keeps, in one write, which signals took the payload and the
	// usage the metrics counted: at the end, or when a signal refuses.
	record := func() error {
		if !d.done[signalMetrics] && !pipeline.Complete(h.signals, d.done) {
			// Usage is accepted once the metrics counted it (or every
			// signal took it, when there are no metrics).
			next = nil
		}
		return h.hooks.record(s, next, id, h.signals, d.done)
	}
	for _, sig := range h.signals {
		if d.done[sig.Name] {
			continue
		}
		if err := h.consume(ctx, sig, facts); err != nil {
			if !pipeline.RejectedForGood(err) {
				h.tel.ReceiverCopilotHooksRefused.Add(bg, 1, metric.WithAttributes(attribute.String(semconv.AttrSignal, sig.Name)))
				if rerr := record(); rerr != nil {
					return "", errors.Join(err, rerr)
				}
				return "", err
			}
			h.log.Error("The pipeline rejected hook data for good; it is dropped", zap.String("signal", sig.Name), zap.String("hook", p.Type), zap.Error(err))
			h.tel.ReceiverCopilotBatchesDropped.Add(bg, 1, metric.WithAttributes(attribute.String(semconv.AttrSignal, sig.Name)))
		}
		d.done[sig.Name] = true
	}
	if err := record(); err != nil {
		return "", err
	}
	d.facts = &session.Facts{} // delivered: keep only the id
	if empty {
		return "ignored", nil
	}
	return "accepted", nil
}

// consume offers facts to one signal; in received mode the metrics of one
// payload at a time (metricsOrder).
func (h *hookServer) consume(ctx context.Context, sig pipeline.Signal, facts *session.Facts) error {
	if sig.Name == signalMetrics && h.metricsOrder != nil {
		h.metricsOrder.Lock()
		defer h.metricsOrder.Unlock()
	}
	return sig.Consume(ctx, facts)
}

// sessionLocks are the locks of the sessions whose payloads are being
// handled, made on demand and dropped when no request holds or waits for
// them: as many as there are requests in flight, whatever the number of
// sessions.
type sessionLocks struct {
	mu sync.Mutex
	m  map[string]*sessionLock
}

type sessionLock struct {
	mu   sync.Mutex
	refs int // requests holding or waiting for it
}

// lock takes the lock of a session and returns what releases it.
func (l *sessionLocks) lock(id string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*sessionLock{}
	}
	sl := l.m[id]
	if sl == nil {
		sl = &sessionLock{}
		l.m[id] = sl
	}
	sl.refs++
	l.mu.Unlock()
	sl.mu.Lock()
	return func() {
		sl.mu.Unlock()
		l.mu.Lock()
		if sl.refs--; sl.refs == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
}

// waiting is how many requests hold or wait for the lock of a session.
func (l *sessionLocks) waiting(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sl := l.m[id]; sl != nil {
		return sl.refs
	}
	return 0
}

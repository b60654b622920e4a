package notifyexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/notifyexporter"

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/notifyexporter/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/crossingrecord"
	"github.com/otelcol-copilot/otelcol-copilot/internal/retryafter"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
)

// eventCrossing is the event name of the chargeback processor's budget
// crossing records.
const eventCrossing = crossingrecord.EventName

// Crossing and TopSession are a crossing as templates and webhooks see it.
type (
	Crossing   = crossingrecord.Crossing
	TopSession = crossingrecord.TopSession
)

const (
	// headerSignature carries sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">.
	headerSignature = "X-Otelcol-Copilot-Signature"
	// headerTimestamp carries the Unix time, in seconds, that was signed.
	headerTimestamp = "X-Otelcol-Copilot-Timestamp"
	// defaultTimeout bounds a request when a destination sets no timeout.
	defaultTimeout = 10 * time.Second
	// maxAnswer bounds what is read of an answer (for the log line).
	maxAnswer = 512
)

type notifier struct {
	cfg   *Config
	set   exporter.Settings
	dests []*destination
	now   func() time.Time

	// minCost and sessionTmpl: sessions::min_cost and its template;
	// sessions is false when min_cost is not set.
	sessions    bool
	minCost     money.Amount
	sessionTmpl *template.Template

	tel    *metadata.TelemetryBuilder
	client storage.Client
	// mu makes a push's check, send and mark of each crossing one step:
	// two pushes never send the same crossing to the same destination.
	mu sync.Mutex
}

type destination struct {
	Destination
	tmpl      *template.Template
	transport *http.Transport
	http      *http.Client
	attrs     metric.MeasurementOption
}

func newNotifier(cfg *Config, set exporter.Settings) (*notifier, error) {
	n := &notifier{cfg: cfg, set: set, now: time.Now}
	if cfg.Sessions.MinCost != "" {
		m, err := money.ParseDecimal(cfg.Sessions.MinCost)
		if err != nil {
			return nil, err // Validate has said it
		}
		tmpl, err := parseSessionTemplate(cfg.Sessions)
		if err != nil {
			return nil, err
		}
		n.sessions, n.minCost, n.sessionTmpl = true, m, tmpl
	}
	for _, d := range cfg.Destinations {
		tmpl, err := parseTemplate(d)
		if err != nil {
			return nil, err // Validate has said it
		}
		timeout := d.Timeout
		if timeout == 0 {
			timeout = defaultTimeout
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		n.dests = append(n.dests, &destination{
			Destination: d,
			tmpl:        tmpl,
			transport:   tr,
			http:        &http.Client{Transport: tr, Timeout: timeout},
			attrs:       metric.WithAttributes(attribute.String("destination", d.Name)),
		})
	}
	return n, nil
}

func (n *notifier) start(ctx context.Context, host component.Host) error {
	tel, err := metadata.NewTelemetryBuilder(n.set.TelemetrySettings)
	if err != nil {
		return err
	}
	n.tel = tel
	if n.cfg.Storage != nil {
		c, err := storageclient.Get(ctx, host, "storage", *n.cfg.Storage, component.KindExporter, n.set.ID)
		if err != nil {
			return err
		}
		n.client = c
	} else {
		n.set.Logger.Warn("storage is not set: the crossings each destination accepted are remembered in memory only, and a restart can send a crossing emitted again a second time")
		n.client = storageclient.NewMemory()
	}
	names := make([]string, len(n.dests))
	for i, d := range n.dests {
		names[i] = d.Kind + ":" + d.Name
	}
	n.set.Logger.Info("Sending budget crossings", zap.Strings("destinations", names))
	return nil
}

func (n *notifier) shutdown(ctx context.Context) error {
	for _, d := range n.dests {
		d.transport.CloseIdleConnections()
	}
	var err error
	if n.client != nil {
		err = n.client.Close(ctx)
		n.client = nil
	}
	if n.tel != nil {
		n.tel.Shutdown()
		n.tel = nil
	}
	return err
}

// notice is one message to send to every destination once: a budget
// crossing, or a session over sessions::min_cost.
type notice struct {
	// key identifies it in the stored record of what each destination
	// accepted: the crossing id, or "session/" and the session id.
	key string
	// what and id name it in the log: "budget crossing", crossing.id.
	what, idKey, id string
	payload         func(d *destination) ([]byte, error)
}

// notices are the crossings and, when configured, the costly sessions in
// ld.
func (n *notifier) notices(ctx context.Context, ld plog.Logs) []notice {
	var out []notice
	for _, c := range crossingrecord.All(ld) {
		out = append(out, notice{key: c.ID, what: "budget crossing", idKey: "crossing.id", id: c.ID,
			payload: func(d *destination) ([]byte, error) { return d.payload(c) }})
	}
	if !n.sessions {
		return out
	}
	var since time.Time
	if n.cfg.Sessions.MaxAge > 0 {
		since = n.now().Add(-n.cfg.Sessions.MaxAge)
	}
	sessions, unpriced, old := sessionsOver(ld, n.minCost, since)
	if unpriced > 0 {
		n.tel.ExporterNotifyUnpriced.Add(ctx, int64(unpriced))
		n.set.Logger.Warn("Session summaries without a cost were not checked against sessions::min_cost: put the chargeback processor before this exporter",
			zap.Int("summaries", unpriced))
	}
	if old > 0 {
		n.tel.ExporterNotifySessionsTooOld.Add(ctx, int64(old))
		n.set.Logger.Info("Costly sessions that ended before sessions::max_age (history read at a first start, or after an outage) send no message",
			zap.Int("sessions", old), zap.Duration("max_age", n.cfg.Sessions.MaxAge))
	}
	for _, s := range sessions {
		out = append(out, notice{key: "session/" + s.ID, what: "session", idKey: "session.id", id: s.ID,
			payload: func(d *destination) ([]byte, error) { return d.sessionPayload(n.sessionTmpl, s) }})
	}
	return out
}

// pushLogs sends every budget crossing in ld (and, with sessions::min_cost,
// every session summary at or over it) to every destination that has not
// accepted it yet, and records its key once the destination answered 2xx:
// one message per crossing id, and per session. Other records are
// ignored. A 4xx answer other than 408 and 429 drops the message (counted,
// logged); anything else is returned as retryable, 429 and 503 with their
// Retry-After, and the retry sends only what was not accepted.
func (n *notifier) pushLogs(ctx context.Context, ld plog.Logs) error {
	notices := n.notices(ctx, ld)
	if len(notices) == 0 {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	var wait time.Duration
	for _, c := range notices {
		for _, d := range n.dests {
			key := "sent/" + d.Name + "/" + c.key
			done, err := n.client.Get(ctx, key)
			if err != nil {
				return fmt.Errorf("storage: %w", err)
			}
			if done != nil {
				n.tel.ExporterNotifyDuplicates.Add(ctx, 1, d.attrs)
				continue
			}
			body, err := c.payload(d)
			if err != nil {
				n.tel.ExporterNotifyDropped.Add(ctx, 1, d.attrs, metric.WithAttributes(attribute.String("reason", "template")))
				n.set.Logger.Error("Dropped a "+c.what+" message: its template failed", zap.String("destination", d.Name), zap.String(c.idKey, c.id), zap.Error(err))
				continue
			}
			res := d.send(ctx, body, n.now())
			switch {
			case res.err == nil:
				if err := n.client.Set(ctx, key, []byte(n.now().UTC().Format(time.RFC3339))); err != nil {
					// Sent but not remembered: a retry sends it again.
					return fmt.Errorf("storage: %w", err)
				}
				n.tel.ExporterNotifySent.Add(ctx, 1, d.attrs)
			case res.permanent:
				n.tel.ExporterNotifyDropped.Add(ctx, 1, d.attrs, metric.WithAttributes(attribute.String("reason", "rejected")))
				n.set.Logger.Error("Dropped a "+c.what+" message: the destination refused it", zap.String("destination", d.Name), zap.String(c.idKey, c.id), zap.Error(res.err))
			default:
				errs = append(errs, fmt.Errorf("destination %q: %w", d.Name, res.err))
				wait = max(wait, res.retryAfter)
			}
		}
	}
	err := errors.Join(errs...)
	if err != nil && wait > 0 {
		return exporterhelper.NewThrottleRetry(err, wait)
	}
	return err
}

// result is the outcome of one request.
type result struct {
	err        error
	permanent  bool          // not worth retrying: drop
	retryAfter time.Duration // the answer's Retry-After, if any
}

func (d *destination) send(ctx context.Context, body []byte, now time.Time) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(d.URL), bytes.NewReader(body))
	if err != nil {
		// Its message would hold the URL, a secret.
		return result{err: errors.New("the url does not make a request"), permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "otelcol-copilot-notify")
	if d.Secret != "" {
		ts := strconv.FormatInt(now.Unix(), 10)
		req.Header.Set(headerTimestamp, ts)
		req.Header.Set(headerSignature, "sha256="+sign(string(d.Secret), ts, body))
	}
	resp, err := d.http.Do(req)
	if err != nil {
		// The URL is a secret; *url.Error would print it.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap()
		}
		return result{err: fmt.Errorf("request failed: %w", err)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return result{}
	}
	err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(answer)))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
		return result{err: err, retryAfter: retryafter.Parse(resp.Header.Get("Retry-After"), now)}
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500:
		return result{err: err}
	default:
		return result{err: err, permanent: true}
	}
}

// sign is the hex HMAC-SHA256, keyed with secret, of "<ts>.<body>".
func sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

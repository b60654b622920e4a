package copilotreceiver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// durableStorage is a storage extension whose writes last as soon as they
// return, as file_storage's do: a receiver dropped without a shutdown (a
// kill) leaves in it everything it wrote, and the next receiver reads it.
type durableStorage struct{ client *storageclient.Memory }

func (d durableStorage) Start(context.Context, component.Host) error { return nil }
func (d durableStorage) Shutdown(context.Context) error              { return nil }
func (d durableStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return d.client, nil
}

var _ storage.Extension = durableStorage{}

// crashHarness is a harness on durable storage whose run can be dropped
// without a shutdown.
func crashHarness(t *testing.T) *harness {
	h := newHarness(t)
	id := component.MustNewIDWithName("durable", "hooks")
	h.cfg.SessionState.Storage = &id
	h.exts = map[component.ID]extension.Extension{id: durableStorage{client: storageclient.NewMemory()}}
	return h
}

// crash starts a receiver on the harness's storage and returns its URL;
// the receiver is never shut down while the test runs, as a killed
// collector is not, and its endpoint is closed at the end of the test.
func (h *harness) crashable(s *sink, edit func(*HooksConfig)) string {
	url, stop := h.startHooks(s, edit)
	tel := h.tel
	h.t.Cleanup(func() {
		h.tel = tel // stop shuts down the harness's telemetry: this run's
		stop()
	})
	return url
}

// counted is what a sink received: metric points, log records, spans.
func counted(s *sink) (points, records, spans int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, md := range s.metrics {
		points += md.DataPointCount()
	}
	for _, ld := range s.logs {
		records += ld.LogRecordCount()
	}
	for _, td := range s.traces {
		spans += td.SpanCount()
	}
	return points, records, spans
}

// restartPayloads make every signal: a tool call (span, tool-call and
// invocation points) and a session's end (its lifecycle, end and summary
// records), each with the usage the forwarder adds (usage points).
var restartPayloads = []struct{ typ, id, body string }{
	{"postToolUse", "p-tool", `{"sessionId":"s-crash","timestamp":1795363650000,"cwd":"/home/dev/src/payments-api","toolName":"bash","toolArgs":{"command":"go test ./..."},"toolResult":{"resultType":"success","textResultForLlm":"ok"},"usage":{"totalNanoAiu":1000,"modelMetrics":{"gpt-4.1":{"requests":{"count":2,"userInitiated":1},"usage":{"inputTokens":1000,"outputTokens":50},"totalNanoAiu":1000}}}}`},
	{"sessionEnd", "p-end", `{"sessionId":"s-crash","timestamp":1795363651000,"cwd":"/home/dev/src/payments-api","reason":"complete","usage":{"totalNanoAiu":2000,"modelMetrics":{"gpt-4.1":{"requests":{"count":3,"userInitiated":1},"usage":{"inputTokens":1500,"outputTokens":80},"totalNanoAiu":2000}}}}`},
}

// TestHookDedupSurvivesCrash: payloads counted, then the collector killed
// before the forwarder got its answers (it sends them again), then a new
// collector on the same storage: the payloads sent again are answered
// "duplicate" and nothing is counted twice, in any signal (issue 12).
func TestHookDedupSurvivesCrash(t *testing.T) {
	hooksOnly := func(c *HooksConfig) { c.Accounting = AccountingHooks }
	h := crashHarness(t)
	first := &sink{}
	url := h.crashable(first, hooksOnly)
	for _, p := range restartPayloads {
		a := post(t, url+hooksPath+"/"+p.typ, []byte(p.body), HeaderHookID, p.id)
		require.Equal(t, http.StatusAccepted, a.Code, a.Error)
		require.Equal(t, "accepted", a.Status)
	}
	points, records, spans := counted(first)
	require.Positive(t, points, "metric points")
	require.Positive(t, records, "log records")
	require.Positive(t, spans, "spans")

	// Killed: the first receiver is left as it was. The forwarder sends
	// both payloads again to the next collector.
	second := &sink{}
	url = h.crashable(second, hooksOnly)
	for _, p := range restartPayloads {
		a := post(t, url+hooksPath+"/"+p.typ, []byte(p.body), HeaderHookID, p.id)
		require.Equal(t, http.StatusAccepted, a.Code, a.Error)
		assert.Equal(t, "duplicate", a.Status, p.id)
	}
	points, records, spans = counted(second)
	assert.Zero(t, points, "metric points counted again after the restart")
	assert.Zero(t, records, "log records counted again after the restart")
	assert.Zero(t, spans, "spans counted again after the restart")

	// A payload the first collector did not see is counted, from the usage
	// accepted before the crash.
	a := post(t, url+hooksPath+"/agentStop", []byte(`{"sessionId":"s-crash","timestamp":1795363652000,"usage":{"totalNanoAiu":2500,"modelMetrics":{"gpt-4.1":{"requests":{"count":4,"userInitiated":1},"usage":{"inputTokens":1700,"outputTokens":90},"totalNanoAiu":2500}}}}`), HeaderHookID, "p-new")
	require.Equal(t, "accepted", a.Status)
	assert.Equal(t, int64(200), sumWhere(second.allMetrics(), mTokens, aTokenType, "input"))
}

// TestHookPartialDeliverySurvivesCrash: the metrics took a payload, the
// logs refused it (503), and the collector was killed before the payload
// came again. The next collector gives it to the logs and the traces only.
func TestHookPartialDeliverySurvivesCrash(t *testing.T) {
	hooksOnly := func(c *HooksConfig) { c.Accounting = AccountingHooks }
	h := crashHarness(t)
	first := &sink{}
	first.blockLogs.Store(true)
	url := h.crashable(first, hooksOnly)
	end := restartPayloads[1]
	a := post(t, url+hooksPath+"/"+end.typ, []byte(end.body), HeaderHookID, end.id)
	require.Equal(t, http.StatusServiceUnavailable, a.Code)
	points, records, spans := counted(first)
	require.Positive(t, points)
	require.Zero(t, records)
	require.Zero(t, spans)

	second := &sink{}
	url = h.crashable(second, hooksOnly)
	a = post(t, url+hooksPath+"/"+end.typ, []byte(end.body), HeaderHookID, end.id)
	require.Equal(t, http.StatusAccepted, a.Code, a.Error)
	points, records, spans = counted(second)
	assert.Zero(t, points, "metrics the first collector delivered were delivered again")
	assert.Positive(t, records, "the logs refused before the crash")
	assert.Equal(t, 1, second.summaries())
	// Its usage was accepted with the metrics: the usage spans, worked out
	// again from the usage accepted, are empty, as in one process.
	assert.Zero(t, spans)

	a = post(t, url+hooksPath+"/"+end.typ, []byte(end.body), HeaderHookID, end.id)
	assert.Equal(t, "duplicate", a.Status)
}

// holder is a metrics consumer that holds the first batch it is given
// until release is closed, and takes the others at once.
type holder struct {
	entered atomic.Int64
	release chan struct{}
}

func (x *holder) consumer() consumer.Metrics {
	c, _ := consumer.NewMetrics(func(ctx context.Context, _ pmetric.Metrics) error {
		if x.entered.Add(1) == 1 {
			select {
			case <-x.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	return c
}

// runHeld runs the harness's receiver with the hook endpoint, its metrics
// going to x, and returns the endpoint's URL; it stops with the test.
func (h *harness) runHeld(x *holder) string {
	h.t.Helper()
	hc := defaultHooksConfig()
	hc.NetAddr.Endpoint = "127.0.0.1:0"
	h.cfg.Hooks = configoptional.Some(hc)
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, "test")
	ctx := context.Background()
	m, err := NewFactory().CreateMetrics(ctx, set, h.cfg, x.consumer())
	require.NoError(h.t, err)
	h.recv = m.(*copilotReceiver)
	require.NoError(h.t, m.Start(ctx, h.storageHost()))
	h.t.Cleanup(func() { require.NoError(h.t, m.Shutdown(ctx)) })
	return "http://" + h.recv.hooks.addr
}

// TestHookSessionsInParallel: while a payload of one session is held in
// the pipeline, the next payload of the same session waits for it, and a
// payload of another session goes through; the held one, then the one
// that waited, follow.
func TestHookSessionsInParallel(t *testing.T) {
	h := newHarness(t)
	x := &holder{release: make(chan struct{})}
	url := h.runHeld(x)
	answers := make(chan string, 3)
	var wg sync.WaitGroup
	send := func(name, sid string, ms int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"sessionId":%q,"timestamp":%d,"cwd":"/w"}`, sid, 1795363650000+ms)
			req, _ := http.NewRequest(http.MethodPost, url+hooksPath+"/userPromptSubmitted", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(HeaderHookClient, "test")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- name + ": " + err.Error()
				return
			}
			_ = resp.Body.Close()
			answers <- fmt.Sprintf("%s:%d", name, resp.StatusCode)
		}()
	}
	defer wg.Wait()
	defer close(x.release) // also when the test fails half-way
	send("a1", "sess-a", 1)
	require.Eventually(t, func() bool { return x.entered.Load() == 1 }, 10*time.Second, time.Millisecond, "a1 reaches the pipeline")
	send("a2", "sess-a", 2)
	require.Eventually(t, func() bool { return h.recv.hooks.locks.waiting("sess-a") == 2 }, 10*time.Second, time.Millisecond, "a2 waits for a1")
	send("b", "sess-b", 3)
	select {
	case a := <-answers:
		require.Equal(t, "b:202", a, "a2 went on while a1 was in the pipeline")
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the payload of sess-b waited for sess-a's: payloads are handled one at a time")
	}
	assert.Equal(t, int64(2), x.entered.Load(), "a1 and b went into the pipeline, a2 waited")
	x.release <- struct{}{}
	// Answered in either order: a2 is processed once a1's lock is free,
	// which may be before a1's answer is written.
	assert.ElementsMatch(t, []string{"a1:202", "a2:202"}, []string{<-answers, <-answers})
	assert.Equal(t, int64(3), x.entered.Load())
}

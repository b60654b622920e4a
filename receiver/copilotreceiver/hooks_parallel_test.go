package copilotreceiver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// TestHookManySessionsAtOnce: payloads of many sessions posted at once,
// each session's in order, are each counted once: the usage of every
// session adds up to its last cumulative report. In received mode the
// metrics reach the pipeline in the order of their stamps, so that a
// delta_to_cumulative drops none as older than the last.
func TestHookManySessionsAtOnce(t *testing.T) {
	const sessions, perSession, clients = 40, 15, 16
	h := newHarness(t)
	h.cfg.MetricTimestamps = TimestampsReceived
	hc := defaultHooksConfig()
	hc.NetAddr.Endpoint = "127.0.0.1:0"
	hc.Accounting = AccountingHooks
	hc.MaxSessions = sessions / 4 // sessions leave the LRU and come back from storage
	h.cfg.Hooks = configoptional.Some(hc)

	var mu sync.Mutex
	var input int64
	var stamps []pcommon.Timestamp // the last stamp of each batch, as delivered
	mc, _ := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
		mu.Lock()
		defer mu.Unlock()
		input += sumWhere(md, mTokens, aTokenType, "input")
		var last pcommon.Timestamp
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Type() != pmetric.MetricTypeSum {
						continue
					}
					for _, dp := range m.Sum().DataPoints().All() {
						last = max(last, dp.Timestamp())
					}
				}
			}
		}
		stamps = append(stamps, last)
		return nil
	})
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, "test")
	ctx := context.Background()
	m, err := NewFactory().CreateMetrics(ctx, set, h.cfg, mc)
	require.NoError(t, err)
	h.recv = m.(*copilotReceiver)
	require.NoError(t, m.Start(ctx, h.storageHost()))
	defer func() { require.NoError(t, m.Shutdown(ctx)) }()
	url := "http://" + h.recv.hooks.addr + hooksPath + "/postToolUse"

	// Each client posts the payloads of its sessions, one session after
	// another, interleaved with the other clients.
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSession {
				for s := c; s < sessions; s += clients {
					body := fmt.Sprintf(`{"sessionId":"par-%d","timestamp":%d,"toolName":"bash","toolResult":{"resultType":"success"},"usage":{"modelMetrics":{"gpt-5":{"requests":{"count":%d},"usage":{"inputTokens":%d}}}}}`,
						s, 1795363650000+i, i+1, 100*(i+1))
					req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set(HeaderHookClient, "test")
					req.Header.Set(HeaderHookID, fmt.Sprintf("par-%d-%d", s, i))
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						errs <- err
						return
					}
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						errs <- fmt.Errorf("session %d payload %d: %s", s, i, resp.Status)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, int64(sessions*100*perSession), input, "each session's usage is its last report")
	for i := 1; i < len(stamps); i++ {
		require.Less(t, stamps[i-1], stamps[i], "batch %d reached the pipeline after a batch stamped later", i)
	}
}

package copilotreceiver

import (
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// statusHost is a host that keeps the status events components report.
type statusHost struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

func (h *statusHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
}

func (h *statusHost) reported() []*componentstatus.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*componentstatus.Event(nil), h.events...)
}

// brokenListener fails every Accept, as a listener whose socket went away.
type brokenListener struct{ err error }

func (l brokenListener) Accept() (net.Conn, error) { return nil, l.err }
func (brokenListener) Close() error                { return nil }
func (brokenListener) Addr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// TestHookServeErrorIsFatal: a hook endpoint that stops serving reports a
// fatal error to the host, as the otlp receiver does, instead of leaving
// the collector looking healthy with nobody answering hooks.
func TestHookServeErrorIsFatal(t *testing.T) {
	gone := errors.New("listener gone")
	host := &statusHost{Host: componenttest.NewNopHost()}
	h := &hookServer{srv: &http.Server{}, done: make(chan struct{}), addr: "127.0.0.1:4320", log: zap.NewNop()}
	h.serve(host, brokenListener{gone})
	<-h.done
	events := host.reported()
	require.Len(t, events, 1)
	assert.Equal(t, componentstatus.StatusFatalError, events[0].Status())
	assert.ErrorIs(t, events[0].Err(), gone)
	assert.ErrorContains(t, events[0].Err(), "hook endpoint 127.0.0.1:4320")

	// A shutdown is not an error.
	host = &statusHost{Host: componenttest.NewNopHost()}
	h = &hookServer{srv: &http.Server{}, done: make(chan struct{}), log: zap.NewNop()}
	require.NoError(t, h.srv.Close())
	h.serve(host, brokenListener{gone})
	assert.Empty(t, host.reported())
}

// TestFailedStartStopsWhatItStarted: when the hook endpoint cannot listen,
// the tailer already started is stopped and the storage client closed by
// Start itself, as the otlp receiver shuts down the server it had started;
// nothing is left running for a Shutdown that may never come.
func TestFailedStartStopsWhatItStarted(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	h := newHarness(t)
	h.write("s", readTestdata(t, billedSubagent))
	hc := defaultHooksConfig()
	hc.NetAddr.Endpoint = taken.Addr().String()
	h.cfg.Hooks = configoptional.Some(hc)
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, "test")
	r, err := NewFactory().CreateMetrics(t.Context(), set, h.cfg, (&sink{}).metricsConsumer())
	require.NoError(t, err)

	running := goleak.IgnoreCurrent()
	err = r.Start(t.Context(), h.storageHost())
	require.ErrorContains(t, err, "cannot listen")
	goleak.VerifyNone(t, running)
	saved, err := os.ReadDir(h.storage)
	require.NoError(t, err)
	assert.Len(t, saved, 1, "the storage client was closed (the test storage writes its file on Close)")
	require.NoError(t, r.Shutdown(t.Context()))
}

package copilotreceiver

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/zap"
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

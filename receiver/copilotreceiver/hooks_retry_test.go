package copilotreceiver

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHookRetryWithoutTimestamp: a payload without a timestamp is stamped
// when it is received, on every attempt: a retry after a 503 reports its
// usage at the time of the retry, not at time zero.
func TestHookRetryWithoutTimestamp(t *testing.T) {
	h := newHarness(t)
	s := &sink{}
	url, stop := h.startHooks(s, func(c *HooksConfig) { c.Accounting = AccountingHooks })
	defer stop()
	body := []byte(`{"sessionId":"s1","usage":{"modelMetrics":{"gpt-5":{"requests":{"count":1},"usage":{"inputTokens":100}}}}}`)
	s.refuseMetrics.Store(1)
	require.Equal(t, http.StatusServiceUnavailable, post(t, url+hooksPath+"/agentStop", body, HeaderHookID, "p1").Code)
	require.Equal(t, http.StatusAccepted, post(t, url+hooksPath+"/agentStop", body, HeaderHookID, "p1").Code)

	md := s.allMetrics()
	require.Equal(t, int64(100), sumWhere(md, mTokens, aTokenType, "input"))
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != mTokens {
					continue
				}
				for _, dp := range m.Sum().DataPoints().All() {
					assert.Positive(t, dp.Timestamp().AsTime().Unix(), "a point at time zero")
					assert.Positive(t, dp.StartTimestamp().AsTime().Unix(), "a point starting at time zero")
				}
			}
		}
	}
}

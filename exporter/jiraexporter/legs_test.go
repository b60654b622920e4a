package jiraexporter

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
)

// lastFields is the number field each issue was last written with, by
// issue key.
func lastFields(f *fakeJira) map[string]float64 {
	out := map[string]float64{}
	for _, q := range f.got() {
		if q.Method == http.MethodPut && !strings.Contains(q.Path, "/comment") {
			key := q.Path[strings.LastIndex(q.Path, "/")+1:]
			out[key] = q.Body["fields"].(map[string]any)["customfield_10100"].(float64)
		}
	}
	return out
}

// A session resumed on another branch has its next leg on another ticket.
// Each leg's summary carries the session's usage so far, so each ticket
// counts what its legs added: 2 credits on PAY-1, then 1 more on PAY-2,
// whatever order the summaries come in; with a leg on no ticket, the next
// ticket does not count it either.
func TestSessionResumedOnAnotherTicket(t *testing.T) {
	leg0 := summary{session: "s1", ticket: "PAY-1", nanoAIU: 2_000_000_000, input: 20, premium: 2.33}
	leg1 := summary{session: "s1", ticket: "PAY-2", leg: 1, nanoAIU: 3_000_000_000, input: 30, premium: 3}
	leg1Later := summary{session: "s1", ticket: "PAY-2", leg: 1, nanoAIU: 4_000_000_000, input: 40, premium: 4}
	for _, tt := range []struct {
		name    string
		batches [][]summary
		want    map[string]float64
	}{
		{"in order", [][]summary{{leg0}, {leg1}, {leg1Later}}, map[string]float64{"PAY-1": 2, "PAY-2": 2}},
		{"in one batch", [][]summary{{leg0, leg1}}, map[string]float64{"PAY-1": 2, "PAY-2": 1}},
		{"newer leg first", [][]summary{{leg1}, {leg0}}, map[string]float64{"PAY-1": 2, "PAY-2": 1}},
		{"replayed", [][]summary{{leg0, leg1}, {leg1, leg0}}, map[string]float64{"PAY-1": 2, "PAY-2": 1}},
		{"first leg on no ticket", [][]summary{{{session: "s1", ticket: "unattributed", nanoAIU: 2_000_000_000}}, {leg1}}, map[string]float64{"PAY-2": 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, url := newFakeJira(t, false)
			cfg := testConfig(url, false)
			cfg.Comment = false
			r := startExporter(t, cfg, storageclient.NewMemory())
			for _, b := range tt.batches {
				require.NoError(t, r.e.pushLogs(context.Background(), logsOf(b...)))
			}
			assert.Equal(t, tt.want, lastFields(f))
		})
	}
}

// The premium requests a resumed leg added, and the ticket's text, are
// exact decimals.
func TestSessionResumedOnAnotherTicketText(t *testing.T) {
	f, url := newFakeJira(t, false)
	cfg := testConfig(url, false)
	cfg.Comment = false
	cfg.Fields = Fields{Number: "customfield_10100", Value: valuePremiumRequests, Text: "customfield_10101", Template: "{{premium_requests}} premium requests, {{tokens}} tokens"}
	r := startExporter(t, cfg, storageclient.NewMemory())
	require.NoError(t, r.e.pushLogs(context.Background(), logsOf(
		summary{session: "s1", ticket: "PAY-1", nanoAIU: 1, input: 20, premium: 2.33},
		summary{session: "s1", ticket: "PAY-2", leg: 1, nanoAIU: 2, input: 30, premium: 3},
	)))
	texts := map[string]any{}
	for _, q := range f.got() {
		if q.Method == http.MethodPut {
			texts[q.Path[strings.LastIndex(q.Path, "/")+1:]] = q.Body["fields"].(map[string]any)["customfield_10101"]
		}
	}
	assert.Equal(t, map[string]any{"PAY-1": "2.33 premium requests, 20 tokens", "PAY-2": "0.67 premium requests, 10 tokens"}, texts)
}

// The summary that moves part of a session to another ticket fails to
// write the other ticket (a 502 before Jira applied it): the batch's
// retry writes it, because the session's legs are stored only once the
// tickets are written.
func TestSessionMovedRetriedAfterFailure(t *testing.T) {
	f, _ := newFakeJira(t, false)
	var failed atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/issue/PAY-2") && f.putsTo("PAY-2") > 0 && failed.CompareAndSwap(false, true) {
			http.Error(w, "bad gateway", http.StatusBadGateway) // not applied
			return
		}
		f.ServeHTTP(w, r)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0") // loopback only
	require.NoError(t, err)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)

	cfg := testConfig(srv.URL, false)
	cfg.Comment = false
	r := startExporter(t, cfg, storageclient.NewMemory())
	ctx := context.Background()
	// The newer leg first: PAY-2 has the session's 3 credits.
	require.NoError(t, r.e.pushLogs(ctx, logsOf(summary{session: "s1", ticket: "PAY-2", leg: 1, nanoAIU: 3_000_000_000, input: 30})))
	require.Equal(t, map[string]float64{"PAY-2": 3}, lastFields(f))
	// Leg 0 on PAY-1 takes 2 of them from PAY-2, whose write fails.
	leg0 := logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 2_000_000_000, input: 20})
	require.Error(t, r.e.pushLogs(ctx, leg0))
	require.NoError(t, r.e.pushLogs(ctx, leg0)) // the retry
	assert.Equal(t, map[string]float64{"PAY-1": 2, "PAY-2": 1}, lastFields(f))
}

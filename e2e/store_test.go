//go:build clie2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/service"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// thresholdTokens is where examples/hooks/credits-threshold.sh, installed
// as a postToolUse hook, notifies: the fake provider's calls are about 7,000
// tokens each, so a session passes it at its third call.
const thresholdTokens = 15000

// threshold is the Slack stand-in the threshold script posts to, and the
// script's marker directory.
type threshold struct {
	*httptest.Server
	state string
	mu    sync.Mutex
	texts []string
}

// installThreshold installs the example threshold script as a user-level
// postToolUse hook, the way its header says, posting to a Slack stand-in
// on loopback.
func (e *env) installThreshold() *threshold {
	e.t.Helper()
	th := &threshold{state: filepath.Join(e.out, "threshold")}
	th.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Text string `json:"text"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		th.mu.Lock()
		th.texts = append(th.texts, m.Text)
		th.mu.Unlock()
	}))
	e.t.Cleanup(th.Close)
	script, err := filepath.Abs("../examples/hooks/credits-threshold.sh")
	require.NoError(e.t, err)
	cmd := fmt.Sprintf("PATH=%s:$PATH THRESHOLD_TOKENS=%d THRESHOLD_STATE=%s SLACK_WEBHOOK_URL=%s %s",
		e.bin, thresholdTokens, th.state, th.URL, script)
	b, err := json.Marshal(map[string]any{"version": 1, "hooks": map[string]any{
		"postToolUse": []map[string]any{{"type": "command", "bash": cmd, "timeoutSec": 30}},
	}})
	require.NoError(e.t, err)
	require.NoError(e.t, os.WriteFile(filepath.Join(e.copilotHome, "hooks", "threshold.json"), b, 0o644))
	return th
}

// notified is the sessions the script posted about, by the message's
// session id.
func (th *threshold) notified() map[string]int {
	th.mu.Lock()
	defer th.mu.Unlock()
	out := map[string]int{}
	for _, text := range th.texts {
		f := strings.Fields(strings.TrimPrefix(text, "Copilot session "))
		if len(f) > 0 {
			out[f[0]]++
		}
	}
	return out
}

// orderedPayload is one accepted hook payload of a session, in the order
// the CLI fired it.
type orderedPayload struct {
	Type    string
	TS      int64
	Arrival int
	Usage   *session.UsageSummary
	Source  string
}

// sessionPayloads returns each session's accepted payloads ordered by the
// payload's timestamp, then by arrival (a payload sent again keeps its id
// and its first accepted arrival).
func (e *env) sessionPayloads() map[string][]orderedPayload {
	e.proxy.mu.Lock()
	defer e.proxy.mu.Unlock()
	seen := map[string]bool{}
	out := map[string][]orderedPayload{}
	for i, q := range e.proxy.requests {
		if q.Status/100 != 2 || seen[q.ID] {
			continue
		}
		seen[q.ID] = true
		var p struct {
			SessionID string `json:"sessionId"`
			Timestamp int64  `json:"timestamp"`
			Usage     *struct {
				session.UsageSummary
				Source string `json:"source"`
			} `json:"usage"`
		}
		require.NoError(e.t, json.Unmarshal(q.Body, &p))
		op := orderedPayload{Type: strings.TrimPrefix(q.Path, "/v1/hooks/"), TS: p.Timestamp, Arrival: i}
		if p.Usage != nil {
			u := p.Usage.UsageSummary
			op.Usage, op.Source = &u, p.Usage.Source
		}
		out[p.SessionID] = append(out[p.SessionID], op)
	}
	for _, ps := range out {
		slices.SortStableFunc(ps, func(a, b orderedPayload) int {
			if a.TS != b.TS {
				return int(a.TS - b.TS)
			}
			return a.Arrival - b.Arrival
		})
	}
	return out
}

// checkLiveUsage holds issue 15's promises on the real CLI's sessions:
// every postToolUse carries usage (the call that asked for the tool has
// finished), a session's usage never goes back from one hook to the next,
// the example threshold script notifies once, at the first postToolUse
// past its threshold, and the collector compared every session with the
// CLI's session store without a mismatch.
func (e *env) checkLiveUsage(ids []string, th *threshold) {
	t := e.t
	t.Helper()
	payloads := e.sessionPayloads()
	notified := th.notified()
	var crossed, postToolUses, fromStore int
	for _, id := range ids {
		ps := payloads[id]
		require.NotEmpty(t, ps, "no payload of %s", id)
		var last *session.UsageSummary
		var first *orderedPayload
		for i := range ps {
			p := &ps[i]
			if p.Type == "postToolUse" {
				postToolUses++
				if assert.NotNil(t, p.Usage, "%s: a postToolUse without usage", id) {
					assert.Positive(t, p.Usage.Calls(), "%s: a postToolUse with no model call in its usage", id)
				}
			}
			if p.Usage == nil {
				// Once a session's hooks carry usage, every later one
				// does: its calls are in the store or the transcript.
				assert.Nil(t, last, "%s: a %s without usage after hooks with usage", id, p.Type)
				continue
			}
			if p.Source == "store" {
				fromStore++
			}
			if last != nil {
				prev, cur := last.TokenDetails, p.Usage.TokenDetails
				assert.GreaterOrEqual(t, p.Usage.Calls(), last.Calls(), "%s: requests went back at %s", id, p.Type)
				assert.GreaterOrEqual(t, cur.Input, prev.Input, "%s: input tokens went back at %s", id, p.Type)
				assert.GreaterOrEqual(t, cur.Output, prev.Output, "%s: output tokens went back at %s", id, p.Type)
				assert.GreaterOrEqual(t, cur.CacheRead, prev.CacheRead, "%s: cache read tokens went back at %s", id, p.Type)
				assert.GreaterOrEqual(t, p.Usage.TotalNanoAIU, last.TotalNanoAIU, "%s: nano-AIU went back at %s", id, p.Type)
			}
			last = p.Usage
			if first == nil && p.Type == "postToolUse" && p.Usage.TokenDetails.Input+p.Usage.TokenDetails.Output > thresholdTokens {
				first = p
			}
		}
		if first == nil {
			assert.Zero(t, notified[id], "%s never passed %d tokens at a postToolUse, yet was notified", id, thresholdTokens)
			continue
		}
		crossed++
		assert.Equal(t, 1, notified[id], "%s: Slack messages", id)
		marker, err := os.ReadFile(filepath.Join(th.state, id))
		if assert.NoError(t, err, "%s: the script's marker", id) {
			want := first.Usage.TokenDetails.Input + first.Usage.TokenDetails.Output
			assert.Equal(t, strconv.FormatInt(want, 10), strings.TrimSpace(string(marker)),
				"%s: the script fired at another hook than the first postToolUse past %d tokens", id, thresholdTokens)
		}
	}
	t.Logf("live usage: %d postToolUse payloads, %d payloads with usage from the session store, %d of %d sessions passed the threshold",
		postToolUses, fromStore, crossed, len(ids))
	assert.Positive(t, crossed, "no session passed the threshold: the check proves nothing")
	assert.Less(t, crossed, len(ids), "every session passed the threshold: the check proves nothing")
	assert.Positive(t, fromStore, "no payload took its usage from the session store")

	// The collector compared the sessions' shutdowns with the store (each
	// run's counters, read before it stopped), and found the CLI's two
	// records equal.
	assert.GreaterOrEqual(t, e.sourceChecked, float64(len(ids)), "shutdowns compared with the session store")
	assert.Zero(t, e.sourceMismatch, "fields in which the session store and the transcripts disagree")
}

// scrapeSource adds the running collector's counters of the session
// store cross-check to the test's: shutdowns compared, mismatching fields.
func (e *env) scrapeSource() {
	e.t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", e.telemetryPort))
	require.NoError(e.t, err)
	defer resp.Body.Close()
	samples, err := service.ParseMetrics(resp.Body)
	require.NoError(e.t, err)
	for _, s := range samples {
		switch {
		case strings.HasPrefix(s.Name, "otelcol_receiver_copilot_source_checked"):
			e.sourceChecked += s.Value
		case strings.HasPrefix(s.Name, "otelcol_receiver_copilot_source_mismatch"):
			e.sourceMismatch += s.Value
		}
	}
}

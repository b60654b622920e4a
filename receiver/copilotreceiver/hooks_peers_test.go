package copilotreceiver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

func TestPeerOwners(t *testing.T) {
	three := &peerRing{endpoints: []string{"http://gw-0:4320", "http://gw-1:4320", "http://gw-2:4320"}}
	two := &peerRing{endpoints: []string{"http://gw-0:4320", "http://gw-2:4320"}}
	count := map[string]int{}
	moved := 0
	for i := range 3000 {
		sid := fmt.Sprintf("0b1e1ed0-0000-4000-8000-%012d", i)
		o := three.owner(sid)
		assert.Equal(t, o, three.owner(sid), "the same owner every time")
		count[o]++
		if o != "http://gw-1:4320" {
			assert.Equal(t, o, two.owner(sid), "only the removed replica's sessions move")
		} else {
			moved++
		}
	}
	require.Len(t, count, 3)
	for e, n := range count {
		assert.InDelta(t, 1000, n, 150, "%s owns a third of the sessions", e)
	}
	assert.Equal(t, count["http://gw-1:4320"], moved)
}

func TestPeersValidate(t *testing.T) {
	for _, tc := range []struct {
		c    PeersConfig
		want string
	}{
		{PeersConfig{Self: "http://a:4320"}, "hooks::peers::endpoints: list every replica"},
		{PeersConfig{Self: "http://c:4320", Endpoints: []string{"http://a:4320", "http://b:4320"}}, `hooks::peers::self: "http://c:4320" is not one of`},
		{PeersConfig{Self: "http://a:4320", Endpoints: []string{"http://a:4320", "a:4320"}}, `hooks::peers::endpoints::1: "a:4320" is not a base URL`},
		{PeersConfig{Self: "http://a:4320", Endpoints: []string{"http://a:4320", "http://a:4320"}}, "is listed twice"},
		{PeersConfig{Self: "http://a:4320", Endpoints: []string{"http://a:4320/v1/hooks"}}, "is not a base URL"},
	} {
		assert.ErrorContains(t, tc.c.Validate(), tc.want)
	}
	ok := PeersConfig{Self: "http://a:4320", Endpoints: []string{"http://a:4320", "https://b.example:4320/"}}
	assert.NoError(t, ok.Validate())
}

// A request passed to the owner carries what the owner needs and the peer
// mark; the owner's answer comes back as it was.
func TestPeerPass(t *testing.T) {
	var got *http.Request
	var gotBody string
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Retry-After", "3")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Internal", "not passed back")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"busy"}`))
	}))
	defer owner.Close()
	ring, err := newPeerRing(context.Background(), &PeersConfig{Self: "http://gw-0:4320", Endpoints: []string{"http://gw-0:4320", owner.URL}})
	require.NoError(t, err)
	defer ring.close()

	r := httptest.NewRequest(http.MethodPost, "/v1/hooks/postToolUse?x=1", nil)
	r.Header.Set("Authorization", "Bearer t0ken")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(HeaderHookClient, "otelcol-copilot-hook")
	r.Header.Set(HeaderHookID, "p-1")
	r.Header.Set("Cookie", "not passed")
	w := httptest.NewRecorder()
	require.NoError(t, ring.pass(w, r, []byte(`{"sessionId":"s"}`), owner.URL))

	require.NotNil(t, got)
	assert.Equal(t, "/v1/hooks/postToolUse", got.URL.Path)
	assert.Equal(t, "x=1", got.URL.RawQuery)
	assert.Equal(t, `{"sessionId":"s"}`, gotBody)
	assert.Equal(t, "Bearer t0ken", got.Header.Get("Authorization"))
	assert.Equal(t, "otelcol-copilot-hook", got.Header.Get(HeaderHookClient))
	assert.Equal(t, "p-1", got.Header.Get(HeaderHookID))
	assert.Equal(t, "http://gw-0:4320", got.Header.Get(HeaderPeer))
	assert.Empty(t, got.Header.Get("Cookie"))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "3", w.Header().Get("Retry-After"))
	assert.Empty(t, w.Header().Get("X-Internal"))
	assert.Equal(t, `{"error":"busy"}`, w.Body.String())

	// An owner that does not answer: an error, and nothing written.
	owner.Close()
	w = httptest.NewRecorder()
	err = ring.pass(w, r, []byte(`{}`), owner.URL)
	var pe *errPeer
	require.ErrorAs(t, err, &pe)
	assert.True(t, strings.Contains(err.Error(), owner.URL))
	assert.False(t, w.Flushed)
	assert.Empty(t, w.Body.String())
}

func freeLoopbackPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Two replicas of a hook endpoint tier behind a round-robin balancer: each
// session is counted by its owner only, and the two together count exactly
// what one endpoint would. While a session's owner is down, its payloads
// are refused with 503 (the forwarder spools them), not counted elsewhere.
func TestHookPeers(t *testing.T) {
	// Ports such that each replica owns at least one of the sessions.
	var urls [2]string
	for range 50 {
		for i := range urls {
			urls[i] = fmt.Sprintf("http://127.0.0.1:%d", freeLoopbackPort(t))
		}
		ring := &peerRing{endpoints: urls[:]}
		owned := map[string]int{}
		for _, id := range sharedSessions {
			owned[ring.owner(id)]++
		}
		if len(owned) == 2 {
			break
		}
	}
	ring := &peerRing{endpoints: urls[:]}
	sinks := [2]*sink{{}, {}}
	harnesses := [2]*harness{newHarness(t), newHarness(t)}
	stops := [2]func(){}
	start := func(i int) {
		_, stops[i] = harnesses[i].startHooks(sinks[i], func(c *HooksConfig) {
			c.NetAddr.Endpoint = strings.TrimPrefix(urls[i], "http://")
			c.Peers = &PeersConfig{Self: urls[i], Endpoints: urls[:]}
		})
	}
	start(0)
	start(1)

	transcripts := map[string][]byte{}
	for _, id := range sharedSessions {
		transcripts[id] = readTestdata(t, "1.0.102/session-state/"+id+"/events.jsonl")
	}
	single := &sink{}
	hs := newHarness(t)
	oneURL, stopOne := hs.startHooks(single, nil)
	n := 0
	for _, rh := range recordedHooks(t, "1.0.102") {
		var p struct {
			SessionID string `json:"sessionId"`
		}
		require.NoError(t, json.Unmarshal(rh.Body, &p))
		body := withUsage(t, rh.Body, transcripts[p.SessionID], rh.Time)
		require.Equal(t, http.StatusAccepted, post(t, oneURL+hooksPath+"/"+rh.Type, body).Code)
		a := post(t, urls[n%2]+hooksPath+"/"+rh.Type, body) // round robin
		require.Equal(t, http.StatusAccepted, a.Code, "%s: %s", rh.Type, a.Error)
		n++
	}
	stopOne()
	want := exported(single.allMetrics())
	require.NotEmpty(t, want)

	got := sumTotals(exported(sinks[0].allMetrics()), exported(sinks[1].allMetrics()))
	assert.Equal(t, want, got, "the two replicas count what one endpoint counts")
	owners := 0
	for i, s := range sinks {
		s.mu.Lock()
		for _, td := range s.traces {
			for _, rs := range td.ResourceSpans().All() {
				sid, _ := rs.Resource().Attributes().Get("session.id")
				require.NotEmpty(t, sid.Str())
				assert.Equal(t, urls[i], ring.owner(sid.Str()), "replica %d has spans of session %s it does not own", i, sid.Str())
				owners |= 1 << i
			}
		}
		s.mu.Unlock()
	}
	assert.Equal(t, 3, owners, "both replicas own sessions")

	// The usage query of a session the other replica owns is passed to it.
	var other string
	for _, id := range sharedSessions {
		if ring.owner(id) == urls[1] {
			other = id
		}
	}
	require.NotEmpty(t, other)
	var m session.UsageMetrics
	require.Equal(t, http.StatusOK, get(t, urls[0]+sessionsPath+"/"+other+"/usage", &m))
	assert.NotEmpty(t, m.ModelMetrics)

	// The owner down: its sessions' payloads are refused, not counted by
	// the replica that took them.
	stops[1]()
	before := exported(sinks[0].allMetrics())
	body := withUsage(t, recordedHooks(t, "1.0.102")[0].Body, transcripts[other], 1<<62)
	var p map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &p))
	p["sessionId"], _ = json.Marshal(other)
	b, _ := json.Marshal(p)
	a := post(t, urls[0]+hooksPath+"/"+hook.PostToolUse, b)
	assert.Equal(t, http.StatusServiceUnavailable, a.Code)
	assert.NotEmpty(t, a.RetryAfter)
	assert.Contains(t, a.Error, urls[1])
	assert.Equal(t, before, exported(sinks[0].allMetrics()))

	// A payload a peer passes for a session this replica does not own
	// (the lists disagree) is refused too.
	a = post(t, urls[0]+hooksPath+"/"+hook.PostToolUse, b, HeaderPeer, "http://127.0.0.1:1")
	assert.Equal(t, http.StatusServiceUnavailable, a.Code)
	assert.Contains(t, a.Error, "hooks::peers")
	stops[0]()
}

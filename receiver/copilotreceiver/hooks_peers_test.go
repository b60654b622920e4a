package copilotreceiver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

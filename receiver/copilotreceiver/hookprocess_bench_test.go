package copilotreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
)

// BenchmarkHookProcess is what a hook payload costs the receiver once it
// is decoded, without HTTP: deciding how its session is counted, finding
// its session's context, building its facts and delivering them.
// "followed": the sessions' transcripts are read by the receiver, which
// takes their context from what the tailer read; "hooks-only": they are
// not, and usage comes from the payloads' usage objects. Run:
//
//	go test ./receiver/copilotreceiver -run '^$' -bench HookProcess -benchmem
func BenchmarkHookProcess(b *testing.B) {
	hooks := recordedHooks(b, "1.0.102")
	for _, mode := range []string{"followed", "hooks-only"} {
		b.Run(mode, func(b *testing.B) {
			h := newHarness(b)
			s := &sink{discard: true}
			events := 0
			if mode == "followed" {
				for _, id := range sharedSessions {
					t := readTestdata(b, "1.0.102/session-state/"+id+"/events.jsonl")
					h.write(id, t)
					events += bytes.Count(t, []byte("\n"))
				}
			}
			_, stop := h.startHooks(s, nil)
			defer stop()
			// The tailer has read every transcript.
			require.Eventually(b, func() bool { return eventsRead(h) >= int64(events) }, 10*time.Second, 5*time.Millisecond)
			time.Sleep(100 * time.Millisecond)
			bodies := make([][]byte, len(hooks))
			for i, rh := range hooks {
				bodies[i] = rh.Body
				if mode == "hooks-only" {
					var m map[string]json.RawMessage
					require.NoError(b, json.Unmarshal(rh.Body, &m))
					m["usage"] = json.RawMessage(`{"totalNanoAiu":1000,"modelMetrics":{"gpt-4.1":{"requests":{"count":2,"userInitiated":1},"usage":{"inputTokens":1000,"outputTokens":50},"totalNanoAiu":1000}}}`)
					bodies[i], _ = json.Marshal(m)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				rh := hooks[i%len(hooks)]
				p, err := hook.Decode(bodies[i%len(hooks)], rh.Type, hook.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := h.recv.hooks.process(context.Background(), strconv.Itoa(i), &p, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

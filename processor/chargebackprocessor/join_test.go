package chargebackprocessor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/fakeclock"
)

// attribution of a span: team and ticket.
type teamTicket struct{ team, ticket string }

// receiverAttribution maps each session to the team and ticket the
// processor gave the copilot receiver's spans of it.
func receiverAttribution(t *testing.T, p *pipeline) map[string]teamTicket {
	out := map[string]teamTicket{}
	for _, td := range p.ts.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			sid, ok := isReceiverResource(rs.Resource().Attributes())
			if !ok {
				continue
			}
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					got := teamTicket{strAttr(s.Attributes(), "team"), strAttr(s.Attributes(), "ticket")}
					if prev, seen := out[sid]; seen {
						require.Equal(t, prev, got, "spans of session %s attributed differently", sid)
					}
					out[sid] = got
				}
			}
		}
	}
	return out
}

// nativeChat returns the CLI's own chat spans that came out, by session.
func nativeChat(p *pipeline) map[string][]ptrace.Span {
	out := map[string][]ptrace.Span{}
	for _, s := range nativeOut(p) {
		if sid := strAttr(s.Attributes(), attrConversation); sid != "" && (s.Name() == "chat" || strings.HasPrefix(s.Name(), "chat ")) {
			out[sid] = append(out[sid], s)
		}
	}
	return out
}

// nativeOut returns the CLI's own spans that came out.
func nativeOut(p *pipeline) []ptrace.Span {
	var out []ptrace.Span
	for _, td := range p.ts.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				if ss.Scope().Name() == semconv.ReceiverScope {
					continue
				}
				for _, s := range ss.Spans().All() {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

func feedTraces(t *testing.T, p *pipeline, tds ...ptrace.Traces) {
	for _, td := range tds {
		c := ptrace.NewTraces()
		td.CopyTo(c)
		require.NoError(t, p.tr.ConsumeTraces(context.Background(), c))
	}
}

// TestNativeChatSpansJoined runs the real transcripts of four sessions in
// two repositories through the receiver, and the CLI's own spans of the
// same sessions (which name only gen_ai.conversation.id) through the
// processor: every native chat span comes out with the team and ticket of
// the receiver's spans of its session, whichever comes first.
func TestNativeChatSpansJoined(t *testing.T) {
	r := runReceiver(t, "1.0.102-repos")
	native := nativeSpans(t, "1.0.102-repos")
	nativeChatSpans := 0
	for _, rs := range native.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				if s.Name() == "chat" || strings.HasPrefix(s.Name(), "chat ") {
					nativeChatSpans++
				}
			}
		}
	}
	require.Equal(t, 15, nativeChatSpans, "the recording has 15 chat spans")

	// By hand, from the sessions' repositories and branches (README of the
	// testdata) and testConfig's rules.
	wantSet := map[teamTicket]bool{
		{"payments", "PAY-4411"}:     true, // acme/payments-api on feature/PAY-4411-refund-retries
		{"payments", "unattributed"}: true, // acme/payments-api on main
		{"docs", "unattributed"}:     true, // acme/docs-site on chore/update-deps
	}

	check := func(t *testing.T, p *pipeline) {
		byReceiver := receiverAttribution(t, p)
		require.Len(t, byReceiver, 4)
		chat := nativeChat(p)
		n := 0
		got := map[teamTicket]bool{}
		for sid, spans := range chat {
			want, ok := byReceiver[sid]
			require.True(t, ok, "native spans of session %s, which the receiver did not report", sid)
			for _, s := range spans {
				assert.Equal(t, want, teamTicket{strAttr(s.Attributes(), "team"), strAttr(s.Attributes(), "ticket")}, sid)
				assert.NotEmpty(t, strAttr(s.Attributes(), semconv.AttrVCSRepositoryName), "the session's context is lent to the span")
				assert.NotEmpty(t, strAttr(s.Attributes(), semconv.AttrVCSRefHeadName))
				got[want] = true
				n++
			}
		}
		assert.Equal(t, nativeChatSpans, n, "every native chat span came out once")
		assert.Equal(t, wantSet, got)
	}

	t.Run("context first", func(t *testing.T) {
		p := newPipeline(t, testConfig(), nil)
		p.feed(t, r)
		feedTraces(t, p, native)
		p.stop(t)
		check(t, p)
		assert.Equal(t, int64(native.SpanCount()), p.counter(t, "join_lookups", "outcome", outcomeHit))

		// The receiver's log records carry their session's attribution.
		byReceiver := receiverAttribution(t, p)
		records := 0
		for _, ld := range p.ls.AllLogs() {
			for _, rl := range ld.ResourceLogs().All() {
				sid, ok := isReceiverResource(rl.Resource().Attributes())
				require.True(t, ok)
				for _, sl := range rl.ScopeLogs().All() {
					for _, lr := range sl.LogRecords().All() {
						assert.Equal(t, byReceiver[sid], teamTicket{strAttr(lr.Attributes(), "team"), strAttr(lr.Attributes(), "ticket")}, lr.EventName())
						records++
					}
				}
			}
		}
		assert.Positive(t, records)
	})

	t.Run("native first, held", func(t *testing.T) {
		p := newPipeline(t, testConfig(), nil)
		feedTraces(t, p, native)
		require.Zero(t, len(nativeChat(p)), "held until the session's context is known")
		p.feed(t, r)
		require.Eventually(t, func() bool { return len(nativeOut(p)) == native.SpanCount() }, 10*time.Second, 5*time.Millisecond)
		p.stop(t)
		check(t, p)
		assert.Equal(t, int64(native.SpanCount()), p.counter(t, "join_lookups", "outcome", outcomeHeld))
		assert.Equal(t, int64(native.SpanCount()), p.counter(t, "join_lookups", "outcome", outcomeReleased))
		assert.Zero(t, p.counter(t, "join_lookups", "outcome", outcomeExpired))
	})

	t.Run("native first, passed", func(t *testing.T) {
		cfg := testConfig()
		cfg.Join.OnMiss = OnMissPass
		p := newPipeline(t, cfg, nil)
		feedTraces(t, p, native)
		chat := nativeChat(p)
		require.Len(t, chat, 4, "passed at once")
		for _, spans := range chat {
			for _, s := range spans {
				assert.Equal(t, teamTicket{"unattributed", "unattributed"}, teamTicket{strAttr(s.Attributes(), "team"), strAttr(s.Attributes(), "ticket")})
				assert.Empty(t, strAttr(s.Attributes(), semconv.AttrVCSRepositoryName))
			}
		}
		p.stop(t)
		assert.Equal(t, int64(native.SpanCount()), p.counter(t, "join_lookups", "outcome", outcomePassed))
	})

	t.Run("held, expired", func(t *testing.T) {
		c := fakeclock.New(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
		cfg := testConfig()
		cfg.Join.HoldTime = time.Minute
		p := startPipeline(t, cfg, pipelineOptions{now: c.Now})
		feedTraces(t, p, native)
		require.Empty(t, nativeOut(p))
		c.Set(c.Now().Add(time.Minute))
		require.Eventually(t, func() bool { return len(nativeOut(p)) == native.SpanCount() }, 10*time.Second, 5*time.Millisecond)
		for _, s := range nativeOut(p) {
			assert.Equal(t, "unattributed", strAttr(s.Attributes(), "team"))
		}
		// The context that comes later joins later spans, not those gone.
		p.feed(t, r)
		p.stop(t)
		assert.Equal(t, int64(native.SpanCount()), p.counter(t, "join_lookups", "outcome", outcomeExpired))
		assert.Zero(t, p.counter(t, "join_lookups", "outcome", outcomeReleased))
	})

	t.Run("hold full", func(t *testing.T) {
		cfg := testConfig()
		cfg.Join.MaxHeld = 1
		p := newPipeline(t, cfg, nil)
		feedTraces(t, p, oneByOne(native)...)
		// One span a batch: the first is held, the others pass
		// unattributed at once.
		assert.Equal(t, int64(1), p.counter(t, "join_lookups", "outcome", outcomeHeld))
		assert.Equal(t, int64(native.SpanCount()-1), p.counter(t, "join_lookups", "outcome", outcomePassed))
		p.stop(t) // passes the held span on
		assert.Len(t, nativeOut(p), native.SpanCount())
	})

	t.Run("ttl and eviction", func(t *testing.T) {
		c := fakeclock.New(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
		cfg := testConfig()
		cfg.Join.OnMiss = OnMissPass
		cfg.Join.TTL = time.Hour
		cfg.Join.MaxSessions = 2
		p := startPipeline(t, cfg, pipelineOptions{now: c.Now})
		p.feed(t, r)
		// Four sessions through a cache of two, in turns: at least two
		// evicted.
		assert.GreaterOrEqual(t, p.counter(t, "join_evictions", "", ""), int64(2))
		c.Set(c.Now().Add(time.Hour + time.Second))
		feedTraces(t, p, native)
		p.stop(t)
		assert.Zero(t, p.counter(t, "join_lookups", "outcome", outcomeHit), "past the TTL nothing joins")
		assert.Equal(t, int64(native.SpanCount()), p.counter(t, "join_lookups", "outcome", outcomePassed))
	})
}

// oneByOne splits spans into batches of one.
func oneByOne(td ptrace.Traces) []ptrace.Traces {
	var out []ptrace.Traces
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				one := ptrace.NewTraces()
				h := holding{td: one}
				h.add(rs, ss, s)
				out = append(out, one)
			}
		}
	}
	return out
}

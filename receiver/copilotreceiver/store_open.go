package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"context"

	"github.com/otelcol-copilot/otelcol-copilot/internal/sessionstore"
)

// errNoUsageTable: the store is of a CLI before 1.0.80.
var errNoUsageTable = sessionstore.ErrNoUsageTable

// sessionStore reads a session store with internal/sessionstore for the
// cross-check (storeReader) and the per-call metrics (callReader).
type sessionStore struct{ st *sessionstore.Store }

// openSessionStore opens a store read-only; a store without the usage
// table is errNoUsageTable, a missing one wraps sessionstore.ErrNoStore.
func openSessionStore(_ context.Context, path string) (*sessionStore, error) {
	st, err := sessionstore.Open(path)
	if err != nil {
		return nil, err
	}
	return &sessionStore{st: st}, nil
}

func (r *copilotReceiver) openStore(ctx context.Context, path string) (storeReader, error) {
	return openSessionStore(ctx, path)
}

func (r *copilotReceiver) openCalls(ctx context.Context, path string) (callReader, error) {
	return openSessionStore(ctx, path)
}

func (s *sessionStore) Close() error { return s.st.Close() }

func (s *sessionStore) Session(ctx context.Context, sessionID string) (storeSession, bool, error) {
	u, ok, err := s.st.SessionUsage(ctx, sessionID)
	if err != nil || !ok {
		return storeSession{}, false, err
	}
	first, last, err := s.st.SessionSpan(ctx, sessionID)
	if err != nil {
		return storeSession{}, false, err
	}
	t := u.Summary.TokenDetails
	return storeSession{
		Calls: u.Calls, Input: t.Input, Output: t.Output, CacheRead: t.CacheRead, CacheWrite: t.CacheWrite,
		Reasoning: t.Reasoning, NanoAIU: u.Summary.TotalNanoAIU, First: first, Last: last,
	}, true, nil
}

func (s *sessionStore) HighestRowID(ctx context.Context) (int64, error) {
	return s.st.HighestRowID(ctx)
}

func (s *sessionStore) Calls(ctx context.Context, after int64, limit int) ([]storeCall, error) {
	rows, err := s.st.Rows(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	hasTTFT, hasITL := s.st.HasColumn("output_ttft_ms"), s.st.HasColumn("inter_token_latency_ms")
	out := make([]storeCall, len(rows))
	for i, r := range rows {
		out[i] = storeCall{
			RowID: r.RowID, SessionID: r.SessionID, Model: r.Model, UsageModel: r.CopilotUsageModel,
			Initiator: r.Initiator, ReasoningEffort: r.ReasoningEffort, FinishReason: r.FinishReason,
			OutputTTFTMs: r.OutputTTFTMs, HasOutputTTFT: hasTTFT,
			InterTokenLatencyMs: r.InterTokenLatencyMs, HasInterTok: hasITL,
			ContentFilter: r.ContentFilterTriggered, CreatedAt: r.CreatedAt,
		}
	}
	return out, nil
}
